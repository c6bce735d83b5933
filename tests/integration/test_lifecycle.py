#!/usr/bin/python3
"""Embedded default: five workers start; /health, /ready, /metrics (promtool), /status; aequactl
status; SIGTERM stops every worker in order and the supervisor exits 0."""
import subprocess

from harness import *

with Node() as n:
    n.start()
    n.wait_ready()
    code, body, hdr = request(n.api, "GET", "/health")
    check(code == 200 and body == b"ok\n", "/health answers 200 ok")
    check("X-Trace-ID" in hdr, "responses carry X-Trace-ID")
    code, body, hdr = request(n.api, "GET", "/health", headers={"X-Trace-ID": "it-trace-1"})
    check(hdr.get("X-Trace-ID") == "it-trace-1", "a client X-Trace-ID is echoed")
    code, body, _ = request(n.api, "GET", "/ready")
    check(code == 200 and json.loads(body)["ready"] is True, "/ready is 200 once all are READY")
    code, _, _ = request(n.api, "POST", "/ready")
    check(code == 405, "/ready refuses POST")
    code, _, _ = request(n.api, "GET", "/nope")
    check(code == 404, "unknown path is 404")
    code, body, _ = request(n.api, "POST", "/v1/tx/plain", body=b"{}")
    check(code == 400 and body == b"invalid tx\n", "a transaction without fields is 400 invalid tx")

    st = n.status()
    names = [w["name"] for w in st["workers"]]
    check(sorted(names) == sorted(WORKERS), "/status lists the five workers: %s" % names)
    check(all(w["state"] == "ready" and w["pid"] > 0 for w in st["workers"]),
          "every worker is ready with a pid")
    check(st["node"]["version"] and "index" in st["node"], "/status has node info")
    pids = [w["pid"] for w in st["workers"]]

    text = n.metrics_text()
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True)
    check(r.returncode == 0 and r.stdout.strip() == b"" and r.stderr.strip() == b"",
          "promtool check metrics reports nothing (%r %r)" % (r.stdout, r.stderr))
    m = parse_metrics(text)
    check(metric(m, "dvt_up") == 1, "dvt_up 1")
    check(all(metric(m, "aequa_worker_up", worker=w) == 1 for w in WORKERS),
          "aequa_worker_up is 1 for every worker")
    check(metric(m, "aequa_build_info", version=st["node"]["version"]) == 1, "aequa_build_info")
    check(metric(m, "api_requests_total", route="/health", code="200") >= 2,
          "api_requests_total counts requests")
    check(("api_latency_seconds_count", frozenset({("route", "/health")})) in m,
          "api_latency_seconds observed")

    r = subprocess.run([AEQUACTL, "status", "--monitoring", n.mon], capture_output=True)
    out = r.stdout.decode()
    check(r.returncode == 0 and all(w in out for w in WORKERS) and "ready" in out,
          "aequactl status prints the worker table")

    n.proc.send_signal(signal.SIGTERM)
    check(n.wait_exit() == 0, "SIGTERM: supervisor exits 0")
    check(not any(pid_alive(p) for p in pids), "no worker left after SIGTERM")
    log = n.log_text()
    order = [log.find('"child":"%s","child_pid"' % w, log.find("supervisor_stopping"))
             for w in ["api", "p2p", "qbft", "builder", "statedb"]]
    check(all(o > 0 for o in order) and order == sorted(order),
          "workers stop in reverse dependency order (API first, StateDB last)")
