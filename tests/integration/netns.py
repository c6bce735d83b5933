"""A namespace testnet for tests (SPEC §13): scripts/testnet-netns, with the Devnet helpers.

Testnet(n) runs `scripts/testnet-netns up n` in a temporary directory: every node in its own
network namespace at 10.77.0.<i+1>, on a bridge in a hub namespace (10.77.0.254). Nothing of
it is reachable from the root namespace, so the test process moves itself into the hub's
network namespace (setns(2); threads and processes it starts afterwards are there too) and
talks to the nodes over the bridge like a client on the same network; it moves back before
`down`. fault(...) runs `scripts/testnet-netns fault ...`. Leaving the `with` block (also on a
failure or SIGTERM, see exit_on_sigterm) runs `down` and checks that no namespace is left.
"""
import ctypes
import signal

from devnet import *  # Devnet, script (scripts/devnet), ROOT and the harness

SCRIPT = os.path.join(ROOT, "scripts", "testnet-netns")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def unavailable():
    """Why this machine cannot run the testnet, or None."""
    if not is_root():
        return "network namespaces need root"
    for tool in ("ip", "nft", "curl", "ss"):
        if not shutil.which(tool):
            return "%s is missing (scripts/setup installs it)" % tool
    return None


def exit_on_sigterm():
    """meson's timeout sends SIGTERM: exit through the finally blocks (and so `down`)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        fail("setns: %s" % os.strerror(e))


def netns_names():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


class Testnet(Devnet):
    """n nodes by scripts/testnet-netns; the Devnet helpers (post, decided, metrics, verify...)
    work unchanged since every node's address in nodes.json is its namespace address."""

    def __init__(self, n, tss=False):
        self.n = n
        self.dir = tempdir("aequa-netns-")
        self.env = None
        self.node_env = {}
        self.tss = tss
        self.root_ns = None
        r = subprocess.run([SCRIPT, "up", str(n), "--dir", self.dir, "--timeout", "180"] +
                           (["--tss"] if tss else []),
                           env=dict(os.environ, AEQUA_BUILD=BUILD), capture_output=True,
                           text=True)
        sys.stdout.write(r.stdout + r.stderr)
        if r.returncode != 0:
            self.dump_logs()
            shutil.rmtree(self.dir, ignore_errors=True)
            fail("testnet-netns up failed (exit %d): %s" % (r.returncode, r.stderr.strip()))
        with open(os.path.join(self.dir, "testnet.env")) as f:
            self.prefix = dict(line.strip().split("=", 1) for line in f if "=" in line)["PREFIX"]
        self.nodes = script.load_nodes(self.dir)
        for nd in self.nodes:
            nd["dir"] = os.path.join(self.dir, "node%d" % nd["index"])
        self.lock = os.path.join(self.dir, "cluster-lock.json")
        self.enter_hub()

    def enter_hub(self):
        """Move this process into the hub's network namespace, and check that it did."""
        hub = "/run/netns/%s-hub" % self.prefix
        self.root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(hub, os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        if os.stat("/proc/thread-self/ns/net").st_ino != os.stat(hub).st_ino:
            fail("this process is not in %s after setns" % hub)

    def leave_hub(self):
        if self.root_ns is not None:
            _setns(self.root_ns)
            os.close(self.root_ns)
            self.root_ns = None

    def run(self, *args, check_rc=True):
        r = subprocess.run([SCRIPT] + list(args[:1]) + ["--dir", self.dir] + list(args[1:]),
                           env=dict(os.environ, AEQUA_BUILD=BUILD), capture_output=True,
                           text=True)
        if check_rc and r.returncode != 0:
            fail("testnet-netns %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                    (r.stdout + r.stderr).strip()))
        return r

    def fault(self, *args):
        self.run("fault", *[str(a) for a in args])

    def kill_node(self, i):
        self.fault("kill", i)

    def start_node(self, i, tss=None):
        """Start node i again (`fault start`, which waits for /health); nodes.json has its pid."""
        self.fault("start", i)
        nodes = script.load_nodes(self.dir)
        for nd in nodes:
            nd["dir"] = os.path.join(self.dir, "node%d" % nd["index"])
        self.nodes = nodes

    def down(self):
        """`down`, then check that every namespace of this testnet is gone."""
        self.leave_hub()
        if not getattr(self, "prefix", None):
            return
        r = self.run("down", check_rc=False)
        left = [ns for ns in netns_names() if ns.startswith(self.prefix + "-")]
        if r.returncode != 0 or left:
            fail("testnet-netns down: exit %d, namespaces left: %s; %s" %
                 (r.returncode, left, (r.stdout + r.stderr).strip()))
        self.prefix = None
