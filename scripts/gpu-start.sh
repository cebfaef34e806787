#!/usr/bin/env bash
# The first call of a GPU run (README "GPU"): checks the bundle that came with it, then starts in
# the background, in their own process sessions so that they outlive the call, the two things
# scripts/gpu-check.sh would otherwise wait for: the CUDA build of llama.cpp's libraries
# (gpu-libs.sh) and the random-weight Qwen2.5-Coder models (gpu-shapes.sh). Both then run while
# the model parts travel in the next calls, and gpu-check.sh finds them done (or waits for them:
# both hold a lock while they work). Returns at once; their logs are WORK/libs.log and
# WORK/shapes.log.
#
# Usage: scripts/gpu-start.sh [--cpu]   (--cpu: the libraries without CUDA, and the toy shape)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
root=$(cd "$here/.." && pwd)
bundle="$root/.gpu/bundle"
work="${GPU_CHECK_WORK:-$root/.gpu/work}"
libs_flag=() shapes=(1.5b 7b)
[ "${1:-}" = "--cpu" ] && libs_flag=(--cpu) shapes=(tiny)
check_bundle "$bundle"
mkdir -p "$work"
setsid nohup bash "$here/gpu-libs.sh" "${libs_flag[@]}" "$bundle" "$work/llama" >"$work/libs.log" 2>&1 </dev/null &
setsid nohup bash "$here/gpu-shapes.sh" "$bundle" "$work" "${shapes[@]}" >"$work/shapes.log" 2>&1 </dev/null &
say "started the library build ($work/libs.log) and the synthetic models ($work/shapes.log)"
