// Drives real VS Code (code-server's web workbench) in Debian's Chromium with playwright-core:
// waits for the Splice status bar item to say "ready", opens main.py, types Python, waits for the
// ghost text, takes a screenshot, presses Tab, saves, and checks the file on disk holds the
// suggestion. Then it sets a 1 ms latency budget (the server restarts), types the end of a line
// in messages.py whose next line is 20-odd tokens, and checks that the ghost text first shows a
// part of that line and grows to the whole line without a key: the server answers past its budget
// with the part written so far and sends splice/suggestionReady when the line is whole, and the
// extension asks again. Writes what it saw to $RESULT (JSON). Every wait has a timeout; exit code
// 0 = passed. Environment: URL, WORKSPACE, SETTINGS (the workspace's settings.json), PLAYWRIGHT_CORE,
// CHROMIUM, SCREENSHOT, RESULT.
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const { URL, WORKSPACE, SETTINGS, CHROMIUM, SCREENSHOT, RESULT } = process.env;
const FILE = path.join(WORKSPACE, "main.py");
const LOAD_MS = 120000;
const ANSWER_MS = 60000;

setTimeout(() => {
  console.error("vscode_e2e.js: the whole test timed out");
  process.exit(2);
}, 300000).unref();

function step(message) {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function statusText(page) {
  return (await page.locator(".statusbar-item", { hasText: "Splice:" }).first().innerText()).trim();
}

/** Opens the quick input with `key`, types `text`, and picks the row that shows it. */
async function quickPick(page, key, text) {
  await page.keyboard.press(key);
  await page.locator(".quick-input-widget input").waitFor({ timeout: 30000 });
  await page.keyboard.type(text);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: text }).first().waitFor({ timeout: 30000 });
  await page.keyboard.press("Enter");
}

async function runCommand(page, title) {
  await quickPick(page, "F1", title);
}

async function waitForStatus(page, text, ms) {
  await page.locator(".statusbar-item", { hasText: text }).first().waitFor({ timeout: ms });
  return statusText(page);
}

/** The first line of ghost text, drawn as one or more spans (coloured parts) after the cursor;
 * the DOM draws its spaces as no-break spaces. */
async function ghostText(page) {
  const drawn = await page.$$eval(".ghost-text-decoration", (spans) => spans.map((s) => s.textContent).join(""));
  return drawn.replace(/\u00a0/g, " ");
}

/** The text of the editor area's editor (the Output panel is a Monaco editor too). */
function editorLines(page) {
  return page.locator(".part.editor .monaco-editor .view-lines").first();
}

async function openFile(page, name) {
  await quickPick(page, "Control+P", name);
  await page.locator(".tab.active", { hasText: name }).first().waitFor({ timeout: 30000 });
  await editorLines(page).waitFor({ timeout: 30000 });
}

