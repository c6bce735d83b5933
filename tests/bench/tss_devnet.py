#!/usr/bin/python3
"""Threshold signing on a 4-node devnet (issue 12): scripts/bench tss devnet [DUTIES] [RATE].

One devnet (`aequactl cluster create --tss`, t = 3 of 4, loopback), run twice with the same
load: first without --enable-tss, then (all four restarted) with it. The load is DUTIES attester
duties (default 100), a new height every 1/RATE s (default 4 per s), each posted to all four
nodes; a phase ends when every node has decided every height (and, with TSS on, when every
session has ended). Printed:
 - session time after the decision: per session, the coordinator's `tss_session` line (`ms`,
   from its own decision to the signature stored; the coordinator's clock only); also over every
   node's line (to when each node had the signature, from its own decision); p50/p99, ms;
 - CPU per session: the four QBFT workers' CPU (user + system, /proc), net of what they use idle
   (measured for IDLE s before each phase), per decided instance, TSS on minus TSS off;
 - the seals' cost per decided instance, computed: the QBFT messages the four nodes emitted
   (qbft_msg_total: one ECDSA sign each) and received (qbft_msg_verified_total: one verify each)
   per instance, times the mean sign and verify CPU that tests/bench/tss_bench measured in this
   same run (printed first, with the in-process session); and the ratio of the session's CPU
   to it, and of the in-process session's. The QBFT workers' whole CPU per instance with TSS off
   is printed beside it: the on-minus-off difference is a small part of it, so noise shows.
The machine is shared: CPU figures are differences of two noisy runs (read them as an order of
magnitude at small DUTIES), and wall times include the scheduler's delays.
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from devnet import *  # noqa: E402
from seq import log_events  # noqa: E402

K = int(sys.argv[1]) if len(sys.argv) > 1 else 100
RATE = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
IDLE = 5.0
TCK = os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def qbft_pids(net):
    out = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if d.isdigit() and comm == "aequa-qbft" and net.dir.encode() in cmd:
            out.append(d)
    return out


def cpu_s(pids):
    t = 0
    for p in pids:
        with open("/proc/%s/stat" % p) as f:
            x = f.read().rsplit(")", 1)[1].split()
        t += int(x[11]) + int(x[12])
    return t / TCK


def total(m, name):
    return sum(v for (n, _), v in m.items() if n == name)


def counters(net):
    ms = [net.metrics(i) for i in range(4)]
    return [sum(total(m, name) for m in ms) for name in ("qbft_msg_total",
                                                         "qbft_msg_verified_total")]


def phase(net, first, tss):
    """Post K heights from first at RATE; returns (CPU s net of idle, messages emitted, received)."""
    pids = qbft_pids(net)
    if len(pids) != 4:
        fail("expected 4 QBFT workers, found %d" % len(pids))
    a = cpu_s(pids)
    time.sleep(IDLE)
    idle = (cpu_s(pids) - a) / IDLE
    sent0, recv0 = counters(net)
    c0, t0 = cpu_s(pids), time.monotonic()
    heights = range(first, first + K)
    for n, h in enumerate(heights):
        while time.monotonic() < t0 + n / RATE:  # the stream's schedule
            time.sleep(0.005)
        for i in range(4):
            net.post(i, "attester", h, {"node": i, "h": h})
    wait_for(lambda: all(net.decided(i, "attester", h) for i in range(4) for h in heights),
             "%d heights decided" % K, timeout=600, interval=0.5)
    if tss:
        wait_for(lambda: all(metric(net.metrics(i), "tss_sessions_open") == 0 for i in range(4)),
                 "every session ended", timeout=120, interval=0.2)
    el = time.monotonic() - t0
    cpu = cpu_s(pids) - c0 - idle * el
    sent1, recv1 = counters(net)
    return cpu, sent1 - sent0, recv1 - recv0


inproc = subprocess.run([os.path.join(BUILD, "tests", "bench", "tss_bench"), "--sessions", "300"],
                        capture_output=True, check=True).stdout.decode()
sys.stdout.write(inproc)
sign_us = float(re.search(r"ecdsa sign +mean cpu +([\d.]+) us", inproc).group(1))
verify_us = float(re.search(r"ecdsa verify +mean cpu +([\d.]+) us", inproc).group(1))
inproc_us = float(re.search(r"session cpu +p50 +([\d.]+) us", inproc).group(1))

with Devnet(4, create_args=["--tss"]) as net:
    off_cpu, off_sent, off_recv = phase(net, 1, False)
    for i in range(4):
        net.stop_node(i)
    for i in range(4):  # all four before any is ready: readiness needs a P2P quorum
        net.nodes[i]["pid"] = script.start_node(net.nodes[i], args=["--enable-tss"])
    script.write_nodes(net.dir, net.nodes)
    wait_for(lambda: all(script.ready(net.api(i)) for i in range(4)),
             "the four nodes ready with --enable-tss", timeout=90, interval=0.2)
    marks = [len(net.log(i)) for i in range(4)]
    on_cpu, on_sent, on_recv = phase(net, K + 1, True)
    lines = {i: [e for e in log_events(net.log(i)[marks[i]:], "tss_session")
                 if e.get("result") in ("ok", "timeout", "dropped")] for i in range(4)}

coord = [e["ms"] for i in range(4) for e in lines[i] if e["result"] == "ok" and
         e["coordinator"] == i]
every = [e["ms"] for i in range(4) for e in lines[i] if e["result"] == "ok"]
results = {}
for i in range(4):
    for e in lines[i]:
        results[e["result"]] = results.get(e["result"], 0) + 1
seal_us = ((off_sent + on_sent) * sign_us + (off_recv + on_recv) * verify_us) / (2 * K)
sess_us = (on_cpu - off_cpu) * 1e6 / K
print("# 4-node devnet, loopback, t = 3 of 4: %d attester duties at %.1f/s, TSS off then on" %
      (K, RATE))
print("session lines (all nodes): %s" % ", ".join("%s %d" % kv for kv in sorted(results.items())))
print("session after decision, coordinator  p50 %6.1f ms  p99 %6.1f ms  (%d sessions)" %
      (pct(coord, 0.5), pct(coord, 0.99), len(coord)))
print("session after decision, every node   p50 %6.1f ms  p99 %6.1f ms  (%d lines)" %
      (pct(every, 0.5), pct(every, 0.99), len(every)))
print("qbft workers cpu per instance, 4 nodes: tss off %7.0f us  tss on %7.0f us" %
      (off_cpu * 1e6 / K, on_cpu * 1e6 / K))
print("cpu per session (on - off), 4 nodes   %7.0f us" % sess_us)
print("seals per instance, 4 nodes: %.1f signs + %.1f verifies = %.0f us (ecdsa means above)" %
      ((off_sent + on_sent) / (2.0 * K), (off_recv + on_recv) / (2.0 * K), seal_us))
print("session / seals (cpu): %.1f; in-process session (p50 cpu above) / seals: %.1f" %
      (sess_us / seal_us, inproc_us / seal_us))
