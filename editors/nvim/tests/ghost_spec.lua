-- Splice's own ghost text against the real server and the real default model: it appears while
-- typing, equals what the server answers, and is accepted whole, by word and by line; Tab falls
-- back to a normal Tab without a suggestion; typing fast cancels stale requests.
-- Needs $SPLICE_BIN, $SPLICE_MODEL and $SPLICE_TEST_DIR (a temp dir for the Python file).
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "harness.lua"))
local splice = require("splice")

local file = vim.fs.joinpath(H.env("SPLICE_TEST_DIR"), "add.py")
local LOAD_MS, ANSWER_MS = 60000, 30000

local function status_of(client)
  local response = client:request_sync("splice/status", vim.empty_dict(), 5000)
  return H.truthy(response and response.result, "splice/status answered")
end


H.test("setup starts the server for a Python buffer and it loads the model", function()
  vim.fn.writefile({ "def add(a, b):", "    return " }, file)
  splice.setup({
    binary = H.env("SPLICE_BIN"),
    server = { model = H.env("SPLICE_MODEL"), max_tokens = 24, latency_budget = 0 },
    native = false, -- this spec is about Splice's own ghost text (the only kind on 0.11)
    debounce_ms = 30,
  })
  vim.cmd.edit(file)
  H.eq("python", vim.bo.filetype, "filetype")
  H.wait_for_model(LOAD_MS)
  H.truthy(splice.status().model:match("%.gguf$"), "status names the model")
end)

local shown
H.test("ghost text appears at the end of `return ` and is what the server suggests", function()
  H.type("GA")
  shown = H.wait_for_suggestion("ghost text", ANSWER_MS)
  local marks = vim.api.nvim_buf_get_extmarks(0, require("splice.ghost").namespace, 0, -1, { details = true })
  H.eq(1, #marks, "one extmark")
  H.eq({ 1, 11 }, { marks[1][2], marks[1][3] }, "extmark at the cursor")
  local first_line = vim.split(shown, "\n")[1]
  if first_line ~= "" then
    H.eq(first_line, marks[1][4].virt_text[1][1], "inline virtual text")
  end
  H.eq({ "def add(a, b):", "    return " }, H.lines(), "the buffer is untouched while shown")
  H.eq(shown, H.server_suggestion(), "ghost text equals the server's suggestion")
  H.truthy(splice.status().latency_ms, "latency recorded")
end)

H.test("accept word, then the rest of the line", function()
  local word = H.expected_word(shown)
  H.type("<C-Right>")
  H.eq("    return " .. word, H.lines()[2], "accept word")
  local rest = shown:sub(#word + 1)
  H.eq(rest ~= "" and rest or nil, splice.suggestion(), "the rest stays on screen")
  if rest ~= "" then
    local line = rest:match("^[^\n]*")
    H.type("<C-Down>")
    H.eq("    return " .. word .. line, H.lines()[2], "accept line")
  end
  H.type("<Esc>")
end)

H.test("Tab accepts the whole suggestion and :write saves it", function()
  local expected = H.tab_accepts(H.start_function("sub", ANSWER_MS))
  local row = vim.api.nvim_win_get_cursor(0)[1] - #expected + 1
  H.type("<Esc>")
  H.wait_until(function()
    return splice.suggestion() == nil
  end, 2000, "the ghost text to go on leaving insert mode")
  vim.cmd("silent write")
  H.eq(expected, vim.list_slice(vim.fn.readfile(file), row, row - 1 + #expected), "saved file")
end)

H.test("Tab falls back to a normal Tab without a suggestion; dismiss hides one", function()
  splice.toggle()
  H.type("o<Tab>x")
  H.eq(vim.bo.expandtab and (string.rep(" ", vim.fn.shiftwidth()) .. "x") or "\tx", vim.api.nvim_get_current_line(), "plain Tab inserted")
  splice.toggle()
  H.start_function("mul", ANSWER_MS)
  local before = H.lines()
  H.type("<C-]>")
  H.eq(nil, splice.suggestion(), "dismissed")
  H.eq(before, H.lines(), "dismiss changes nothing")
  H.type("<Esc>")
end)

H.test("typing fast cancels or supersedes the older requests", function()
  local client = require("splice.server").client()
  local before = status_of(client).requests
  H.type("o")
  for _, key in ipairs({ "x", " ", "=", " ", "a", "d", "d", "(" }) do
    vim.api.nvim_input(key)
    H.sleep(45) -- longer than the debounce, shorter than an answer
  end
  H.wait_for_suggestion("ghost text after the last key", ANSWER_MS)
  local after = status_of(client).requests
  local dropped = (after.cancelled - before.cancelled) + (after.superseded - before.superseded)
  io.stdout:write(("# requests: %s\n"):format(vim.inspect(after, { newline = " ", indent = "" })))
  H.truthy(dropped >= 1, ("stale requests were dropped (cancelled %d, superseded %d)"):format(after.cancelled, after.superseded))
  H.type("<Esc>")
end)

H.test(":checkhealth splice finds the binary, the model and the running server", function()
  vim.cmd("checkhealth splice")
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  H.truthy(report:match("OK binary: "), "binary OK in:\n" .. report)
  H.truthy(report:match("OK model: "), "model OK in:\n" .. report)
  H.truthy(report:match("OK server running"), "server OK in:\n" .. report)
end)

H.run()
