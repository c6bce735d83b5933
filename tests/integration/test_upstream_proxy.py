#!/usr/bin/python3
"""The validator API's reverse proxy to --upstream (SPEC §11.1, issue 13) against a real HTTP
server written here (http.server, one thread per request): method, target, body and end-to-end
headers both ways; hop-by-hop headers dropped; X-Forwarded-*; the upstream's status codes; a
large answer streamed whole, with Content-Length, chunked and close-delimited; HEAD; an upstream
that does not answer in time (504) while the node's own routes answer and civetweb's threads are
not held; the cap on proxied requests (503); a malformed answer and a dead upstream (502); the
node's own routes never proxied; route="proxy" in /metrics; and the URL check at start (exit 78).
"""
import hashlib
import socketserver
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import *

BIG = 8 * 1048576  # bytes of the large answers
SLOW_CAP = 4       # [api] upstream_max_connections
CFG = """[api]
threads = 2
upstream_timeout_ms = 2000
upstream_max_connections = %d
""" % SLOW_CAP


def pattern(n):
    """n deterministic bytes that are not one repeated block."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d" % i).digest() * 64
        i += 1
    return bytes(out[:n])


BIG_BODY = pattern(BIG)
release = threading.Event()  # lets the slow handlers go at the end
seen = []                    # paths the upstream was asked for
seen_lock = threading.Lock()


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        super().handle_one_request()
        self.close_connection = True

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def answer(self, code, body, headers=(), ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            for i in range(0, len(body), 65536):
                self.wfile.write(body[i:i + 65536])

    def route(self):
        with seen_lock:
            seen.append(self.path)
        path = self.path.split("?")[0]
        if not path.startswith("/base/"):
            self.answer(400, b"no base path\n")
        elif path.startswith("/base/echo"):
            echo = {"method": self.command, "target": self.path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body": self.body().decode()}
            self.answer(200, json.dumps(echo).encode(), ctype="application/json", headers=[
                ("X-Upstream", "yes"), ("Connection", "close, X-Hop"), ("X-Hop", "1"),
                ("Keep-Alive", "timeout=5"), ("Proxy-Authenticate", "Basic"),
                ("Trailer", "X-T"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        elif path == "/base/teapot":
            self.answer(418, b"short and stout\n", headers=[("X-Teapot", "1")])
        elif path == "/base/big":
            self.answer(200, BIG_BODY)
        elif path == "/base/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Sum")
            self.end_headers()
            for i in range(0, BIG, 100000):
                part = BIG_BODY[i:i + 100000]
                self.wfile.write(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\nX-Sum: 1\r\n\r\n")
        elif path == "/base/eof":
            # HTTP/1.0 style: no length, the end is the close
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            self.wfile.write(BIG_BODY[:1048576])
        elif path == "/base/garbage":
            self.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        elif path == "/base/slow":
            release.wait(60)
            try:
                self.answer(200, b"late\n")
            except OSError:
                pass  # the node gave up on it (504) long ago
        else:
            self.answer(404, b"upstream has no " + path.encode() + b"\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = route


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def raw_get(addr, path, version="1.1"):
    """(status, lower-case headers, body read to the close) of one request on a fresh connection
    with Connection: close."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(("GET %s HTTP/%s\r\nHost: x\r\nConnection: close\r\n\r\n" %
                   (path, version)).encode())
        data = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdr = dict((k.lower(), v) for k, v in (l.split(": ", 1) for l in lines[1:]))
    return int(lines[0].split(" ")[1]), hdr, body


# --- the URL check at start: only http://host[:port][/path], exit 78 naming the reason ---
for url, why in [("https://127.0.0.1:1", "https is not supported"),
                 ("ftp://127.0.0.1", "not an http:// URL"),
                 ("http://user@127.0.0.1", "user info"),
                 ("http://127.0.0.1:0", "bad port"),
                 ("http://127.0.0.1/a?b", "query"),
                 ("http://[::1]:80", "IPv4")]:
    r = subprocess.run([SUPERVISOR, "-n", "--upstream", url], capture_output=True, timeout=30)
    err = r.stderr.decode().strip()
    check(r.returncode == 78 and why in err and "expected http://HOST[:PORT][/PATH]" in err,
          "--upstream %s: exit 78 naming the reason (%d: %s)" % (url, r.returncode, err))

up = Server(("127.0.0.1", 0), Upstream)
threading.Thread(target=up.serve_forever, daemon=True).start()
up_addr = "127.0.0.1:%d" % up.server_address[1]

