"""Integration-test harness: start real aequa processes on loopback and wait for conditions.

Only the Python standard library is used (run with Debian's /usr/bin/python3). Every wait is a
poll on a condition with a generous deadline; a test never sleeps for a fixed time to let
something happen.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("AEQUA_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
BUILD = os.path.abspath(BUILD)
SUPERVISOR = os.path.join(BUILD, "supervisor", "aequa-supervisor")
AEQUACTL = os.path.join(BUILD, "cli", "aequactl")
WORKERS = ["statedb", "builder", "qbft", "p2p", "api"]
SKIP = 77  # meson: test skipped


def worker_binary(name):
    return os.path.join(BUILD, "workers", name, "aequa-" + name)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def poll(cond, timeout=20.0, interval=0.05):
    """Poll cond() until it returns a truthy value or timeout passes: (ok, last value)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return True, last
        except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
            last = e
        time.sleep(interval)
    return False, last


def wait_for(cond, what, timeout=20.0, interval=0.05):
    """Poll cond() until it returns a truthy value; fail the test after timeout."""
    ok, last = poll(cond, timeout, interval)
    if not ok:
        fail("timed out waiting for %s (last: %r)" % (what, last))
    return last


def free_range(count, step=1):
    """A port P with P..P+count-1 free on loopback, below the kernel's ephemeral range, for
    nodes that are stopped and started again on the same ports: a port in that range can be
    taken at any moment as the local end of an outgoing connection (a P2P dial, an HTTP
    client), and the restarted node then cannot listen (seen once in a chaos drill)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for _ in range(200):
        base = random.randrange(10000, max(10001, low - count), step)
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    fail("no free port range of %d below %d" % (count, low))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(addr, method, path, body=None, headers=None, timeout=10):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        c.close()


def is_root():
    return os.geteuid() == 0


def test_tools():
    """A test build (meson -Dtest_tools=true, as scripts/test makes): the test tool may write."""
    with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
        return any(o["name"] == "test_tools" and o["value"] for o in json.load(f))


def need_test_tools():
    if not test_tools():
        print("SKIP: the test tool writes over IPC only in a test build (meson -Dtest_tools=true)")
        sys.exit(SKIP)


def tempdir(prefix="aequa-it-"):
    """A temporary directory the unprivileged workers can traverse when we run as root."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        labels = {}
        if "{" in name_labels:
            name, rest = name_labels.split("{", 1)
            for part in rest.rstrip("}").split(","):
                if part:
                    k, v = part.split("=", 1)
                    labels[k] = v.strip('"')
        else:
            name = name_labels
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def metric(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


class Node:
    """One aequa-supervisor with its own data dir, runtime dir and ports."""

    def __init__(self, config_text=None, extra_args=None, env=None, workdir=None, config_path=None):
        self.dir = workdir or tempdir()
        self.api = "127.0.0.1:%d" % free_port()
        self.mon = "127.0.0.1:%d" % free_port()
        self.config_path = config_path
        if config_text is not None:
            # A one-operator cluster (lock, key, [node]/[p2p] sections) plus the test's sections.
            cdir = os.path.join(self.dir, "cluster")
            subprocess.run([AEQUACTL, "cluster", "create", "--nodes", "1", "--out", cdir,
                            "--base-port", str(free_port())], check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(cdir, "node0", "aequa.conf")) as f:
                base = f.read()
            self.config_path = os.path.join(self.dir, "aequa.conf")
            with open(self.config_path, "w") as f:
                f.write(base + "\n" + config_text)
        self.extra_args = extra_args or []
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(self.dir, "supervisor.log")

    def args(self):
        a = [SUPERVISOR, "--validator-api", self.api, "--monitoring", self.mon]
        if self.config_path:
            a += ["--config", self.config_path]
        return a + self.extra_args

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), cwd=self.dir, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env)
        return self

    def status(self):
        code, body, _ = request(self.mon, "GET", "/status")
        if code != 200:
            raise ValueError("status %d" % code)
        return json.loads(body)

    def workers(self):
        return {w["name"]: w for w in self.status()["workers"]}

    def metrics_text(self):
        code, body, _ = request(self.mon, "GET", "/metrics")
        if code != 200:
            raise ValueError("metrics %d" % code)
        return body.decode()

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def ready(self):
        try:
            return request(self.api, "GET", "/ready")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout=30):
        """Wait for /ready 200; on timeout the failure names the last reason and worker table."""
        last = [None]

        def probe():
            try:
                code, body, _ = request(self.api, "GET", "/ready")
            except OSError as e:
                last[0] = repr(e)
                return False
            last[0] = body.decode(errors="replace").strip()
            return code == 200

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if probe():
                return
            time.sleep(0.05)
        try:
            table = json.dumps(self.status()["workers"])
        except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
            table = repr(e)
        fail("timed out waiting for node ready on %s (last /ready: %s; workers: %s)" %
             (self.api, last[0], table))

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail("supervisor did not exit within %ss" % timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None and os.path.exists(self.log_path):
            sys.stdout.write("---- supervisor log (last 60 lines) ----\n")
            sys.stdout.write("\n".join(self.log_text().splitlines()[-60:]) + "\n")
        self.cleanup()
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields
