#!/usr/bin/python3
"""A QBFT worker killed in the middle of signing sessions never uses a nonce twice (issue 12).

A 4-node devnet (`cluster create --tss`, t = 3 of 4), every node with --enable-tss -v (the debug
`tss_session` lines with event "commit" carry each commitment's hiding and binding points, one
line per commitment made, i.e. per nonce pair drawn). A thread posts attester duties to every
node, one height every 0.2 s. Meanwhile node KILLED's QBFT worker is SIGKILLed KILLS times, each
at a random moment of a random wait, preferably while the node has a session open
(tss_sessions_open >= 1 when seen); the supervisor restarts it. Afterwards:
 - the duties kept deciding: every height posted decided on the nodes never killed, and a batch
   posted after the last restart decides with a tss_signature on all four;
 - every tss_signature any node stores (GET /v1/duty of every height, every node) verifies under
   the lock's group_pubkey with tests/unit/frost_verify.py (stdlib integers, no code shared with
   the node);
 - no hiding point and no binding point was ever committed twice, by any node, in any session or
   attempt, across all the worker's lives (a reused nonce would repeat the point).
"""
import hashlib
import importlib.machinery
import importlib.util
import random
import signal
import threading

from devnet import *
from seq import lock_hash_of, log_events

KILLED = 1
KILLS = 5
PERIOD = 0.2  # seconds between two posted heights

_loader = importlib.machinery.SourceFileLoader(
    "frost_verify", os.path.join(ROOT, "tests", "unit", "frost_verify.py"))
_spec = importlib.util.spec_from_loader("frost_verify", _loader)
frost_verify = importlib.util.module_from_spec(_spec)
_loader.exec_module(frost_verify)


def tss_message(lh, value_hash_hex):
    return hashlib.sha256(b"aequa/tss/v1" + lh + bytes.fromhex(value_hash_hex)).digest()


def qbft(net, i):
    try:
        return net.workers(i)["qbft"]
    except (OSError, ValueError, KeyError):
        return None


class Stream:
    """Posts attester duty h (h = 1, 2, ...) to every node, one height every PERIOD seconds, until
    stopped. A node whose QBFT worker is restarting may refuse one: the height is still posted to
    the others."""

    def __init__(self, net):
        self.net = net
        self.heights = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        h = 0
        while not self.stopped.wait(PERIOD):
            h += 1
            for i in range(self.net.n):
                try:
                    self.net.post(i, "attester", h, {"node": i, "h": h})
                except OSError:
                    pass
            self.heights.append(h)

    def stop(self):
        self.stopped.set()
        self.thread.join()
        return list(self.heights)


with Devnet(4, tss=True) as net:
    group = bytes.fromhex(json.load(open(net.lock))["tss"]["group_pubkey"])
    lh = lock_hash_of(net.lock)

    # again with -v: the commitments' debug lines (all four before any is ready: readiness needs
    # a P2P quorum)
    for i in range(4):
        check(net.stop_node(i), "node %d stopped" % i)
    for i in range(4):
        net.nodes[i]["pid"] = script.start_node(net.nodes[i], args=["--enable-tss", "-v"])
    script.write_nodes(net.dir, net.nodes)
    wait_for(lambda: all(script.ready(net.api(i)) for i in range(4)),
             "the four nodes ready with --enable-tss -v", timeout=90, interval=0.2)
    start = [len(net.log(i)) for i in range(4)]

    stream = Stream(net)
    wait_for(lambda: all(net.decided(i, "attester", 1) for i in range(4)),
             "the duty stream decides", timeout=60, interval=0.2)
    rng = random.Random()
    pids, open_at_kill = [], 0
    for k in range(KILLS):
        time.sleep(rng.uniform(1.0, 3.0))  # a random moment of the stream, not a wait for a state
        w = qbft(net, KILLED)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not metric(net.metrics(KILLED), "tss_sessions_open"):
            time.sleep(0.01)
        busy = bool(metric(net.metrics(KILLED), "tss_sessions_open"))
        os.kill(w["pid"], signal.SIGKILL)
        open_at_kill += busy
        pids.append(w["pid"])
        wait_for(lambda: (lambda x: x and x["state"] == "ready" and x["pid"] != w["pid"])(
            qbft(net, KILLED)), "kill %d: node %d's QBFT worker restarted" % (k + 1, KILLED),
            timeout=60, interval=0.1)
    heights = stream.stop()
    print("# %d kills, %d with sessions open (as tss_sessions_open showed just before)" %
          (KILLS, open_at_kill))
    check(qbft(net, KILLED)["restarts"] >= KILLS,
          "node %d's supervisor restarted its QBFT worker %d times" % (KILLED, KILLS))

    # the duties kept deciding
    others = [i for i in range(4) if i != KILLED]
    wait_for(lambda: all(net.decided(i, "attester", h) for i in others for h in heights),
             "all %d heights of the stream decided on nodes %s" % (len(heights), others),
             timeout=180, interval=0.5)
    after = range(heights[-1] + 1, heights[-1] + 6)
    codes = net.post_all("attester", after)
    check(all(c == 202 for c in codes.values()), "a batch posted after the last restart")
    wait_for(lambda: all((net.decided(i, "attester", h) or {}).get("tss_signature")
                         for i in range(4) for h in after),
             "the batch after the restarts decided with a tss_signature on all four nodes",
             timeout=120, interval=0.3)

    # every stored signature verifies
    signed, bad = 0, []
    for i in range(4):
        for h in heights + list(after):
            d = net.decided(i, "attester", h)
            if not d or not d["tss_signature"]:
                continue
            signed += 1
            if not frost_verify.verify(group, tss_message(lh, d["value_hash"]),
                                       bytes.fromhex(d["tss_signature"]["sig"])):
                bad.append("attester/%d on node %d" % (h, i))
    check(signed >= 4 * len(after) and not bad,
          "%d stored signatures, every one verifies with frost_verify.py (bad: %s)" %
          (signed, bad[:4]))

    # no nonce used twice
    commits = [e for i in range(4) for e in log_events(net.log(i)[start[i]:], "tss_session",
                                                       event="commit")]
    partial = [e for e in commits if len(e.get("hiding", "")) != 66 or
               len(e.get("binding", "")) != 66]
    check(commits and not partial, "%d commit lines, each with both points (%s)" %
          (len(commits), partial[:1]))
    lives = {e["pid"] for e in log_events(net.log(KILLED)[start[KILLED]:], "tss_session",
                                          event="commit")}
    check(len(lives) >= 2, "node %d committed in %d lives of its QBFT worker" % (KILLED,
                                                                                   len(lives)))
    seen, twice = {}, []
    for e in commits:
        for key in ("hiding", "binding"):
            if e[key] in seen:
                twice.append((seen[e[key]], e))
            seen[e[key]] = e
    check(not twice and len(seen) == 2 * len(commits),
          "%d commitments by the four nodes, %d distinct points: no nonce used twice (%s)" %
          (len(commits), len(seen), twice[:1]))
print("ok")
