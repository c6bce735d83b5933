#!/usr/bin/python3
"""The supervisor never trusts a child, nor any process that claims to be one: a frame whose
declared source is not the process that sent it (here a test tool claiming to be a worker) is a
violation the supervisor logs and drops, so forged heartbeats of the current generation cannot
keep a stopped worker alive, and undecodable ones do not harm the supervisor."""
import subprocess

from harness import *

IPC_SEND = os.path.join(BUILD, "tests", "integration", "ipc_send")
conf = "[supervisor]\nheartbeat_ms = 200\nwatchdog_ms = 1500\n"
with Node(config_text=conf) as n:
    n.start()
    n.wait_ready()
    rt = os.path.join(n.dir, "cluster", "node0", "run")

    # Garbage claiming to come from a worker: forged, logged, dropped, supervisor unharmed.
    r = subprocess.run([IPC_SEND, rt, "builder", "supervisor", "garbage", "20"], timeout=30)
    check(r.returncode == 0, "garbage sent")
    wait_for(lambda: sum('"msg":"ipc_violation"' in l and '"from":"builder"' in l and
                         "forged source" in l for l in n.log_text().splitlines()) >= 20,
             "20 forged frames logged as violations")
    check(n.proc.poll() is None and n.ready(), "supervisor survives forged, malformed frames")

    # Heartbeats of the current generation from another process do not count: the stopped
    # builder is replaced by the watchdog all the same.
    w = n.workers()["builder"]
    os.kill(w["pid"], signal.SIGSTOP)
    beats = subprocess.Popen([IPC_SEND, rt, "builder", "supervisor", "beat",
                              str(w["generation"]), "100", "100"])
    try:
        after = wait_for(lambda: (lambda x: x if x["pid"] not in (0, w["pid"]) else None)(
            n.workers()["builder"]), "builder replaced despite forged heartbeats")
        check(after["last_exit"] == "watchdog", "forged current-generation heartbeats were "
              "dropped (last exit: %s)" % after["last_exit"])
    finally:
        beats.kill()
        beats.wait()
    n.wait_ready()
