#!/usr/bin/python3
"""The supervisor keeps supervising when nng_close never returns in it (nng 1.5.2,
nanomsg/nng#1543; made to happen by the LD_PRELOAD shim hang_close.so). Its loop closes sockets
it is done with every second (its listener probes) and whenever a worker dies (that worker's
socket); a chaos drill once left two supervisors blocked in that close for good, their dead
workers unreaped and never restarted."""
from harness import *

SHIM = os.path.join(BUILD, "tests", "integration", "libhang_close.so")

with Node(env={"LD_PRELOAD": SHIM, "HANG_CLOSE_PROGRAM": "aequa-supervisor"},
          config_text="[supervisor]\nbackoff_stable_s = 1\n") as n:
    n.start()
    n.wait_ready()
    for name in ("builder", "qbft", "builder"):
        # Ready for over a second: its own probes have been closed at least once meanwhile.
        w = wait_for(lambda: (lambda x: x if x["state"] == "ready" and x["uptime_s"] >= 1.5
                              else None)(n.workers()[name]), "%s ready for 1.5 s" % name)
        os.kill(w["pid"], signal.SIGKILL)
        wait_for(lambda: (lambda x: x["state"] == "ready" and x["pid"] != w["pid"])(
            n.workers()[name]), "%s restarted and READY again" % name, timeout=15)
        check(not pid_alive(w["pid"]), "the dead %s was reaped" % name)
    n.wait_ready()
    n.proc.send_signal(signal.SIGTERM)
    check(n.wait_exit() == 0, "SIGTERM: the supervisor still stops cleanly")
