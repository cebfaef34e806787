--- Splice's own ghost text, for Neovim 0.11 (and for 0.12 with `native = false`).
---
--- While typing in insert mode, each pause of `debounce_ms` sends one
--- `textDocument/inlineCompletion`, after cancelling the previous one (`$/cancelRequest`). The
--- answer is drawn at the cursor as virtual text (first line inline, the rest as virtual lines)
--- unless the buffer or the cursor changed meanwhile. Typing the suggestion's next characters
--- keeps the rest on screen without a new request; any other edit or move replaces it.
local server = require("splice.server")
local text = require("splice.text")

local M = {}

local ns = vim.api.nvim_create_namespace("splice.ghost")
M.namespace = ns

local REQUEST_CANCELLED = -32800

---@class splice.Ghost
---@field text string what is still to insert
---@field row integer 0-based
---@field col integer byte column of the cursor it belongs to
---@field replace_to integer|nil byte column up to which the final accept replaces text

---@class splice.BufferState
---@field timer uv.uv_timer_t|nil debounce timer
---@field pending {client_id: integer, id: integer}|nil the request in flight
---@field ghost splice.Ghost|nil what is on screen

---@type table<integer, splice.BufferState>
local buffers = {}
local debounce_ms = 75
local enabled = true

local function state(buf)
  buffers[buf] = buffers[buf] or {}
  return buffers[buf]
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function line_at(buf, row)
  return vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ""
end

local function render(buf, s)
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  local ghost = s.ghost
  if not ghost then
    return
  end
  local lines = text.display_lines(ghost.text, vim.bo[buf].tabstop)
  local mark = { hl_mode = "combine" }
  if lines[1] ~= "" then
    mark.virt_text = { { lines[1], "SpliceGhost" } }
    mark.virt_text_pos = "inline"
  end
  if #lines > 1 then
    mark.virt_lines = vim.tbl_map(function(l)
      return { { l, "SpliceGhost" } }
    end, vim.list_slice(lines, 2))
  end
  vim.api.nvim_buf_set_extmark(buf, ns, ghost.row, ghost.col, mark)
end

local function cancel(s)
  if s.timer then
    s.timer:stop()
  end
  if s.pending then
    local client = vim.lsp.get_client_by_id(s.pending.client_id)
    if client then
      client:cancel_request(s.pending.id)
    end
    s.pending = nil
  end
end

