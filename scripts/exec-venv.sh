#!/usr/bin/env bash
# The test runner of `splice bench exec`: a private venv with pytest and what the corpus
# packages' own suites need (pinned in scripts/exec-requirements.txt). Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

ensure_venv "$(splice_cache_dir)/exec-venv" "$here/exec-requirements.txt" "the test runner of bench exec (pytest)"
