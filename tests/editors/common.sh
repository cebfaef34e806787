# Shared by the editor test drivers. Sourced, not run.
#
# Each driver gets: $repo, a private temp dir $work (removed on exit) with XDG dirs inside it (no
# editor state leaks into $HOME), the server binary $SPLICE_BIN and the model $SPLICE_MODEL
# (passed explicitly: XDG_CACHE_HOME points into $work), and `record`/`summary` to count results.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/scripts/lib.sh"

export SPLICE_MODEL=${SPLICE_MODEL:-$(splice_cache_dir)/models/gemma-3-270m-q4_k_m.gguf}
[ -n "${SPLICE_BIN:-}" ] || die "set SPLICE_BIN to the splice binary (make test-editors sets it)"
[ -x "$SPLICE_BIN" ] || die "SPLICE_BIN=$SPLICE_BIN is not executable"
[ -f "$SPLICE_MODEL" ] || die "model not found: $SPLICE_MODEL (make models-default)"
SPLICE_BIN=$(cd "$(dirname "$SPLICE_BIN")" && pwd)/$(basename "$SPLICE_BIN")
export SPLICE_BIN

# Runs a command with the user's own cache dir (where scripts/*.sh keep Neovim, code-server, ...).
# Kept across nested drivers, which inherit the overridden XDG_CACHE_HOME.
export SPLICE_USER_CACHE_HOME=${SPLICE_USER_CACHE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}}
with_user_cache() { XDG_CACHE_HOME=$SPLICE_USER_CACHE_HOME "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/splice-editors.XXXXXX")
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data XDG_STATE_HOME=$work/state XDG_CACHE_HOME=$work/cache
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$XDG_CACHE_HOME"

# Ends the processes this driver started that outlived their parent (their command lines name
# $work: Neovim's --embed server runs in a session of its own, the LSP server under it), then
# removes $work. For the EXIT trap.
end_leftovers() {
  local pids
  pids=$(pgrep -f -- "$work" || true)
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null || true
    sleep 0.5
    kill -9 $pids 2>/dev/null || true
  fi
  rm -rf "$work"
}

passed=0
failed=0
# record NAME STATUS: counts one test (STATUS 0 = passed).
record() {
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1"; fi
}
# summary LABEL: prints "LABEL: N passed, N failed" (.ci/run adds it up) and fails when any failed.
summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "timed out after ${seconds}s waiting for $what" >&2; return 1; }
    sleep 0.2
  done
}
