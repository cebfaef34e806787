--- `:checkhealth splice`: the binary, the model file and the running server.
local M = {}

function M.check()
  local health = vim.health
  health.start("splice")
  local cfg = require("splice.config").get()
  if not cfg then
    health.warn("require('splice').setup() has not been called: Splice is off")
    cfg = require("splice.config").set({})
  end

  local binary, where = require("splice.server").resolve_binary(cfg)
  if binary then
    local result = vim.system({ binary, "--version" }, { text = true }):wait(5000)
    if result.code == 0 then
      health.ok(("binary: %s (%s, from %s)"):format(binary, vim.trim(result.stdout), where))
    else
      health.error(("binary %s does not run: %s"):format(binary, vim.trim(result.stderr or "")))
    end
  else
    health.error("no splice binary found (tried " .. where .. ")", {
      "build it with `make build` in the Splice repository",
      "or set `binary` in setup() or $SPLICE_BIN",
    })
  end

  local model = require("splice.config").model_path(cfg)
  if vim.uv.fs_stat(model) then
    health.ok("model: " .. model)
  else
    health.error("model not found: " .. model, {
      "`make models-default` in the Splice repository fetches the default model",
      "or set `server = { model = '/path/to/model.gguf' }` in setup()",
    })
  end

  local client = require("splice.server").client()
  local status = require("splice.status").get()
  if not client then
    health.warn("server not running (it starts with the first buffer of a wanted filetype)")
  elseif status.state == "error" then
    health.error("server running, but the model failed to load: " .. tostring(status.error))
  else
    health.ok(("server running (client %d): %s"):format(client.id, require("splice.status").line()))
  end
  local native = cfg.native and require("splice.native").available()
  health.info(native and "ghost text: vim.lsp.inline_completion (native)" or "ghost text: Splice's own (splice.ghost)")
end

return M
