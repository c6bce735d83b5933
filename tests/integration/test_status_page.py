#!/usr/bin/python3
"""The status page (SPEC §12.3; issue 13) in a real headless browser, and GET /summary's JSON.

One node (the embedded default: one operator, slots of 1 s) gets two transactions (so a block is
made) and a stream of attester and sync duties, then:
 - GET /summary has the documented shape (workers/api/summary.h): the chain's height is
   /v1/block/latest's, its blocks are the chain's newest first (linked by parent_hash across
   the slots between them), the recent duties are bounded (at most 16) and newest first with
   their status, the peers table is empty (one operator), the counters count and the node's
   own history of them catches up, no worker is "unavailable"; GET / is HTML with no
   external asset;
 - Debian's chromium (--headless=new) loads http://<monitoring>/ while duties keep coming and,
   once the page has refreshed (--virtual-time-budget: the page's timers run, its fetches are
   real), its DOM shows the five workers, the chain height of /v1/block/latest,
   READY, the latest block, the recent duties and a chart with points (the polyline the page
   drew from the node's history and its data-points);
 - a screenshot of the page is kept in the test's log directory (the path is printed).
No chromium is a failure (scripts/setup installs it), not a skip.
"""
import html.parser
import re
import shutil

from seq import *

LOG_DIR = os.path.join(BUILD, "meson-logs")
# Virtual time for the page's timers: it refreshes at once, then every 2 s. On a loaded machine
# slow fetches use up virtual time, so only the first refresh is required (the charts come from
# the node's own history, complete from the first refresh on).
BROWSER_BUDGET_MS = 30000


