#!/usr/bin/env bash
# Prints, as JSON lines, the first line `splice complete` suggests at each cursor of a
# cursors folder (scripts/gpu_cursors.py) with GPU_LAYERS layers offloaded: the GPU check
# compares these lines between builds and offload settings.
#
# The request is the plain model path, so that only the arithmetic can differ: no latency budget
# (nothing depends on speed), no retrieval, no syntax check (its candidates would only multiply
# the spots where two builds can differ), no speculative drafts.
#
# Usage: scripts/gpu-answers.sh SPLICE MODEL CURSORS_DIR GPU_LAYERS
set -euo pipefail
splice=$1 model=$2 cursors=$3 layers=$4
while IFS=$'\t' read -r file line col; do
  "$splice" complete --json --model "$model" --gpu-layers "$layers" --latency-budget 0 --retrieval never \
    --syntax-check off --draft-tokens 0 --line "$line" --col "$col" "$cursors/$file" 2>/dev/null \
    | python3 -c 'import json, sys
answer = json.load(sys.stdin)
file, line, col = sys.argv[1:4]
print(json.dumps({
    "file": file, "line": int(line), "col": int(col),
    "firstLine": (answer.get("suggestion") or "").split("\n")[0],
    "rawFirstLine": (answer.get("raw") or "").split("\n")[0],
    "gpuLayers": answer["model"]["gpuLayers"],
    "gpuOffloadSupported": answer["model"]["gpuOffloadSupported"],
    "timings": answer.get("timings", {}).get("totalMs"),
}))' "$file" "$line" "$col"
done <"$cursors/cursors.tsv"