n = Node(config_text=CFG, extra_args=["--upstream", "http://%s/base/" % up_addr])
try:
    n.start()
    n.wait_ready()
    host = n.api

    # --- GET and POST: method, target with its query, body and headers passed through ---
    code, body, hdr = request(host, "POST", "/echo/x?a=1&b=%20", body=b"hello " * 1000, headers={
        "X-Custom": "v", "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1",
        "Keep-Alive": "300", "Proxy-Authorization": "Basic eDp5", "TE": "trailers",
        "Upgrade": "websocket", "X-Forwarded-For": "10.0.0.1", "Content-Type": "text/plain"})
    check(code == 200, "POST proxied: 200 (got %d %r)" % (code, body[:200]))
    echo = json.loads(body)
    got = dict((k.lower(), v) for k, v in echo["headers"])
    check(echo["method"] == "POST" and echo["target"] == "/base/echo/x?a=1&b=%20",
          "method and target under the base path: %r" % echo)
    check(echo["body"] == "hello " * 1000, "the request body arrives whole")
    check(got.get("x-custom") == "v" and got.get("content-type") == "text/plain",
          "end-to-end request headers pass: %r" % got)
    for h in ["x-secret-hop", "keep-alive", "proxy-authorization", "te", "upgrade"]:
        check(h not in got, "hop-by-hop request header %s dropped: %r" % (h, got))
    check(got.get("connection") == "close", "one upstream connection per request: %r" % got)
    check(got.get("host") == up_addr, "Host is the upstream's: %r" % got)
    check(got.get("x-forwarded-for") == "10.0.0.1, 127.0.0.1",
          "X-Forwarded-For: the client's list then the client: %r" % got)
    check(got.get("x-forwarded-proto") == "http" and got.get("x-forwarded-host") == host,
          "X-Forwarded-Proto and -Host: %r" % got)
    check(hdr.get("X-Upstream") == "yes" and hdr.get("Set-Cookie"),
          "end-to-end response headers pass: %r" % hdr)
    for h in ["X-Hop", "Keep-Alive", "Proxy-Authenticate", "Trailer"]:
        check(h not in hdr, "hop-by-hop response header %s dropped: %r" % (h, hdr))

    code, body, hdr = request(host, "GET", "/echo?q=1")
    echo = json.loads(body)
    check(code == 200 and echo["method"] == "GET" and echo["target"] == "/base/echo?q=1"
          and echo["body"] == "", "GET with a query: %r" % echo)
    check("content-length" not in dict((k.lower(), v) for k, v in echo["headers"]),
          "no Content-Length upstream when the client sent none")
    code, body, _ = request(host, "DELETE", "/echo/7")
    check(code == 200 and json.loads(body)["method"] == "DELETE", "any method passes")

    # --- the upstream's status codes and headers come back ---
    code, body, hdr = request(host, "GET", "/teapot")
    check(code == 418 and body == b"short and stout\n" and hdr.get("X-Teapot") == "1",
          "upstream 418 with its body and headers (%d %r)" % (code, body))
    code, body, _ = request(host, "GET", "/nothing-here")
    check(code == 404 and body == b"upstream has no /base/nothing-here\n",
          "the upstream's own 404 (%r)" % body)

    # --- large answers arrive whole: Content-Length, chunked, close-delimited, HEAD ---
    code, body, hdr = request(host, "GET", "/big", timeout=60)
    check(code == 200 and hdr.get("Content-Length") == str(BIG) and body == BIG_BODY,
          "8 MiB with Content-Length intact (%d, %d bytes)" % (code, len(body)))
    code, body, hdr = request(host, "GET", "/chunked", timeout=60)
    check(code == 200 and hdr.get("Transfer-Encoding") == "chunked" and body == BIG_BODY,
          "8 MiB chunked, re-chunked intact (%d, %d bytes, %r)" % (code, len(body), hdr))
    code, body, hdr = request(host, "GET", "/eof", timeout=60)
    check(code == 200 and hdr.get("Transfer-Encoding") == "chunked"
          and body == BIG_BODY[:1048576], "close-delimited answer, chunked to an HTTP/1.1 client")
    code, hdr, body = raw_get(host, "/chunked", version="1.0")
    check(code == 200 and "transfer-encoding" not in hdr and hdr.get("connection") == "close"
          and body == BIG_BODY, "chunked answer to an HTTP/1.0 client: the end is the close")
    code, body, hdr = request(host, "HEAD", "/big")
    check(code == 200 and hdr.get("Content-Length") == str(BIG) and body == b"",
          "HEAD: the upstream's Content-Length, no body")
    # A client that reads slowly through a small window: the node reads the upstream only as
    # fast as the client takes the answer, and keeps the connection for the next request.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.settimeout(30)
    s.connect((host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1])))
    try:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, _, data = data.partition(b"\r\n\r\n")
        while len(data) < BIG:
            chunk = s.recv(16384)
            if not chunk:
                break
            data += chunk
            time.sleep(0.0005)  # the slow reader itself, not a wait for a condition
        check(head.startswith(b"HTTP/1.1 200 ") and data == BIG_BODY,
              "8 MiB to a slow reader intact (%d bytes)" % len(data))
        s.sendall(b"GET /teapot HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while not data.endswith(b"short and stout\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        check(data.startswith(b"HTTP/1.1 418 "), "keep-alive after a streamed answer")
    finally:
        s.close()

    # --- a slow upstream: 504 for each, the cap refuses more, the node's routes answer ---
    results = []

    def slow():
        try:
            results.append(request(host, "GET", "/slow", timeout=60))
        except OSError as e:
            results.append((0, repr(e).encode(), {}))

    base = n.metrics()
    slows = [threading.Thread(target=slow) for _ in range(SLOW_CAP)]
    for t in slows:
        t.start()
    wait_for(lambda: sum(p.startswith("/base/slow") for p in seen) == SLOW_CAP,
             "the slow requests at the upstream")
    code, body, hdr = request(host, "GET", "/slow")
    check(code == 503 and body == b"busy\n" and hdr.get("Retry-After") == "1",
          "beyond upstream_max_connections: 503 busy (%d %r)" % (code, body))
    # more slow requests than civetweb threads (2) are held: the node's routes still answer
    code, body, _ = request(host, "GET", "/health")
    check(code == 200 and body == b"ok\n", "/health answers while the upstream is slow")
    code, body, _ = request(host, "POST", "/v1/duty",
                            body=b'{"type":"attester","height":5,"payload":{"x":1}}')
    check(code == 202, "POST /v1/duty answers while the upstream is slow (%d %r)" % (code, body))
    code, _, _ = request(host, "GET", "/v1/duty/attester/5")
    check(code == 200, "GET /v1/duty answers while the upstream is slow")
    for t in slows:
        t.join(60)
    check(len(results) == SLOW_CAP and all(r[0] == 504 and r[1] == b"gateway timeout\n"
                                           for r in results),
          "a silent upstream: 504 gateway timeout (%r)" % [r[:2] for r in results])
    release.set()

    # --- a malformed answer: 502 ---
    code, body, _ = request(host, "GET", "/garbage")
    check(code == 502 and body == b"bad gateway\n", "not HTTP from the upstream: 502 (%d)" % code)

    # --- the node's own routes are never proxied ---
    before = len(seen)
    for method, path in [("GET", "/health"), ("GET", "/ready"), ("GET", "/v1/duty"),
                         ("GET", "/v1/tx/00"), ("GET", "/v1/block/latest"),
                         ("GET", "/v1/duty/attester/99999")]:
        request(host, method, path)
    check(len(seen) == before, "no node route reached the upstream: %r" % seen[before:])

    # --- a dead upstream (port closed): 502 ---
    up.shutdown()
    up.server_close()
    code, body, _ = request(host, "GET", "/echo")
    check(code == 502 and body == b"bad gateway\n", "dead upstream: 502 (%d %r)" % (code, body))
    code, body, _ = request(host, "GET", "/health")
    check(code == 200, "the node answers after all that")

    # --- /metrics counts route="proxy" by code; the API worker never restarted ---
    m = n.metrics()

    def count(code):
        return (metric(m, "api_requests_total", route="proxy", code=code) or 0) - \
               (metric(base, "api_requests_total", route="proxy", code=code) or 0)

    check(metric(base, "api_requests_total", route="proxy", code="200") >= 8,
          "route=proxy code=200 counted")
    check(count("504") == SLOW_CAP and count("503") == 1 and count("502") == 2,
          "route=proxy counted by code (504 %d, 503 %d, 502 %d)" %
          (count("504"), count("503"), count("502")))
    check((metric(m, "api_latency_seconds_count", route="proxy") or 0) >= 8,
          "api_latency_seconds{route=proxy}")
    check(n.workers()["api"]["restarts"] == 0, "the API worker never restarted")
    log = n.log_text()
    check('"api_proxy"' in log and "did not answer in time" in log,
          "upstream failures are logged (api_proxy)")
finally:
    release.set()
    n.cleanup()
print("ok")
