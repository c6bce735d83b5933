#!/usr/bin/python3
"""POST /v1/duty and GET /v1/duty/{type}/{height} on the embedded single-node default (issue 6):
every row of the SPEC §11.2 table, in order, with its boundaries; idempotent re-post; conflict;
one far-ahead height cannot lock a duty type (409 height too far ahead / too old, issue 10);
503 while StateDB is down; the GET shape (verified against the lock); X-Trace-ID propagation."""
import subprocess

from harness import *

MIB = 1048576


def post(n, body, headers=None):
    code, out, hdr = request(n.api, "POST", "/v1/duty", body=body, headers=headers)
    return code, out.decode(errors="replace"), hdr


def duty(typ="attester", height=1, round_=None, payload=None, extra=""):
    parts = ['"type":%s' % json.dumps(typ), '"height":%s' % height]
    if round_ is not None:
        parts.append('"round":%s' % round_)
    if payload is not None:
        parts.append('"payload":%s' % payload)
    return ("{" + ",".join(parts) + extra + "}").encode()


def padded(size):
    """A valid duty body of exactly size bytes (payload string padded)."""
    head = b'{"type":"sync","height":77,"payload":"'
    tail = b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


H = 1000  # heights used by the accepted rows, distinct per row

# (what, body, status, response body) — the table of SPEC §11.2 in order, with boundaries.
ROWS = [
    ("row 2: one byte over 1 MiB", padded(MIB + 1), 400, "read error\n"),
    ("row 3: empty body", b"", 400, "empty\n"),
    ("row 4: not an object", b"[1,2]", 400, "invalid json\n"),
    ("row 4: whitespace only", b"   ", 400, "invalid json\n"),
    ("row 4: trailing data", duty(height=1) + b" {}", 400, "invalid json\n"),
    ("row 4: trailing garbage", duty(height=1) + b"x", 400, "invalid json\n"),
    ("row 4: duplicate key", b'{"type":"sync","height":1,"height":2}', 400, "invalid json\n"),
    ("row 4: duplicate key inside payload", duty(payload='{"a":1,"a":2}'), 400, "invalid json\n"),
    ("row 4: unknown key", duty(extra=',"slot":1'), 400, "invalid json\n"),
    ("row 4: height 1.0", duty(height="1.0"), 400, "invalid json\n"),
    ("row 4: height 1e3", duty(height="1e3"), 400, "invalid json\n"),
    ("row 4: height -1", duty(height="-1"), 400, "invalid json\n"),
    ("row 4: height as string", duty(height='"1"'), 400, "invalid json\n"),
    ("row 4: round 2.5", duty(round_="2.5"), 400, "invalid json\n"),
    ("row 4: UTF-8 BOM", b"\xef\xbb\xbf" + duty(), 400, "invalid json\n"),
    ("row 4: invalid UTF-8 in a string", b'{"type":"sync","height":1,"payload":"\xff"}', 400,
     "invalid json\n"),
    ("row 4: lone surrogate escape", duty(payload='"\\ud800"'), 400, "invalid json\n"),
    ("row 4 before row 5: bad json and bad type", b'{"type":"nope","height":01}', 400, "invalid json\n"),
    ("row 5: type missing", b'{"height":1}', 400, "invalid type\n"),
    ("row 5: type is case-sensitive", duty(typ="Attester"), 400, "invalid type\n"),
    ("row 5: type not a string", b'{"type":1,"height":1}', 400, "invalid type\n"),
    ("row 5 before row 6: bad type and bad height", duty(typ="x", height=2**63), 400, "invalid type\n"),
    ("row 6: height missing", b'{"type":"sync"}', 400, "height out of range\n"),
    ("row 6: height 2^62 + 1", duty(height=2**62 + 1), 400, "height out of range\n"),
    ("row 6: height 2^64 (valid literal, out of range)", duty(height=2**64), 400, "height out of range\n"),
    ("row 7: round 2^40 + 1", duty(height=3, round_=2**40 + 1), 400, "round out of range\n"),
    ("row 7: round 10^30", duty(height=3, round_=10**30), 400, "round out of range\n"),
    # (a proposer duty's height is a slot: not further ahead than [qbft] max_height_jump slots)
    ("409: a proposer duty far beyond the current slot", duty(typ="proposer", height=2**62), 409,
     "height too far ahead\n"),
    ("accepted: round 2^40 (inclusive bound)", duty(typ="sync", height=H, round_=2**40), 202, None),
    ("accepted: round missing, payload absent", duty(typ="sync", height=H + 1), 202, None),
    ("accepted: a proposer duty on an empty chain (its block may be empty)",
     duty(typ="proposer", height=5), 202, None),
    ("accepted: exactly 1 MiB", padded(MIB), 202, None),
]

