#!/usr/bin/python3
"""Workers exit when their supervisor is gone (SIGKILL of the supervisor leaves no orphan), even
when nng_close hangs on the way out (nng 1.5.2, nanomsg/nng#1543; made to happen here by the
LD_PRELOAD shim hang_close.so, loaded by every process of the node)."""
from harness import *

SHIM = os.path.join(BUILD, "tests", "integration", "libhang_close.so")


def orphan_run(env=None, config_text=None):
    with Node(env=env, config_text=config_text) as n:
        n.start()
        n.wait_ready()
        pids = [w["pid"] for w in n.workers().values()]
        n.proc.kill()
        n.proc.wait()
        try:
            wait_for(lambda: not any(pid_alive(p) for p in pids), "every worker gone", timeout=20)
        finally:
            for p in pids:  # a failed run leaves no orphan behind either
                if pid_alive(p):
                    os.kill(p, signal.SIGKILL)
        return n.log_text()


orphan_run()
check(True, "no worker outlives a SIGKILLed supervisor")

# The stop deadline is the supervisor's grace and a second.
log = orphan_run(env={"LD_PRELOAD": SHIM}, config_text="[supervisor]\ngrace_ms = 1000\n")
check(log.count('"msg":"supervisor_gone"') + log.count('"msg":"worker_stopping"') >= 5,
      "every worker began to stop")
check(True, "no worker outlives its supervisor while nng_close hangs")
