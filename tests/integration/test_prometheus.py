#!/usr/bin/python3
"""deploy/ against a real Prometheus (SPEC §12.3, issue 13): Debian's `prometheus` scrapes a
4-node devnet given traffic and faults (traffic.py), and its HTTP API shows that
 - every target of deploy/prometheus/prometheus.yml is up (/api/v1/targets);
 - every rule group and rule of deploy/prometheus/aequa-alerts.yml is loaded, has been evaluated
   and has health "ok" with no lastError (/api/v1/rules);
 - every query of deploy/grafana/dashboard.json returns at least one series (/api/v1/query),
   polled with a bound; the failure names each panel and query that returns none. A panel's
   legend (legendFormat) names only labels its series have and names its series apart, as an
   operator reading the graph needs. Synthetic panels (a family no node exports, a query that
   does not parse, a legend naming a dropped label, a legend naming two series alike) are shown
   to fail the same check, so a dashboard query that names a family the node never exports
   fails this test.
The devnet runs with TSS when the dashboard queries tss_* families, so that they exist.

The Prometheus configuration is deploy/prometheus/prometheus.yml loaded as YAML (python3-yaml)
and changed in three places only: scrape and evaluation intervals of 1 s (a job's own
scrape_interval too), rule file paths made absolute (they are relative to the configuration's
directory, and ours is a temporary one), and each target 127.0.0.1:(4620+i) (node i of
`scripts/devnet` on its default ports) replaced by the devnet node i's monitoring address. Job
names, labels and the rules file are the deployed ones. `promtool check config` checks both the
deployed file and the derived one. Prometheus runs with its TSDB in a temporary directory; it is
stopped and the directory removed however the test ends (its log is printed on a failure).
"""
import ctypes
import re
import urllib.parse

from devnet import *

try:
    import yaml
except ImportError:
    fail("python3-yaml is missing: scripts/setup installs it")
import traffic

PROM_DIR = os.path.join(ROOT, "deploy", "prometheus")
PROM_YML = os.path.join(PROM_DIR, "prometheus.yml")
RULES_YML = os.path.join(PROM_DIR, "aequa-alerts.yml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "dashboard.json")
DEFAULT_MONITORING = 4620  # node i of a devnet on its default ports: 127.0.0.1:4620+i
INTERVAL = "1s"
# Grafana's built-in variables, as concrete values for a query sent to Prometheus directly.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$interval": "15s",
                "$__range": "1h"}
NEVER_EVALUATED = "0001-01-01T00:00:00Z"
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")  # {{label}} in a Grafana legendFormat
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In the child before exec: SIGTERM when this test process dies, even by SIGKILL."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def need(program):
    if not shutil.which(program):
        fail("%s not found: scripts/setup installs Debian's prometheus" % program)


def promtool_check_config(path):
    r = subprocess.run(["promtool", "check", "config", path], capture_output=True)
    check(r.returncode == 0, "promtool check config %s%s" %
          (path, "" if r.returncode == 0 else ": " + (r.stdout + r.stderr).decode()))


def derived_config(monitoring):
    """deploy/prometheus/prometheus.yml for this devnet (module docstring); monitoring[i] is
    node i's monitoring address."""
    with open(PROM_YML) as f:
        cfg = yaml.safe_load(f)
    default = {"127.0.0.1:%d" % (DEFAULT_MONITORING + i): a for i, a in enumerate(monitoring)}
    cfg.setdefault("global", {}).update(scrape_interval=INTERVAL, evaluation_interval=INTERVAL)
    cfg["rule_files"] = [os.path.join(PROM_DIR, r) for r in cfg.get("rule_files", [])]
    seen = set()
    for job in cfg["scrape_configs"]:
        if "scrape_interval" in job:
            job["scrape_interval"] = INTERVAL
        for sc in job.get("static_configs", []):
            unknown = [t for t in sc["targets"] if t not in default]
            if unknown:
                fail("prometheus.yml job %s: targets %s are not devnet nodes on their default "
                     "ports (127.0.0.1:%d+i); teach derived_config them" %
                     (job["job_name"], unknown, DEFAULT_MONITORING))
            sc["targets"] = [default[t] for t in sc["targets"]]
            seen |= set(sc["targets"])
    check(seen == set(monitoring), "prometheus.yml scrapes every devnet node (%d targets)" %
          len(seen))
    return cfg


