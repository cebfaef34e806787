#!/usr/bin/env bash
# The test runner of `splice bench exec`: a private venv with pytest and what the corpus
# packages' own suites need (pinned in scripts/exec-requirements.txt). Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

venv="$(splice_cache_dir)/exec-venv"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/exec-requirements.txt" "$stamp"; then
  say "preparing the test runner of bench exec (pytest) in $venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/exec-requirements.txt" >&2
  cp "$here/exec-requirements.txt" "$stamp"
fi
