#!/usr/bin/python3
"""Senders are checked, not declared (issue 10). A frame on a worker's mailbox whose declared
source is not the process that sent it — a test tool claiming to be QBFT — is a protocol
violation: StateDB logs it and exits, the supervisor restarts it, and the node serves duties
again. The test tool itself may read from StateDB; it may write only in a test build: the
StateDB worker built as a product build (aequa-statedb-product, run here by hand with
--external statedb) treats the same write as a violation. Workers restarted many times never
mistake each other's first frames for forgeries."""
import subprocess

from harness import *

IPC_SEND = os.path.join(BUILD, "tests", "integration", "ipc_send")
PRODUCT_STATEDB = os.path.join(BUILD, "tests", "integration", "aequa-statedb-product")
conf = "[supervisor]\nbackoff_stable_s = 1\n"


def violations(n, err):
    return [l for l in n.log_text().splitlines()
            if '"msg":"ipc_violation"' in l and err in l]


def replaced(n, name, old_pid):
    w = n.workers()[name]
    return w if w["state"] == "ready" and w["pid"] not in (0, old_pid) else None


def duty_decided(n, height):
    code, _, _ = request(n.api, "POST", "/v1/duty",
                         body=b'{"type":"attester","height":%d,"payload":{"h":%d}}' %
                         (height, height))
    check(code == 202, "a duty is accepted end to end (POST %d)" % code)
    wait_for(lambda: json.loads(request(n.api, "GET", "/v1/duty/attester/%d" % height)[1])
             ["status"] == "decided", "duty %d decided" % height)


with Node(config_text=conf) as n:
    n.start()
    n.wait_ready()
    rt = os.path.join(n.dir, "cluster", "node0", "run")

    # A tool claiming to be QBFT: StateDB treats it as a violation, exits, is restarted.
    before = n.workers()["statedb"]
    r = subprocess.run([IPC_SEND, rt, "qbft", "statedb", "request", "get_duty"], timeout=30)
    check(r.returncode == 0, "a GET_DUTY claiming to come from qbft was sent")
    after = wait_for(lambda: replaced(n, "statedb", before["pid"]), "statedb restarted")
    check(after["last_exit"] == "exit 1", "statedb exited 1 (last exit: %s)" % after["last_exit"])
    forged = violations(n, "forged source")
    check(len(forged) == 1 and '"worker":"statedb"' in forged[0] and '"from":"qbft"' in forged[0],
          "statedb logged the forged source as a violation: %s" % forged)
    n.wait_ready()
    duty_decided(n, 1)

    # The tool may read; writes only in a test build.
    r = subprocess.run([IPC_SEND, rt, "tool", "statedb", "request", "get_duty"], timeout=30,
                       capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("reply 0x030a status 0"),
          "the test tool's read is answered: %s" % r.stdout.strip())
    if test_tools():
        r = subprocess.run([IPC_SEND, rt, "tool", "statedb", "request", "put_duty"], timeout=30,
                           capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.startswith("reply 0x0308 status 0"),
              "a test build takes the test tool's write: %s" % r.stdout.strip())

    # Restarts never make a worker mistake another's first frames for forgeries.
    for name in ("qbft", "statedb", "p2p", "api", "builder") * 2:
        old = wait_for(lambda: (lambda w: w if w["state"] == "ready" and w["uptime_s"] >= 1.0
                                else None)(n.workers()[name]), "%s up for 1 s" % name)
        os.kill(old["pid"], signal.SIGKILL)
        wait_for(lambda: replaced(n, name, old["pid"]), "%s restarted and READY" % name)
        n.wait_ready()
    duty_decided(n, 2)
    check(len(violations(n, "")) == 1, "no violation but the forged frame after 10 restarts")
    check('"msg":"ipc_sender_unverified"' not in n.log_text(),
          "no frame went unverified after 10 restarts")

# The StateDB worker of a product build: the test tool's write is a violation.
with Node(config_text=conf, extra_args=["--external", "statedb"]) as n:
    n.start()
    wait_for(lambda: n.workers()["statedb"]["state"] == "external", "statedb external")
    rt = os.path.join(n.dir, "cluster", "node0", "run")
    log = open(os.path.join(n.dir, "statedb.log"), "wb")
    s = subprocess.Popen([PRODUCT_STATEDB, "--config", n.config_path, "--foreground"],
                         cwd=n.dir, stdout=log, stderr=subprocess.STDOUT)
    try:
        n.wait_ready()
        r = subprocess.run([IPC_SEND, rt, "tool", "statedb", "request", "get_duty"], timeout=30,
                           capture_output=True, text=True)
        check(r.stdout.startswith("reply 0x030a status 4"),
              "the product build answers the tool's read (not found): %s" % r.stdout.strip())
        r = subprocess.run([IPC_SEND, rt, "tool", "statedb", "request", "put_duty"], timeout=30,
                           capture_output=True, text=True)
        check(r.stdout.strip() == "no reply", "the product build does not answer the write")
        check(s.wait(30) == 1, "the product build's StateDB exited 1 on the tool's write")
        with open(os.path.join(n.dir, "statedb.log")) as f:
            text = f.read()
        check('"msg":"ipc_violation"' in text and "sender not allowed for this type" in text,
              "it logged the write as a violation")
    finally:
        if s.poll() is None:
            s.kill()
        log.close()
