#!/usr/bin/python3
"""clang-tidy over every C file the build compiles (its compile_commands.json), with the checks of
the root .clang-tidy (tests/.clang-tidy for the tests). A finding fails the test unless
tests/clang-tidy.supp lists it as a false positive, with its reason; a listed entry that no
longer matches anything fails too, so the list cannot rot.

Usage: check_tidy.py SOURCE_ROOT BUILD_ROOT. Exits 77 (skipped) without clang-tidy."""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys

root, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
tidy = shutil.which("clang-tidy")
if not tidy:
    print("SKIP: clang-tidy is missing (scripts/setup installs it)")
    sys.exit(77)

DIAG = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: (?:warning|error): (?P<msg>.*) "
                  r"\[(?P<checks>[^\]]+)\]$")
SUPP = re.compile(r'^(?P<file>\S+)\s+(?P<check>\S+)\s+"(?P<text>[^"]+)"\s+--\s+(?P<why>\S.*)$')


def load_suppressions(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = SUPP.match(line)
            if not m:
                print("FAIL: %s:%d: expected FILE CHECK \"TEXT ON THE LINE\" -- REASON" % (path, n))
                sys.exit(1)
            out.append(dict(m.groupdict(), where="%s:%d" % (os.path.basename(path), n), used=0))
    return out


def source_line(rel, line):
    try:
        with open(os.path.join(root, rel), errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    return text
    except OSError:
        pass
    return ""


def run(path):
    r = subprocess.run([tidy, "-p", build, "--quiet", path], capture_output=True, cwd=build)
    return path, r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


with open(os.path.join(build, "compile_commands.json")) as f:
    db = json.load(f)
files = sorted({os.path.normpath(os.path.join(e["directory"], e["file"])) for e in db})
files = [p for p in files if p.startswith(root + os.sep) and p.endswith(".c")]
suppressions = load_suppressions(os.path.join(root, "tests", "clang-tidy.supp"))

findings = set()
broken = []
with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    for path, rc, out, err in pool.map(run, files):
        seen = False
        for line in out.splitlines():
            m = DIAG.match(line)
            if not m:
                continue
            seen = True
            rel = os.path.relpath(os.path.normpath(os.path.join(build, m["file"])), root)
            findings.add((rel, int(m["line"]), m["checks"].split(",")[0], m["msg"]))
        if rc != 0 and not seen:
            broken.append("%s: clang-tidy exited %d: %s" % (path, rc, err.strip()[-300:]))

bad = []
for rel, line, check, msg in sorted(findings):
    text = source_line(rel, line)
    hit = [s for s in suppressions
           if s["file"] == rel and s["check"] == check and s["text"] in text]
    for s in hit:
        s["used"] += 1
    if not hit:
        bad.append("%s:%d: %s [%s]\n      %s" % (rel, line, msg, check, text.strip()))
stale = ["%s: %s %s \"%s\" matches no finding: remove it" % (s["where"], s["file"], s["check"],
                                                               s["text"])
         for s in suppressions if not s["used"]]
if broken or bad or stale:
    print("FAIL: clang-tidy:\n  " + "\n  ".join(broken + bad + stale))
    sys.exit(1)
print("ok: clang-tidy: %d files clean (%d false positives listed in tests/clang-tidy.supp)" %
      (len(files), len(suppressions)))
