#!/usr/bin/python3
"""sd_notify without libsystemd: READY=1 (with STATUS), WATCHDOG=1 and STOPPING=1 datagrams arrive
on a test NOTIFY_SOCKET; RELOADING=1 on SIGHUP."""
from harness import *

d = tempdir()
path = os.path.join(d, "notify.sock")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o666)
sock.settimeout(0.2)
got = []


def drain():
    try:
        while True:
            got.append(sock.recv(4096).decode())
    except socket.timeout:
        pass
    return got


def seen(prefix):
    return any(m.startswith(prefix) or ("\n" + prefix) in m for m in drain())


try:
    with Node(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}) as n:
        n.env.pop("WATCHDOG_PID", None)
        n.start()
        wait_for(lambda: seen("READY=1"), "READY=1")
        check(any("STATUS=5/5 workers ready" in m for m in got), "STATUS= with a summary")
        wait_for(lambda: sum(m == "WATCHDOG=1" for m in drain()) >= 2, "two WATCHDOG=1")
        check(True, "WATCHDOG=1 sent periodically")
        n.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: seen("RELOADING=1"), "RELOADING=1 on SIGHUP")
        n.proc.send_signal(signal.SIGTERM)
        check(n.wait_exit() == 0, "exit 0")
        wait_for(lambda: seen("STOPPING=1"), "STOPPING=1 on shutdown")
finally:
    sock.close()
    shutil.rmtree(d, ignore_errors=True)
