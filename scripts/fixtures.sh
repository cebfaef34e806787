#!/usr/bin/env bash
# Generates the tiny GGUF vocabularies (one per FIM family) that the template-detection tests load.
# Uses a private Python venv with the pinned `gguf` package. Usage: scripts/fixtures.sh OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

out=${1:?usage: scripts/fixtures.sh OUT_DIR}
fixtures="$here/../tests/fixtures"
venv="$(splice_cache_dir)/venv"
ensure_venv "$venv" "$fixtures/requirements.txt" "test fixtures"
"$venv/bin/python" "$fixtures/make_fim_vocabs.py" "$out"
