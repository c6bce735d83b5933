#!/usr/bin/python3
"""Issue 15: the validator API holds under 1,000 hostile connections.

  test_api_flood.py idle       1,000 connections that send nothing
  test_api_flood.py slowloris  1,000 connections that send a header line every 2 s

The attacker (a child process, so that it cannot slow the measuring client down through the
GIL) opens its connections from 127.0.0.2 and keeps them up for the whole attack: a connection
the node cuts is opened again at once. The node's caps are raised so that all 1,000 are held:
what is tested is that holding them costs no thread (the refusals at the caps are tested in
test_api_front.py). During the attack a well-behaved client on 127.0.0.1 gets GET /health and
POST /v1/duty answered within 1 s in at least 19 of 20 tries each, and /metrics on the monitoring
listener answers every scrape; each attacking connection is cut at the head deadline (not before
it) and counted in api_connections_rejected_total{reason="header_timeout"}; no worker restarts.

Why 127.0.0.2: the per-address cap exists to stop one address from taking the listener, so a
client that shares its address with an attacker shares the attacker's cap by design (loopback
has no exemption: a local process is the likeliest accidental attacker). On Linux all of
127.0.0.0/8 is the loopback, so the attacker simply binds another address of it."""
import heapq
import resource
import selectors
import threading

from harness import *

