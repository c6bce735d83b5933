#!/usr/bin/python3
"""The connection front of the API worker (issue 15), piece by piece, with small caps and short
deadlines: HTTP/1.x framing (pipelining, HEAD, HTTP/1.0, Expect: 100-continue, the requests it
refuses itself and how they are counted), route labels (SPEC §12.2), the body, head and
keep-alive deadlines, the caps per address and in total with idle keep-alive connections giving
way first, the monitoring listener under attack while the API answers, and a request in flight
answered when the API stops.

Attacking connections come from other loopback addresses (127.0.0.2 and up) than the
well-behaved client (127.0.0.1): the caps count per source address."""
from harness import *

MIB = 1048576
API_CFG = """[api]
max_connections = 12
max_connections_per_address = 4
header_timeout_ms = 8000
body_timeout_ms = 1500
idle_timeout_ms = 1000
[monitoring]
max_connections = 16
max_connections_per_address = 8
header_timeout_ms = 1000
"""


class Raw:
    """A client connection spoken to byte by byte."""

    def __init__(self, addr, src="127.0.0.1"):
        host, port = addr.rsplit(":", 1)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.bind((src, 0))
        self.s.settimeout(10)
        self.s.connect((host, int(port)))
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("closed by the node")
        self.buf += chunk

    def answer(self, head_request=False):
        """(status, headers with lower-case names, body) of the next answer."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        hdr = dict((k.lower(), v) for k, v in (l.split(": ", 1) for l in lines[1:]))
        n = 0 if head_request else int(hdr.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split(" ")[1]), hdr, body

    def closed(self, timeout=10):
        """Whether the node closes the connection (after anything still to read) in time."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.s.settimeout(10)

    def close(self):
        self.s.close()


def rejected(n, listener, reason):
    return metric(n.metrics(), "api_connections_rejected_total", listener=listener,
                  reason=reason) or 0


def count(n, route, code):
    return metric(n.metrics(), "api_requests_total", route=route, code=str(code)) or 0


def duty_body(height):
    return json.dumps({"type": "sync", "height": height, "payload": {"h": height}}).encode()


