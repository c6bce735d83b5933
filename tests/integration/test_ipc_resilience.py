#!/usr/bin/python3
"""The node stays reachable when IPC handshakes are aborted (nng 1.5.2 leaves a listener deaf
after one: nanomsg/nng#1518; ipc/mailbox.c notices and listens again), and a second supervisor on
the same runtime dir is refused before it touches anything."""
import socket
import subprocess

from harness import *


def abort_handshake(path):
    """Connect to a mailbox and close before nng's handshake, as a process killed right after
    connect() would."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        pass  # the mailbox is listening again (a deaf listener it restarted): nothing to abort
    s.close()


def restarted(n, name, old_pid):
    w = n.workers()[name]
    return w if w["state"] == "ready" and w["pid"] not in (0, old_pid) else None


with Node(config_text="[supervisor]\nbackoff_stable_s = 1\n") as n:
    n.start()
    n.wait_ready()
    rt = os.path.join(n.dir, "cluster", "node0", "run")

    second = subprocess.run([SUPERVISOR, "--config", n.config_path], capture_output=True,
                            timeout=30)
    out = second.stdout.decode() + second.stderr.decode()
    check(second.returncode == 78 and "another aequa-supervisor is running" in out,
          "a second supervisor on the same runtime dir exits 78 naming the lock")
    check(n.ready(), "the first node is still ready")

    def abort_all():
        for name in ["supervisor"] + WORKERS:
            for _ in range(3):
                abort_handshake(os.path.join(rt, name + ".ipc"))

    # Three aborted handshakes on every mailbox: some listeners go deaf (about two in three
    # here, which ones and how many varies with timing, sometimes none), and each mailbox's
    # probe finds its own and listens again within about two seconds.
    def heal_logged(seconds):
        return poll(lambda: '"msg":"ipc_listener_restart"' in n.log_text(), seconds)[0]

    rounds = 0
    while rounds < 8:
        rounds += 1
        abort_all()
        if heal_logged(5):
            break
    check(heal_logged(0.1), "deaf listeners are noticed and restarted (ipc_listener_restart, "
          "after %d round(s) of aborted handshakes)" % rounds)
    # Again; then workers restart and must reach the others through whatever went deaf.
    abort_all()
    for name in ("statedb", "qbft", "api"):
        old = wait_for(lambda: (lambda w: w if w["uptime_s"] >= 1.0 else None)(
            n.workers()[name]), "%s up for 1 s" % name)
        os.kill(old["pid"], signal.SIGKILL)
        wait_for(lambda: restarted(n, name, old["pid"]), "%s restarted and READY" % name)
        n.wait_ready()
    check(True, "statedb, qbft and api restarted and the node is ready after aborted handshakes")
    code, body, _ = request(n.api, "POST", "/v1/duty",
                            body=b'{"type":"attester","height":7,"payload":{"k":1}}')
    check(code == 202, "a duty is accepted end to end (POST %d)" % code)
    wait_for(lambda: json.loads(request(n.api, "GET", "/v1/duty/attester/7")[1])["status"] ==
             "decided", "the duty decided")
