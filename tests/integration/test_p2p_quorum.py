#!/usr/bin/python3
"""Issue 5 with the real P2P worker: /ready is 503 until the node has links to a quorum of the
cluster (itself included), then 200; killing and restarting the P2P worker re-establishes the
links. (Outsiders, other clusters, rate and score gates are covered at the link layer by
test_p2p.py with real processes.)"""
import json
import subprocess

from devnet import *

base = free_base()
d = tempdir("aequa-quorum-")
try:
    subprocess.run([AEQUACTL, "cluster", "create", "--nodes", "4", "--out", d, "--base-port",
                    str(base)], check=True, stdout=subprocess.DEVNULL)
    nodes = [{"index": i, "dir": os.path.join(d, "node%d" % i),
              "api": "127.0.0.1:%d" % (base + i), "monitoring": "127.0.0.1:%d" % (base + 20 + i)}
             for i in range(4)]
    pids = []
    try:
        pids.append(script.start_node(nodes[0]))
        st = lambda: json.loads(request(nodes[0]["monitoring"], "GET", "/status")[1])
        wait_for(lambda: all(w["state"] == "ready" for w in st()["workers"]), "node 0 workers up")
        code, body, _ = request(nodes[0]["api"], "GET", "/ready")
        reason = json.loads(body).get("reason", "")
        check(code == 503 and "quorum" in reason, "alone: /ready 503 (%s)" % reason)
        pids.append(script.start_node(nodes[1]))
        wait_for(lambda: metric(parse_metrics(request(nodes[0]["monitoring"], "GET", "/metrics")
                                              [1].decode()), "p2p_conns_open") == 1,
                 "node 0 linked to node 1")
        check(request(nodes[0]["api"], "GET", "/ready")[0] == 503,
              "two of four (quorum is three): still 503")
        pids.append(script.start_node(nodes[2]))
        wait_for(lambda: request(nodes[0]["api"], "GET", "/ready")[0] == 200,
                 "node 0 ready with a quorum")
        check(True, "three of four: /ready 200")

        mon = nodes[2]["monitoring"]
        p2p = [w for w in json.loads(request(mon, "GET", "/status")[1])["workers"]
               if w["name"] == "p2p"][0]
        os.kill(p2p["pid"], signal.SIGKILL)
        wait_for(lambda: [w for w in json.loads(request(mon, "GET", "/status")[1])["workers"]
                          if w["name"] == "p2p"][0]["pid"] not in (0, p2p["pid"]), "p2p back")
        wait_for(lambda: metric(parse_metrics(request(mon, "GET", "/metrics")[1].decode()),
                                "p2p_conns_open") == 2, "node 2 linked again to nodes 0 and 1")
        wait_for(lambda: request(nodes[2]["api"], "GET", "/ready")[0] == 200, "node 2 ready")
        check(True, "a restarted P2P worker re-establishes its links")

    finally:
        for p in pids:
            script.stop_pid(p)
finally:
    shutil.rmtree(d, ignore_errors=True)
