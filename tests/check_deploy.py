#!/usr/bin/python3
"""deploy/ against what nodes really export (SPEC §12.3):
 - the alert rules and the scrape config pass promtool;
 - every family that the Grafana dashboard and the alert rules query is in the catalogue
   (lib/metrics_catalog.c), and every family of the catalogue has a panel; every route label
   value they name is one the API gives (workers/api/routes.c, SPEC §12.2);
 - a 4-node devnet (the integration harness) is given traffic and the faults an operator meets
   (tests/integration/traffic.py: duties of every type posted to every node and decided, a
   transaction included, every API and monitoring route called, a worker killed, a leader down,
   QBFT killed with an instance in its WAL, a damaged database that falls back to its
   checkpoint), then /metrics of every node is scraped: every family the dashboard and the
   rules query must be among the families exported (with at least one sample), unless NOT_YET
   names it. A queried family that a running node never exports fails the check.

Usage: check_deploy.py SOURCE_ROOT (AEQUA_BUILD names the build, as for the integration tests)."""
import json
import os
import re
import subprocess
import sys

root = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(root, "tests", "integration"))
from devnet import *  # noqa: E402  (harness: check, fail, wait_for, request, Devnet)
import traffic  # noqa: E402  (duties, a transaction, every route, faults)

# Families a devnet cannot export yet, because what counts them is not built. The lead shrinks
# this list as features land: a listed family that the devnet exports fails the check, so the
# list never hides a family that works.
NOT_YET = {
    "tss_sessions_total": "exported only with --enable-tss (SPEC §10); this devnet runs without",
    "tss_round_seconds": "exported only with --enable-tss (SPEC §10); this devnet runs without",
    "tss_sessions_open": "exported only with --enable-tss (SPEC §10); this devnet runs without",
}

catalog = open(os.path.join(root, "lib", "metrics_catalog.c")).read()
families = set(re.findall(r'^\s*[CGH]\("([a-z0-9_]+)"', catalog, re.M))
check(len(families) > 30, "catalogue parsed: %d families" % len(families))

# The API's route labels: the patterns of its route table, "proxy" and "other" (workers/api/main.c).
routes_c = open(os.path.join(root, "workers", "api", "routes.c")).read()
ROUTES = set(re.findall(r'^\s*\{L_[A-Z_| ]+, "([^"]+)", route_', routes_c, re.M)) | {"proxy", "other"}
check("/health" in ROUTES and "/v1/duty" in ROUTES, "route table parsed: %d routes" % len(ROUTES))


def routes_in(expr):
    """Values of route="..." matchers."""
    return set(re.findall(r'route\s*=\s*"([^"]*)"', expr))


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


# ---- static: the catalogue, the dashboard, the rules, promtool
queried = {}  # family -> where it is queried
dash = json.load(open(os.path.join(root, "deploy", "grafana", "dashboard.json")))
other_source = [p["title"] for p in dash["panels"] if p["datasource"]["uid"] != "Prometheus"]
check(not other_source, "every panel uses datasource uid Prometheus %s" % (other_source or ""))
bad_routes = []
for p in dash["panels"]:
    for t in p["targets"]:
        for n in names_in(t["expr"]):
            queried.setdefault(n, "dashboard panel %r" % p["title"])
        bad_routes += ["dashboard %r: %s" % (p["title"], r) for r in routes_in(t["expr"]) - ROUTES]
rules = open(os.path.join(root, "deploy", "prometheus", "aequa-alerts.yml")).read()
for expr in re.findall(r"expr: \|?\s*\n?((?:.*\n)+?)\s*(?:for|labels):", rules):
    for n in names_in(expr):
        queried.setdefault(n, "alert rule")
    bad_routes += ["alert rule: %s" % r for r in routes_in(expr) - ROUTES]
check(not bad_routes, "every route label value queried is one the API gives %s" %
      (bad_routes or ""))
unknown = sorted("%s: %s" % (w, n) for n, w in queried.items() if n not in families)
check(not unknown, "every queried family is in the catalogue %s" % (unknown or ""))
no_panel = sorted(families - set(queried))
check(not no_panel, "every family of the catalogue is queried %s" % (no_panel or ""))
stale = sorted(n for n in NOT_YET if n not in families)
check(not stale, "NOT_YET names only catalogue families %s" % (stale or ""))
for args in (["check", "rules", os.path.join(root, "deploy", "prometheus", "aequa-alerts.yml")],
             ["check", "config", os.path.join(root, "deploy", "prometheus", "prometheus.yml")]):
    r = subprocess.run(["promtool"] + args, capture_output=True)
    check(r.returncode == 0, "promtool %s %s" % (" ".join(args[:2]), r.stdout.decode() +
                                                  r.stderr.decode() if r.returncode else ""))


# ---- dynamic: what a devnet exports after traffic
def exported_families(text):
    """Families with at least one sample; histogram series count for their family."""
    hist = set(re.findall(r"^# TYPE (\S+) histogram$", text, re.M))
    out = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = re.split(r"[{ ]", line, 1)[0]
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            out.add(base if base in hist else name)
    return out


with Devnet(4) as net:
    traffic.drive(net)
    exported = set()
    for i in range(net.n):
        code, body, _ = request(net.nodes[i]["monitoring"], "GET", "/metrics")
        check(code == 200, "node %d: /metrics answers" % i)
        exported |= exported_families(body.decode())

missing = sorted("%s (%s)" % (n, queried[n]) for n in queried
                 if n not in exported and n not in NOT_YET)
check(not missing, "every family the dashboard and the rules query is exported by the devnet "
      "after traffic%s" % ("; never exported:\n  " + "\n  ".join(missing) if missing else ""))
working = sorted(n for n in NOT_YET if n in exported)
check(not working, "NOT_YET lists no family that is exported%s" %
      ("; remove from NOT_YET: " + ", ".join(working) if working else ""))
print("ok: %d families queried, %d exported by the devnet, %d not built yet (NOT_YET)" %
      (len(queried), len(set(queried) & exported), len(NOT_YET)))
