#!/usr/bin/env bash
# Interactive Neovim in a real terminal (tmux): open a Python file with the plugin set up, type in
# insert mode, read the ghost text off the screen (capture-pane), press Tab, save, and check the
# file holds the suggestion. Also checks the statusline shows Splice's state and model. On 0.12
# the ghost text is Neovim's native one; on 0.11 the plugin's own.
# Usage: NVIM_BIN=path/to/nvim SPLICE_BIN=target/release/splice tests/editors/tmux_nvim.sh
source "$(dirname "$0")/common.sh"
nvim=${NVIM_BIN:-$(with_user_cache "$repo/scripts/nvim.sh")}
socket="splice-test-$$"
t() { tmux -L "$socket" "$@"; }
cleanup() {
  t send-keys -t 0 Escape ':qa!' Enter 2>/dev/null && sleep 0.3
  t kill-server 2>/dev/null || true
  end_leftovers
}
trap cleanup EXIT

file=$work/main.py
printf 'def add(a, b):\n    return' >"$file"
cat >"$work/init.lua" <<LUA
vim.opt.rtp:prepend("$repo/editors/nvim")
vim.cmd("syntax off") -- only the ghost text is coloured on screen
vim.o.laststatus = 2
vim.o.statusline = "%f %{v:lua.require'splice'.statusline()}"
require("splice").setup({ binary = "$SPLICE_BIN", server = { model = "$SPLICE_MODEL", max_tokens = 24, latency_budget = 0 } })
LUA

t new-session -d -x 100 -y 12 -e TERM=tmux-256color \
  "env XDG_CONFIG_HOME=$XDG_CONFIG_HOME XDG_DATA_HOME=$XDG_DATA_HOME XDG_STATE_HOME=$XDG_STATE_HOME XDG_CACHE_HOME=$XDG_CACHE_HOME $nvim --clean -u $work/init.lua $file"

screen() { t capture-pane -p -t 0; }
# The second screen line (`    return …`) with colours: ghost text is drawn in the SpliceGhost colour.
line2_coloured() { t capture-pane -p -e -t 0 | sed -n 2p; }
line2() { screen | sed -n 2p | sed 's/ *$//'; }

wait_for 60 "the statusline to say the model is ready" bash -c "$(declare -f t screen); socket=$socket; screen | grep -q 'Splice ready gemma-3-270m'"
t send-keys -t 0 G A ' '
ghost_on_screen() { [ "$(line2)" != "    return" ] && line2_coloured | grep -q $'return \e\\['; }
wait_for 60 "ghost text after '    return '" ghost_on_screen
shown=$(line2)
echo "screen before Tab: $shown"
echo "coloured: $(line2_coloured | cat -v)"
t send-keys -t 0 Tab
accepted() { ! line2_coloured | grep -q $'return \e\\['; }
wait_for 10 "Tab to turn the ghost text into text" accepted
t send-keys -t 0 Escape ':w' Enter
wait_for 10 "the file to be written" grep -qF "$shown" "$file"
echo "file after Tab and :w:"
sed 's/^/  | /' "$file"
[ "$(sed -n 2p "$file")" = "$shown" ] || die "line 2 of the file is not what the screen showed"
[ "$shown" != "    return " ] || die "nothing was suggested"
t send-keys -t 0 ':qa!' Enter
