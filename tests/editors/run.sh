#!/usr/bin/env bash
# Runs the editor clients' test suites and fails when any failed. Each suite prints
# "editors (NAME): N passed, N failed", which .ci/run adds to its closing line.
# Usage: SPLICE_BIN=target/release/splice tests/editors/run.sh [nvim] [vscode] [stdio]  (default: all)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(stdio nvim vscode)
failed=()
for suite in "${suites[@]}"; do
  started=$SECONDS
  "$here/$suite.sh" || failed+=("$suite")
  echo "editors ($suite) took $((SECONDS - started)) s"
done
[ ${#failed[@]} -eq 0 ] || { echo "editor suites failed: ${failed[*]}"; exit 1; }
