#!/usr/bin/env bash
# The README's "From a script" example, run as written against the real binary (as `splice` on
# PATH) and the default model: it must print a list with one suggestion.
# Usage: SPLICE_BIN=target/release/splice tests/editors/stdio.sh
source "$(dirname "$0")/common.sh"
trap end_leftovers EXIT
mkdir -p "$work/bin"
ln -s "$SPLICE_BIN" "$work/bin/splice"
awk '/^### From a script/ { s = 1 } s && /^```python/ { p = 1; next } p && /^```/ { exit } p' "$repo/README.md" >"$work/example.py"
[ -s "$work/example.py" ] || die "no Python example under '### From a script' in README.md"
set +e
(cd "$work" && PATH="$work/bin:$PATH" with_user_cache timeout 120 python3 example.py 2>"$work/stderr") >"$work/out"
status=$?
set -e
echo "  prints: $(cat "$work/out")"
[ "$status" -eq 0 ] || { sed 's/^/  stderr: /' "$work/stderr" | tail -10; }
grep -q "^\[{'insertText': '[^']" "$work/out" && [ "$status" -eq 0 ]
record stdio/readme-example $?
summary "editors (stdio)"
