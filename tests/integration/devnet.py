"""A devnet for tests: scripts/devnet on a free port range, with helpers to post and read duties."""
import importlib.machinery
import importlib.util
import threading

from harness import *

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_loader = importlib.machinery.SourceFileLoader("devnet_script", os.path.join(ROOT, "scripts",
                                                                             "devnet"))
_spec = importlib.util.spec_from_loader("devnet_script", _loader)
script = importlib.util.module_from_spec(_spec)
_loader.exec_module(script)


def free_base():
    return free_range(64, 64)


class Devnet:
    """n nodes by scripts/devnet. env: the environment of nodes started again (start_node);
    node_env: {i: {NAME: VALUE}} for node i only, at every start; config: INI text appended to
    every node's aequa.conf before the first start; tss: a cluster with threshold-signing keys
    (cluster create --tss, with create_args such as ["--threshold", "4"]) whose nodes run with
    --enable-tss (start_node(i, tss=False) starts one without)."""

    def __init__(self, n, env=None, node_env=None, config=None, tss=False, create_args=()):
        self.n = n
        self.dir = tempdir("aequa-devnet-")
        self.base = free_base()
        self.env = env
        self.node_env = node_env or {}
        self.tss = tss
        if config or create_args:
            subprocess.run([AEQUACTL, "cluster", "create", "--nodes", str(n), "--out", self.dir,
                            "--base-port", str(self.base)] + (["--tss"] if tss else []) +
                           list(create_args), check=True, stdout=subprocess.DEVNULL)
            for i in range(n):
                with open(os.path.join(self.dir, "node%d" % i, "aequa.conf"), "a") as f:
                    f.write("\n" + (config or ""))
        envs = ["--env=%d:%s=%s" % (i, k, v) for i, kv in self.node_env.items()
                for k, v in kv.items()]
        r = subprocess.run([os.path.join(ROOT, "scripts", "devnet"), "up", str(n), "--dir",
                            self.dir, "--base-port", str(self.base)] + envs +
                           (["--tss"] if tss else []),
                           env=dict(os.environ, AEQUA_BUILD=BUILD), capture_output=True)
        if r.returncode != 0:
            self.dump_logs()
            fail("devnet up failed: %s" % r.stderr.decode())
        self.nodes = script.load_nodes(self.dir)
        for nd in self.nodes:
            nd["dir"] = os.path.join(self.dir, "node%d" % nd["index"])
        self.lock = os.path.join(self.dir, "cluster-lock.json")

    def api(self, i):
        return self.nodes[i]["api"]

    def post(self, i, typ, height, payload, headers=None):
        body = json.dumps({"type": typ, "height": height, "payload": payload}).encode()
        return request(self.api(i), "POST", "/v1/duty", body=body, headers=headers)[0]

    def get(self, i, typ, height):
        code, body, _ = request(self.api(i), "GET", "/v1/duty/%s/%d" % (typ, height))
        return json.loads(body) if code == 200 else None

    def decided(self, i, typ, height):
        try:
            d = self.get(i, typ, height)
        except OSError:
            return None
        return d if d and d["status"] == "decided" else None

    def post_all(self, typ, heights, nodes=None, payload=lambda i, h: {"node": i, "h": h}):
        """Post every height to every node (one thread per node); returns the status codes."""
        nodes = range(self.n) if nodes is None else nodes
        codes = {}

        def run(i):
            for h in heights:
                codes[(i, h)] = self.post(i, typ, h, payload(i, h))
        threads = [threading.Thread(target=run, args=(i,)) for i in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return codes

    def metrics(self, i):
        code, body, _ = request(self.nodes[i]["monitoring"], "GET", "/metrics")
        return parse_metrics(body.decode())

    def workers(self, i):
        code, body, _ = request(self.nodes[i]["monitoring"], "GET", "/status")
        return {w["name"]: w for w in json.loads(body)["workers"]}

    def stop_node(self, i, timeout=60.0):
        """SIGTERM node i; False when it had to be SIGKILLed after timeout seconds."""
        return script.stop_pid(self.nodes[i]["pid"], timeout)

    def start_node(self, i, tss=None):
        env = self.env
        if i in self.node_env:
            env = dict(env or os.environ, **self.node_env[i])
        tss = self.tss if tss is None else tss
        self.nodes[i]["pid"] = script.start_node(self.nodes[i], env=env,
                                                 args=["--enable-tss"] if tss else [])
        script.write_nodes(self.dir, self.nodes)  # `scripts/devnet down` must see the new pid
        wait_for(lambda: script.ready(self.nodes[i]["api"]), "node %d ready" % i, timeout=60)

    def verify(self, d):
        r = subprocess.run([AEQUACTL, "duty", "verify", "--lock", self.lock],
                           input=json.dumps(d).encode(), capture_output=True)
        return r.returncode == 0, r.stdout.decode().strip()

    def verify_many(self, docs):
        """One aequactl run for many answers: the list of failure lines (empty when all hold)."""
        text = "".join(json.dumps(d) + "\n" for d in docs)
        r = subprocess.run([AEQUACTL, "duty", "verify", "--lock", self.lock],
                           input=text.encode(), capture_output=True)
        lines = r.stdout.decode().splitlines()
        if len(lines) != len(docs):
            return ["verify printed %d lines for %d answers" % (len(lines), len(docs))]
        return [l for l in lines if not l.startswith("ok ")]

    def log(self, i):
        with open(os.path.join(self.nodes[i]["dir"], "supervisor.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def dump_logs(self, lines=40):
        for i in range(self.n):
            p = os.path.join(self.dir, "node%d" % i, "supervisor.log")
            if os.path.exists(p):
                sys.stdout.write("---- node %d log (last %d lines) ----\n" % (i, lines))
                with open(p, "rb") as f:
                    sys.stdout.write("\n".join(f.read().decode(errors="replace")
                                               .splitlines()[-lines:]) + "\n")

    def down(self):
        for nd in getattr(self, "nodes", []):
            script.stop_pid(nd["pid"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.dump_logs()
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
