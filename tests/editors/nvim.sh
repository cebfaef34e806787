#!/usr/bin/env bash
# The Neovim plugin's tests on Neovim 0.11.4 (scripts/nvim.sh installs it): every headless spec in
# editors/nvim/tests/*_spec.lua (judged by nvim's exit code), then the tmux-driven test.
# Usage: SPLICE_BIN=target/release/splice tests/editors/nvim.sh
source "$(dirname "$0")/common.sh"
trap end_leftovers EXIT
nvim=$(with_user_cache "$repo/scripts/nvim.sh")

for spec in "$repo"/editors/nvim/tests/*_spec.lua; do
  name=nvim/$(basename "$spec" .lua)
  mkdir -p "$work/$name"
  set +e
  SPLICE_TEST_DIR="$work/$name" timeout 180 "$nvim" --headless --clean \
    --cmd "set rtp^=$repo/editors/nvim" -c "luafile $spec" </dev/null 2>"$work/$name.stderr" | sed 's/^/  /'
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" -eq 0 ] || sed 's/^/  stderr: /' "$work/$name.stderr" | tail -20
  record "$name" "$status"
done

set +e
NVIM_BIN=$nvim "$repo/tests/editors/tmux_nvim.sh" 2>&1 | sed 's/^/  /'
record nvim/tmux "${PIPESTATUS[0]}"
set -e
summary "editors (nvim)"
