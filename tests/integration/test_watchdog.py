#!/usr/bin/python3
"""SIGSTOP a worker: it misses heartbeats, the watchdog SIGKILLs and restarts it (reason
watchdog)."""
from harness import *

conf = "[supervisor]\nheartbeat_ms = 200\nwatchdog_ms = 1500\n"
with Node(config_text=conf, extra_args=["--data-dir", "data", "--runtime-dir", "run"]) as n:
    n.start()
    n.wait_ready()
    before = n.workers()["qbft"]
    os.kill(before["pid"], signal.SIGSTOP)
    after = wait_for(lambda: (lambda w: w if w["state"] == "ready" and w["pid"] != before["pid"]
                              else None)(n.workers()["qbft"]), "qbft replaced after SIGSTOP")
    check(after["last_exit"] == "watchdog", "last_exit is watchdog")
    check(not pid_alive(before["pid"]), "the stopped process was killed")
    m = n.metrics()
    check(metric(m, "aequa_worker_restarts_total", worker="qbft", reason="watchdog") == 1,
          "restart counted with reason=watchdog")
    check('"msg":"watchdog_kill"' in n.log_text(), "watchdog_kill logged")
