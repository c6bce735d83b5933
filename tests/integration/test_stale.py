#!/usr/bin/python3
"""The supervisor never trusts a child: heartbeats of a stale generation are ignored (the watchdog
still replaces a stopped worker), heartbeats of the current generation do count, and undecodable
messages are dropped without harming the supervisor."""
import subprocess

from harness import *

IPC_SEND = os.path.join(BUILD, "tests", "integration", "ipc_send")
conf = "[supervisor]\nheartbeat_ms = 200\nwatchdog_ms = 1500\n"
with Node(config_text=conf, extra_args=["--data-dir", "data", "--runtime-dir", "run"]) as n:
    n.start()
    n.wait_ready()
    rt = os.path.join(n.dir, "run")

    # Garbage claiming to come from a worker: logged, dropped, supervisor unharmed.
    r = subprocess.run([IPC_SEND, rt, "builder", "supervisor", "garbage", "20"], timeout=30)
    check(r.returncode == 0, "garbage sent")
    wait_for(lambda: n.log_text().count('"msg":"ipc_violation"') >= 20, "violations logged")
    check(n.proc.poll() is None and n.ready(), "supervisor survives malformed messages")

    # A current-generation heartbeat keeps a stopped worker alive: the test can tell.
    w = n.workers()["builder"]
    os.kill(w["pid"], signal.SIGSTOP)
    r = subprocess.run([IPC_SEND, rt, "builder", "supervisor", "beat", str(w["generation"]),
                        "15", "200"], timeout=30)
    check(n.workers()["builder"]["pid"] == w["pid"],
          "current-generation beats count (stopped builder not killed for 3 s)")
    os.kill(w["pid"], signal.SIGCONT)

    # Stale generation: ignored, so the stopped worker is still killed by the watchdog.
    w = n.workers()["qbft"]
    os.kill(w["pid"], signal.SIGSTOP)
    beats = subprocess.Popen([IPC_SEND, rt, "qbft", "supervisor", "beat",
                              str(w["generation"] - 1), "100", "100"])
    try:
        after = wait_for(lambda: (lambda x: x if x["pid"] not in (0, w["pid"]) else None)(
            n.workers()["qbft"]), "qbft replaced despite stale heartbeats")
        check(after["last_exit"] == "watchdog", "stale-generation heartbeats were ignored")
    finally:
        beats.kill()
        beats.wait()
