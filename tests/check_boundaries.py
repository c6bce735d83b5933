#!/usr/bin/python3
"""Process boundaries (issue 10): no process is built from another worker's code.

    check_boundaries.py SOURCE_ROOT [BUILD_ROOT]

1. Includes. A header under workers/X/ may be included only from workers/X/ itself, except
   workers/common/ which every worker shares. supervisor/, cli/ and the shared libraries (lib/,
   proto/, ipc/, lib/db/) include no worker header at all. Every quoted #include of those sources
   is resolved (relative to the including file first, then to the source root), so a relative
   path cannot dodge the rule. tests/ may include anything: tests exercise modules directly.
2. Links (with BUILD_ROOT): the static libraries on every program's link line in build.ninja.
   A program under workers/X/ links only workers/X/, workers/common/ and the shared libraries;
   a program under supervisor/ or cli/ links no library from workers/. Test programs are free.

Prints every violation and exits 1 if there is one.
"""
import os
import re
import sys

SHARED = ("lib", "proto", "ipc")
SOURCES = SHARED + ("workers", "supervisor", "cli")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def owner(path):
    """The part of the tree a path belongs to: 'workers/X', or its top directory."""
    parts = path.split("/")
    if parts[0] == "workers" and len(parts) > 2:
        return "workers/" + parts[1]
    return parts[0]


def allowed(user, used):
    """May code owned by `user` use code owned by `used`?"""
    if not used.startswith("workers/") or user == used:
        return True
    return used == "workers/common" and user.startswith("workers/")


def check_includes(root):
    bad = []
    for top in SOURCES:
        for d, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                src = os.path.relpath(os.path.join(d, name), root)
                with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        near = os.path.normpath(os.path.join(os.path.dirname(src), m.group(1)))
                        inc = near if os.path.exists(os.path.join(root, near)) else \
                            os.path.normpath(m.group(1))
                        if not allowed(owner(src), owner(inc)):
                            bad.append("%s:%d: includes %s (code of %s)" %
                                       (src, lineno, inc, owner(inc)))
    return bad


def check_links(build):
    """Static libraries of this project on each program's link line (build.ninja)."""
    bad = []
    with open(os.path.join(build, "build.ninja"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^build (\S+): c_LINKER ", line)
        if not m:
            continue
        program = m.group(1)
        if owner(program) == "tests":
            continue
        words = line.split()
        if i + 1 < len(lines) and lines[i + 1].lstrip().startswith("LINK_ARGS"):
            words += lines[i + 1].split()
        libs = sorted({w for w in words if w.endswith(".a") and not w.startswith("/")})
        for lib in libs:
            if not allowed(owner(program), owner(lib)):
                bad.append("%s links %s (code of %s)" % (program, lib, owner(lib)))
    return bad


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    bad = check_includes(sys.argv[1])
    if len(sys.argv) == 3:
        bad += check_links(sys.argv[2])
    for b in bad:
        print("FAIL: " + b)
    if bad:
        print("%d boundary violation(s): move shared code to lib/ (lib/db/), proto/ or ipc/" % len(bad))
        return 1
    print("ok: no process includes or links another worker's code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
