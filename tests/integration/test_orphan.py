#!/usr/bin/python3
"""Workers exit when their supervisor is gone (SIGKILL of the supervisor leaves no orphan)."""
from harness import *

with Node() as n:
    n.start()
    n.wait_ready()
    pids = [w["pid"] for w in n.workers().values()]
    n.proc.kill()
    n.proc.wait()
    wait_for(lambda: not any(pid_alive(p) for p in pids), "every worker gone", timeout=20)
    check(True, "no worker outlives a SIGKILLed supervisor")
