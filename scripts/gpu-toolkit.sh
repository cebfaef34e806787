#!/usr/bin/env bash
# Checks, before a GPU build (`make demo GPU=cuda`), that the toolkit it needs is installed, and
# says what is missing when it is not. Usage: scripts/gpu-toolkit.sh cuda
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
case "${1:-}" in
  cuda)
    nvcc=$(command -v nvcc || true)
    for dir in "${CUDA_PATH:-}" "${CUDA_HOME:-}" /usr/local/cuda; do
      [ -z "$nvcc" ] && [ -n "$dir" ] && [ -x "$dir/bin/nvcc" ] && nvcc="$dir/bin/nvcc"
    done
    [ -n "$nvcc" ] || die "GPU=cuda needs the CUDA toolkit, and no nvcc was found (on PATH, \$CUDA_PATH, \$CUDA_HOME or /usr/local/cuda). Install it (https://developer.nvidia.com/cuda-downloads, or apt-get install nvidia-cuda-toolkit), or build for the CPU without GPU=."
    say "CUDA toolkit: $("$nvcc" --version | tail -1) ($nvcc); llama.cpp is built with CUDA for the GPUs of this machine"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >&2 \
      || say "no nvidia-smi: the binary builds, but no NVIDIA driver was found to run it on"
    ;;
  *) die "GPU=${1:-} is not a GPU backend Splice builds with (GPU=cuda)" ;;
esac