class Dom(html.parser.HTMLParser):
    """The elements of a dumped DOM: (tag, attrs) in document order, and the text of each
    element that has an id."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.text, self.open = [], {}, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag not in ("br", "meta", "link", "input", "img", "line", "polyline"):
            self.open.append((tag, a.get("id")))
            if a.get("id"):
                self.text[a["id"]] = ""

    def handle_endtag(self, tag):
        while self.open:
            t, _ = self.open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, ident in self.open:
            if ident:
                self.text[ident] += data

    def find(self, tag=None, **attrs):
        return [a for t, a in self.elements
                if (tag is None or t == tag) and
                all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def chromium():
    path = shutil.which("chromium")
    if not path:
        fail("chromium is not installed: the status page is tested in Debian's headless "
             "chromium (scripts/setup installs it: apt-get install chromium)")
    return path


def browse(url, *mode):
    """Run headless chromium on url with its own profile; its stdout."""
    profile = tempdir("aequa-chromium-")
    try:
        r = subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                            "--user-data-dir=" + profile,
                            "--virtual-time-budget=%d" % BROWSER_BUDGET_MS] + list(mode) + [url],
                           capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if r.returncode != 0:
        fail("chromium exited %d: %s" % (r.returncode, r.stderr[-2000:]))
    return r.stdout


def keep_busy(api, sender, first, stop):
    """Until stop: an attester duty every 0.2 s from height first, and with a sender a
    transaction every second (what the charts and the tables show while the browser looks)."""
    height = first
    while not stop.wait(0.2):
        height += 1
        try:
            request(api, "POST", "/v1/duty",
                    body=json.dumps({"type": "attester", "height": height}).encode())
            if sender and height % 5 == 0:
                post_tx(api, sender.next())
        except OSError:
            pass  # the browser's checks decide; a refused post only means less traffic


def post_duty(api, typ, height, payload):
    body = json.dumps({"type": typ, "height": height, "payload": payload}).encode()
    code, out, _ = request(api, "POST", "/v1/duty", body=body)
    check(code == 202, "%s/%d accepted (%d %s)" % (typ, height, code, out.decode().strip()))


def summary(mon):
    code, body, hdr = request(mon, "GET", "/summary")
    if code != 200:
        raise ValueError("/summary %d" % code)
    if not hdr.get("Content-Type", "").startswith("application/json"):
        raise ValueError("/summary Content-Type %r" % hdr.get("Content-Type"))
    return json.loads(body)


def check_shape(s):
    """The members and types of workers/api/summary.h, exactly."""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    check(list(s) == ["chain", "duties", "peers", "decided_total", "api", "mempool", "history",
                      "unavailable"], "/summary has the documented members: %s" % list(s))
    check(list(s["chain"]) == ["height", "blocks"] and
          (s["chain"]["height"] is None or is_int(s["chain"]["height"])),
          "chain: height (integer or null) and blocks")
    for b in s["chain"]["blocks"]:
        if not (list(b) == ["height", "block_hash", "parent_hash", "proposer", "txs"] and
                is_int(b["height"]) and is_int(b["proposer"]) and is_int(b["txs"]) and
                all(len(b[k]) == 64 and int(b[k], 16) >= 0 for k in ("block_hash", "parent_hash"))):
            fail("a block row of /summary: %r" % b)
    check(len(s["chain"]["blocks"]) <= 8, "at most 8 blocks")
    for d in s["duties"]:
        if not (list(d) == ["id", "type", "height", "status", "round", "age_s"] and
                d["type"] in ("attester", "proposer", "sync") and
                d["id"] == "%s/%d" % (d["type"], d["height"]) and
                d["status"] in ("pending", "decided") and is_int(d["round"]) and
                isinstance(d["age_s"], (int, float)) and d["age_s"] >= 0):
            fail("a duty row of /summary: %r" % d)
    check(len(s["duties"]) <= 16, "at most 16 duties (%d)" % len(s["duties"]))
    check(is_int(s["decided_total"]), "decided_total is a count")
    check(list(s["api"]) == ["requests", "latency_sum_s"] and is_int(s["api"]["requests"]) and
          isinstance(s["api"]["latency_sum_s"], (int, float)), "api: requests, latency_sum_s")
    check(list(s["mempool"]) == ["pending", "queued"] and
          all(is_int(v) for v in s["mempool"].values()), "mempool: pending, queued")
    h = s["history"]
    check(list(h) == ["interval_s", "points"] and h["interval_s"] == 2 and
          0 < len(h["points"]) <= 90, "history: interval_s 2, 1..90 points (%d)"
          % len(h["points"]))
    for p in h["points"]:
        if not (list(p) == ["t_ms", "decided", "requests", "latency_sum_s"] and
                is_int(p["t_ms"]) and (p["decided"] is None or is_int(p["decided"])) and
                is_int(p["requests"]) and isinstance(p["latency_sum_s"], (int, float))):
            fail("a history point of /summary: %r" % p)
    ts = [p["t_ms"] for p in h["points"]]
    check(ts == sorted(ts) and abs(ts[-1] / 1000 - time.time()) < 60,
          "history points oldest first, on the node's wall clock")
    check(isinstance(s["unavailable"], list), "unavailable is a list")


with Node() as n:
    chromium()  # before anything starts: no browser, no test
    n.start()
    n.wait_ready()
    api, mon = n.api, n.mon
    lh = lock_hash_of(os.path.join(n.dir, "aequa-data", "cluster-lock.json"))

    # ---- data: two blocks (a transaction each, in two slots) and more duties than the page lists
    s = Sender(lh)
    for i in range(2):
        code, out, _ = post_tx(api, s.next())
        check(code == 202, "tx %d accepted" % i)
        h = json.loads(out)["hash"]
        wait_for(lambda: included_all(api, [h]), "tx %d included in a block" % i, timeout=60)
    for h in range(1, 19):
        post_duty(api, "attester", h, {"slot": h})
    post_duty(api, "sync", 7, {"committee": [1, 2]})
    wait_for(lambda: (lambda r: r[0] == 200 and r[1]["status"] == "decided")(
        get_json(api, "/v1/duty/sync/7")), "sync/7 decided", timeout=30)

    # ---- GET /summary
    code, latest = get_json(api, "/v1/block/latest")
    check(code == 200, "/v1/block/latest: height %s" % latest.get("height"))
    sm = summary(mon)
    print("summary: " + json.dumps(sm)[:600], flush=True)
    check_shape(sm)
    check(sm["unavailable"] == [], "every worker answered")
    check(sm["chain"]["height"] == latest["height"],
          "chain height %s = /v1/block/latest's" % sm["chain"]["height"])
    top = sm["chain"]["blocks"][0]
    check(top["height"] == latest["height"] and top["block_hash"] == latest["block_hash"] and
          top["parent_hash"] == latest["parent_hash"] and top["txs"] == len(latest["txs"]),
          "the first block row is the latest block (%d txs)" % top["txs"])
    heights = [b["height"] for b in sm["chain"]["blocks"]]
    check(len(heights) == 2 and heights[0] > heights[1],
          "both blocks, newest first, across the slots between them: %s" % heights)
    for lower, upper in zip(sm["chain"]["blocks"][1:], sm["chain"]["blocks"]):
        if upper["parent_hash"] != lower["block_hash"]:
            fail("block %d does not name block %d as its parent" % (upper["height"],
                                                                    lower["height"]))
    ids = [d["id"] for d in sm["duties"]]
    check(len(ids) == 16 and len(set(ids)) == 16,
          "19 duties and a block posted, 16 listed (the bound), each once")
    # newest first (two duties started in the same millisecond: the higher height first)
    attesters = [d["height"] for d in sm["duties"] if d["type"] == "attester"]
    check(set(ids[:2]) == {"sync/7", "attester/18"} and
          attesters == list(range(18, 18 - len(attesters), -1)),
          "newest first: the last posted duties lead (%s)" % ids[:3])
    check(all(d["status"] == "decided" and d["round"] >= 1 for d in sm["duties"]
              if d["id"] in ("sync/7", "attester/18")), "their status: decided, with a round")
    check(sm["peers"] == [], "one operator: no peers")
    check(sm["decided_total"] >= 21, "decided_total counts every decision (%d)"
          % sm["decided_total"])
    check(sm["api"]["requests"] >= 22, "api.requests counts the validator API's requests (%d)"
          % sm["api"]["requests"])
    wait_for(lambda: (lambda p: len(p) >= 3 and p[-1]["decided"] == sm["decided_total"] and
                      p[-1]["requests"] >= sm["api"]["requests"])(summary(mon)["history"]["points"]),
             "the history's last point has the counters", timeout=30)
    code, out, _ = request(mon, "POST", "/summary", body=b"{}")
    check(code == 405, "POST /summary: 405")
    code, _, _ = request(api, "GET", "/summary")
    check(code == 404, "/summary is on the monitoring listener only")

    # ---- GET /: one self-contained page
    code, page, hdr = request(mon, "GET", "/")
    check(code == 200 and hdr.get("Content-Type", "").startswith("text/html"),
          "GET / on the monitoring listener: HTML")
    text = page.decode()
    check(not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text) and
          "@import" not in text, "no external asset")
    code, _, _ = request(api, "GET", "/")
    check(code == 404, "the validator API does not serve the page")

    # ---- the page in headless chromium, while duties keep coming (no tx: the height stays)
    stop = threading.Event()
    traffic = threading.Thread(target=keep_busy, args=(api, None, 1000, stop), daemon=True)
    traffic.start()
    url = "http://%s/" % mon
    dom = Dom(browse(url, "--dump-dom"))
    stop.set()
    traffic.join()
    body = dom.find("body")[0]
    refreshes = int(body.get("data-refreshes", "0"))
    check(refreshes >= 1, "the page refreshed in the browser (%d times)" % refreshes)
    workers = [a["data-worker"] for a in dom.find("tr") if "data-worker" in a]
    check(sorted(workers) == sorted(WORKERS), "five worker rows: %s" % workers)
    check(dom.text.get("height", "").strip() == str(latest["height"]),
          "the header shows the chain height %s" % dom.text.get("height"))
    check(dom.text.get("ready", "").strip() == "READY", "and READY")
    check(dom.text.get("node", "").strip() == "node 0", "and the node index")
    check(dom.find("tr", data_height=str(latest["height"])), "the latest block's row")
    duty_rows = [a["data-duty"] for a in dom.find("tr") if "data-duty" in a]
    check(0 < len(duty_rows) <= 16 and len(set(duty_rows)) == len(duty_rows),
          "the recent duties' rows: %s ..." % duty_rows[:3])
    chart = dom.find("svg", id="chart-decided")[0]
    lines = [a for t, a in dom.elements if t == "polyline"]
    points = max((len(a.get("points", "").split()) for a in lines), default=0)
    check(int(chart.get("data-points", "0")) >= 2 and points >= 2,
          "a chart with points (decided/s: %s points; longest polyline %d)"
          % (chart.get("data-points"), points))

    # ---- a screenshot, kept, while duties and transactions keep coming
    stop.clear()
    traffic = threading.Thread(target=keep_busy, args=(api, s, 2000, stop), daemon=True)
    traffic.start()
    os.makedirs(LOG_DIR, exist_ok=True)
    shot = os.path.join(LOG_DIR, "status-page.png")
    if os.path.exists(shot):
        os.unlink(shot)
    browse(url, "--window-size=1440,1000", "--screenshot=" + shot)
    with open(shot, "rb") as f:
        png = f.read()
    check(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10000,
          "screenshot kept: %s (%d bytes)" % (shot, len(png)))
    stop.set()
    traffic.join()

print("PASS")
