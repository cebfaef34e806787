-- Neovim 0.12+: with `native = true` (the default) Neovim's own vim.lsp.inline_completion draws
-- Splice's suggestion; Splice's keys accept it whole, by word, and dismiss it. Real server and
-- model. Needs $SPLICE_BIN, $SPLICE_MODEL, $SPLICE_TEST_DIR. tests/editors/nvim.sh runs it on 0.12.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "harness.lua"))
local splice = require("splice")

local file = vim.fs.joinpath(H.env("SPLICE_TEST_DIR"), "native.py")
local LOAD_MS, ANSWER_MS = 60000, 30000

H.test("0.12 has vim.lsp.inline_completion and setup() uses it", function()
  H.truthy(require("splice.native").available(), "vim.lsp.inline_completion on " .. tostring(vim.version()))
  vim.fn.writefile({ "def add(a, b):", "    return " }, file)
  splice.setup({ binary = H.env("SPLICE_BIN"), server = { model = H.env("SPLICE_MODEL"), max_tokens = 24, latency_budget = 0 } })
  vim.cmd.edit(file)
  H.wait_for_model(LOAD_MS)
  H.wait_until(function()
    return vim.lsp.inline_completion.is_enabled({ bufnr = 0 })
  end, 5000, "native inline completion enabled in the buffer")
end)

local shown
H.test("native ghost text appears and accept word takes one word", function()
  H.type("GA")
  shown = H.wait_for_suggestion("native ghost text", ANSWER_MS)
  H.eq(shown, H.server_suggestion(), "native ghost text equals the server's suggestion")
  H.truthy(not vim.api.nvim_buf_get_extmarks(0, require("splice.ghost").namespace, 0, -1, {})[1], "no Splice extmark")
  local word = H.expected_word(shown)
  H.type("<C-Right>")
  H.wait_until(function()
    return H.lines()[2] == "    return " .. word
  end, 5000, "accept word: " .. vim.inspect("    return " .. word) .. ", buffer " .. vim.inspect(H.lines()))
  H.truthy(splice.status().latency_ms, "latency recorded")
end)

H.test("Tab accepts the whole native suggestion; dismiss hides one", function()
  local suggestion, row = H.start_function("sub", ANSWER_MS)
  H.eq(suggestion, H.server_suggestion(), "native ghost text equals the server's suggestion")
  H.tab_accepts(suggestion, row)
  H.start_function("mul", ANSWER_MS)
  local before = H.lines()
  H.type("<C-]>")
  H.wait_until(function()
    return splice.suggestion() == nil
  end, 2000, "dismiss")
  H.eq(before, H.lines(), "dismiss changes nothing")
  H.type("<Esc>")
end)

H.run()
