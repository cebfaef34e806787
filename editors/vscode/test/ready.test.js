// splice/suggestionReady: the extension asks again only where the part was shown.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { asksAgain, CAPABILITY, METHOD } = require("../out/ready.js");

const params = { textDocument: { uri: "file:///w/main.py" }, position: { line: 3, character: 11 } };
const editor = { uri: "file:///w/main.py", cursor: { line: 3, character: 11 }, selectionEmpty: true };

test("the cursor still where the part was shown asks again", () => {
  assert.equal(asksAgain(editor, params), true);
});

test("another document, another cursor, a selection or no editor does not", () => {
  assert.equal(asksAgain({ ...editor, uri: "file:///w/other.py" }, params), false);
  assert.equal(asksAgain({ ...editor, cursor: { line: 3, character: 12 } }, params), false);
  assert.equal(asksAgain({ ...editor, cursor: { line: 4, character: 11 } }, params), false);
  assert.equal(asksAgain({ ...editor, selectionEmpty: false }, params), false);
  assert.equal(asksAgain(undefined, params), false);
});

test("the names the server knows", () => {
  assert.equal(CAPABILITY, "spliceSuggestionReady");
  assert.equal(METHOD, "splice/suggestionReady");
});