def dashboard_panels():
    """[(panel title, [(PromQL, legendFormat or None)])] of every panel, Grafana variables
    expanded."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        targets = []
        for t in p.get("targets", []):
            expr = t["expr"]
            for var in sorted(GRAFANA_VARS, key=len, reverse=True):
                expr = expr.replace(var, GRAFANA_VARS[var])
            left = re.findall(r"\$\{?\w+", expr)
            if left:
                fail("panel %r: no value for Grafana variable %s in %r (GRAFANA_VARS)" %
                     (p["title"], ", ".join(left), t["expr"]))
            targets.append((expr, t.get("legendFormat")))
        out.append((p["title"], targets))
    return out


class Prometheus:
    """Debian's prometheus on a free loopback port with cfg, in a temporary directory."""

    def __init__(self, cfg):
        self.dir = tempdir("aequa-prometheus-")
        self.proc = None
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        self.addr = "127.0.0.1:%d" % free_port()
        self.cmd = ["prometheus", "--config.file=" + self.config,
                    "--storage.tsdb.path=" + os.path.join(self.dir, "tsdb"),
                    "--web.listen-address=" + self.addr]

    def __enter__(self):
        try:
            promtool_check_config(self.config)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self.cmd, cwd=self.dir, stdout=log,
                                             stderr=subprocess.STDOUT,
                                             preexec_fn=die_with_parent)
            wait_for(lambda: self.proc.poll() is None and
                     request(self.addr, "GET", "/-/ready")[0] == 200,
                     "prometheus ready on %s" % self.addr, timeout=60, interval=0.2)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if exc[0] is not None and os.path.exists(self.log_path):
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()[-40:]
            sys.stdout.write("---- prometheus log (last 40 lines) ----\n" + "\n".join(lines) +
                             "\n")
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def api(self, path, **params):
        """The data of a Prometheus API answer; raises ValueError with its error otherwise."""
        q = "?" + urllib.parse.urlencode(params) if params else ""
        code, body, _ = request(self.addr, "GET", path + q)
        j = json.loads(body)
        if code != 200 or j.get("status") != "success":
            raise ValueError("%s: %d %s: %s" % (path, code, j.get("errorType"), j.get("error")))
        return j["data"]


def targets_down(prom, jobs, monitoring):
    """What is wrong with the active targets (empty when every deployed target is up)."""
    active = prom.api("/api/v1/targets", state="active")["activeTargets"]
    wrong = ["%s %s: %s %s" % (t["labels"].get("job"), t["scrapeUrl"], t["health"],
                               t["lastError"]) for t in active if t["health"] != "up"]
    addrs = sorted(urllib.parse.urlsplit(t["scrapeUrl"]).netloc for t in active)
    if addrs != sorted(monitoring):
        wrong.append("targets %s, not the devnet's %s" % (addrs, sorted(monitoring)))
    if {t["labels"].get("job") for t in active} != jobs:
        wrong.append("jobs %s, not %s" % ({t["labels"].get("job") for t in active}, jobs))
    return wrong


def rules_not_ok(prom, groups):
    """Rules of aequa-alerts.yml not loaded, not yet evaluated or unhealthy (empty when all are
    loaded and evaluated without error). groups: {group name: [rule names]}."""
    loaded = {g["name"]: g for g in prom.api("/api/v1/rules")["groups"]}
    wrong = ["group %s not loaded" % g for g in groups if g not in loaded]
    wrong += ["group %s not in aequa-alerts.yml" % g for g in loaded if g not in groups]
    for name, g in loaded.items():
        if g["file"] != RULES_YML:
            wrong.append("group %s from %s, not %s" % (name, g["file"], RULES_YML))
        rules = [r["name"] for r in g["rules"]]
        if name in groups and rules != groups[name]:
            wrong.append("group %s has rules %s, not %s" % (name, rules, groups[name]))
        for r in g["rules"]:
            if r["lastEvaluation"] == NEVER_EVALUATED:
                wrong.append("%s/%s not evaluated yet" % (name, r["name"]))
            elif r["health"] != "ok" or r.get("lastError"):
                wrong.append("%s/%s: health %s, lastError %r" % (name, r["name"], r["health"],
                                                                 r.get("lastError")))
    return wrong