--- Removes the suggestion of `buf` and cancels its pending request.
function M.dismiss(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local s = state(buf)
  cancel(s)
  s.ghost = nil
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  end
end

--- The suggestion text on screen in `buf`, or nil.
function M.visible(buf)
  local s = buffers[buf or vim.api.nvim_get_current_buf()]
  return s and s.ghost and s.ghost.text or nil
end

--- The suggestion to draw at byte column `col` of `row`, from an inlineCompletion result: the
--- first item's text less what its range already covers before the cursor. nil when there is
--- nothing to show or the item does not fit the buffer.
---@return splice.Ghost|nil
function M.from_result(result, buf, row, col, encoding)
  local items = type(result) == "table" and (result.items or result) or {}
  local item = items[1]
  if type(item) ~= "table" then
    return nil
  end
  local insert = item.insertText
  if type(insert) == "table" then
    insert = insert.value
  end
  if type(insert) ~= "string" then
    return nil
  end
  local ghost = { row = row, col = col }
  if item.range then
    local start, finish = item.range.start, item.range["end"]
    if start.line ~= row or finish.line ~= row then
      return nil
    end
    local line = line_at(buf, row)
    local from = vim.str_byteindex(line, encoding, start.character, false)
    local to = vim.str_byteindex(line, encoding, finish.character, false)
    local typed = line:sub(from + 1, col)
    if from > col or insert:sub(1, #typed) ~= typed then
      return nil
    end
    insert = insert:sub(#typed + 1)
    ghost.replace_to = to > col and to or nil
  end
  if insert == "" then
    return nil
  end
  ghost.text = insert
  return ghost
end

--- Sends one request for the cursor of `buf` (the current buffer, in insert mode).
function M.request(buf)
  if not enabled or buf ~= vim.api.nvim_get_current_buf() or not vim.api.nvim_get_mode().mode:match("^i") then
    return
  end
  local client = server.client_for(buf)
  if not client then
    return
  end
  local s = state(buf)
  cancel(s)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- Automatic
  local row, col = cursor()
  local tick = vim.b[buf].changedtick
  local id
  local function on_result(err, result)
    if not s.pending or s.pending.id ~= id then
      return
    end
    s.pending = nil
    if err then
      if err.code ~= REQUEST_CANCELLED then
        vim.notify("splice: " .. tostring(err.message), vim.log.levels.WARN)
      end
      return
    end
    local r, c = cursor()
    if vim.api.nvim_get_current_buf() ~= buf or vim.b[buf].changedtick ~= tick or r ~= row or c ~= col then
      return
    end
    if not vim.api.nvim_get_mode().mode:match("^i") then
      return
    end
    s.ghost = M.from_result(result, buf, row, col, client.offset_encoding)
    render(buf, s)
  end
  local ok
  ok, id = client:request("textDocument/inlineCompletion", params, on_result, buf)
  if ok then
    s.pending = { client_id = client.id, id = id }
  end
end

--- Whether a `splice/suggestionReady` notification with `params` is for `uri` at `position`
--- (an LSP position in the client's encoding): the cursor is still where the part was shown.
function M.ready_here(params, uri, position)
  return type(params) == "table"
    and type(params.textDocument) == "table"
    and params.textDocument.uri == uri
    and type(params.position) == "table"
    and params.position.line == position.line
    and params.position.character == position.character
end

--- Whether a `splice/suggestionReady` notification with `params` is for the current buffer `buf`
--- at its cursor (see `ready_here`).
function M.ready_at_cursor(params, buf)
  local client = server.client_for(buf)
  if not client then
    return false
  end
  local here = vim.lsp.util.make_position_params(0, client.offset_encoding)
  return M.ready_here(params, here.textDocument.uri, here.position)
end

--- `splice/suggestionReady`: past its latency budget the server answered with the part of a line
--- its run had written, and the whole suggestion is now ready. Asks again when that part is still
--- on screen in the current buffer at the cursor it was shown at (typing would ask anyway).
function M.on_ready(params)
  local buf = vim.api.nvim_get_current_buf()
  local s = buffers[buf]
  if s and s.ghost and M.ready_at_cursor(params, buf) then
    M.request(buf)
  end
end

--- Requests after `debounce_ms` of quiet.
function M.schedule(buf)
  if not enabled then
    return
  end
  local s = state(buf)
  s.timer = s.timer or vim.uv.new_timer()
  s.timer:stop()
  s.timer:start(debounce_ms, 0, vim.schedule_wrap(function()
    M.request(buf)
  end))
end

--- TextChangedI / CursorMovedI: keep a suggestion the user is typing through, else ask again.
function M.on_change(buf)
  local s = state(buf)
  local ghost = s.ghost
  local row, col = cursor()
  if ghost and row == ghost.row and col == ghost.col then
    return -- nothing moved (the second event of one keystroke, or our own accept)
  end
  if ghost and row == ghost.row and col > ghost.col then
    local rest = text.after_typing(ghost.text, line_at(buf, row):sub(ghost.col + 1, col))
    if rest then
      cancel(s)
      s.ghost = { text = rest, row = row, col = col, replace_to = ghost.replace_to }
      render(buf, s)
      return
    end
  end
  M.dismiss(buf)
  M.schedule(buf)
end

--- Inserts the suggestion, or its next word or line (`part`: "all", "word", "line"), at the
--- cursor; a partly accepted suggestion stays on screen. Returns false when there is none.
function M.accept(part)
  local buf = vim.api.nvim_get_current_buf()
  local s = state(buf)
  local ghost = s.ghost
  if not ghost then
    return false
  end
  cancel(s)
  local piece = text.piece(ghost.text, part or "all")
  local rest = ghost.text:sub(#piece + 1)
  local lines = vim.split(piece, "\n", { plain = true })
  local replace_to = rest == "" and ghost.replace_to or ghost.col
  vim.api.nvim_buf_set_text(buf, ghost.row, ghost.col, ghost.row, replace_to, lines)
  local row = ghost.row + #lines - 1
  local col = (#lines == 1 and ghost.col or 0) + #lines[#lines]
  s.ghost = rest ~= "" and { text = rest, row = row, col = col, replace_to = ghost.replace_to } or nil
  vim.api.nvim_win_set_cursor(0, { row + 1, col })
  render(buf, s)
  return true
end

--- Starts ghost text in `buf` (called when the server attaches).
function M.attach(buf, cfg)
  debounce_ms = cfg.debounce_ms
  local group = vim.api.nvim_create_augroup("splice.ghost." .. buf, { clear = true })
  local function on(events, fn)
    vim.api.nvim_create_autocmd(events, { group = group, buffer = buf, callback = fn })
  end
  on({ "TextChangedI", "TextChangedP", "CursorMovedI" }, function()
    M.on_change(buf)
  end)
  on("InsertEnter", function()
    M.schedule(buf)
  end)
  on({ "InsertLeave", "BufLeave" }, function()
    M.dismiss(buf)
  end)
  on("BufWipeout", function()
    M.detach(buf)
  end)
end

--- Stops ghost text in `buf`.
function M.detach(buf)
  local s = buffers[buf]
  if s then
    M.dismiss(buf)
    if s.timer then
      s.timer:close()
    end
    buffers[buf] = nil
  end
  pcall(vim.api.nvim_del_augroup_by_name, "splice.ghost." .. buf)
end

--- Turns requests on or off everywhere.
function M.set_enabled(on)
  enabled = on
  if not on then
    for buf in pairs(buffers) do
      M.dismiss(buf)
    end
  end
end

return M
