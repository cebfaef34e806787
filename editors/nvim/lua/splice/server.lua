--- Finds the `splice` binary and runs it with Neovim's built-in LSP client: one client for
--- every buffer (the model is loaded once and kept warm), started with the first buffer.
local config = require("splice.config")
local status = require("splice.status")

local M = {}

local NAME = "splice"

--- This plugin's repository root (editors/nvim/lua/splice/server.lua is four levels down).
local function repository_root()
  local source = debug.getinfo(1, "S").source:sub(2)
  return vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(source)))))
end

--- The binary to run and where it was found: the `binary` option, $SPLICE_BIN, the repository's
--- release build (`make build`), then `splice` on PATH. nil and the places tried when none.
---@return string|nil path
---@return string where
function M.resolve_binary(cfg)
  local candidates = {
    { cfg.binary, "the binary option" },
    { vim.env.SPLICE_BIN, "$SPLICE_BIN" },
    { vim.fs.joinpath(repository_root(), "target", "release", "splice"), "the repository build" },
  }
  for _, candidate in ipairs(candidates) do
    local path = candidate[1]
    if path and path ~= "" and vim.fn.executable(path) == 1 then
      return vim.fs.normalize(path), candidate[2]
    end
  end
  local on_path = vim.fn.exepath("splice")
  if on_path ~= "" then
    return on_path, "PATH"
  end
  return nil, "the binary option, $SPLICE_BIN, " .. repository_root() .. "/target/release/splice, PATH"
end

--- The running client, if any.
function M.client()
  return vim.lsp.get_clients({ name = NAME })[1]
end

--- The client attached to `buf`, if any.
function M.client_for(buf)
  return vim.lsp.get_clients({ name = NAME, bufnr = buf })[1]
end

local handlers = {
  ["splice/status"] = function(_, result)
    status.set_server(result)
  end,
  -- The whole suggestion whose part is on screen is ready (see ghost.on_ready and
  -- native.on_ready; each does nothing where the other draws the suggestions).
  ["splice/suggestionReady"] = function(_, params)
    require("splice.ghost").on_ready(params)
    require("splice.native").on_ready(params)
  end,
}

--- The client's capabilities: Neovim's own, and `experimental.spliceSuggestionReady` (tell this
--- client when the whole suggestion of a request answered with a part of it is ready).
local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.experimental = vim.tbl_extend("force", caps.experimental or {}, { spliceSuggestionReady = true })
  return caps
end

--- Asks the server for its status and records it.
function M.refresh_status(client)
  client:request("splice/status", vim.empty_dict(), function(err, result)
    if not err then
      status.set_server(result)
    end
  end)
end

--- Attaches `buf` to the Splice client, starting the server when none runs.
---@param on_attach fun(client: vim.lsp.Client, buf: integer)
---@return integer|nil client id
function M.attach(cfg, buf, on_attach)
  local binary, where = M.resolve_binary(cfg)
  if not binary then
    vim.notify_once("splice: no binary found (tried " .. where .. ")", vim.log.levels.ERROR)
    return nil
  end
  local cmd = { binary, "serve", "--log-file", cfg.log_file }
  vim.list_extend(cmd, cfg.args)
  local file = vim.api.nvim_buf_get_name(buf)
  return vim.lsp.start({
    name = NAME,
    cmd = cmd,
    root_dir = vim.fs.root(buf, { ".git" }) or vim.fs.dirname(file),
    init_options = config.init_options(cfg),
    capabilities = capabilities(),
    handlers = handlers,
    on_attach = on_attach,
    on_init = function(client)
      M.refresh_status(client)
    end,
    on_exit = function()
      status.reset()
    end,
  }, {
    bufnr = buf,
    -- One server for every buffer and project: the model stays loaded once.
    reuse_client = function(client, conf)
      return client.name == conf.name
    end,
  })
end

--- Stops the server; returns true when one was running.
function M.stop()
  local client = M.client()
  if client then
    client:stop(true)
    status.reset()
  end
  return client ~= nil
end

return M
