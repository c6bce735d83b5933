#!/usr/bin/python3
"""Lint: the QBFT worker's files are layered, and their include graph shows it (issue 10).

    check_qbft_layers.py SOURCE_ROOT

Reads the `#include "workers/qbft/..."` lines of SOURCE_ROOT/workers/qbft/*.c and *.h and checks:

 1. Layers. Every file belongs to one group of LAYERS (a file in none fails: place it). A file
    may include, directly or through other headers, only files of a lower rank or of its own
    group: never a header of a layer above it, nor one of another group of the same rank (the
    verifier and the rules must not see each other).
 2. No cycle between groups. A header's function declarations belong to the groups of the .c
    files that define them; a .c file that includes (directly or not) a header makes its group
    depend on those groups. That graph must have no cycle.

Prints every violation and exits 1, or prints one "ok" line.
"""
import os
import re
import sys

# (rank, group, files), bottom up.
LAYERS = [
    (0, "vocabulary", ["qbft_types.h"]),
    (1, "tables", ["qbft_table.h", "qbft_table.c", "qbft_timer.c"]),
    (2, "verifier", ["qbft_verify.h", "qbft_verify.c"]),
    (2, "rules", ["qbft_rules.h", "qbft_rules.c"]),
    (3, "engine", ["qbft.h", "qbft_engine.c"]),
    (3, "intent cache", ["intents.h", "intents.c"]),
    (4, "duties", ["duties.h", "duties_int.h", "duties.c", "blocks.c"]),
    (4, "tss sessions", ["tss.h", "tss.c"]),
    (5, "worker", ["main.c", "builder_link.h", "builder_link.c", "tss_link.h", "tss_link.c"]),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"workers/qbft/([^"]+)"', re.M)
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
# A definition starts in column 0 with its return type and is not a declaration (no ';').
DEFINED = re.compile(r"^(?!static\b)[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\(([^;{]*?)\)\s*\{", re.M)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_qbft_layers.py SOURCE_ROOT")
    d = os.path.join(sys.argv[1], "workers", "qbft")
    files = sorted(f for f in os.listdir(d) if f.endswith((".c", ".h")))
    text = {f: COMMENT.sub(" ", open(os.path.join(d, f), encoding="utf-8").read()) for f in files}
    includes = {f: set(INCLUDE.findall(text[f])) & set(files) for f in files}
    where = {}
    for rank, group, members in LAYERS:
        for m in members:
            where[m] = (rank, group)
    errors = []

    def reach(f):
        seen, todo = set(), list(includes[f])
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(includes[g])
        return seen

    for f in files:
        if f not in where:
            errors.append("%s is in no layer of tests/check_qbft_layers.py: place it" % f)
    for f in files:
        if f not in where:
            continue
        rank, group = where[f]
        for g in sorted(reach(f)):
            if g not in where or g == f:
                continue
            grank, ggroup = where[g]
            if grank > rank:
                errors.append("%s (%s) includes %s, a header of the layer above (%s)" %
                              (f, group, g, ggroup))
            elif grank == rank and ggroup != group:
                errors.append("%s (%s) includes %s of its sibling layer (%s)" %
                              (f, group, g, ggroup))

    sources = [f for f in files if f.endswith(".c")]
    definer = {}
    for c in sources:
        for name, _ in DEFINED.findall(text[c]):
            definer.setdefault(name, set()).add(c)
    unit = {c: where[c][1] if c in where else c for c in sources}
    deps = {u: set() for u in unit.values()}
    for c in sources:
        for h in reach(c):
            if h.endswith(".h"):
                for name in CALLED.findall(text[h]):
                    deps[unit[c]] |= {unit[x] for x in definer.get(name, ())} - {unit[c]}
    cycle = find_cycle(deps)
    if cycle:
        errors.append("layers call each other in a loop: " + " -> ".join(cycle))

    for e in errors:
        print("FAIL: " + e)
    if errors:
        return 1
    print("ok: %d files in %d layers, include graph layered, no cycle between layers" %
          (len(files), len({r for r, _, _ in LAYERS})))
    return 0


def find_cycle(deps):
    state, stack = {}, []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(deps[u]):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(deps):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


if __name__ == "__main__":
    sys.exit(main())
