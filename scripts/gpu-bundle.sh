#!/usr/bin/env bash
# Prepares, here, everything a GPU machine without Rust or network needs to check Splice's GPU
# offload with scripts/gpu-check.sh (README "GPU"). Writes, under .gpu/ in the repository:
#
#   bundle/   the `splice` binary and the PIE test built against llama.cpp as shared libraries
#             (feature `dynamic-link`), the exact llama.cpp sources llama-cpp-sys-2 built them
#             from (only what a CUDA build needs) and their sha256, the cursors of the
#             correctness check with this CPU build's answers, and the `gguf` wheel
#   model-N/  the default model in parts of at most PART_MIB MiB, each with its sha256, so
#             that every run stays under the GPU machine's 64 MiB limit on what travels
#
# Usage: scripts/gpu-bundle.sh [--smoke]   (PART_MIB=56 by default; needs `make models`)
#   --smoke  for CI's run of `gpu-check.sh --smoke`: the `splice` and PIE test of the normal
#            build (statically linked, already built by `make test`) instead of a second build of
#            llama.cpp, and the CPU answers at the first two cursors only.
set -euo pipefail
smoke=
[ "${1:-}" = "--smoke" ] && smoke=1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
root=$(cd "$here/.." && pwd)
cache=$(splice_cache_dir)
out="$root/.gpu"
bundle="$out/bundle"
target="${SPLICE_GPU_TARGET:-$cache/gpu-target}"
part_mib="${PART_MIB:-56}"

command -v cargo >/dev/null || die "cargo is missing (make tools)"
[ -f "$cache/models/gemma-3-270m-q4_k_m.gguf" ] || die "the default model is missing (make models)"
# The Python sources of `make corpus` that the cursors are cut from (PyPI sdists, pinned).
for sdist in "requests 2.32.3 src/requests/sessions.py" "click 8.1.7 src/click/core.py" \
  "itsdangerous 2.2.0 src/itsdangerous/signer.py" "more-itertools 10.5.0 more_itertools/more.py"; do
  # shellcheck disable=SC2086
  fetch_sdist "$cache/corpus" $sdist
done

if [ -n "$smoke" ]; then
  target="${CARGO_TARGET_DIR:-$root/target}"
  # The whole workspace, as `make test` builds its tests: nothing is compiled again.
  features=(--workspace)
  binary_features=()
else
  say "building splice against llama.cpp as shared libraries (feature dynamic-link) in $target"
  features=(-p splice-model --features dynamic-link)
  binary_features=(--features splice-server/dynamic-link)
