--- A tiny test runner for Neovim specs that need the event loop (typed keys, LSP replies).
---
--- Tests run one after another inside a coroutine; `wait_until` polls with vim.defer_fn, so
--- Neovim keeps processing typeahead and messages meanwhile (a blocking vim.wait would not run
--- typed keys). Prints one line per test and quits with the number of failures as exit code.
--- Every wait has a timeout, and the whole file has one (SPLICE_TEST_TIMEOUT_MS, default 150 s).
local H = {}

local tests = {}

--- Declares a test.
function H.test(name, fn)
  table.insert(tests, { name = name, fn = fn })
end

local function resume_later(ms)
  local co = coroutine.running()
  vim.defer_fn(function()
    local ok, err = coroutine.resume(co)
    if not ok then
      io.stderr:write("harness: coroutine died: " .. tostring(err) .. "\n")
      vim.cmd("cquit 3")
    end
  end, ms)
  coroutine.yield()
end

--- Lets the event loop run for `ms`.
function H.sleep(ms)
  resume_later(ms)
end

--- Polls `cond` every 20 ms until it returns a true value (returned) or `timeout_ms` passes.
function H.wait_until(cond, timeout_ms, what)
  local deadline = vim.uv.now() + timeout_ms
  while true do
    local ok, value = pcall(cond)
    if ok and value then
      return value
    end
    if vim.uv.now() > deadline then
      error(("timed out after %d ms waiting for %s"):format(timeout_ms, what), 2)
    end
    resume_later(20)
  end
end

--- Types `keys` as a user would (mappings apply) and lets Neovim process them.
function H.type(keys)
  vim.api.nvim_input(keys)
  H.sleep(30)
end

function H.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(("%s: expected %s, got %s"):format(what or "value", vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function H.truthy(value, what)
  if not value then
    error((what or "value") .. " is not true", 2)
  end
  return value
end

--- The current buffer's lines.
function H.lines()
  return vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

--- An environment variable that must be set.
function H.env(name)
  return H.truthy(os.getenv(name), "$" .. name .. " set")
end

--- Waits until the server has loaded its model (splice/status says "ready").
function H.wait_for_model(ms)
  H.wait_until(function()
    return require("splice").status().state == "ready"
  end, ms or 60000, "the model to load (splice/status)")
end

--- Waits for Splice's ghost text in the current buffer, prints it as a "#" line, returns it.
function H.wait_for_suggestion(what, ms)
  local shown = H.wait_until(require("splice").suggestion, ms or 30000, what)
  io.stdout:write("# suggestion: " .. vim.inspect(shown) .. "\n")
  return shown
end

--- In insert mode, opens a new function `name` at the end of the buffer and types up to
--- `return `; returns the suggestion that appears and the cursor's row (1-based).
function H.start_function(name, ms)
  H.type("<Esc>Go<CR>def " .. name .. "(a, b):<CR>return ")
  local suggestion = H.wait_for_suggestion("ghost text for " .. name, ms)
  return suggestion, vim.api.nvim_win_get_cursor(0)[1]
end

--- Presses Tab and waits until the lines from `row` read `    return ` and the suggestion.
function H.tab_accepts(suggestion, row)
  H.type("<Tab>")
  local expected = vim.split("    return " .. suggestion, "\n")
  H.wait_until(function()
    return vim.deep_equal(expected, vim.api.nvim_buf_get_lines(0, row - 1, row - 1 + #expected, false))
  end, 5000, "Tab to insert " .. vim.inspect(expected) .. ", buffer " .. vim.inspect(H.lines()))
  return expected
end

--- Asks the Splice server directly what it suggests at the cursor (greedy decoding: the same
--- answer the editor got, so a test can check the ghost text came from the server).
function H.server_suggestion()
  local client = H.truthy(require("splice.server").client(), "the Splice client")
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 1 }
  local response = client:request_sync("textDocument/inlineCompletion", params, 30000)
  local item = response and response.result and response.result.items[1]
  return item and item.insertText
end

--- The first word "accept word" should take from `text` (written apart from splice.text, so that
--- a bug there cannot hide).
function H.expected_word(text)
  return text:match("^%s*[%w_]+") or text:match("^%s*[^%w_%s]+")
end

--- Runs the declared tests and exits Neovim with the number of failures.
function H.run()
  local timeout = tonumber(os.getenv("SPLICE_TEST_TIMEOUT_MS") or "") or 150000
  local timer = vim.uv.new_timer()
  timer:start(timeout, 0, vim.schedule_wrap(function()
    io.stdout:write(("not ok - the whole file timed out after %d ms\n"):format(timeout))
    vim.cmd("cquit 2")
  end))
  coroutine.wrap(function()
    local failed = 0
    for _, t in ipairs(tests) do
      local started = vim.uv.hrtime()
      local ok, err = pcall(t.fn)
      local ms = (vim.uv.hrtime() - started) / 1e6
      if ok then
        io.stdout:write(("ok - %s (%d ms)\n"):format(t.name, ms))
      else
        failed = failed + 1
        io.stdout:write(("not ok - %s: %s\n"):format(t.name, tostring(err)))
      end
    end
    for _, client in ipairs(vim.lsp.get_clients()) do
      client:stop(true)
    end
    timer:stop()
    vim.cmd(failed == 0 and "qall!" or ("cquit " .. failed))
  end)()
end

return H
