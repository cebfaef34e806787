--- Options of the Neovim client: defaults, merging, and the initializationOptions they become.
local M = {}

--- Defaults; `require("splice").setup(opts)` merges `opts` over a copy of these.
M.defaults = {
  -- Path of the `splice` binary; nil: $SPLICE_BIN, then this repository's release build, then PATH.
  binary = nil,
  -- Extra arguments after `splice serve` (flags win over `server` below).
  args = {},
  -- Filetypes to complete in: "*" for every file buffer, or a list such as { "python", "rust" }.
  filetypes = "*",
  -- Server options, sent as initializationOptions with camelCase keys (model, gpu_layers,
  -- max_tokens, retrieval, ...); see `splice serve --help`. Unset ones take the server's defaults.
  server = {},
  -- Milliseconds of quiet typing before a request (0.11 ghost text; 0.12 debounces natively).
  debounce_ms = 75,
  -- Use Neovim's own vim.lsp.inline_completion when it exists (0.12+). false: Splice's ghost text.
  native = true,
  -- Insert-mode keys; false disables one. Each falls back to the key itself without a suggestion.
  keys = {
    accept = "<Tab>",
    accept_word = "<C-Right>",
    accept_line = "<C-Down>",
    dismiss = "<C-]>",
  },
  -- Server log; :SpliceLog opens it.
  log_file = vim.fs.joinpath(vim.fn.stdpath("log"), "splice.log"),
}

local current = nil

--- Merges `opts` over the defaults, checks the types, and remembers the result.
---@param opts table|nil
---@return table
function M.set(opts)
  local merged = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  vim.validate("binary", merged.binary, "string", true)
  vim.validate("args", merged.args, "table")
  vim.validate("server", merged.server, "table")
  vim.validate("debounce_ms", merged.debounce_ms, "number")
  vim.validate("keys", merged.keys, "table")
  if merged.filetypes ~= "*" then
    vim.validate("filetypes", merged.filetypes, "table")
  end
  current = merged
  return merged
end

--- The options given to setup(), or nil before it.
function M.get()
  return current
end

--- `gpu_layers` → `gpuLayers`.
local function camel(key)
  return (key:gsub("_(%l)", string.upper))
end

--- The `initializationOptions` for the server: `server` with camelCase keys.
---@param cfg table
---@return table
function M.init_options(cfg)
  local options = {}
  for key, value in pairs(cfg.server) do
    options[camel(key)] = value
  end
  return options
end

--- Whether Splice completes in buffers of `filetype`.
function M.wants(cfg, filetype)
  return cfg.filetypes == "*" or vim.tbl_contains(cfg.filetypes, filetype)
end

--- The model file the server will load: `server.model`, else the default in Splice's cache.
function M.model_path(cfg)
  if cfg.server.model then
    return vim.fs.normalize(cfg.server.model)
  end
  local cache = vim.env.XDG_CACHE_HOME
  if not cache or cache == "" then
    cache = vim.fs.joinpath(vim.env.HOME or "", ".cache")
  end
  return vim.fs.joinpath(cache, "splice", "models", "gemma-3-270m-q4_k_m.gguf")
end

return M