fi
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release --locked --bin splice "${binary_features[@]}" >&2)
# The PIE test (KL of PIE against a full re-encode) as a binary that runs without cargo.
pie_test=$(cd "$root" && CARGO_TARGET_DIR="$target" cargo test --release --locked "${features[@]}" --test pie --no-run --message-format json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "pie":
        print(m["executable"])' | tail -1)
[ -x "$pie_test" ] || die "could not build the PIE test binary"

# A new bundle; the check's work folder (.gpu/work: its library build) stays.
rm -rf "$bundle" "$out"/model-* "$out/cpu-lib" && mkdir -p "$bundle"
work_tmp=$(mktemp -d)
trap 'rm -rf "$work_tmp"' EXIT
# Stripped and compressed: 155 MB with debug info, about 11 MB so.
strip -o "$work_tmp/splice" "$target/release/splice" && gzip -9c "$work_tmp/splice" >"$bundle/splice.gz"
strip -o "$work_tmp/pie-test" "$pie_test" && gzip -9c "$work_tmp/pie-test" >"$bundle/pie-test.gz"
# The libraries cargo built with the binary, with their versioned names (none for the static
# build): what the CPU answers below run on. They stay here: the GPU machine builds its own.
cpu_lib="$out/cpu-lib"
mkdir -p "$cpu_lib"
if [ -z "$smoke" ]; then
  built=$(ls -td "$target"/release/build/llama-cpp-sys-2-*/out/lib 2>/dev/null | while read -r dir; do
    [ -e "$dir/libllama.so.0" ] && echo "$dir" && break; done)
  [ -n "$built" ] || die "no libllama.so.0 in $target/release/build/llama-cpp-sys-2-*/out/lib"
  cp -P "$built"/*.so* "$cpu_lib/"
fi

# The llama.cpp sources the binary was built from: llama-cpp-sys-2's vendored copy, as cargo
# resolved it for this lockfile.
sys_manifest=$(cd "$root" && cargo metadata --format-version 1 --locked | python3 -c 'import json,sys
print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "llama-cpp-sys-2"))')
sys_dir=$(dirname "$sys_manifest")
llama="$sys_dir/llama.cpp"
[ -f "$llama/CMakeLists.txt" ] || die "no llama.cpp sources in $sys_dir"
# ggml without the backends a CUDA (or CPU) build never compiles; no tools, tests or examples.
others=(blas cann et hexagon hip metal musa opencl openvino rpc sycl virtgpu vulkan webgpu zdnn zendnn)
excludes=()
for backend in "${others[@]}"; do excludes+=(--exclude="llama.cpp/ggml/src/ggml-$backend"); done
tar -C "$sys_dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner "${excludes[@]}" \
  -cf "$bundle/llama.cpp.tar" \
  llama.cpp/CMakeLists.txt llama.cpp/LICENSE llama.cpp/cmake llama.cpp/ggml llama.cpp/include \
  llama.cpp/src llama.cpp/common llama.cpp/vendor $(cd "$sys_dir" && ls -d llama.cpp/licenses 2>/dev/null)
sha256_of "$bundle/llama.cpp.tar" >"$bundle/llama.cpp.tar.sha256"
gzip -9 "$bundle/llama.cpp.tar"
sys_version=$(basename "$sys_dir")
echo "$sys_version" >"$bundle/llama-cpp-sys-2.version"

# The cursors of the correctness check and this CPU build's first lines there.
python3 "$here/gpu_cursors.py" "$cache/corpus" "$bundle/cursors"
say "asking the CPU build for the first line at each cursor"
cp -r "$bundle/cursors" "$work_tmp/cursors"
[ -n "$smoke" ] && head -n 2 "$bundle/cursors/cursors.tsv" >"$work_tmp/cursors/cursors.tsv"
LD_LIBRARY_PATH="$cpu_lib" "$here/gpu-answers.sh" "$work_tmp/splice" "$cache/models/gemma-3-270m-q4_k_m.gguf" \
  "$work_tmp/cursors" 0 >"$bundle/cpu-answers.jsonl"
cp "$cache/corpus/requests-2.32.3/src/requests/sessions.py" "$bundle/bench-file.py"

# The gguf package (pure Python) for the synthetic Qwen2.5-Coder shapes.
dir=$(pypi_download --only-binary=:all: gguf==0.19.0)
cp "$dir"/gguf-*.whl "$bundle/" && rm -rf "$dir"
cp "$cache/peer/llama.cpp/models/ggml-vocab-qwen2.gguf" "$bundle/" 2>/dev/null \
  || die "no Qwen2 vocabulary (bench/build_llama_server.sh fetches it with llama.cpp's sources)"

# The default model in parts (the PIE test runs on it alone there: SPLICE_PIE_DEFAULT_MODEL_ONLY).
n=0
for model in gemma-3-270m-q4_k_m.gguf; do
  tmp=$(mktemp -d)
  split -b "${part_mib}M" -d -a 2 "$cache/models/$model" "$tmp/$model.part"
  for part in "$tmp"/*; do
    n=$((n + 1))
    mkdir -p "$out/model-$n"
    mv "$part" "$out/model-$n/"
    (cd "$out/model-$n" && sha256sum -- * >SHA256SUMS)
  done
  rm -rf "$tmp"
  echo "$(sha256_of "$cache/models/$model")  $model" >>"$bundle/models.sha256"
done
(cd "$bundle" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
say "bundle: $(du -sh "$bundle" | cut -f1) in $bundle; models in $n parts (.gpu/model-1 … model-$n)"
