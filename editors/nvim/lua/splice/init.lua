--- Splice for Neovim: inline code completion from the `splice` language server.
---
--- Nothing happens until `require("splice").setup(opts)`. Then the first buffer of a wanted
--- filetype starts `splice serve` with the built-in LSP client (one server for all buffers), and
--- suggestions show as ghost text while typing: Neovim's own `vim.lsp.inline_completion` on 0.12+,
--- Splice's ghost text (splice.ghost) on 0.11. See `:help splice`.
local config = require("splice.config")
local server = require("splice.server")
local status = require("splice.status")

local M = {}

local engine = nil -- splice.ghost or splice.native, chosen by setup()
local enabled = true
local attached = {} -- buffers Splice completes in

local function attach(buf)
  local cfg = config.get()
  if not cfg or attached[buf] or vim.bo[buf].buftype ~= "" or not config.wants(cfg, vim.bo[buf].filetype) then
    return
  end
  server.attach(cfg, buf, function(client, bufnr)
    if bufnr == buf and not attached[buf] then
      attached[buf] = true
      engine.attach(buf, cfg, client)
    end
  end)
end

--- Accepts the whole suggestion; false when none is shown.
function M.accept()
  return engine ~= nil and engine.accept("all")
end

--- Accepts the suggestion's next word.
function M.accept_word()
  return engine ~= nil and engine.accept("word")
end

--- Accepts the rest of the suggestion's current line (or its next line).
function M.accept_line()
  return engine ~= nil and engine.accept("line")
end

--- Hides the suggestion.
function M.dismiss()
  if engine then
    engine.dismiss(vim.api.nvim_get_current_buf())
  end
end

--- The suggestion text on screen in the current buffer, or nil.
function M.suggestion()
  return engine and engine.visible(vim.api.nvim_get_current_buf()) or nil
end

--- Turns suggestions on or off (`:SpliceToggle`); returns the new state.
function M.toggle()
  enabled = not enabled
  if engine then
    engine.set_enabled(enabled, vim.tbl_keys(attached))
  end
  vim.notify("splice: suggestions " .. (enabled and "on" or "off"))
  return enabled
end

--- Restarts the server and re-attaches every buffer (`:SpliceRestart`).
function M.restart()
  for buf in pairs(attached) do
    engine.detach(buf)
  end
  attached = {}
  server.stop()
  vim.defer_fn(function()
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) then
        attach(buf)
      end
    end
  end, 100)
end

--- { state, model, error, latency_ms, server }: what the status line shows.
function M.status()
  return status.get()
end

--- "Splice ready gemma-3-270m-q4_k_m 42 ms", for a statusline: `%{v:lua.require'splice'.statusline()}`.
function M.statusline()
  return status.line()
end

local fallbacks = {} -- key -> what it did before Splice mapped it

--- What `key` did before Splice mapped it, as a function returning keys (expr-mapping style):
--- the previous mapping (Neovim's own <Tab> snippet jump, a completion plugin's) or the key.
local function previous(key)
  if fallbacks[key] then
    return fallbacks[key]
  end
  local m = vim.fn.maparg(key, "i", false, true)
  local fallback = function()
    return key
  end
  if m.callback and m.expr == 1 then
    fallback = m.callback
  elseif m.callback then
    fallback = function()
      m.callback()
      return ""
    end
  elseif m.rhs and m.rhs ~= "" then
    fallback = function()
      return m.expr == 1 and vim.api.nvim_eval(m.rhs) or m.rhs
    end
  end
  fallbacks[key] = fallback
  return fallback
end

--- An insert-mode key that runs `action` when a suggestion is shown, else does what it did before.
local function map(key, action)
  if not key then
    return
  end
  local fallback = previous(key)
  vim.keymap.set("i", key, function()
    if enabled and M.suggestion() then
      return "<Cmd>lua require('splice')." .. action .. "()<CR>"
    end
    return fallback()
  end, { expr = true, replace_keycodes = true, desc = "splice: " .. action })
end

local function create_commands(cfg)
  local command = vim.api.nvim_create_user_command
  command("SpliceToggle", M.toggle, { desc = "Turn Splice suggestions on or off" })
  command("SpliceRestart", M.restart, { desc = "Restart the Splice server" })
  command("SpliceStatus", function()
    vim.notify(status.line() .. (status.get().error and ("\n" .. status.get().error) or ""))
  end, { desc = "Show Splice's state, model and latency" })
  command("SpliceLog", function()
    vim.cmd.split(vim.fn.fnameescape(cfg.log_file))
  end, { desc = "Open the Splice server log" })
end

--- Starts Splice with `opts` (see `:help splice-options`). Calling it again replaces the options
--- for buffers opened afterwards.
function M.setup(opts)
  local cfg = config.set(opts)
  local use_native = cfg.native and require("splice.native").available()
  engine = use_native and require("splice.native") or require("splice.ghost")
  -- Grey in every terminal (Comment has no colour in some 256-colour setups).
  vim.api.nvim_set_hl(0, "SpliceGhost", { default = true, fg = "#808080", ctermfg = 244 })
  map(cfg.keys.accept, "accept")
  map(cfg.keys.accept_word, "accept_word")
  map(cfg.keys.accept_line, "accept_line")
  map(cfg.keys.dismiss, "dismiss")
  create_commands(cfg)
  local group = vim.api.nvim_create_augroup("splice", { clear = true })
  if use_native then
    require("splice.native").setup_highlight(group)
  end
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    callback = function(args)
      attach(args.buf)
    end,
  })
  local started = {} -- inlineCompletion request id -> hrtime, for the latency
  vim.api.nvim_create_autocmd("LspRequest", {
    group = group,
    callback = function(args)
      local data = args.data
      local request = data.request
      local client = vim.lsp.get_client_by_id(data.client_id)
      if request.method ~= "textDocument/inlineCompletion" or not client or client.name ~= "splice" then
        return
      end
      if request.type == "pending" then
        started[data.request_id] = vim.uv.hrtime()
      elseif request.type == "complete" and started[data.request_id] then
        status.set_latency((vim.uv.hrtime() - started[data.request_id]) / 1e6)
      end
      if request.type ~= "pending" then
        started[data.request_id] = nil
      end
    end,
  })
  vim.api.nvim_create_autocmd("LspProgress", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      local value = args.data.params and args.data.params.value or {}
      if client and client.name == "splice" and (value.kind == "begin" or value.kind == "end") then
        status.set_indexing(value.kind == "begin")
      end
    end,
  })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      attach(buf)
    end
  end
end

return M
