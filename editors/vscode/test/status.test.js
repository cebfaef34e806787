// The status bar: states, model, latency; a server without the index field is fine.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { StatusModel } = require("../out/status.js");

const model = { name: "gemma-3-270m-q4_k_m.gguf", path: "/m/gemma-3-270m-q4_k_m.gguf", gpuLayers: 0 };

test("starting, loading, ready with model and latency", () => {
  const status = new StatusModel();
  assert.equal(status.state(), "starting");
  status.running = true;
  status.server = { state: "loading", error: null, model: null };
  assert.equal(status.text(), "$(loading~spin) Splice: loading");
  status.server = { state: "ready", error: null, model };
  status.latencyMs = 41.6;
  assert.equal(status.text(), "$(sparkle) Splice: ready · gemma-3-270m-q4_k_m · 42 ms");
  assert.match(status.tooltip(), /Last completion: 42 ms/);
});

test("indexing from the index field or from work-done progress", () => {
  const status = new StatusModel();
  status.running = true;
  status.server = { state: "ready", model, index: { state: "indexing", files: 12 } };
  assert.equal(status.state(), "indexing");
  assert.match(status.tooltip(), /Index: indexing, 12 files/);
  status.server = { state: "ready", model, index: { state: "ready" } };
  assert.equal(status.state(), "ready");
  status.progress.add("token-1");
  assert.equal(status.state(), "indexing");
});

test("errors, off and stopped", () => {
  const status = new StatusModel();
  status.running = true;
  status.server = { state: "error", error: "model file is not GGUF", model: null };
  assert.equal(status.text(), "$(error) Splice: error");
  assert.match(status.tooltip(), /model file is not GGUF/);
  status.enabled = false;
  assert.equal(status.state(), "off");
  status.enabled = true;
  status.running = false;
  assert.equal(status.state(), "stopped");
  status.failure = "no splice binary found";
  assert.equal(status.state(), "error");
});

test("a shared engine that is down shows offline, with its reason in the tooltip", () => {
  const status = new StatusModel();
  status.running = true;
  const engine = { kind: "remote", url: "http://gpu:8080", state: "down", error: "connection refused" };
  status.server = { state: "ready", model, engine };
  assert.equal(status.state(), "offline");
  assert.equal(status.text(), "$(cloud-offline) Splice: offline · gemma-3-270m-q4_k_m");
  assert.match(status.tooltip(), /Engine: http:\/\/gpu:8080 \(down\): connection refused/);
  status.server = { state: "ready", model, engine: { ...engine, state: "ok", error: null } };
  assert.equal(status.state(), "ready");
  status.server = { state: "ready", model, engine: { kind: "local" } };
  assert.equal(status.state(), "ready");
});