def panel_problems(prom, panels):
    """What Grafana would show wrong now, as ["panel 'T': EXPR: why"] (empty when every panel is
    right): a query that fails or returns no series; a legend that names a label a series of
    its query lacks, or that gives two series of one panel the same name."""
    wrong = []
    for title, targets in panels:
        names = {}  # legend as shown -> the series' labels
        for expr, legend in targets:
            try:
                result = prom.api("/api/v1/query", query=expr)["result"]
            except ValueError as e:
                wrong.append("panel %r: %s: %s" % (title, expr, e))
                continue
            if not result:
                wrong.append("panel %r: %s: no series" % (title, expr))
            for m in (r["metric"] for r in result if legend is not None):
                lacking = [k for k in LEGEND_LABEL.findall(legend) if k not in m]
                if lacking:
                    wrong.append("panel %r: %s: legend %r names %s, not a label of %s" %
                                 (title, expr, legend, ", ".join(lacking), m))
                    break
                shown = LEGEND_LABEL.sub(lambda g: m[g.group(1)], legend)
                if shown in names:
                    wrong.append("panel %r: %s: legend %r shows %r for both %s and %s" %
                                 (title, expr, legend, shown, names[shown], m))
                    break
                names[shown] = m
    return wrong


def main():
    need("prometheus")
    need("promtool")
    promtool_check_config(PROM_YML)
    with open(RULES_YML) as f:
        groups = {g["name"]: [r.get("alert") or r.get("record") for r in g["rules"]]
                  for g in yaml.safe_load(f)["groups"]}
    check(sum(map(len, groups.values())) > 0, "aequa-alerts.yml: %d groups, %d rules" %
          (len(groups), sum(map(len, groups.values()))))
    panels = dashboard_panels()
    nqueries = sum(len(t) for _, t in panels)
    tss = any(re.search(r"\btss_", e) for _, t in panels for e, _ in t)
    check(nqueries, "dashboard.json: %d panels, %d queries%s" %
          (len(panels), nqueries, ", TSS panels" if tss else ""))

    with Devnet(4, tss=tss) as net:
        monitoring = [nd["monitoring"] for nd in net.nodes]
        cfg = derived_config(monitoring)
        jobs = {j["job_name"] for j in cfg["scrape_configs"]}
        with Prometheus(cfg) as prom:
            wait_for(lambda: not targets_down(prom, jobs, monitoring), "every target up",
                     timeout=60, interval=0.5)
            check(True, "prometheus on %s scrapes the devnet: every target up" % prom.addr)
            traffic.drive(net)

            ok, _ = poll(lambda: not targets_down(prom, jobs, monitoring), 60, 0.5)
            check(ok, "every target up after the traffic and faults%s" %
                  ("" if ok else ": %s" % targets_down(prom, jobs, monitoring)))
            ok, _ = poll(lambda: not rules_not_ok(prom, groups), 60, 0.5)
            check(ok, "every rule loaded and evaluated without error%s" %
                  ("" if ok else ":\n  " + "\n  ".join(rules_not_ok(prom, groups))))
            ok, _ = poll(lambda: not panel_problems(prom, panels), 90, 1.0)
            check(ok, "every dashboard query returns at least one series, each named apart by "
                  "its panel's legend (%d queries)%s" % (nqueries, "" if ok else ":\n  " +
                                                         "\n  ".join(panel_problems(prom, panels))))
            # The same check fails a panel that queries a family no node exports, a query that
            # does not parse, a legend naming a label the query drops, and one that names two
            # series alike.
            decided = "sum by (%s) (rate(qbft_decided_total[1m]))"
            bogus = [("family", [(decided.replace("decided_total", "decided_bogus_total") %
                                  "duty", "{{duty}}")]),
                     ("syntax", [((decided % "duty")[:-1], "{{duty}}")]),
                     ("label", [(decided % "duty", "{{instance}}")]),
                     ("alike", [(decided % "instance, duty", "{{instance}}")])]
            wrong = panel_problems(prom, bogus)
            check([w.split(":", 1)[0] for w in wrong] == ["panel %r" % t for t, _ in bogus] and
                  "no series" in wrong[0] and "bad_data" in wrong[1] and
                  "names instance, not a label" in wrong[2] and "for both" in wrong[3],
                  "the check fails each of four bad panels:\n  " + "\n  ".join(wrong))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: terminated (SIGTERM)"))
    main()
