--- Neovim 0.12+: `vim.lsp.inline_completion` draws and accepts the suggestions (it debounces,
--- cancels and supersedes requests itself). This module adds what it lacks for Splice: accepting
--- the next word or line, dismissing, and recording latency.
local text = require("splice.text")

local M = {}

--- Whether this Neovim has native inline completion.
function M.available()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.get ~= nil
end

local function native_namespace()
  return vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
end

--- The suggestion text on screen in `buf`, or nil (read from the native extmark: its inline
--- virtual text, then its virtual lines).
function M.visible(buf)
  local ns = native_namespace()
  if not ns then
    return nil
  end
  local marks = vim.api.nvim_buf_get_extmarks(buf or 0, ns, 0, -1, { details = true, limit = 1 })
  local details = marks[1] and marks[1][4]
  if not details then
    return nil
  end
  local function join(chunks) -- leaves out the "(1/2)" hint after the text
    local parts = {}
    for _, chunk in ipairs(chunks or {}) do
      if chunk[2] ~= "ComplHintMore" then
        table.insert(parts, chunk[1])
      end
    end
    return table.concat(parts)
  end
  local lines = { join(details.virt_text) }
  for _, line in ipairs(details.virt_lines or {}) do
    table.insert(lines, join(line))
  end
  return table.concat(lines, "\n")
end

--- Accepts the suggestion, or its next word or line. Splice answers with an empty range at the
--- cursor, so the item's text starts at the cursor and a prefix of it is a valid item.
function M.accept(part)
  if part == nil or part == "all" then
    return vim.lsp.inline_completion.get()
  end
  return vim.lsp.inline_completion.get({
    on_accept = function(item)
      local insert = item.insert_text
      if type(insert) == "table" then
        insert = insert.value
      end
      if type(insert) == "string" then
        item.insert_text = text.piece(insert, part)
      end
      return item
    end,
  })
end

--- Hides the suggestion of `buf` until the next edit.
function M.dismiss(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  if vim.lsp.inline_completion.is_enabled({ bufnr = buf }) then
    vim.lsp.inline_completion.enable(false, { bufnr = buf })
    vim.lsp.inline_completion.enable(true, { bufnr = buf })
  end
end

--- Neovim draws native ghost text in `ComplHint`, by default a link to `NonText`, which has no
--- colour in 256-colour terminals: the ghost text would look typed. While `ComplHint` is still
--- that default, give it NonText's GUI colour plus a grey for those terminals (again after each
--- :colorscheme).
function M.setup_highlight(group)
  local function apply()
    local hint = vim.api.nvim_get_hl(0, { name = "ComplHint" })
    if vim.deep_equal(hint, { link = "NonText" }) then
      local nontext = vim.api.nvim_get_hl(0, { name = "NonText", link = false })
      vim.api.nvim_set_hl(0, "ComplHint", { fg = nontext.fg, ctermfg = nontext.ctermfg or 244 })
    end
  end
  apply()
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = apply })
end

--- The augroup of Neovim's inline completion in a buffer (`vim.lsp._capability`'s name for it),
--- whose cursor autocmd asks the server, after its own 200 ms debounce.
local ASK_GROUP = "nvim.lsp.inline_completion:%d"

--- `splice/suggestionReady` (see `ghost.on_ready`): the whole suggestion whose part is on screen
--- is ready. Neovim's inline completion has no call that asks again, so where the part is still
--- on screen at the cursor it was shown at, the plugin fires the cursor event it asks on, in its
--- group only; its answer (from the server's typed-ahead cache) replaces the part.
function M.on_ready(params)
  local buf = vim.api.nvim_get_current_buf()
  local shown = M.available() and vim.lsp.inline_completion.is_enabled({ bufnr = buf }) and M.visible(buf)
  if shown and require("splice.ghost").ready_at_cursor(params, buf) then
    -- pcall: another Neovim may name the group differently; the part then stays until a key.
    pcall(vim.api.nvim_exec_autocmds, "CursorMovedI", { group = ASK_GROUP:format(buf), buffer = buf })
  end
end

--- Starts native inline completion in `buf`. Enabled per buffer, not per client: Neovim keeps a
--- per-client flag apart from the buffer's, and is_enabled({ bufnr }) reads the buffer's.
function M.attach(buf)
  vim.lsp.inline_completion.enable(true, { bufnr = buf })
end

--- Stops it.
function M.detach(buf)
  if vim.api.nvim_buf_is_valid(buf) then
    vim.lsp.inline_completion.enable(false, { bufnr = buf })
  end
end

--- Turns it on or off in every attached buffer.
function M.set_enabled(on, buffers)
  for _, buf in ipairs(buffers) do
    vim.lsp.inline_completion.enable(on, { bufnr = buf })
  end
end

return M