with Node() as n:
    n.start()
    n.wait_ready()
    for what, body, status, text in ROWS:
        code, out, hdr = post(n, body)
        ok = code == status and (text is None or out == text)
        check(ok, "%s -> %d %r" % (what, code, out[:60]))
        if status == 202:
            j = json.loads(out)
            check(hdr.get("Location") == "/v1/duty/" + j["id"] and j["trace_id"],
                  "202 carries the id, a trace id and a Location header")

    code, _, _ = request(n.api, "GET", "/v1/duty")
    check(code == 405, "row 1: GET on /v1/duty is 405")
    code, out, _ = request(n.api, "PUT", "/v1/duty", body=duty(height=5))
    check(code == 405 and out == b"method not allowed\n", "row 1: PUT is 405 method not allowed")

    # One request cannot disable a duty type (issue 10): a height far above the highest accepted
    # for its type is refused, and the normal heights after it still decide.
    for h in (1, 2, 3):
        check(post(n, duty(typ="attester", height=h, payload=str(h)))[0] == 202,
              "attester/%d accepted" % h)
    code, out, _ = post(n, duty(typ="attester", height=2**53, payload="0"))
    check(code == 409 and out == "height too far ahead\n",
          "attester/2^53 is 409 height too far ahead: %d %r" % (code, out))
    code, out, _ = post(n, duty(typ="attester", height=4, payload="4"))
    check(code == 202, "attester/4 after it is still accepted: %d %r" % (code, out))

    def decided4():
        c, b, _ = request(n.api, "GET", "/v1/duty/attester/4")
        return c == 200 and json.loads(b)["status"] == "decided"
    wait_for(decided4, "attester/4 decided")
    check(request(n.api, "GET", "/v1/duty/attester/%d" % 2**53)[0] == 404,
          "attester/2^53 was never accepted")

    # Re-post and conflict (rows 8 and the idempotent case).
    body = duty(typ="attester", height=42, payload='{"b":[1,2],"a":"x"}')
    check(post(n, body)[0] == 202, "first post 202")
    same = b'{ "payload" : {"a":"x","b":[1, 2]}, "height":42, "type":"attester" }'
    check(post(n, same)[0] == 202, "re-post of the same duty (other key order, spacing) is 202")
    code, out, _ = post(n, duty(typ="attester", height=42, payload='{"a":"y"}'))
    check(code == 409 and out == "duty conflict\n", "a different payload is 409 duty conflict")

    # GET shape, decided, verified against the lock.
    def decided():
        c, b, _ = request(n.api, "GET", "/v1/duty/attester/42")
        return json.loads(b) if c == 200 and json.loads(b)["status"] == "decided" else None
    d = wait_for(decided, "attester/42 decided")
    keys = {"id", "type", "height", "status", "round", "value_hash", "value", "certificate",
            "seals", "tss_signature"}
    check(set(d) == keys, "GET has exactly the fields of SPEC §7.6")
    check(d["id"] == "attester/42" and d["height"] == 42 and d["value"] == {"a": "x", "b": [1, 2]}
          and d["tss_signature"] is None, "GET shows the decided payload")
    lock = os.path.join(n.dir, "aequa-data", "cluster-lock.json")
    r = subprocess.run([AEQUACTL, "duty", "verify", "--lock", lock], input=json.dumps(d).encode(),
                       capture_output=True)
    check(r.returncode == 0, "certificate and seals verify against the lock: " +
          r.stdout.decode().strip())
    # Any number of answers, one per line (the chaos drill verifies tens of MB at once), and a
    # tampered one among them is named on its own line.
    line = json.dumps(d) + "\n"
    copies = (17 << 20) // len(line) + 1
    bad = dict(d, value_hash="00" * 32)
    r = subprocess.run([AEQUACTL, "duty", "verify", "--lock", lock],
                       input=(line * copies + json.dumps(bad) + "\n").encode(), capture_output=True)
    out = r.stdout.decode().splitlines()
    check(r.returncode == 1 and len(out) == copies + 1 and
          all(o.startswith("ok ") for o in out[:-1]) and out[-1].startswith("FAIL"),
          "%d answers (%d MiB) verified line by line, the tampered last one fails" %
          (copies + 1, len(line) * copies >> 20))
    for path in ("/v1/duty/attester/43", "/v1/duty/Attester/42", "/v1/duty/attester/042",
                 "/v1/duty/attester/4611686018427387905", "/v1/duty/attester/42/x"):
        check(request(n.api, "GET", path)[0] == 404, "GET %s is 404" % path)

    # X-Trace-ID travels API -> QBFT -> StateDB.
    trace = "it-trace-duty-7"
    post(n, duty(typ="sync", height=7, payload="1"), headers={"X-Trace-ID": trace})
    def workers_with_trace():
        return {json.loads(l)["worker"] for l in n.log_text().splitlines()
                if l.startswith("{") and '"trace_id":"%s"' % trace in l}

    # The API logs its request line after answering: wait for it rather than race it.
    ok, _ = poll(lambda: {"api", "qbft"} <= workers_with_trace(), timeout=10)
    check(ok, "X-Trace-ID appears in the api and qbft log lines: %s" % sorted(workers_with_trace()))

    # 503 while StateDB is down (stopped: it cannot persist the duty).
    sdb = n.workers()["statedb"]["pid"]
    os.kill(sdb, signal.SIGSTOP)
    try:
        code, out, _ = post(n, duty(typ="sync", height=8, payload="2"))
        check(code == 503 and out == "unavailable\n", "StateDB stopped: 503 unavailable")
    finally:
        os.kill(sdb, signal.SIGCONT)
    wait_for(lambda: post(n, duty(typ="sync", height=8, payload="2"))[0] == 202,
             "accepted again once StateDB answers")
    check(True, "the node recovers after StateDB is back")

    m = n.metrics()
    check(metric(m, "api_requests_total", route="/v1/duty", code="400") >= 20,
          "every answer is counted by route and code")