CONNS = 1000
HEAD_DEADLINE_MS = 3000
LINE_EVERY_S = 2.0
TRIES = 20
ATTACKER = "127.0.0.2"


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def attack(mode, port, n, sources):
    """The attacker: keeps n connections to 127.0.0.1:port open, from the source addresses in
    turn, until stdin closes. Prints "opened K" once its first n connections are up (or after
    10 s: a server may leave some hanging in its backlog), and at the end one JSON line with the
    lifetimes of the connections the server cut (from the connect call to the cut), once it has
    seen the first n cut or 10 s passed. Also used by scripts/bench.d/http."""
    raise_fd_limit(n + 256)
    sel = selectors.DefaultSelector()
    due = []  # (time of the next header line, seq, socket) in slowloris mode
    cuts, first_gen_cut, errors, seq, nopen = [], 0, 0, 0, 0
    stop = threading.Event()

    def open_one(gen):
        nonlocal errors, nopen
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        nopen += 1
        try:
            s.bind((sources[nopen % len(sources)], 0))
            s.setblocking(False)
            t = time.monotonic()
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            errors += 1
            s.close()
            return
        sel.register(s, selectors.EVENT_WRITE, (t, gen, False))

    def on_connected(s, t, gen):
        nonlocal errors, seq
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            errors += 1
            sel.unregister(s)
            s.close()
            return
        sel.modify(s, selectors.EVENT_READ, (t, gen, True))
        if mode == "slowloris":
            try:
                s.send(b"GET /health HTTP/1.1\r\n")
            except OSError:
                return  # cut: the selector sees it
            seq += 1
            heapq.heappush(due, (time.monotonic() + LINE_EVERY_S, seq, s))

    def on_cut(s, t, gen):
        nonlocal first_gen_cut
        try:
            s.recv(4096)  # the 408, the end, or a reset: the server cut it
        except OSError:
            pass
        cuts.append(time.monotonic() - t)
        first_gen_cut += gen == 0
        sel.unregister(s)
        s.close()
        if not stop.is_set():
            open_one(1)

    def turn(timeout):
        nonlocal seq
        for key, _ in sel.select(timeout=timeout):
            t, gen, up = key.data
            (on_cut if up else on_connected)(key.fileobj, t, gen)
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, s = heapq.heappop(due)
            if s.fileno() < 0:
                continue
            try:
                s.send(b"X-Slow: 1\r\n")
            except OSError:
                continue  # cut: the selector sees it
            seq += 1
            heapq.heappush(due, (now + LINE_EVERY_S, seq, s))

    def up():
        return sum(1 for k in sel.get_map().values() if k.data[2])

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    for _ in range(n):
        open_one(0)
    deadline = time.monotonic() + 10
    while up() < n and time.monotonic() < deadline:
        turn(0.05)
    opened = up()
    print("opened %d" % opened, flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.is_set():
        turn(0.05)
    deadline = time.monotonic() + 10
    while first_gen_cut < opened and time.monotonic() < deadline:
        turn(0.05)
    print(json.dumps({"cuts": cuts, "first_gen_cut": first_gen_cut, "errors": errors}),
          flush=True)


def timed(fn):
    t = time.monotonic()
    try:
        ok = fn()
    except (OSError, http.client.HTTPException):
        ok = False
    return ok, time.monotonic() - t


def main(mode):
    if raise_fd_limit(CONNS + 2048) < CONNS + 1024:
        fail("RLIMIT_NOFILE too low for %d connections" % CONNS)
    config = ("[api]\nmax_connections = %d\nmax_connections_per_address = %d\n"
              "header_timeout_ms = %d\n" % (CONNS + 200, CONNS + 100, HEAD_DEADLINE_MS))
    with Node(config_text=config) as n:
        n.start()
        n.wait_ready()
        before = n.workers()
        port = int(n.api.rsplit(":", 1)[1])
        att = subprocess.Popen(["/usr/bin/python3", __file__, "attack", mode, str(port),
                                str(CONNS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            line = att.stdout.readline().decode().strip()
            check(line == "opened %d" % CONNS, "the attacker opened its connections: %r" % line)

            def held():
                v = metric(n.metrics(), "api_connections_open", listener="api")
                return v if v and v >= CONNS else None
            wait_for(held, "the node holding %d attacking connections" % CONNS, timeout=30)
            check(True, "api_connections_open{listener=\"api\"} >= %d" % CONNS)

            health, duty, scrapes = [], [], []
            for i in range(TRIES):
                health.append(timed(lambda: request(n.api, "GET", "/health", timeout=1)[0] == 200))
                body = json.dumps({"type": "sync", "height": 100 + i, "payload": {"i": i}})
                duty.append(timed(lambda: request(n.api, "POST", "/v1/duty", body=body.encode(),
                                                  timeout=1)[0] == 202))
                if i % 4 == 0:
                    scrapes.append(timed(lambda: "api_connections_open" in n.metrics_text()))
            for what, tries in (("GET /health", health), ("POST /v1/duty", duty)):
                good = sum(1 for ok, secs in tries if ok and secs <= 1.0)
                check(good >= TRIES - 1, "%s answered within 1 s in %d of %d tries during the "
                      "attack (slowest %.3f s)" % (what, good, TRIES, max(s for _, s in tries)))
            check(all(ok for ok, _ in scrapes), "every /metrics scrape during the attack answered "
                  "(%d, slowest %.3f s)" % (len(scrapes), max(s for _, s in scrapes)))

            def cut_counted():
                m = n.metrics()
                v = metric(m, "api_connections_rejected_total", listener="api",
                           reason="header_timeout")
                return v if v and v >= CONNS else None
            v = wait_for(cut_counted, "every attacking connection cut and counted", timeout=40)
            check(True, "api_connections_rejected_total{listener=\"api\",reason=\"header_timeout\"}"
                  " = %d" % v)
            still = timed(lambda: request(n.api, "GET", "/health", timeout=1)[0] == 200)
            check(still[0], "the API still answers while the attack goes on")
        finally:
            att.stdin.close()
            out = att.stdout.read().decode().strip().splitlines()
            att.wait(30)
        stats = json.loads(out[-1])
        cuts = stats["cuts"]
        check(stats["first_gen_cut"] == CONNS,
              "the attacker saw each of its first %d connections cut (%d cuts in all)" %
              (CONNS, len(cuts)))
        floor = 0.9 * HEAD_DEADLINE_MS / 1000.0
        check(min(cuts) >= floor, "no connection cut before the head deadline (shortest %.2f s, "
              "deadline %.1f s)" % (min(cuts), HEAD_DEADLINE_MS / 1000.0))
        m = n.metrics()
        check(not metric(m, "api_connections_rejected_total", listener="api", reason="per_address")
              and not metric(m, "api_connections_rejected_total", listener="api", reason="total"),
              "no connection refused at the (raised) caps")
        after = n.workers()
        check(all(after[w]["pid"] == before[w]["pid"] and after[w]["restarts"] == 0
                  for w in WORKERS), "no worker restarted")


if __name__ == "__main__":
    if sys.argv[1] == "attack":
        attack(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:] or [ATTACKER])
    else:
        main(sys.argv[1])
