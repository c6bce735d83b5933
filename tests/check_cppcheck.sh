#!/bin/sh
# cppcheck over every C file (warnings, style, performance, portability), with the checked-in
# suppressions (tests/cppcheck.supp, a reason for each); a suppression that matches nothing is
# reported too (unmatchedSuppression), so the list cannot rot.
# Usage: check_cppcheck.sh SOURCE_ROOT. Exits 77 (skipped) without cppcheck.
set -u
cd "$1"
command -v cppcheck >/dev/null || { echo "SKIP: cppcheck is missing (scripts/setup installs it)"; exit 77; }
files=$(find lib proto ipc supervisor workers cli tests -name '*.c' | sort)
out=$(cppcheck --std=c11 -D_GNU_SOURCE -I. --quiet -j "$(nproc)" \
  --enable=warning,style,performance,portability,information \
  --suppressions-list=tests/cppcheck.supp --error-exitcode=1 \
  --template='{file}:{line}: {severity}: {message} [{id}]' $files 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
  echo "$out"
  echo "FAIL: cppcheck (fix the finding, or list a false positive in tests/cppcheck.supp with why)"
  exit 1
fi
echo "ok: cppcheck: $(echo "$files" | wc -l) files clean"
