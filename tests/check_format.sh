#!/bin/sh
# Every C file is formatted with the repository's .clang-format (rule 7 of the house).
set -u
cd "$1"
command -v clang-format >/dev/null || { echo "SKIP: clang-format missing"; exit 77; }
files=$(find lib proto ipc db supervisor workers cli tests -name '*.[ch]' | sort)
out=$(clang-format --dry-run --Werror $files 2>&1)
if [ -n "$out" ]; then
  echo "$out" | head -40
  echo "FAIL: run: clang-format -i \$(find lib proto ipc db supervisor workers cli tests -name '*.[ch]')"
  exit 1
fi
echo "ok: $(echo "$files" | wc -l) files formatted"
