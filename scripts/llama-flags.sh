#!/usr/bin/env bash
# Makes an earlier build of llama.cpp (llama-cpp-sys-2) in TARGET_DIR follow the compiler flags
# of .cargo/config.toml. llama-cpp-sys-2 configures CMake only once per build folder, so a
# build from before a flag was added keeps the old flags; on CPUs with Intel AMX that build
# crashes at the first model run. Such a build is cleaned here, and cargo builds it again (once).
# Usage: scripts/llama-flags.sh TARGET_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
target=${1:-target}
flags=$(llama_cpp_flags)
[ -n "$flags" ] || exit 0
for profile in release debug; do
  for cache in "$target"/$profile/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt; do
    [ -f "$cache" ] || continue
    configured=$(sed -n 's/^CMAKE_CXX_FLAGS:STRING=//p' "$cache")
    for flag in $flags; do
      case " $configured " in
        *" $flag "*) ;;
        *)
          say "llama.cpp in $target/$profile was built without $flag: building it again"
          profile_flag=$([ $profile = release ] && echo --release || true)
          CARGO_TARGET_DIR="$target" cargo clean $profile_flag -p llama-cpp-sys-2 >&2
          break 2
          ;;
      esac
    done
  done
done
