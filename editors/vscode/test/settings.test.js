// Settings → initializationOptions and per-language enablement.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { readSettings, initializationOptions, enabledFor } = require("../out/settings.js");

const unset = readSettings(() => undefined);

test("only the options the user set are sent, camelCase like the server's flags", () => {
  assert.deepEqual(initializationOptions(unset), { retrieval: "auto" });
  const settings = { ...unset, model: "~/models/m.gguf", gpuLayers: 0, maxTokens: 32, retrieval: "never" };
  assert.deepEqual(initializationOptions(settings, { HOME: "/home/u" }), {
    model: "/home/u/models/m.gguf",
    gpuLayers: 0,
    maxTokens: 32,
    retrieval: "never",
  });
});

test("a shared engine and its key are sent only when set, trimmed", () => {
  const settings = { ...unset, engine: " http://gpu:8080 ", engineApiKey: "k-123" };
  assert.deepEqual(initializationOptions(settings), {
    retrieval: "auto",
    engine: "http://gpu:8080",
    engineApiKey: "k-123",
  });
  assert.equal(initializationOptions({ ...unset, engine: "  " }).engine, undefined);
});

test("readSettings takes what the configuration has and defaults the rest", () => {
  const values = { maxTokens: 16, serverArgs: ["--ctx", "8192"] };
  const settings = readSettings((key) => values[key]);
  assert.equal(settings.maxTokens, 16);
  assert.equal(settings.gpuLayers, null);
  assert.deepEqual(settings.serverArgs, ["--ctx", "8192"]);
});

test("a language's own entry wins over *", () => {
  const enable = { "*": true, markdown: false };
  assert.equal(enabledFor(enable, "python"), true);
  assert.equal(enabledFor(enable, "markdown"), false);
  assert.equal(enabledFor({ "*": false, python: true }, "rust"), false);
  assert.equal(enabledFor({}, "rust"), true);
});