async function waitForFile(predicate, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const text = fs.existsSync(FILE) ? fs.readFileSync(FILE, "utf8") : "";
    if (predicate(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${FILE}; it holds ${JSON.stringify(fs.readFileSync(FILE, "utf8"))}`);
}

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  const result = { passed: false };
  const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  try {
    step("opening the workbench");
    await page.goto(`${URL}/?folder=${encodeURIComponent(WORKSPACE)}`);
    await page.waitForSelector(".monaco-workbench", { timeout: LOAD_MS });

    step("waiting for the Splice status bar item to say ready");
    await page.locator(".statusbar-item", { hasText: "Splice: ready" }).first().waitFor({ timeout: LOAD_MS });
    result.statusBefore = await statusText(page);
    step(`status bar: ${result.statusBefore}`);

    step("opening main.py with Quick Open");
    await openFile(page, "main.py");
    await editorLines(page).click();

    step("typing Python");
    await page.keyboard.type("def add(a, b):", { delay: 40 });
    await page.keyboard.press("Enter");
    await page.keyboard.type("return ", { delay: 40 });

    step("waiting for ghost text");
    await page.locator(".ghost-text-decoration").first().waitFor({ timeout: ANSWER_MS });
    await page.waitForTimeout(500); // let a superseding request settle
    result.ghost = await ghostText(page);
    step(`ghost text: ${JSON.stringify(result.ghost)}`);
    if (!result.ghost.trim()) throw new Error("the ghost text is empty");
    await page.screenshot({ path: SCREENSHOT });

    step("Tab accepts, Ctrl+S saves");
    await page.keyboard.press("Tab");
    await page.locator(".ghost-text-decoration").first().waitFor({ state: "detached", timeout: 10000 });
    await page.keyboard.press("Control+S");
    const expected = `def add(a, b):\n    return ${result.ghost}`;
    result.file = await waitForFile((text) => text.startsWith(expected), 15000);
    step(`saved file: ${JSON.stringify(result.file)}`);

    await page.locator(".statusbar-item", { hasText: / ms/ }).first().waitFor({ timeout: 10000 });
    result.statusAfter = await statusText(page);
    step(`status bar: ${result.statusAfter}`);
    if (!/Splice: ready · .+ · \d+ ms/.test(result.statusAfter)) {
      throw new Error(`status bar lacks model or latency: ${result.statusAfter}`);
    }

    step("commands: Show Log, Restart Server, Toggle Suggestions");
    await runCommand(page, "Splice: Show Log");
    // The Output panel shows the Splice channel, scrolled to its end: the server's log lines
    // (which one is last depends on timing: a completion, a prefetch, a cancellation).
    await page.locator(".part.panel .view-lines", { hasText: /(INFO|DEBUG)\s+(splice_server|tower_lsp_server)::/ })
      .first().waitFor({ timeout: 15000 });
    await runCommand(page, "Splice: Restart Server");
    await waitForStatus(page, /Splice: (starting|loading)/, 15000);
    step(`status bar after restart: ${await waitForStatus(page, "Splice: ready", LOAD_MS)}`);

    step("a 1 ms latency budget in the workspace settings: the server restarts with it");
    const settings = JSON.parse(fs.readFileSync(SETTINGS, "utf8"));
    settings["splice.maxTokens"] = 64;
    settings["splice.serverArgs"] = ["--latency-budget", "1", "--retrieval", "never", "--prefetch", "off"];
    fs.writeFileSync(SETTINGS, JSON.stringify(settings, null, 2));
    await waitForStatus(page, /Splice: (starting|loading)/, 30000);
    step(`status bar after the settings changed: ${await waitForStatus(page, "Splice: ready", LOAD_MS)}`);

    step("messages.py: the end of a line whose next line is long");
    await openFile(page, "messages.py");
    await editorLines(page).click();
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Backspace");
    // Every ghost text the page draws, in order: the part may be on screen for a moment only.
    await page.evaluate(() => {
      const seen = (window.spliceGhosts = []);
      const record = () => {
        const spans = document.querySelectorAll(".ghost-text-decoration");
        const text = Array.from(spans, (s) => s.textContent).join("").replace(/\u00a0/g, " ");
        if (text && text !== seen[seen.length - 1]) seen.push(text);
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.keyboard.type(":", { delay: 40 });
    // No key from here on: only the server's notification makes VS Code ask again.
    const deadline = Date.now() + ANSWER_MS;
    for (;;) {
      result.ghosts = await page.evaluate(() => window.spliceGhosts.slice());
      if (result.ghosts.length >= 2) break;
      if (Date.now() > deadline) {
        throw new Error(`ghost texts drawn: ${JSON.stringify(result.ghosts)}: no whole line without a key`);
      }
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(500); // nothing more comes: the whole line stays
    result.ghosts = await page.evaluate(() => window.spliceGhosts.slice());
    step(`ghost texts drawn, without a key: ${JSON.stringify(result.ghosts)}`);
    const [part, whole] = [result.ghosts[0], result.ghosts[result.ghosts.length - 1]];
    if (!(whole.length > part.length && whole.startsWith(part)) || (await ghostText(page)) !== whole) {
      throw new Error("the ghost text did not grow from the part to the whole line");
    }
    await page.keyboard.press("Escape");

    await runCommand(page, "Splice: Toggle Suggestions");
    step(`status bar after toggle: ${await waitForStatus(page, "Splice: off", 10000)}`);
    result.passed = true;
  } finally {
    if (!result.passed) {
      result.failureScreenshot = SCREENSHOT.replace(/\.png$/, "-failure.png");
      await page.screenshot({ path: result.failureScreenshot }).catch(() => {});
      console.error(`screenshot of the failure: ${result.failureScreenshot}`);
    }
    fs.writeFileSync(RESULT, JSON.stringify(result, null, 2));
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`vscode_e2e.js: ${error.stack || error}`);
    process.exit(1);
  },
);
