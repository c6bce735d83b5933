#!/usr/bin/python3
"""SIGKILL each worker: it is restarted with a new generation, READY again, and counted in
aequa_worker_restarts_total{worker,reason="signal"}."""
from harness import *

with Node() as n:
    n.start()
    n.wait_ready()
    for name in WORKERS:
        before = n.workers()[name]
        os.kill(before["pid"], signal.SIGKILL)

        def restarted():
            w = n.workers()[name]
            return w if (w["state"] == "ready" and w["pid"] != before["pid"]
                         and w["generation"] > before["generation"]) else None
        after = wait_for(restarted, "%s restarted and READY" % name)
        check(after["restarts"] == before["restarts"] + 1 and after["last_exit"] == "signal 9",
              "%s: restarts=%d last_exit=%s" % (name, after["restarts"], after["last_exit"]))
        m = n.metrics()
        check(metric(m, "aequa_worker_restarts_total", worker=name, reason="signal") == 1,
              "%s restart counted with reason=signal" % name)
        n.wait_ready()
