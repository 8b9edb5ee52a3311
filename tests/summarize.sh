#!/usr/bin/env bash
# Passes `go test -v` output through and ends with one line that counts the
# top-level and sub-tests that passed and failed, so a real-node run shows
# how many tests it ran. Exits with go test's status.
set -uo pipefail
passed=0 failed=0 skipped=0
while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    *"--- PASS: "*) passed=$((passed + 1)) ;;
    *"--- FAIL: "*) failed=$((failed + 1)) ;;
    *"--- SKIP: "*) skipped=$((skipped + 1)) ;;
    FAIL*|"ok "*|"--- FAIL"*) ;;
  esac
  case "$line" in FAIL|"FAIL	"*) status=1 ;; esac
done
echo "e2e: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ] || [ "${status:-0}" -ne 0 ]; then
  exit 1
fi
