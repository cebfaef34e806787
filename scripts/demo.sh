#!/usr/bin/env bash
# `make demo`: completes a real Python file from the repository with the default model and shows
# the suggestion with its timing. Usage: scripts/demo.sh PATH_TO_SPLICE
set -euo pipefail
splice=${1:?usage: scripts/demo.sh PATH_TO_SPLICE}
file=tests/fixtures/python/inventory.py
line=33
col=9

echo "── $file, cursor at line $line, column $col (┃) ──"
awk -v l="$line" -v c="$col" 'NR>=l-8 && NR<=l+1 { if (NR==l) print substr($0,1,c-1) "┃" substr($0,c); else print }' "$file"
echo "── suggestion from $("$splice" --version) ──"
json=$("$splice" complete "$file" --line "$line" --col "$col" --json --log-level warn,llama_cpp=error)
python3 - "$json" "$col" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
t = d["timings"]
indent = " " * (int(sys.argv[2]) - 1)
print(indent + d["suggestion"] if d["suggestion"] is not None else "(no suggestion)")
print("── model %s (%s, template %s, %d GPU layers)" % (
    d["model"]["path"].rsplit("/", 1)[-1], d["model"]["architecture"], d["model"]["template"], d["model"]["gpuLayers"]))
print("── %d prompt tokens encoded in %.0f ms; first token after %.0f ms; %d tokens generated; %.0f ms in all (%s tokens/s)" % (
    t["encodedTokens"], t["promptMs"], t["firstTokenMs"], t["generatedTokens"], t["totalMs"], t["generationTokensPerSecond"]))
PY
