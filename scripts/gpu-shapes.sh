#!/usr/bin/env bash
# Makes the random-weight Qwen2.5-Coder models of a GPU check (scripts/qwen_shapes.py) in its work
# folder, each once: WORK/qwen-SHAPE.gguf. Safe to run twice at once (scripts/gpu-start.sh starts it
# in the background, gpu-check.sh runs it again): a shape being made by one is waited for by the
# other, then found made.
#
# Usage: scripts/gpu-shapes.sh BUNDLE_DIR WORK_DIR SHAPE…   (SHAPE: 1.5b, 7b or tiny)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
bundle=$1 work=$2
shift 2
mkdir -p "$work"
# GPU_PYTHON: set by gpu-check.sh, which moves XDG_CACHE_HOME (and so the venv's folder) for
# the PIE test before it asks for a shape.
python=${GPU_PYTHON:-$(numpy_python)}
site="$work/site"
(
  flock 9
  [ -d "$site/gguf" ] || "$python" -m pip install -q --no-index --no-deps --target "$site" "$bundle"/gguf-*.whl >&2
) 9>"$work/site.lock"
for shape in "$@"; do
  (
    flock 9
    model="$work/qwen-$shape.gguf"
    if [ ! -f "$model" ]; then
      say "writing the random-weight Qwen2.5-Coder $shape shape to $model"
      PYTHONPATH="$site" "$python" "$here/qwen_shapes.py" "$shape" "$bundle/ggml-vocab-qwen2.gguf" "$model.tmp"
      mv "$model.tmp" "$model"
    fi
  ) 9>"$work/qwen-$shape.lock"
done
