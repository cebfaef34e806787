#!/usr/bin/env bash
# Fetches the real source files the benchmarks edit: the `requests` 2.32.3 sdist from PyPI.
# Idempotent: nothing is downloaded when the corpus is already in the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

corpus="$(splice_cache_dir)/corpus"
dest="$corpus/requests-2.32.3"
[ -f "$dest/src/requests/auth.py" ] && exit 0
say "fetching the benchmark corpus: requests==2.32.3 sdist from PyPI"
mkdir -p "$corpus"
dir=$(pypi_download --no-binary :all: requests==2.32.3)
tar -xzf "$dir"/requests-2.32.3.tar.gz -C "$corpus"
rm -rf "$dir"
say "corpus ready in $dest"
