-- partial_spec on Neovim 0.12+ with `native = true`: Neovim's own vim.lsp.inline_completion draws
-- the part of a line the server answered with past a 1 ms latency budget, and when the server
-- says the whole line is ready (splice/suggestionReady) the plugin makes Neovim ask again (it has
-- no call for that: the plugin fires the cursor event it asks on): the native ghost text becomes
-- the whole line, from the server's typed-ahead cache, without a key.
-- Needs $SPLICE_BIN, $SPLICE_MODEL and $SPLICE_TEST_DIR. tests/editors/nvim.sh runs it on 0.12.
SPLICE_PARTIAL_NATIVE = true
dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "partial_spec.lua"))
