#!/usr/bin/env bash
# The VS Code extension's tests: build the .vsix (scripts/vsix.sh), its plain-node unit tests,
# then the end-to-end test in real code-server (vscode_e2e.sh).
# Usage: SPLICE_BIN=target/release/splice tests/editors/vscode.sh
source "$(dirname "$0")/common.sh"
trap end_leftovers EXIT
eval "$(with_user_cache "$repo/scripts/vscode.sh")"

set +e
vsix=$(with_user_cache "$repo/scripts/vsix.sh" "$SPLICE_BIN")
record vscode/vsix $?
(cd "$repo/editors/vscode" && "$NODE24" --test test/*.test.js) >"$work/unit.log" 2>&1
unit=$?
grep -E '^(✔|✖|ℹ (pass|fail))' "$work/unit.log" | sed 's/^/  /'
[ "$unit" -eq 0 ] || tail -30 "$work/unit.log"
record vscode/unit "$unit"
if [ -f "$vsix" ]; then
  "$repo/tests/editors/vscode_e2e.sh" "$vsix" 2>&1 | grep -v '^\[[0-9:]*\] \[' | sed 's/^/  /'
  record vscode/e2e "${PIPESTATUS[0]}"
else
  record vscode/e2e 1
fi
set -e
summary "editors (vscode)"
