-- The part of a line, then the whole line without a key: with a 1 ms latency budget the server
-- answers with the part of the line its run has written so far (a dictionary of long messages
-- makes that line 20-odd tokens), says when the whole line is ready (splice/suggestionReady,
-- which the plugin asks for), and the plugin asks again where the part is still on screen: the
-- ghost text becomes the whole line, from the server's typed-ahead cache.
-- Needs $SPLICE_BIN, $SPLICE_MODEL and $SPLICE_TEST_DIR (a temp dir for the Python file).
-- native_partial_spec runs it with Neovim's own inline completion drawing (0.12+).
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)), "harness.lua"))
local splice = require("splice")

local native = rawget(_G, "SPLICE_PARTIAL_NATIVE") == true
local here = vim.fs.dirname(debug.getinfo(1, "S").source:sub(2))
local fixture = vim.fs.joinpath(here, "..", "..", "..", "tests", "fixtures", "long_messages.py")
local file = vim.fs.joinpath(H.env("SPLICE_TEST_DIR"), "messages.py")
local LOAD_MS, ANSWER_MS = 60000, 30000

local function requests(client)
  local response = client:request_sync("splice/status", vim.empty_dict(), 5000)
  local status = H.truthy(response and response.result, "splice/status answered")
  return status.requests, status.running
end

H.test("setup with a 1 ms latency budget loads the model", function()
  if native then
    H.truthy(require("splice.native").available(), "vim.lsp.inline_completion on " .. tostring(vim.version()))
  end
  vim.fn.writefile(vim.fn.readfile(fixture), file)
  splice.setup({
    binary = H.env("SPLICE_BIN"),
    server = { model = H.env("SPLICE_MODEL"), max_tokens = 64, latency_budget = 1, retrieval = "never", prefetch = "off" },
    native = native,
    debounce_ms = 30,
  })
  vim.cmd.edit(file)
  H.wait_for_model(LOAD_MS)
end)

H.test("the part of the line is shown, then the whole line without a key", function()
  local before = H.lines()
  H.type("GA")
  local part = H.wait_for_suggestion("the part of the line", ANSWER_MS)
  local client = H.truthy(require("splice.server").client(), "the Splice client")
  -- The first answer was a part; the plugin asked again once the whole line was ready, and
  -- that answer came from the typed-ahead cache.
  H.wait_until(function()
    local counts, running = requests(client)
    return counts.partial == 1 and counts.cached == 1 and running == 0
  end, ANSWER_MS, "the part, then the whole line from the cache")
  local whole = H.server_suggestion()
  H.wait_until(function()
    return splice.suggestion() == whole
  end, ANSWER_MS, "the whole line on screen")
  io.stdout:write("# part: " .. vim.inspect(part) .. ", whole: " .. vim.inspect(whole) .. "\n")
  H.eq(part, whole:sub(1, #part), "the part is the start of the whole line")
  H.eq(before, H.lines(), "no key typed: the buffer is untouched")
  H.type("<Esc>")
end)

H.run()
