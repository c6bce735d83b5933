#!/usr/bin/python3
"""Text hygiene (blocking, as in the original node): every tracked text file is UTF-8, starts
without a byte-order mark and has no CRLF line ends.

A file with a NUL byte in its first 8000 bytes is binary (git's own rule) and is not checked; the
fuzz corpora (tests/fuzz/corpus/) are inputs, not text: malformed bytes are their point.
Usage: check_text.py SOURCE_ROOT. Exits 77 (skipped) outside a git checkout."""
import subprocess
import sys

EXEMPT = ("tests/fuzz/corpus/",)

root = sys.argv[1]
r = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True)
if r.returncode != 0:
    print("SKIP: not a git checkout (%s)" % r.stderr.decode().strip())
    sys.exit(77)
files = [f for f in r.stdout.decode().split("\0") if f and not f.startswith(EXEMPT)]

bad = []
checked = 0
for name in files:
    try:
        with open(root + "/" + name, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        continue  # deleted in the work tree, not yet in the index
    if b"\0" in data[:8000]:
        continue
    checked += 1
    if data.startswith(b"\xef\xbb\xbf"):
        bad.append("%s: starts with a UTF-8 byte-order mark" % name)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        bad.append("%s:%d: not UTF-8 (byte 0x%02x)" % (name, line, data[e.start]))
    if b"\r\n" in data:
        line = data[:data.index(b"\r\n")].count(b"\n") + 1
        bad.append("%s:%d: CRLF line end (%d in the file)" % (name, line, data.count(b"\r\n")))

if bad:
    print("FAIL: text hygiene:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("ok: %d tracked text files are UTF-8, without BOM and CRLF" % checked)
