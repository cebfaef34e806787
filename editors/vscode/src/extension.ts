/**
 * Splice for VS Code: starts `splice serve` through vscode-languageclient, lets VS Code show its
 * `textDocument/inlineCompletion` answers as ghost text (Tab accepts; Ctrl+Right a word; Shift+Tab
 * a line), and keeps a status bar item with the server's state, the model and the latency.
 */
import * as vscode from "vscode";
import {
  ClientCapabilities,
  FeatureState,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State as ClientState,
  StaticFeature,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
} from "vscode-languageclient/node";
import { candidates, resolveBinary } from "./binary";
import * as ready from "./ready";
import { enabledFor, initializationOptions, readSettings, RESTART_SETTINGS, SpliceSettings } from "./settings";
import { ServerStatus, StatusModel } from "./status";

const STATUS_METHOD = "splice/status";

type InlineResult = vscode.InlineCompletionItem[] | vscode.InlineCompletionList;

/** Declares `experimental.spliceSuggestionReady`: tell this client when the whole suggestion of a
 * request answered with a part of it is ready (see ready.ts). */
class SuggestionReadyFeature implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.experimental = { ...(capabilities.experimental ?? {}), [ready.CAPABILITY]: true };
  }
  initialize(): void {}
  getState(): FeatureState {
    return { kind: "static" };
  }
  clear(): void {}
}

