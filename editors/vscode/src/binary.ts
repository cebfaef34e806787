/**
 * Finding the `splice` binary. No `vscode` import: plain-node tests exercise it.
 *
 * Order: the `splice.binaryPath` setting, `$SPLICE_BIN`, the build the extension was packaged
 * from (`make vsix` records it in `out/build.json`), the repository build next to a development
 * checkout (`editors/vscode/../../target/release/splice`), then `splice` on `PATH`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Where to look. */
export interface BinarySearch {
  /** The `splice.binaryPath` setting ("" when unset). */
  setting: string;
  /** The extension host's environment. */
  env: NodeJS.ProcessEnv;
  /** The extension's install folder. */
  extensionPath: string;
}

/** A binary and which rule found it (shown in the log and the status tooltip). */
export interface FoundBinary {
  path: string;
  source: string;
}

/** `~/x` → `$HOME/x`; other paths unchanged. */
export function expandHome(file: string, env: NodeJS.ProcessEnv = process.env): string {
  if (file === "~" || file.startsWith("~/")) {
    return path.join(env.HOME ?? os.homedir(), file.slice(1));
  }
  return file;
}

/** True for an executable regular file. */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The binary recorded by `make vsix` in `out/build.json`, if any. */
function packagedBuild(extensionPath: string): string | undefined {
  try {
    const build = JSON.parse(fs.readFileSync(path.join(extensionPath, "out", "build.json"), "utf8"));
    return typeof build.binary === "string" ? build.binary : undefined;
  } catch {
    return undefined;
  }
}

/** Every place tried, in order, with the rule's name. */
export function candidates(search: BinarySearch): FoundBinary[] {
  const list: FoundBinary[] = [];
  if (search.setting.trim()) {
    list.push({ path: expandHome(search.setting.trim(), search.env), source: "the splice.binaryPath setting" });
  }
  if (search.env.SPLICE_BIN) {
    list.push({ path: expandHome(search.env.SPLICE_BIN, search.env), source: "$SPLICE_BIN" });
  }
  const packaged = packagedBuild(search.extensionPath);
  if (packaged) {
    list.push({ path: packaged, source: "the build this extension was packaged with" });
  }
  list.push({
    path: path.join(search.extensionPath, "..", "..", "target", "release", "splice"),
    source: "the repository build",
  });
  for (const dir of (search.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    list.push({ path: path.join(dir, "splice"), source: "PATH" });
  }
  return list;
}

/** The first executable candidate, or undefined. */
export function resolveBinary(search: BinarySearch, executable = isExecutable): FoundBinary | undefined {
  return candidates(search).find((candidate) => executable(candidate.path));
}
