#!/usr/bin/env bash
# Fetches the real source trees the benchmarks use, as sdists from PyPI: `requests` 2.32.3 (bench
# latency and edits), plus `click` 8.1.7 and `itsdangerous` 2.2.0 (bench retrieval), and
# `more-itertools` 10.5.0; click, itsdangerous and more-itertools ship their tests, which
# `splice bench exec` runs with the private venv of scripts/exec-venv.sh. The other languages'
# package sources (`splice bench retrieval --lang`) come from scripts/corpus-languages.sh.
# Idempotent: nothing is downloaded when the corpus and the venv are already in the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

corpus="$(splice_cache_dir)/corpus"
mkdir -p "$corpus"

# fetch NAME VERSION FILE: the sdist NAME==VERSION, unpacked into $corpus unless FILE exists there.
fetch() { fetch_sdist "$corpus" "$@"; }

fetch requests 2.32.3 src/requests/auth.py
fetch click 8.1.7 src/click/core.py
fetch itsdangerous 2.2.0 src/itsdangerous/serializer.py
fetch more-itertools 10.5.0 more_itertools/more.py

"$here/corpus-languages.sh"
"$here/exec-venv.sh"
