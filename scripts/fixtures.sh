#!/usr/bin/env bash
# Generates the tiny GGUF vocabularies (one per FIM family) that the template-detection tests load.
# Uses a private Python venv with the pinned `gguf` package. Usage: scripts/fixtures.sh OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

out=${1:?usage: scripts/fixtures.sh OUT_DIR}
fixtures="$here/../tests/fixtures"
venv="$(splice_cache_dir)/venv"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$fixtures/requirements.txt" "$stamp"; then
  say "preparing the Python venv for test fixtures in $venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$fixtures/requirements.txt" >&2
  cp "$fixtures/requirements.txt" "$stamp"
fi
"$venv/bin/python" "$fixtures/make_fim_vocabs.py" "$out"
