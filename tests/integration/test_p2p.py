#!/usr/bin/python3
"""Integration test of the P2P link layer: 4 node processes on loopback (p2p_node), plus
misbehaving clients (p2p_node evil). Waits on events, never on sleeps.

    test_p2p.py AEQUACTL P2P_NODE

Checks, in order: the DKG gate refuses a bad lock or key (exit 78); a lone node has no quorum;
all 6 links come up and every node has a quorum; a broadcast reaches every peer and a unicast
only its target; a key outside the lock is denied and none of its frames is delivered; a member
key with another lock_hash is dkg_denied; a handshake abandoned by the peer or that does not
authenticate is handshake_failed, its log lines rate-limited per address; the connection cap holds (limited); killing and
restarting a node re-establishes its links; then, with that node's key: a flood is rate
limited, an oversize frame closes the link, and garbage scores the peer out (its next message
is dropped, p2p_peer_score falls to the threshold).
"""
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 20
changed = threading.Condition()


def wait(cond, what, timeout=TIMEOUT):
    """Wait until cond() is true; re-checked whenever any node prints a line."""
    deadline = time.monotonic() + timeout
    with changed:
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            changed.wait(left)


class Node:
    def __init__(self, exe, conf, index, logdir):
        self.index = index
        self.lines = []
        self.log = open(os.path.join(logdir, f"node{index}.log"), "a")
        self.proc = subprocess.Popen([exe, "node", conf], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with changed:
                self.lines.append(line.rstrip("\n"))
                changed.notify_all()
        with changed:
            self.lines.append("<exit>")
            changed.notify_all()

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def request(self, text, prefix):
        """Send a command and return the first line after it that starts with prefix."""
        with changed:
            start = len(self.lines)
        self.cmd(text)
        found = []

        def seen():
            found[:] = [l for l in self.lines[start:] if l.startswith(prefix)]
            return bool(found)
        wait(seen, f"node {self.index}: reply to {text!r}")
        return found[0]

    def metrics(self):
        with changed:
            start = len(self.lines)
        self.cmd("metrics")
        wait(lambda: "end" in self.lines[start:], f"node {self.index}: metrics")
        out = {}
        with changed:
            block = self.lines[start:self.lines.index("end", start)]
        for line in block:
            m = re.match(r"^(\w+(?:\{[^}]*\})?) (\S+)$", line)
            if m:
                out[m.group(1)] = float(m.group(2))
        return out

    def up(self):
        """Peers whose last link event is 'up'."""
        state = {}
        for line in self.lines:
            m = re.match(r"^(up|down) (\d+)$", line)
            if m:
                state[int(m.group(2))] = m.group(1) == "up"
        return {p for p, u in state.items() if u}

    def count(self, pattern):
        return sum(1 for l in self.lines if re.search(pattern, l))

    def stop(self, kill=False):
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.cmd("quit")
        self.proc.wait(timeout=TIMEOUT)
        self.reader.join(timeout=TIMEOUT)
        self.log.close()


def poll(cond, what, timeout=TIMEOUT):
    """Poll cond() (it asks a node for something) until it is true."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def attempts(m, result):
    return m.get(f'p2p_conn_attempts_total{{result="{result}"}}', 0)


def free_base():
    """A base port P with P+40..P+43 free on loopback."""
    for _ in range(100):
        base = random.randrange(10000, 32000, 50)  # below the ephemeral ports (32768-)
        try:
            socks = []
            for i in range(4):
                s = socket.socket()
                s.bind(("127.0.0.1", base + 40 + i))
                socks.append(s)
            for s in socks:
                s.close()
            return base
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def evil(exe, lock, mode, target, key="-", index="0", count="1"):
    r = subprocess.run([exe, "evil", lock, mode, str(target), key, str(index), str(count)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    return r.returncode, r.stdout


def main():
    aequactl, exe = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="aequa-p2p-it-")
    base = free_base()
    subprocess.run([aequactl, "cluster", "create", "--nodes", "4", "--out", tmp,
                    "--base-port", str(base)], check=True, stdout=subprocess.DEVNULL)
    lock = os.path.join(tmp, "cluster-lock.json")
    conf = [os.path.join(tmp, f"node{i}", "aequa.conf") for i in range(4)]
    key = [os.path.join(tmp, f"node{i}", "node.key") for i in range(4)]
    common = ("handshake_timeout_ms = 2000\nreconnect_min_ms = 20\nreconnect_max_ms = 300\n"
              "ping_interval_ms = 200\nidle_timeout_ms = 5000\nscore_cooldown_ms = 500\n")
    extra = {0: "rate_msgs = 200\nrate_burst = 100\n", 1: "score_recover_per_s = 1\n",
             3: "max_connections = 4\n"}
    for i in range(4):  # [p2p] is the last section of a generated config
        with open(conf[i], "a") as f:
            f.write(common + extra.get(i, ""))

    # The DKG gate: a tampered lock, or a key that is not this operator's, exits 78.
    bad = os.path.join(tmp, "bad.conf")
    with open(conf[0]) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace(key[0], key[1]))
    r = subprocess.run([exe, "node", bad], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 78, f"wrong key: exit {r.returncode}"
    assert "operators[0].pubkey" in r.stderr, r.stderr

    nodes = {}
    try:
        nodes[0] = Node(exe, conf[0], 0, tmp)
        wait(lambda: "ready 0" in nodes[0].lines, "node 0 ready")
        assert nodes[0].request("status", "status") == "status up=- count=1 quorum=0"
        for i in (1, 2, 3):
            nodes[i] = Node(exe, conf[i], i, tmp)
        for i in range(4):
            wait(lambda i=i: nodes[i].up() == set(range(4)) - {i}, f"node {i}: all links up")
        for i in range(4):
            s = nodes[i].request("status", "status")
            assert s.endswith("count=4 quorum=1"), s

        # Broadcast reaches every peer; unicast only its target.
        assert nodes[1].request("bcast aequa/qbft/v1 hello-all", "sent") == "sent 3"
        for i in (0, 2, 3):
            wait(lambda i=i: nodes[i].count(r"^msg 1 aequa/qbft/v1 9 hello-all$") == 1,
                 f"node {i}: broadcast")
        assert nodes[2].request("send 3 aequa/tx/v1 hello-three", "sent") == "sent 1"
        wait(lambda: nodes[3].count(r"^msg 2 aequa/tx/v1 11 hello-three$") == 1, "unicast")
        assert all(nodes[i].count("hello-three") == 0 for i in (0, 1, 2))

        # A key outside the lock: denied, nothing delivered.
        m0 = nodes[0].metrics()
        rc, out = evil(exe, lock, "outsider", 0)
        assert rc == 0, out
        m1 = nodes[0].metrics()
        assert attempts(m1, "denied") > attempts(m0, "denied"), m1
        # A member key with another lock_hash: dkg_denied.
        rc, out = evil(exe, lock, "dkg", 0, key[1], 1)
        assert rc == 0, out
        m2 = nodes[0].metrics()
        assert attempts(m2, "dkg_denied") > attempts(m1, "dkg_denied"), m2
        assert nodes[0].count("outsider-msg") == 0
        assert nodes[0].up() == {1, 2, 3}

        # A peer that abandons the handshake once it has judged us (as one with another lock
        # or key does), or whose handshake does not authenticate: each is counted as
        # handshake_failed, and logged, at most once per address per period.
        def hs_failed_lines():
            with open(os.path.join(tmp, "node0.log")) as f:
                return sum('"result":"handshake_failed"' in l for l in f)
        lines0 = hs_failed_lines()
        m0 = nodes[0].metrics()
        for _ in range(3):
            rc, out = evil(exe, lock, "abort", 0)
            assert rc == 0 and out.strip() == "aborted", out
        rc, out = evil(exe, lock, "badhs", 0)
        assert rc == 0 and out.strip() == "closed", out
        poll(lambda: attempts(nodes[0].metrics(), "handshake_failed") -
             attempts(m0, "handshake_failed") == 4, "4 failed handshakes counted on node 0")
        lines = hs_failed_lines() - lines0
        assert 1 <= lines < 4, f"{lines} handshake_failed log lines for 4 failures"
        assert attempts(nodes[0].metrics(), "denied") == attempts(m0, "denied")
        assert nodes[0].up() == {1, 2, 3}

        # Connection cap on node 3 (max_connections = 4, 3 links up): 1 held, 2 refused.
        m0 = nodes[3].metrics()
        rc, out = evil(exe, lock, "hold", 3, "3")
        assert rc == 0 and out.strip() == "held 3 closed 2", out
        m1 = nodes[3].metrics()
        assert attempts(m1, "limited") - attempts(m0, "limited") == 2, m1

        # Kill node 3 and restart it: every link comes back.
        nodes[3].stop(kill=True)
        for i in range(3):
            wait(lambda i=i: 3 not in nodes[i].up(), f"node {i}: sees node 3 down")
        assert nodes[0].request("status", "status").endswith("count=3 quorum=1")
        nodes[3] = Node(exe, conf[3], 3, tmp)
        for i in range(4):
            wait(lambda i=i: nodes[i].up() == set(range(4)) - {i}, f"node {i}: links back")
        nodes[3].stop(kill=True)
        wait(lambda: 3 not in nodes[0].up(), "node 0: node 3 down again")

        # With node 3's key: a flood is rate limited (node 0: 200 msgs/s, burst 100).
        downs = nodes[0].count(r"^down 3$")
        m0 = nodes[0].metrics()
        rc, out = evil(exe, lock, "flood", 0, key[3], 3, 5000)
        assert rc == 0 and "flooded 5000" in out, out
        wait(lambda: nodes[0].count(r"^down 3$") > downs, "node 0: flood link closed")
        m1 = nodes[0].metrics()
        delivered = nodes[0].count(r"^msg 3 aequa/qbft/v1 5 flood$")
        assert 0 < delivered < 5000, delivered
        assert attempts(m1, "rate_limited") > attempts(m0, "rate_limited"), m1
        rl = 'p2p_msgs_total{topic="aequa/qbft/v1",direction="rx",result="rate_limited"}'
        assert m1.get(rl, 0) - m0.get(rl, 0) == 5001 - delivered - nodes[0].count("flood-end")

        # An oversize frame closes the link.
        downs = nodes[0].count(r"^down 3$")
        rc, out = evil(exe, lock, "oversize", 0, key[3], 3)
        assert rc == 0 and "closed" in out, out
        wait(lambda: nodes[0].count(r"^down 3$") > downs, "node 0: oversize link closed")
        m2 = nodes[0].metrics()
        assert m2.get('p2p_msgs_total{topic="invalid",direction="rx",result="oversize"}') == 1

        # Garbage scores the peer out: its next message is dropped. Node 1 (default rates, so
        # every frame reaches the Score gate; it recovers 1 point/s).
        downs = nodes[1].count(r"^down 3$")
        m2 = nodes[1].metrics()
        rc, out = evil(exe, lock, "garbage", 1, key[3], 3, 30)
        assert rc == 0 and "garbage 30" in out, out
        wait(lambda: nodes[1].count(r"^down 3$") > downs, "node 1: garbage link closed")
        m3 = nodes[1].metrics()
        assert attempts(m3, "scored_out") > attempts(m2, "scored_out"), m3
        # 10 frames of 10 points reach the threshold (11 if the score recovered a little).
        undecodable = 'p2p_msgs_total{topic="invalid",direction="rx",result="undecodable"}'
        assert m3[undecodable] in (10, 11), m3[undecodable]
        assert m3['p2p_peer_score{peer="3"}'] <= -100, m3['p2p_peer_score{peer="3"}']
        assert nodes[1].count("after-garbage") == 0
        # QBFT reports lower a score too.
        before = nodes[0].metrics()['p2p_peer_score{peer="1"}']
        nodes[0].request("report 1 equivocation", "reported")
        after = nodes[0].metrics()['p2p_peer_score{peer="1"}']
        assert after < before, (before, after)

        for i in (0, 1, 2):
            nodes[i].stop()
        print("p2p integration: ok")
    except BaseException:
        for n in nodes.values():
            try:
                n.stop(kill=True)
            except Exception:
                pass
        print(f"logs in {tmp}", file=sys.stderr)
        for i in nodes:
            print(f"--- node {i} stdout tail:\n" + "\n".join(nodes[i].lines[-30:]),
                  file=sys.stderr)
        raise
    subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()
