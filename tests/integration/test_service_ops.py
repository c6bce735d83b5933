#!/usr/bin/python3
"""service_op_seconds{service, op} (SPEC §12.2, the original node's service_op_ms): the supervisor
observes each worker's start (spawn to READY) and stop (SIGTERM to exit, on reload and shutdown).
The dashboard graphs it; before, no process exported it."""
from harness import *


def count(n, service, op):
    return metric(n.metrics(), "service_op_seconds_count", service=service, op=op) or 0


with Node(config_text="[qbft]\nround_timeout_ms = 1000\n") as n:
    n.start()
    n.wait_ready()
    for w in WORKERS:
        check(count(n, w, "start") == 1, "%s: one start observed" % w)
        check(count(n, w, "stop") == 0, "%s: no stop yet" % w)
    old = n.workers()["qbft"]["pid"]
    text = open(n.config_path).read().replace("round_timeout_ms = 1000", "round_timeout_ms = 900")
    with open(n.config_path, "w") as f:
        f.write(text)
    n.proc.send_signal(signal.SIGHUP)  # [qbft] changed: the QBFT worker is stopped and started
    wait_for(lambda: n.workers()["qbft"]["pid"] not in (0, old) and n.ready(), "qbft restarted")
    wait_for(lambda: count(n, "qbft", "start") == 2, "the second start observed")
    check(count(n, "qbft", "stop") == 1, "the reload's stop observed")
    check(count(n, "api", "stop") == 0 and count(n, "api", "start") == 1,
          "workers the reload did not touch: unchanged")
