#!/usr/bin/python3
"""--debug-worker NAME spawns that worker under $AEQUA_DEBUGGER (here a wrapper script that
records its arguments and execs the worker)."""
from harness import *

d = tempdir()
try:
    marker = os.path.join(d, "wrapped")
    wrapper = os.path.join(d, "dbg.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" > %s\nexec \"$@\"\n" % marker)
    os.chmod(wrapper, 0o755)
    with Node(extra_args=["--debug-worker", "builder"],
              env={"AEQUA_DEBUGGER": wrapper + " "}) as n:
        n.start()
        n.wait_ready()
        with open(marker) as f:
            args = f.read()
        check("aequa-builder" in args and "--generation 1" in args,
              "builder was started through the debugger command: " + args.strip())
finally:
    shutil.rmtree(d, ignore_errors=True)
