/**
 * The `splice.*` settings and what they become: `initializationOptions` (the server's option
 * names in camelCase), extra command-line flags, and per-language enablement. No `vscode`
 * import: plain-node tests exercise it.
 */
import { expandHome } from "./binary";

/** The settings under `contributes.configuration`. */
export interface SpliceSettings {
  binaryPath: string;
  model: string;
  gpuLayers: number | null;
  maxTokens: number | null;
  retrieval: "auto" | "always" | "never";
  enable: Record<string, boolean>;
  serverArgs: string[];
  /** A shared inference engine's URL (empty: the model runs in the server). */
  engine: string;
  /** The engine's API key (empty: the server reads `SPLICE_ENGINE_API_KEY`). */
  engineApiKey: string;
}

/** Settings that need a server restart when they change. */
export const RESTART_SETTINGS = [
  "binaryPath",
  "model",
  "gpuLayers",
  "maxTokens",
  "retrieval",
  "serverArgs",
  "engine",
  "engineApiKey",
];

/** Reads the settings through `get` (a `WorkspaceConfiguration.get`), with the declared defaults. */
export function readSettings(get: <T>(key: string) => T | undefined): SpliceSettings {
  return {
    binaryPath: get<string>("binaryPath") ?? "",
    model: get<string>("model") ?? "",
    gpuLayers: get<number | null>("gpuLayers") ?? null,
    maxTokens: get<number | null>("maxTokens") ?? null,
    retrieval: get<SpliceSettings["retrieval"]>("retrieval") ?? "auto",
    enable: get<Record<string, boolean>>("enable") ?? { "*": true },
    serverArgs: get<string[]>("serverArgs") ?? [],
    engine: get<string>("engine") ?? "",
    engineApiKey: get<string>("engineApiKey") ?? "",
  };
}

/** The server's `initializationOptions`: only what the user set (the server fills the rest). */
export function initializationOptions(settings: SpliceSettings, env: NodeJS.ProcessEnv = process.env) {
  const options: Record<string, unknown> = {};
  if (settings.model.trim()) {
    options.model = expandHome(settings.model.trim(), env);
  }
  if (settings.gpuLayers !== null) {
    options.gpuLayers = settings.gpuLayers;
  }
  if (settings.maxTokens !== null) {
    options.maxTokens = settings.maxTokens;
  }
  options.retrieval = settings.retrieval;
  if (settings.engine.trim()) {
    options.engine = settings.engine.trim();
  }
  if (settings.engineApiKey) {
    options.engineApiKey = settings.engineApiKey;
  }
  return options;
}

/** Whether suggestions are on for `languageId`: its own entry, else `*`, else on. */
export function enabledFor(enable: Record<string, boolean>, languageId: string): boolean {
  return enable[languageId] ?? enable["*"] ?? true;
}
