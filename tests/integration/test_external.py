#!/usr/bin/python3
"""--external qbft: the node runs without spawning qbft; a hand-started aequa-qbft joins it and
the node becomes ready; it leaves when the supervisor stops."""
import subprocess

from harness import *

with Node(extra_args=["--external", "qbft", "--data-dir", "data", "--runtime-dir", "run"]) as n:
    n.start()
    wait_for(lambda: n.workers()["api"]["state"] == "ready", "api ready")
    check(n.workers()["qbft"]["state"] == "external", "qbft is external")
    check(not n.ready(), "not ready without the external worker")
    q = subprocess.Popen([worker_binary("qbft"), "--data-dir", os.path.join(n.dir, "data"),
                          "--runtime-dir", os.path.join(n.dir, "run"), "--foreground", "-v"],
                         cwd=n.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        n.wait_ready()
        check(n.workers()["qbft"]["pid"] == q.pid, "status shows the hand-started pid")
        n.proc.send_signal(signal.SIGTERM)
        check(n.wait_exit() == 0, "supervisor exits 0")
        check(q.wait(15) == 0, "the external worker exits when the supervisor is gone")
    finally:
        if q.poll() is None:
            q.kill()
