#!/usr/bin/env bash
# The one command of a GPU run (README "GPU"): on a machine with a CUDA toolkit and no Rust, from
# what scripts/gpu-bundle.sh prepared in .gpu/ (the bundle and the model parts), it
#   1. checks every file of the bundle and every model part against its sha256, and joins the parts;
#   2. builds llama.cpp's shared libraries with CUDA from the bundle's sources (scripts/gpu-libs.sh;
#      waits for one already under way) and runs the bundle's `splice` on them (LD_LIBRARY_PATH),
#      checking that it loads them;
#   3. correctness: the first line at each fixed cursor with all layers offloaded and with none,
#      against the CPU build's answers computed when the bundle was made;
#   4. `splice bench latency` and `bench edits` (PIE, prefix, none) with all layers offloaded, on
#      the default model and on random-weight models of Qwen2.5-Coder 1.5B's and 7B's shapes
#      (scripts/gpu-shapes.sh), with the GPU memory in use sampled during each run;
#   5. the PIE test (KL of PIE against a full re-encode) on the GPU;
#   6. the benches of step 4 with no layers offloaded (on the GPU machine the 7B's are left out);
# and writes gpu-check.json (every number, rewritten after each result) and gpu-check.log into $OUT
# (else .gpu/out). On the GPU no run starts after DEADLINE_S seconds (default 500: a GPU machine's
# command may take 10 minutes) and each stops after RUN_LIMIT_S (default 150); skipped runs say so.
#
#   --cpu    the same without CUDA: libraries built for the CPU, "all layers" offloads nothing,
#            only a toy Qwen shape, 4 cursors. Runs here (`make gpu-check-cpu`).
#   --smoke  what `make test` runs: --cpu without compiling llama.cpp (the bundled sources are only
#            configured with CMake) on the normal build, 2 cursors, no bench edits.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
root=$(cd "$here/.." && pwd)
# The sources are unpacked inside this repository: keep CMake from taking its git commit for llama.cpp's.
export GIT_CEILING_DIRECTORIES="$root/.gpu"
mode=gpu
case "${1:-}" in
  --cpu) mode=cpu ;;
  --smoke) mode=smoke ;;
  "") ;;
  *) die "usage: scripts/gpu-check.sh [--cpu|--smoke]" ;;
esac
gpu_dir="$root/.gpu"
bundle="$gpu_dir/bundle"
out="${OUT:-$gpu_dir/out}"
work="${GPU_CHECK_WORK:-$gpu_dir/work}"
mkdir -p "$out" "$work"
log="$out/gpu-check.log"
: >"$log"
results="$work/results.jsonl"
: >"$results"
started=$(date +%s)
# Here nothing is skipped or cut short (two cores take minutes where a GPU takes seconds): the
# check must show whether every part still works.
if [ "$mode" != gpu ]; then
  DEADLINE_S=${DEADLINE_S:-100000}
  RUN_LIMIT_S=${RUN_LIMIT_S:-1800}
fi
deadline=$((started + ${DEADLINE_S:-500}))
# The Python with numpy for the synthetic models (gpu-shapes.sh), found before step 1 moves the
# cache folder for the PIE test.
GPU_PYTHON=$(numpy_python)
export GPU_PYTHON
# gpu-check.json from the results so far.
write_report() {
  python3 - "$results" "$mode" "$started" "$(date +%s)" >"$out/gpu-check.json" <<'PY'
import json, sys
path, mode, t0, t1 = sys.argv[1:]
report = {"mode": mode, "wallS": int(t1) - int(t0)}
for line in open(path):
    entry = json.loads(line)
    report[entry["key"]] = entry["value"]
print(json.dumps(report, indent=1))
PY
}
step() { write_report; say "$*"; echo "== $*" >>"$log"; }
# record KEY JSON: one result for gpu-check.json.
# The report is rewritten after each result, so that a run cut short returns all it measured.
record() {
  python3 -c 'import json,sys; print(json.dumps({"key": sys.argv[1], "value": json.loads(sys.argv[2])}))' "$1" "$2" >>"$results"
  write_report
}
past_deadline() { [ "$(date +%s)" -ge "$deadline" ]; }

# run_sampled NAME COMMAND…: runs COMMAND with stdout to $work/NAME.json, sampling the GPU memory
# in use meanwhile; records its JSON with the peak memory and the wall time.
run_sampled() {
  local name=$1 sampler='' peak="$work/$1.mem" t0 status=0
  shift
  if past_deadline; then
    record "$name" '"skipped: past the deadline"'
    return 0
  fi
  : >"$peak"
  if command -v nvidia-smi >/dev/null; then
    (while :; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >>"$peak" 2>/dev/null; sleep 0.2; done) &
    sampler=$!
  fi
  t0=$(date +%s.%N)
  timeout "${RUN_LIMIT_S:-150}" "$@" >"$work/$name.json" 2>>"$log" || status=$?
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; fi
  record "$name" "$(python3 - "$work/$name.json" "$peak" "$status" "$t0" "$(date +%s.%N)" <<'PY'
import json, sys
path, peak, status, t0, t1 = sys.argv[1:]
try:
    value = json.load(open(path))
except Exception:
    value = None
samples = [int(x) for x in open(peak).read().split() if x.strip().isdigit()]
print(json.dumps({"exit": int(status), "wallS": round(float(t1) - float(t0), 1),
      "gpuMemoryMiBPeak": max(samples) if samples else None, "result": value}))
PY
)"
}