/** The extension's state: one language client (one server) and the status bar item. */
class SpliceExtension {
  private client: LanguageClient | undefined;
  private settings: SpliceSettings = this.readSettings();
  readonly status = new StatusModel();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly item: vscode.StatusBarItem,
  ) {
    this.status.enabled = context.globalState.get<boolean>("splice.enabled", true);
  }

  private readSettings(): SpliceSettings {
    const config = vscode.workspace.getConfiguration("splice");
    return readSettings((key) => config.get(key));
  }

  render(): void {
    this.item.text = this.status.text();
    this.item.tooltip = new vscode.MarkdownString(this.status.tooltip(), true);
    this.item.show();
  }

  /** Starts the server; a missing binary or a failed start shows as an error in the status bar. */
  async start(): Promise<void> {
    this.settings = this.readSettings();
    const search = { setting: this.settings.binaryPath, env: process.env, extensionPath: this.context.extensionPath };
    const found = resolveBinary(search);
    if (!found) {
      this.status.failure = "no splice binary found: set splice.binaryPath";
      this.output.error(`${this.status.failure}; tried ${candidates(search).map((c) => c.path).join(", ")}`);
      this.render();
      return;
    }
    this.output.info(`starting ${found.path} serve (found through ${found.source})`);
    const serverOptions: ServerOptions = {
      command: found.path,
      args: ["serve", ...this.settings.serverArgs],
      // The log goes to the output channel: plain text, no colour codes.
      options: { env: { ...process.env, NO_COLOR: "1" } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      initializationOptions: initializationOptions(this.settings),
      outputChannel: this.output,
      middleware: {
        provideInlineCompletionItems: (document, position, context, token, next) =>
          this.provideInline(document, token, () => next(document, position, context, token)),
        // Inline completions only: Splice's textDocument/completion item is for clients without
        // them, and each such request would supersede the inline one for the same document.
        provideCompletionItem: () => undefined,
      },
    };
    const client = new LanguageClient("splice", "Splice", serverOptions, clientOptions);
    client.registerFeature(new SuggestionReadyFeature());
    client.onNotification(STATUS_METHOD, (status: ServerStatus) => this.setServerStatus(status));
    client.onNotification(ready.METHOD, (params: ready.SuggestionReadyParams) => this.onSuggestionReady(params));
    client.onDidChangeState((event) => {
      this.status.running = event.newState === ClientState.Running;
      this.render();
    });
    this.client = client;
    this.status.failure = undefined;
    this.status.server = undefined;
    this.status.latencyMs = undefined;
    this.render();
    try {
      await client.start();
    } catch (error) {
      this.status.failure = `the server did not start: ${error}`;
      this.output.error(this.status.failure);
      this.render();
      return;
    }
    this.trackProgress(client);
    await this.refreshStatus();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.stop().catch((error) => this.output.warn(`stopping the server: ${error}`));
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  toggle(): void {
    this.status.enabled = !this.status.enabled;
    void this.context.globalState.update("splice.enabled", this.status.enabled);
    this.render();
  }

  /** Skips disabled languages, and times each request that comes back. */
  private async provideInline(
    document: vscode.TextDocument,
    token: vscode.CancellationToken,
    next: () => vscode.ProviderResult<InlineResult>,
  ): Promise<InlineResult | null | undefined> {
    if (!this.status.enabled || !enabledFor(this.settings.enable, document.languageId)) {
      return undefined;
    }
    const started = performance.now();
    const result = await next();
    if (!token.isCancellationRequested) {
      this.status.latencyMs = performance.now() - started;
      void this.refreshStatus();
    }
    return result;
  }

  /** The whole suggestion whose part is on screen is ready: ask again if the cursor is still there. */
  private onSuggestionReady(params: ready.SuggestionReadyParams): void {
    const editor = vscode.window.activeTextEditor;
    const at = editor && {
      uri: editor.document.uri.toString(),
      cursor: editor.selection.active,
      selectionEmpty: editor.selection.isEmpty,
    };
    if (ready.asksAgain(at, params)) {
      void this.showWholeSuggestion();
    }
  }

  /** Replaces the part on screen with the whole suggestion. A trigger alone keeps the suggestion
   * shown while it is still valid (VS Code puts it before the new results), so it is hidden
   * first; the request that follows is answered from the server's typed-ahead cache. */
  private async showWholeSuggestion(): Promise<void> {
    try {
      await vscode.commands.executeCommand("editor.action.inlineSuggest.hide");
      await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    } catch (error) {
      this.output.debug(`asking again for the whole suggestion: ${error}`);
    }
  }

  private setServerStatus(status: ServerStatus): void {
    this.status.server = status;
    this.render();
  }

  private async refreshStatus(): Promise<void> {
    const client = this.client;
    if (!client || !client.isRunning()) {
      return;
    }
    try {
      this.setServerStatus(await client.sendRequest<ServerStatus>(STATUS_METHOD, {}));
    } catch (error) {
      this.output.debug(`splice/status: ${error}`);
    }
  }

  /** Work-done progress (workspace indexing) shows as "indexing" in the status bar. */
  private trackProgress(client: LanguageClient): void {
    client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
      const subscription = client.onProgress(WorkDoneProgress.type, token, (value) => {
        if (value.kind === "begin") {
          this.status.progress.add(token);
        } else if (value.kind === "end") {
          this.status.progress.delete(token);
          subscription.dispose();
          void this.refreshStatus();
        }
        this.render();
      });
    });
  }

  /** Restarts the server when a setting it reads changes. */
  async onConfigurationChange(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!event.affectsConfiguration("splice")) {
      return;
    }
    const restart = RESTART_SETTINGS.some((key) => event.affectsConfiguration(`splice.${key}`));
    this.settings = this.readSettings();
    if (restart) {
      this.output.info("settings changed: restarting the server");
      await this.restart();
    }
  }

  async showMenu(): Promise<void> {
    const picks = [
      { label: this.status.enabled ? "Turn suggestions off" : "Turn suggestions on", command: "splice.toggle" },
      { label: "Restart server", command: "splice.restartServer" },
      { label: "Show log", command: "splice.showLog" },
    ];
    const pick = await vscode.window.showQuickPick(picks, { title: this.status.text().replace(/^\$\([^)]*\) /, "") });
    if (pick) {
      await vscode.commands.executeCommand(pick.command);
    }
  }
}

let extension: SpliceExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("Splice", { log: true });
  const item = vscode.window.createStatusBarItem("splice.status", vscode.StatusBarAlignment.Right, 100);
  item.name = "Splice";
  item.command = "splice.showMenu";
  const splice = new SpliceExtension(context, output, item);
  extension = splice;
  context.subscriptions.push(
    output,
    item,
    vscode.commands.registerCommand("splice.restartServer", () => splice.restart()),
    vscode.commands.registerCommand("splice.showLog", () => output.show(true)),
    vscode.commands.registerCommand("splice.toggle", () => splice.toggle()),
    vscode.commands.registerCommand("splice.showMenu", () => splice.showMenu()),
    vscode.workspace.onDidChangeConfiguration((event) => splice.onConfigurationChange(event)),
  );
  splice.render();
  await splice.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
