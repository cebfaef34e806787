#!/usr/bin/env bash
# Builds the VS Code extension offline: npm ci (pinned by package-lock.json, only when the lock
# changed), tsc, and `vsce package` into editors/vscode/splice.vsix. Records SPLICE_BIN (the build
# it was packaged with) in out/build.json so the installed extension finds that server.
# Usage: scripts/vsix.sh [SPLICE_BIN]; prints the .vsix path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
ext="$here/../editors/vscode"
eval "$("$here/vscode.sh")"
export PATH="$(dirname "$NODE24"):$PATH"
cd "$ext"
if ! cmp -s package-lock.json node_modules/.package-lock.stamp 2>/dev/null; then
  say "installing the extension's npm packages (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json node_modules/.package-lock.stamp
fi
rm -rf out
npx tsc -p . >&2
if [ -n "${1:-}" ]; then
  binary=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  python3 -c 'import json, sys; json.dump({"binary": sys.argv[1]}, open("out/build.json", "w"))' "$binary"
fi
npx vsce package --allow-missing-repository --skip-license --out splice.vsix >vsce.log 2>&1 \
  || { cat vsce.log >&2; die "vsce package failed"; }
grep DONE vsce.log >&2 && rm vsce.log
echo "$ext/splice.vsix" | sed 's|/scripts/\.\./|/|'