step "1. the bundle and the model parts"
check_bundle "$bundle"
models="$work/models"
mkdir -p "$models"
while read -r sha name; do
  if [ -f "$models/$name" ] && [ "$(sha256_of "$models/$name")" = "$sha" ]; then continue; fi
  # In the order of the parts' own numbers (the folders' numbers sort model-10 before model-2).
  parts=$(for part in "$gpu_dir"/model-*/"$name".part*; do [ -f "$part" ] && echo "$(basename "$part") $part"; done \
    | sort | cut -d' ' -f2)
  [ -n "$parts" ] || die "no parts of $name in $gpu_dir/model-*: carry them first"
  for part in $parts; do
    (cd "$(dirname "$part")" && sha256sum --quiet -c --ignore-missing SHA256SUMS) >>"$log" 2>&1 \
      || die "a part of $name is damaged: $part"
  done
  # shellcheck disable=SC2086
  cat $parts >"$models/$name.tmp"
  [ "$(sha256_of "$models/$name.tmp")" = "$sha" ] || die "$name: the joined parts do not match its sha256 (a part missing?)"
  mv "$models/$name.tmp" "$models/$name"
done <"$bundle/models.sha256"
# The PIE test finds its models in the cache; only the default model travels.
export XDG_CACHE_HOME="$work/cache" SPLICE_PIE_DEFAULT_MODEL_ONLY=1
mkdir -p "$XDG_CACHE_HOME/splice/models"
ln -sf "$models"/*.gguf "$XDG_CACHE_HOME/splice/models/"
gemma="$models/gemma-3-270m-q4_k_m.gguf"

step "2. llama.cpp's shared libraries from the bundle's sources"
splice="$work/splice"
gzip -dc "$bundle/splice.gz" >"$splice" && chmod +x "$splice"
gzip -dc "$bundle/pie-test.gz" >"$work/pie-test" && chmod +x "$work/pie-test"
case $mode in
  gpu) libs=$(bash "$here/gpu-libs.sh" "$bundle" "$work/llama" 2>>"$log") || die "the CUDA build failed (see $log)" ;;
  cpu) libs=$(bash "$here/gpu-libs.sh" --cpu "$bundle" "$work/llama" 2>>"$log") || die "the CPU build failed (see $log)" ;;
  smoke)
    # Configure only: proves the bundled sources are complete for a build. The binary is the
    # normal, statically linked one.
    bash "$here/gpu-libs.sh" --configure-only "$bundle" "$work/llama-configure" 2>>"$log" \
      || die "the bundled llama.cpp sources do not configure (see $log)"
    libs="$work/no-libraries"
    mkdir -p "$libs"
    ;;
esac
export LD_LIBRARY_PATH="$libs"
loaded=$(ldd "$splice" | awk '/libllama|libggml/ { print $1 " => " $3 }')
echo "$loaded" >>"$log"
if [ "$mode" != smoke ] && { [ -z "$loaded" ] || echo "$loaded" | grep -v -q -- "=> $libs/"; }; then
  die "splice does not load llama.cpp from $libs: ${loaded:-statically linked}"
fi
record libraries "$(python3 -c 'import json,sys; print(json.dumps({"dir": sys.argv[1], "loaded": sys.argv[2].splitlines(), "llamaCppSys2": sys.argv[3], "sourcesSha256": sys.argv[4]}))' \
  "$libs" "$loaded" "$(cat "$bundle/llama-cpp-sys-2.version")" "$(cat "$bundle/llama.cpp.tar.sha256")")"
"$splice" --version >>"$log"
gpu_info='null'
if command -v nvidia-smi >/dev/null; then
  gpu_info=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1 \
    | python3 -c 'import json,sys; n,d,m=[x.strip() for x in sys.stdin.read().split(",")]; print(json.dumps({"name":n,"driver":d,"memoryTotal":m}))')
fi
record gpu "$gpu_info"

step "3. correctness: first lines with all layers and with none, against the CPU build"
cursors="$work/cursors"
rm -rf "$cursors" && cp -r "$bundle/cursors" "$cursors"
case $mode in cpu) keep=4 ;; smoke) keep=2 ;; *) keep=1000 ;; esac
head -n "$keep" "$bundle/cursors/cursors.tsv" >"$cursors/cursors.tsv"
for layers in 999 0; do
  bash "$here/gpu-answers.sh" "$splice" "$gemma" "$cursors" "$layers" >"$work/answers-$layers.jsonl" 2>>"$log"
done
record correctness "$(python3 - "$bundle/cpu-answers.jsonl" "$work/answers-999.jsonl" "$work/answers-0.jsonl" <<'PY'
import json, sys
load = lambda p: [json.loads(l) for l in open(p) if l.strip()]
cpu, offloaded, none = (load(p) for p in sys.argv[1:])
rows = []
for o, n in zip(offloaded, none):
    c = next(x for x in cpu if (x["file"], x["line"], x["col"]) == (o["file"], o["line"], o["col"]))
    rows.append({"at": f'{o["file"]}:{o["line"]}:{o["col"]}', "cpuBuild": c["rawFirstLine"],
                 "allLayers": o["rawFirstLine"], "noLayers": n["rawFirstLine"],
                 "gpuLayers": o["gpuLayers"], "allMs": o["timings"], "noLayersMs": n["timings"]})
print(json.dumps({"cursors": len(rows), "allLayersEqualCpuBuild": sum(r["allLayers"] == r["cpuBuild"] for r in rows),
                  "noLayersEqualCpuBuild": sum(r["noLayers"] == r["cpuBuild"] for r in rows),
                  "differences": [r for r in rows if r["allLayers"] != r["cpuBuild"]], "rows": rows}))
PY
)"

step "4. bench latency and bench edits with all layers offloaded"
case $mode in gpu) shapes=(1.5b 7b) ;; *) shapes=(tiny) ;; esac
small=()
[ "$mode" != gpu ] && small=(--ctx 1024 --max-tokens 16)
bench() { # NAME MODEL LAYERS KINDS…
  local name=$1 model=$2 layers=$3 kind
  shift 3
  for kind in "$@"; do
    run_sampled "$kind-$name-$layers" "$splice" bench "$kind" --json --model "$model" --gpu-layers "$layers" \
      --file "$bundle/bench-file.py" "${small[@]}"
  done
}
kinds=(latency edits)
[ "$mode" = smoke ] && kinds=(latency)
# What only the GPU can show comes first: on the GPU machine the runs without it (step 6) are the
# ones the deadline cuts. The synthetic models are usually made already (scripts/gpu-start.sh).
bench default "$gemma" 999 "${kinds[@]}"
for shape in "${shapes[@]}"; do
  past_deadline && break
  if ! bash "$here/gpu-shapes.sh" "$bundle" "$work" "$shape" 2>>"$log"; then
    record "qwen-$shape" '{"exit": 1, "error": "could not be made (see gpu-check.log)"}'
    continue
  fi
  bench "qwen-$shape" "$work/qwen-$shape.gguf" 999 "${kinds[@]}"
done

step "5. the PIE test (KL against a full re-encode)"
pie_status=0
if [ "$mode" = smoke ]; then
  "$work/pie-test" --list >"$work/pie.txt" 2>&1 || pie_status=$?
elif past_deadline; then
  echo "skipped: past the deadline" >"$work/pie.txt"
else
  timeout "${RUN_LIMIT_S:-150}" "$work/pie-test" --test-threads 1 --nocapture after_repair_pie_matches_a_full_re_encode \
    >"$work/pie.txt" 2>&1 || pie_status=$?
fi
cat "$work/pie.txt" >>"$log"
record pie "$(python3 -c 'import json,sys; print(json.dumps({"exit": int(sys.argv[1]), "lines": [l for l in open(sys.argv[2]).read().splitlines() if "KL" in l or "test result" in l or "skipped" in l or ": test" in l]}))' "$pie_status" "$work/pie.txt")"

step "6. the same benches with no layers offloaded"
bench default "$gemma" 0 "${kinds[@]}"
# On the CPU alone the 1.5B shape's cold prompts take most of a minute and the 7B's minutes:
# only the latency bench of the 1.5B shape runs without the GPU.
for shape in "${shapes[@]}"; do
  if [ -f "$work/qwen-$shape.gguf" ] && { [ "$mode" != gpu ] || [ "$shape" = 1.5b ]; }; then
    bench "qwen-$shape" "$work/qwen-$shape.gguf" 0 latency
  fi
done

write_report
say "wrote $out/gpu-check.json and $out/gpu-check.log ($(($(date +%s) - started)) s)"
# Here (no GPU) every run must have worked and every first line must equal the CPU build's; on a
# GPU machine the report says what happened and nothing fails it.
if [ "$mode" != gpu ]; then
  python3 - "$out/gpu-check.json" <<'PY' || die "the GPU check's $mode run found a broken part (see gpu-check.json)"
import json, sys
report = json.load(open(sys.argv[1]))
broken = [k for k, v in report.items() if isinstance(v, dict) and "exit" in v and (v["exit"] != 0 or v.get("result") is None and "wallS" in v)]
c = report["correctness"]
if c["allLayersEqualCpuBuild"] != c["cursors"] or c["noLayersEqualCpuBuild"] != c["cursors"] or c["cursors"] == 0:
    broken.append("correctness")
if broken:
    print("broken:", ", ".join(broken), file=sys.stderr)
    sys.exit(1)
PY
fi
