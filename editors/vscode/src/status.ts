/**
 * What the status bar says: the server's state (loading / indexing / ready / error), the model,
 * and the last completion's latency. Fed by the `splice/status` notification and request, by
 * work-done progress (workspace indexing) and by each completion's round trip. No `vscode`
 * import: plain-node tests exercise it.
 */

/** The parts of the server's `splice/status` JSON the status bar uses (others are ignored). */
export interface ServerStatus {
  state?: "loading" | "ready" | "error";
  error?: string | null;
  model?: { name?: string | null; path?: string; gpuLayers?: number } | null;
  index?: { state?: string; files?: number; chunks?: number } | null;
  last?: { totalMs?: number; firstTokenMs?: number; encodedTokens?: number; generatedTokens?: number } | null;
  /** Where completions are computed: `local`, or a shared engine and its health. */
  engine?: { kind?: "local" | "remote"; url?: string; state?: string; error?: string | null } | null;
}

export type State = "off" | "starting" | "loading" | "indexing" | "ready" | "error" | "stopped" | "offline";

const ICONS: Record<State, string> = {
  off: "$(circle-slash)",
  starting: "$(loading~spin)",
  loading: "$(loading~spin)",
  indexing: "$(loading~spin)",
  ready: "$(sparkle)",
  error: "$(error)",
  stopped: "$(debug-stop)",
  offline: "$(cloud-offline)",
};

/** The status bar's model: everything it shows, and how. */
export class StatusModel {
  server: ServerStatus | undefined;
  /** Work-done progress tokens of the server that have begun and not ended. */
  readonly progress = new Set<string | number>();
  /** Round trip of the last completion that came back, in ms. */
  latencyMs: number | undefined;
  enabled = true;
  running = false;
  /** A failure to start (no binary, the process died). */
  failure: string | undefined;

  state(): State {
    if (!this.enabled) {
      return "off";
    }
    if (this.failure) {
      return "error";
    }
    if (!this.running) {
      return this.server ? "stopped" : "starting";
    }
    const server = this.server;
    if (!server || !server.state) {
      return "starting";
    }
    if (server.state !== "ready") {
      return server.state;
    }
    // A shared engine that is down (or serves another model): suggestions stay empty.
    const engine = server.engine;
    if (engine?.kind === "remote" && engine.state && engine.state !== "ok" && engine.state !== "connecting") {
      return "offline";
    }
    if (this.progress.size > 0 || server.index?.state === "indexing") {
      return "indexing";
    }
    return "ready";
  }

  /** The model's file name without `.gguf`. */
  modelName(): string | undefined {
    return this.server?.model?.name?.replace(/\.gguf$/, "") ?? undefined;
  }

  /** "$(sparkle) Splice: ready · gemma-3-270m-q4_k_m · 42 ms". */
  text(): string {
    const state = this.state();
    const parts = [`${ICONS[state]} Splice: ${state}`];
    const model = this.modelName();
    if (model && state !== "off") {
      parts.push(model);
    }
    if (this.latencyMs !== undefined && state === "ready") {
      parts.push(`${Math.round(this.latencyMs)} ms`);
    }
    return parts.join(" · ");
  }

  /** Markdown for the hover. */
  tooltip(): string {
    const lines = [`**Splice** ${this.state()}`];
    const error = this.failure ?? this.server?.error;
    if (error) {
      lines.push(`Error: ${error}`);
    }
    const engine = this.server?.engine;
    if (engine?.kind === "remote") {
      lines.push(`Engine: ${engine.url} (${engine.state ?? "unknown"})` + (engine.error ? `: ${engine.error}` : ""));
    }
    const model = this.server?.model;
    if (model?.path) {
      lines.push(`Model: \`${model.path}\` (${model.gpuLayers ?? 0} GPU layers)`);
    }
    const index = this.server?.index;
    if (index?.state) {
      lines.push(`Index: ${index.state}` + (index.files !== undefined ? `, ${index.files} files` : ""));
    }
    const last = this.server?.last;
    if (this.latencyMs !== undefined) {
      const server = last?.totalMs !== undefined ? ` (server ${last.totalMs} ms, first token ${last.firstTokenMs} ms)` : "";
      lines.push(`Last completion: ${Math.round(this.latencyMs)} ms${server}`);
    }
    lines.push("Click for commands");
    return lines.join("\n\n");
  }
}
