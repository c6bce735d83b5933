#!/usr/bin/python3
"""Crash test of the real StateDB worker (issue 3): a client appends vote intents over IPC while
the StateDB worker is SIGKILLed at random moments (AEQUA_CRASH_KILLS, default 50); the
supervisor restarts it each time. Afterwards every acknowledged append is present and
byte-identical and no record is partial (checked by statedb_client)."""
import random
import subprocess

from harness import *

need_test_tools()  # statedb_client appends as the test tool
KILLS = int(os.environ.get("AEQUA_CRASH_KILLS", "50"))
CLIENT = os.path.join(BUILD, "tests", "integration", "statedb_client")
# Restart at once, never give up: this test is about the database, not the restart policy.
conf = ("[supervisor]\nbackoff_min_ms = 1\nbackoff_max_ms = 50\nbackoff_stable_s = 1\n"
        "give_up_deaths = 60\ngive_up_window_s = 1\n[statedb]\ncheckpoint_interval_s = 0\n")
seed = int(os.environ.get("AEQUA_CRASH_SEED", str(random.randrange(1 << 30))))
rng = random.Random(seed)
print("seed %d (AEQUA_CRASH_SEED reproduces the kill schedule)" % seed)

with Node(config_text=conf) as n:
    n.start()
    n.wait_ready()
    rt = os.path.join(n.dir, "cluster", "node0", "run")
    client = subprocess.Popen([CLIENT, rt, "32"], stdout=subprocess.PIPE)
    kills = 0
    killed = 0
    try:
        while kills < KILLS:
            # Never the pid just killed: /status can show it until the supervisor reaps it,
            # and a second kill of a zombie is no second death.
            w = wait_for(lambda: (lambda x: x if x["pid"] > 0 and x["pid"] != killed and
                                  x["state"] in ("starting", "ready") else None)(
                                      n.workers()["statedb"]), "statedb running")
            # A random moment: sometimes while it opens the database, mostly while serving.
            time.sleep(rng.choice([0.0, 0.02, 0.05]) + rng.random() * 0.25)
            try:
                os.kill(w["pid"], signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed = w["pid"]
            kills += 1
            if kills % 10 == 0:
                check(client.poll() is None, "client alive after kill %d" % kills)
        n.wait_ready()
        client.send_signal(signal.SIGTERM)
        out, _ = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
    out = out.decode()
    print(out.strip())
    check(client.returncode == 0, "every acknowledged append survived %d kills" % kills)
    acked = int(out.split("acked=")[1].split()[0])
    check(acked > kills, "appends were acknowledged between kills (%d)" % acked)
    m = n.metrics()
    restarts = metric(m, "aequa_worker_restarts_total", worker="statedb", reason="signal")
    check(restarts >= kills, "supervisor restarted statedb %d times" % restarts)
