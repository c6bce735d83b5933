#!/usr/bin/python3
"""deploy/: the alert rules and scrape config pass promtool; every metric family that the Grafana
dashboard and the alert rules query is one the node exports (lib/metrics_catalog.c), and every
route label value they name is one the API gives (workers/api/routes.c, SPEC §12.2)."""
import json
import re
import subprocess
import sys

root = sys.argv[1]
catalog = open(root + "/lib/metrics_catalog.c").read()
families = set(re.findall(r'^\s*[CGH]\("([a-z0-9_]+)"', catalog, re.M))
assert len(families) > 30, "catalogue not parsed"

# The API's route labels: the patterns of its route table, "proxy" and "other" (workers/api/main.c).
routes_c = open(root + "/workers/api/routes.c").read()
ROUTES = set(re.findall(r'^\s*\{L_[A-Z_| ]+, "([^"]+)", route_', routes_c, re.M)) | {"proxy", "other"}
assert "/health" in ROUTES and "/v1/duty" in ROUTES, "route table not parsed"

PROMQL = {"histogram_quantile", "clamp_min", "clamp_max", "label_replace", "count_values"}


def names_in(expr):
    """Metric names of a PromQL expression: identifiers with an underscore that are not
    PromQL functions (our label names have none), without histogram suffixes."""
    out = set()
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    for tok in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", expr):
        if "_" not in tok or tok in PROMQL:
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", tok)
        out.add(base if base in families else tok)
    return out

def routes_in(expr):
    """Values of route="..." matchers: each must be one the API gives."""
    return set(re.findall(r'route\s*=\s*"([^"]*)"', expr))


bad = []
dash = json.load(open(root + "/deploy/grafana/dashboard.json"))
used = set()
for p in dash["panels"]:
    assert p["datasource"]["uid"] == "Prometheus", p["title"]
    for t in p["targets"]:
        for n in names_in(t["expr"]):
            used.add(n)
            if n not in families:
                bad.append("dashboard %r: %s" % (p["title"], n))
        for r in routes_in(t["expr"]) - ROUTES:
            bad.append("dashboard %r: route label %r" % (p["title"], r))
rules = open(root + "/deploy/prometheus/aequa-alerts.yml").read()
for expr in re.findall(r"expr: \|?\s*\n?((?:.*\n)+?)\s*(?:for|labels):", rules):
    for n in names_in(expr):
        if n not in families:
            bad.append("alert rule: " + n)
    for r in routes_in(expr) - ROUTES:
        bad.append("alert rule: route label %r" % r)
if bad:
    print("FAIL: unknown metric families or label values:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("ok: dashboard queries %d families, all exported" % len(used))
missing = families - used
if missing:
    print("FAIL: families without a dashboard panel: %s" % sorted(missing))
    sys.exit(1)
print("ok: every family has a panel")
for args in (["check", "rules", root + "/deploy/prometheus/aequa-alerts.yml"],
             ["check", "config", root + "/deploy/prometheus/prometheus.yml"]):
    r = subprocess.run(["promtool"] + args, capture_output=True)
    if r.returncode != 0:
        print("FAIL: promtool %s:\n%s%s" % (" ".join(args), r.stdout.decode(), r.stderr.decode()))
        sys.exit(1)
    print("ok: promtool " + " ".join(args[:2]))
