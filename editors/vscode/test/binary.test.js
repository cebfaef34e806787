// Finding the splice binary: setting, $SPLICE_BIN, the packaged build, the repository build, PATH.
const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { resolveBinary, candidates, expandHome } = require("../out/binary.js");

const roots = [];
after(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

function tempExtension() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "splice-vscode-test-"));
  roots.push(root);
  const extensionPath = path.join(root, "editors", "vscode");
  fs.mkdirSync(path.join(extensionPath, "out"), { recursive: true });
  return { root, extensionPath };
}

function executable(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "#!/bin/sh\n");
  fs.chmodSync(file, 0o755);
  return file;
}

test("the setting wins, then $SPLICE_BIN, then PATH", () => {
  const { root, extensionPath } = tempExtension();
  const setting = executable(path.join(root, "a", "splice"));
  const env = executable(path.join(root, "b", "splice"));
  const onPath = executable(path.join(root, "bin", "splice"));
  const search = { setting, env: { SPLICE_BIN: env, PATH: path.dirname(onPath) }, extensionPath };
  assert.deepEqual(resolveBinary(search), { path: setting, source: "the splice.binaryPath setting" });
  assert.equal(resolveBinary({ ...search, setting: "" }).path, env);
  assert.deepEqual(resolveBinary({ ...search, setting: "", env: { PATH: path.dirname(onPath) } }), { path: onPath, source: "PATH" });
});

test("a missing setting falls through; nothing found is undefined", () => {
  const { root, extensionPath } = tempExtension();
  const onPath = executable(path.join(root, "bin", "splice"));
  const search = { setting: path.join(root, "missing"), env: { PATH: path.dirname(onPath) }, extensionPath };
  assert.equal(resolveBinary(search).path, onPath);
  assert.equal(resolveBinary({ ...search, env: {} }), undefined);
});

test("the packaged build and the repository build come before PATH", () => {
  const { root, extensionPath } = tempExtension();
  const onPath = executable(path.join(root, "bin", "splice"));
  const repo = executable(path.join(root, "target", "release", "splice"));
  const search = { setting: "", env: { PATH: path.dirname(onPath) }, extensionPath };
  assert.deepEqual(resolveBinary(search), { path: repo, source: "the repository build" });
  const packaged = executable(path.join(root, "ci-target", "release", "splice"));
  fs.writeFileSync(path.join(extensionPath, "out", "build.json"), JSON.stringify({ binary: packaged }));
  assert.deepEqual(resolveBinary(search), { path: packaged, source: "the build this extension was packaged with" });
  assert.equal(candidates(search).at(-1).source, "PATH");
});

test("~ expands to $HOME", () => {
  assert.equal(expandHome("~/m.gguf", { HOME: "/home/u" }), "/home/u/m.gguf");
  assert.equal(expandHome("/abs/m.gguf", { HOME: "/home/u" }), "/abs/m.gguf");
});
