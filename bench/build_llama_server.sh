#!/usr/bin/env bash
# Builds llama.cpp's own llama-server (the peer Splice is measured against, and the shared engine
# the remote-engine tests put Splice in front of) from the llama.cpp sources vendored in the PyPI
# sdist of llama-cpp-python. `make test` runs it (once: the binary is cached).
# Usage: bench/build_llama_server.sh [DIR]   (default: ~/.cache/splice/peer); prints the binary path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/lib.sh"
dir=${1:-$(splice_cache_dir)/peer}
version=0.3.36
bin="$dir/llama.cpp/build/bin/llama-server"
# Built for this CPU (GGML_NATIVE) but without Intel AMX, like Splice's own llama.cpp (see
# .cargo/config.toml): ggml's AMX kernels crash at the first model run on CPUs that have AMX.
# The flags are kept beside the binary, so that a binary built with other flags is rebuilt.
flags=$(llama_cpp_flags)
stamp="$dir/llama.cpp/build/splice-compiler-flags"
if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "flags: $flags" ]; then
  mkdir -p "$dir"
  if [ ! -d "$dir/llama_cpp_python-$version" ]; then
    say "fetching llama-cpp-python==$version (sdist) for its vendored llama.cpp"
    sdist=$(pypi_download --no-binary :all: "llama-cpp-python==$version")
    tar -xzf "$sdist"/llama_cpp_python-$version.tar.gz -C "$dir"
    rm -rf "$sdist"
  fi
  ln -sfn "llama_cpp_python-$version/vendor/llama.cpp" "$dir/llama.cpp"
  say "building llama-server (about 15 minutes on 2 cores)"
  cmake -S "$dir/llama.cpp" -B "$dir/llama.cpp/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF >&2
  cmake --build "$dir/llama.cpp/build" -j2 --target llama-server >&2
  echo "flags: $flags" > "$stamp"
fi
echo "$bin"
