#!/usr/bin/env bash
# VS Code end to end: installs the .vsix into a pinned code-server (real VS Code 1.139.1), opens a
# Python workspace in Debian's Chromium, types, waits for Splice's ghost text, presses Tab, saves,
# and checks the file; then, with a 1 ms latency budget, watches the part of a long line grow to
# the whole line without a key (splice/suggestionReady); then asks the server directly and checks
# the first ghost text was its answer.
# All of code-server's state stays in a temp dir; its whole process group is killed on exit.
# Screenshot (ghost text visible): $SPLICE_SCREENSHOT, default target/editors/vscode-ghost.png.
# Usage: SPLICE_BIN=target/release/splice tests/editors/vscode_e2e.sh editors/vscode/splice.vsix
source "$(dirname "$0")/common.sh"
vsix=$(cd "$(dirname "${1:?usage: vscode_e2e.sh SPLICE_VSIX}")" && pwd)/$(basename "$1")
screenshot=${SPLICE_SCREENSHOT:-$repo/target/editors/vscode-ghost.png}
mkdir -p "$(dirname "$screenshot")"
eval "$(with_user_cache "$repo/scripts/vscode.sh")"
export PATH="$(dirname "$NODE24"):$PATH"

server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -- "-$server_pid" 2>/dev/null
  [ -n "$server_pid" ] && sleep 1 && kill -9 -- "-$server_pid" 2>/dev/null
  end_leftovers
}
trap cleanup EXIT

data=$work/code-server
workspace=$work/workspace
mkdir -p "$data/User" "$workspace"
: >"$workspace/main.py"
# The second scenario's file: a dictionary of long messages (a next line of 20-odd tokens).
cp "$repo/tests/fixtures/long_messages.py" "$workspace/messages.py"
# Workspace settings, which the second scenario changes (VS Code watches them; it does not
# reliably watch the user settings file in code-server).
mkdir -p "$workspace/.vscode"
echo '{}' >"$workspace/.vscode/settings.json"
cat >"$data/User/settings.json" <<JSON
{
  "splice.binaryPath": "$SPLICE_BIN",
  "splice.model": "$SPLICE_MODEL",
  "splice.maxTokens": 24,
  "splice.serverArgs": ["--latency-budget", "0"],
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "security.workspace.trust.enabled": false,
  "editor.quickSuggestions": { "other": false, "comments": false, "strings": false },
  "editor.suggestOnTriggerCharacters": false,
  "editor.wordBasedSuggestions": "off",
  "files.autoSave": "off",
  "telemetry.telemetryLevel": "off",
  "chat.disableAIFeatures": true
}
JSON
dirs=(--user-data-dir "$data" --extensions-dir "$data/extensions")
say "installing $(basename "$vsix") into code-server"
timeout 120 "$CODE_SERVER" "${dirs[@]}" --install-extension "$vsix" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; die "code-server --install-extension failed"; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid "$CODE_SERVER" "${dirs[@]}" --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry \
  --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  "$workspace" >"$work/code-server.log" 2>&1 &
server_pid=$!
healthy() { python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=2)" 2>/dev/null; }
wait_for 60 "code-server to answer on port $port" healthy || { cat "$work/code-server.log"; exit 1; }

set +e
URL="http://127.0.0.1:$port" WORKSPACE="$workspace" SETTINGS="$workspace/.vscode/settings.json" \
  SCREENSHOT="$screenshot" RESULT="$work/result.json" \
  CHROMIUM="$CHROMIUM" PLAYWRIGHT_CORE="$PLAYWRIGHT_CORE" timeout 330 "$NODE24" "$repo/tests/editors/vscode_e2e.js"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "--- code-server log (tail)"; tail -20 "$work/code-server.log"
  echo "--- Splice output channel (tail)"; find "$data/logs" -name '*Splice*' -exec tail -"${SPLICE_LOG_TAIL:-20}" {} \; 2>/dev/null
  exit "$status"
fi

# The ghost text must be the server's own answer for the typed text at the cursor.
ghost=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ghost"], end="")' "$work/result.json")
printf 'def add(a, b):\n    return ' >"$work/typed.py"
answer=$(timeout 60 python3 "$repo/tests/editors/ask_splice.py" "$SPLICE_BIN" "$SPLICE_MODEL" "$work/typed.py" 1 11)
echo "server's answer for the typed text: $(printf %q "$answer"); ghost text: $(printf %q "$ghost")"
[ "${answer%%$'\n'*}" = "$ghost" ] || die "the ghost text is not the server's first line"
echo "screenshot: $screenshot"
