#!/usr/bin/python3
"""Nothing about a decision leaves a node before its decided record is durable (issue 10,
SPEC §7.5): not the DECIDED message that answers a peer still changing rounds, not the seal.

A 4-node devnet where operator 3 is played by p2p_node (node 3's key and P2P address), so the
test can vote and change rounds on cue. Node 0 takes the duty, then its StateDB is stopped
(SIGSTOP); nodes 1 and 2 take it, and with operator 3's votes the instance decides. Node 0
decides too, from its peers' COMMITs, but cannot persist. Operator 3 sends node 0 a
ROUND-CHANGE: node 0 must hold its DECIDED answer (and its seal) until StateDB runs again, and
send both once the record is durable."""
import subprocess
import threading

from devnet import *

P2P_NODE = os.path.join(BUILD, "tests", "integration", "p2p_node")
H = 8  # attester/8: round 1 is led by node 1 ((8 + 0 + 1) % 4)


class Peer:
    """p2p_node as operator 3; its stdout lines are collected."""

    def __init__(self, conf, logdir):
        self.lines = []
        self.cv = threading.Condition()
        self.log = open(os.path.join(logdir, "peer3.log"), "a")
        self.proc = subprocess.Popen([P2P_NODE, "node", conf], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.strip())
                self.cv.notify_all()

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def find(self, pred):
        with self.cv:
            return [l for l in self.lines if pred(l.split())]

    def wait(self, pred, what, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                got = [l for l in self.lines if pred(l.split())]
                if got:
                    return got[0].split()
                left = deadline - time.monotonic()
                if left <= 0:
                    fail("timed out waiting for %s" % what)
                self.cv.wait(left)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def from0(kind, typ=None):
    """Lines about attester/H from node 0: ("qbft", type) or ("seal",)."""
    if kind == "qbft":
        return lambda w: (len(w) == 7 and w[:3] == ["qbft", "0", typ] and w[3:5] == ["0", str(H)])
    return lambda w: len(w) == 5 and w[:2] == ["seal", "0"] and w[2:5] == ["0", str(H), "0"]


with Devnet(4) as net:
    net.stop_node(3)
    peer = Peer(os.path.join(net.dir, "node3", "aequa.conf"), net.dir)
    try:
        for j in range(3):
            peer.wait(lambda w, j=j: w == ["up", str(j)], "operator 3 linked to node %d" % j)
        check(net.post(0, "attester", H, {"h": H}) == 202, "node 0 takes attester/%d" % H)
        sdb = net.workers(0)["statedb"]["pid"]
        os.kill(sdb, signal.SIGSTOP)
        try:
            for i in (1, 2):
                check(net.post(i, "attester", H, {"h": H}) == 202, "node %d takes it" % i)
            pp = peer.wait(lambda w: w[:3] == ["qbft", "1", "pre_prepare"] and w[4] == str(H),
                           "node 1's PRE-PREPARE")
            value_hash = pp[6]
            for t in ("prepare", "commit"):
                peer.cmd("qbft all %s 0 %d 1 %s" % (t, H, value_hash))
            for i in (1, 2, 0):
                wait_for(lambda i=i: net.decided(i, "attester", H), "node %d decided" % i)
            peer.cmd("qbft 0 round_change 0 %d 2" % H)

            def rc_judged():
                m = net.metrics(0)
                return (metric(m, "qbft_msg_verified_total", type="round_change", result="ok")
                        or 0) >= 1
            wait_for(rc_judged, "node 0 took operator 3's ROUND-CHANGE")
            m = net.metrics(0)
            sent = metric(m, "consensus_broadcast_total", type="decided", result="ok") or 0
            held = metric(m, "consensus_broadcast_total", type="decided", result="held") or 0
            check(sent == 0 and held >= 1,
                  "StateDB stopped: node 0 holds its DECIDED (sent %d, held %d)" % (sent, held))
            check(not peer.find(from0("qbft", "decided")) and not peer.find(from0("seal")),
                  "operator 3 got neither a DECIDED nor a seal from node 0")
        finally:
            os.kill(sdb, signal.SIGCONT)
        peer.wait(from0("qbft", "decided"), "node 0's DECIDED once its record is durable")
        peer.wait(from0("seal"), "node 0's seal once its record is durable")
        check(True, "StateDB back: node 0's DECIDED and seal reached operator 3")
    finally:
        peer.stop()