def framing(n):
    c = Raw(n.api)
    c.send(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    check(c.answer()[::2] == (200, b"ok\n") and c.answer()[::2] == (200, b"ok\n"),
          "two pipelined requests are answered in order")
    c.send(b"HEAD /health HTTP/1.1\r\n\r\n")
    st, hdr, _ = c.answer(head_request=True)
    check(st == 200 and hdr["content-length"] == "3", "HEAD: the GET headers")
    c.send(b"GET /health HTTP/1.1\n\n")
    check(c.answer()[::2] == (200, b"ok\n"), "HEAD has no body (the next answer is whole), and "
          "LF-only lines are read")
    c.send(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
    st, hdr, _ = c.answer()
    check(st == 200 and hdr.get("connection") == "close" and c.closed(),
          "Connection: close is answered with it, then the node closes")
    c.close()

    c = Raw(n.api)
    c.send(b"GET /health HTTP/1.0\r\n\r\n")
    st, hdr, _ = c.answer()
    check(st == 200 and hdr.get("connection") == "close" and c.closed(),
          "HTTP/1.0 without keep-alive: Connection: close, then closed")
    c.close()
    c = Raw(n.api)
    for _ in range(2):
        c.send(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        st, hdr, _ = c.answer()
        check(st == 200 and hdr.get("connection") == "keep-alive",
              "HTTP/1.0 with keep-alive: kept, and said so")
    c.close()

    body = duty_body(7001)
    c = Raw(n.api)
    c.send(b"POST /v1/duty HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" %
           len(body))
    check(c.answer()[0] == 100, "Expect: 100-continue gets 100 Continue before the body")
    c.send(body)
    st, _, out = c.answer()
    check(st == 202 and json.loads(out)["id"] == "sync/7001", "then the duty is accepted")
    c.close()

    # Requests the front refuses itself: answered, counted under their route, then closed.
    cases = [
        (b"POST /v1/duty HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         411, b"length required\n", "/v1/duty"),
        (b"POST /v1/duty HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (3 * MIB), 413,
         b"request too large\n", "/v1/duty"),
        (b"GET /health HTTP/1.1\r\nbad header\r\n\r\n", 400, b"bad request\n", "/health"),
        (b"GET /health HTTP/2.0\r\n\r\n", 505, b"http version not supported\n", "/health"),
        (b"GET /health HTTP/1.1\r\nExpect: later\r\n\r\n", 417, b"expectation failed\n",
         "/health"),
        (b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(64)) +
         b"\r\n", 431, b"request header fields too large\n", "/health"),
        (b"GET /health HTTP/1.1\r\nX-Pad: " + b"a" * 17000 + b"\r\n\r\n", 431,
         b"request header fields too large\n", "other"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, b"bad request\n", "other"),
    ]
    for raw, status, text, route in cases:
        before = count(n, route, status)
        c = Raw(n.api)
        c.send(raw)
        st, hdr, out = c.answer()
        check(st == status and out == text and hdr.get("connection") == "close" and c.closed(),
              "%r... -> %d %r, then closed" % (raw[:40], st, out))
        c.close()
        wait_for(lambda: count(n, route, status) == before + 1,
                 "api_requests_total{route=%r,code=%r} counted" % (route, status))
        check(True, "counted as api_requests_total{route=%r,code=\"%d\"}" % (route, status))


def route_labels(n):
    rows = [
        (n.api, "GET", "/health", None, "/health", 200),
        (n.api, "GET", "/ready", None, "/ready", 200),
        (n.api, "POST", "/v1/duty", duty_body(7002), "/v1/duty", 202),
        (n.api, "GET", "/v1/duty/sync/7002", None, "/v1/duty/{type}/{height}", 200),
        (n.api, "GET", "/v1/duty/sync/9999", None, "/v1/duty/{type}/{height}", 404),
        (n.api, "POST", "/v1/tx/plain", b"{}", "/v1/tx/plain", 400),
        (n.api, "GET", "/v1/tx/ab12", None, "/v1/tx/{hash}", 404),
        (n.api, "GET", "/v1/block/latest", None, "/v1/block/latest", 404),
        (n.api, "GET", "/v1/block/12", None, "/v1/block/{height}", 404),
        (n.api, "GET", "/nope", None, "other", 404),
        (n.mon, "GET", "/status", None, "/status", 200),
        (n.mon, "GET", "/metrics", None, "/metrics", 200),
        (n.mon, "GET", "/v1/duty/sync/1", None, "other", 404),
    ]
    for addr, method, path, body, route, status in rows:
        before = count(n, route, status)
        code = request(addr, method, path, body=body)[0]
        wait_for(lambda: count(n, route, status) > before, "%s %s counted" % (method, path))
        check(code == status, "%s %s -> %d, counted as route=%r" % (method, path, code, route))
    text = n.metrics_text()
    check('route="health"' not in text and 'route="duty"' not in text,
          "no old label values (health, duty) in the exposition")


def deadlines(n):
    before = rejected(n, "api", "body_timeout")
    c = Raw(n.api)
    c.send(b"POST /v1/duty HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"a")
    st, hdr, out = c.answer()
    check(st == 408 and out == b"request timeout\n" and c.closed(),
          "a body that stops coming: 408, then closed")
    c.close()
    wait_for(lambda: rejected(n, "api", "body_timeout") == before + 1, "body_timeout counted")
    check(True, "api_connections_rejected_total{listener=\"api\",reason=\"body_timeout\"} counted")

    before = rejected(n, "monitoring", "header_timeout")
    silent = Raw(n.mon)
    partial = Raw(n.mon)
    partial.send(b"GET /metrics HTTP/1.1\r\nHost: a\r\n")
    st, _, out = partial.answer()
    check(st == 408 and partial.closed(), "a head that stops coming: 408, then closed")
    check(silent.closed() and silent.buf == b"",
          "a connection that sends nothing is closed without an answer")
    silent.close()
    partial.close()
    wait_for(lambda: rejected(n, "monitoring", "header_timeout") == before + 2,
             "header_timeout counted twice")
    check(True, "api_connections_rejected_total{listener=\"monitoring\",reason=\"header_timeout\"}"
          " counted for both")

    before = rejected(n, "api", "header_timeout")
    c = Raw(n.api)
    c.send(b"GET /health HTTP/1.1\r\n\r\n")
    check(c.answer()[0] == 200 and c.closed(), "an idle keep-alive connection is closed after "
          "idle_timeout_ms")
    c.close()
    check(rejected(n, "api", "header_timeout") == before,
          "the end of an idle keep-alive connection is not counted as a refusal")


def caps(n):
    opened = []

    def held(count_):
        return wait_for(lambda: (metric(n.metrics(), "api_connections_open", listener="api") or 0)
                        >= count_, "%d connections held" % count_)

    try:
        opened += [Raw(n.api, "127.0.0.2") for _ in range(4)]
        held(4)
        before = rejected(n, "api", "per_address")
        extra = Raw(n.api, "127.0.0.2")
        st, _, out = extra.answer()
        check(st == 503 and out == b"too many connections\n" and extra.closed(),
              "a 5th connection from 127.0.0.2 (cap 4 per address) is refused at once with 503")
        extra.close()
        check(rejected(n, "api", "per_address") == before + 1,
              "counted as api_connections_rejected_total{reason=\"per_address\"}")
        check(request(n.api, "GET", "/health")[0] == 200, "127.0.0.1 is not held back")

        opened += [Raw(n.api, "127.0.0.3") for _ in range(4)]
        opened += [Raw(n.api, "127.0.0.4") for _ in range(3)]
        keep = Raw(n.api)
        keep.send(b"GET /health HTTP/1.1\r\n\r\n")
        check(keep.answer()[0] == 200, "a keep-alive client holds the 12th connection, idle")
        held(12)
        newcomer = Raw(n.api, "127.0.0.5")
        check(keep.closed(), "the pool is full: a newcomer closes the idle keep-alive connection")
        newcomer.send(b"GET /health HTTP/1.1\r\n\r\n")
        check(newcomer.answer()[0] == 200, "and is served")
        newcomer.close()
        keep.close()

        opened.append(Raw(n.api, "127.0.0.6"))
        held(12)
        before = rejected(n, "api", "total")
        late = Raw(n.api, "127.0.0.7")
        st, _, out = late.answer()
        check(st == 503 and out == b"too many connections\n",
              "12 connections, none idle: the next is refused at once with 503")
        late.close()
        check(rejected(n, "api", "total") == before + 1,
              "counted as api_connections_rejected_total{reason=\"total\"}")
    finally:
        for c in opened:
            c.close()
    wait_for(lambda: (metric(n.metrics(), "api_connections_open", listener="api") or 0) <= 1,
             "the connections closed by the client leave the count")
    check(request(n.api, "GET", "/health")[0] == 200, "served again once they are gone")


def monitoring_attacked(n):
    before = rejected(n, "monitoring", "per_address")
    attack = []
    try:
        for _ in range(300):
            try:
                attack.append(Raw(n.mon, "127.0.0.2"))
            except OSError:
                pass
        check(request(n.api, "GET", "/health")[0] == 200 and
              request(n.api, "POST", "/v1/duty", body=duty_body(7003))[0] == 202,
              "300 connections at the monitoring listener: the API answers")
        check("api_connections_open" in n.metrics_text(), "and 127.0.0.1 still scrapes /metrics")
        want = len(attack) - 8
        wait_for(lambda: rejected(n, "monitoring", "per_address") - before == want,
                 "%d refusals counted" % want)
        check(True, "all but the 8 held (cap per address) refused and counted: %d" % want)
    finally:
        for c in attack:
            c.close()


def drain_on_stop(n):
    """SIGTERM to the API worker while a request is at civetweb: it is answered, with
    Connection: close, before the worker goes (the supervisor then starts it again)."""
    workers = n.workers()
    qbft, api = workers["qbft"]["pid"], workers["api"]["pid"]
    os.kill(qbft, signal.SIGSTOP)  # /metrics now waits 1 s for qbft's part
    try:
        c = Raw(n.mon)
        c.send(b"GET /metrics HTTP/1.1\r\n\r\n")
        # That the request has reached civetweb cannot be seen from outside: it takes well under
        # this, while its answer waits a second for qbft.
        time.sleep(0.3)
        os.kill(api, signal.SIGTERM)
        st, hdr, body = c.answer()
        check(st == 200 and hdr.get("connection") == "close" and b"dvt_up" in body and
              c.closed(), "a request in flight when the API stops is answered, then closed")
        c.close()
    finally:
        os.kill(qbft, signal.SIGCONT)
    wait_for(lambda: n.workers()["api"]["pid"] not in (0, api), "the API worker started again")
    n.wait_ready()


with Node(config_text=API_CFG) as n:
    n.start()
    n.wait_ready()
    framing(n)
    route_labels(n)
    deadlines(n)
    caps(n)
    monitoring_attacked(n)
    check(all(w["restarts"] == 0 for w in n.status()["workers"]), "no worker restarted")
    drain_on_stop(n)
