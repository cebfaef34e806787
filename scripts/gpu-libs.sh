#!/usr/bin/env bash
# Builds llama.cpp as shared libraries (libllama.so, libggml*.so) from a GPU bundle's sources
# (scripts/gpu-bundle.sh), for the `splice` binary of that bundle: with CUDA for this machine's
# own GPU architecture only (a few minutes on 16 cores), or with `--cpu` for the CPU alone (how
# the check runs here, so that it cannot rot between GPU runs). The sources are checked against
# the sha256 the bundle recorded, so the libraries and the binary come from the same llama.cpp.
#
# Usage: scripts/gpu-libs.sh [--cpu|--configure-only] BUNDLE_DIR BUILD_DIR
#   (prints the folder of the libraries; --configure-only runs CMake for the CPU and builds nothing:
#   the smoke check's proof that the bundled sources are complete)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
# The sources are unpacked inside this repository: keep CMake from taking its git commit for llama.cpp's.
export GIT_CEILING_DIRECTORIES="$(cd "$here/.." && pwd)/.gpu"
cuda=ON configure_only=
case "${1:-}" in
  --cpu) cuda=OFF; shift ;;
  --configure-only) cuda=OFF configure_only=1; shift ;;
esac
bundle=$(cd "$1" && pwd) build=$2
mkdir -p "$build"
build=$(cd "$build" && pwd)

# One build at a time: a check started while an earlier call's build runs (README "GPU": the build
# starts in the background while the model parts travel) waits for it, then finds it done.
exec 9>"$build/.lock"
flock 9

tar=$build/llama.cpp.tar
gzip -dc "$bundle/llama.cpp.tar.gz" >"$tar"
[ "$(sha256_of "$tar")" = "$(cat "$bundle/llama.cpp.tar.sha256")" ] \
  || die "the llama.cpp sources differ from the ones the binary was built from"
stamp="$build/.built-$(cat "$bundle/llama.cpp.tar.sha256")-cuda-$cuda"
if [ -n "$configure_only" ] || [ ! -f "$stamp" ]; then
  rm -rf "$build/llama.cpp" "$build/cmake-build"
  tar -C "$build" -xf "$tar"
  command -v cmake >/dev/null || die "cmake is missing"
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cuda_flags=()
  if [ "$cuda" = ON ]; then
    command -v nvcc >/dev/null || die "nvcc is missing: no CUDA toolkit on this machine (use --cpu)"
    # Only this machine's GPU architecture: all of them would take an hour.
    cuda_flags=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=native -DGGML_CUDA_NCCL=OFF)
  fi
  # The options llama-cpp-sys-2 builds with (its build.rs), as shared libraries; the same
  # -march=native without AMX as .cargo/config.toml, so that the CPU libraries built here are the
  # ones `cargo build` links.
  say "building llama.cpp (CUDA $cuda) in $build"
  cmake -S "$build/llama.cpp" -B "$build/cmake-build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_COMMON=ON -DLLAMA_CURL=OFF \
    -DGGML_NATIVE=ON -DGGML_OPENMP=OFF -DGGML_BLAS=OFF \
    -DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
    -DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
    "${cuda_flags[@]}" >&2
  if [ -n "$configure_only" ]; then
    rm -f "$tar"
    exit 0
  fi
  cmake --build "$build/cmake-build" --target llama ggml -j "$(nproc)" >&2
  touch "$stamp"
fi
rm -f "$tar"
libs=$(dirname "$(find "$build/cmake-build" -name 'libllama.so' | head -1)")
[ -f "$libs/libllama.so" ] || die "no libllama.so was built"
# All shared libraries in one folder (ggml's land in ggml/src, llama's in bin or src).
mkdir -p "$build/lib"
find "$build/cmake-build" -name '*.so*' \( -type f -o -type l \) -exec cp -P {} "$build/lib/" \;
echo "$build/lib"
