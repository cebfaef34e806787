--- What the user sees of the server: state (starting, loading, indexing, ready, error), model
--- and the last completion's latency. Fed by the `splice/status` notification and request, by
--- `$/progress` (workspace indexing) and by each completion's round trip.
local M = {}

local state = {
  server = nil, -- the last `splice/status` JSON
  indexing = false, -- a work-done progress of the server is running
  latency_ms = nil, -- round trip of the last completion that came back
}

--- Takes the JSON of a `splice/status` notification or response.
function M.set_server(json)
  if type(json) == "table" then
    state.server = json
    vim.cmd("redrawstatus")
  end
end

--- A work-done progress of the server began (true) or ended (false).
function M.set_indexing(active)
  state.indexing = active
  vim.cmd("redrawstatus")
end

--- Records the round trip of one completion request.
function M.set_latency(ms)
  state.latency_ms = ms
end

--- Forgets everything (the server stopped).
function M.reset()
  state = { server = nil, indexing = false, latency_ms = nil }
end

--- A shared engine that is down or serves another model (`engine.state`), else nil.
local function engine_trouble(server)
  local engine = type(server.engine) == "table" and server.engine or nil
  if engine and engine.kind == "remote" and engine.state ~= "ok" and engine.state ~= "connecting" then
    return engine
  end
  return nil
end

--- "starting" | "loading" | "indexing" | "ready" | "error" | "offline" (a shared engine is down:
--- suggestions stay empty until it answers).
function M.state()
  local server = state.server
  if not server then
    return "starting"
  end
  if server.state ~= "ready" then
    return server.state or "starting"
  end
  if engine_trouble(server) then
    return "offline"
  end
  local index = type(server.index) == "table" and server.index.state or nil
  if state.indexing or index == "indexing" then
    return "indexing"
  end
  return "ready"
end

--- A copy of what is known: { state, model, error, latency_ms, server }.
function M.get()
  local server = state.server or {}
  local model = type(server.model) == "table" and server.model.name or nil
  local error = server.error ~= vim.NIL and server.error or nil
  local engine = engine_trouble(server)
  if not error and engine and engine.error ~= vim.NIL then
    error = engine.error
  end
  return { state = M.state(), model = model, error = error, latency_ms = state.latency_ms, server = state.server }
end

--- One short line for a statusline: "Splice ready gemma-3-270m-q4_k_m.gguf 42 ms".
function M.line()
  local s = M.get()
  local parts = { "Splice", s.state }
  if s.model then
    table.insert(parts, (s.model:gsub("%.gguf$", "")))
  end
  if s.latency_ms then
    table.insert(parts, string.format("%d ms", s.latency_ms))
  end
  return table.concat(parts, " ")
end

return M
