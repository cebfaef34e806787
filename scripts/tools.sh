#!/usr/bin/env bash
# Makes sure the tools that build llama.cpp are present: cmake, clang and libclang (bindgen).
# Installs them with apt when running as root; otherwise says what to install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

command -v cargo >/dev/null || die "cargo is missing: install Rust from https://rustup.rs"
command -v python3 >/dev/null || die "python3 is missing: it fetches the models from PyPI"

have_libclang() {
  ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' || ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1
}

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v clang >/dev/null || missing+=(clang)
have_libclang || missing+=(libclang-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
else
  die "missing build tools: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again."
fi
