//! Settings: command-line flags, then the editor's `initializationOptions`, then defaults.
//!
//! One struct, [`Options`], is both the clap flag set and the serde shape of
//! `initializationOptions` (camelCase keys), so the two can never drift apart. Flags given on the
//! command line win; the editor's options fill the rest; [`Settings::resolve`] applies defaults.

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use splice_model::{
    CacheType, EngineConfig, EngineProtocol, RemoteEndpoint, ReuseMode, SamplingConfig, FIRST_LINE_WATCH_TOKENS,
};
use splice_retrieval::RetrievalMode;
use std::path::PathBuf;
use std::time::Duration;

/// `--reuse`: how requests reuse the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reuse {
    /// Keep the cache across edits: encode only the edited tokens, shift the rest (PIE).
    Pie,
    /// Keep only the common prefix; re-encode everything after the first change.
    Prefix,
    /// Re-encode the whole prompt on every request.
    None,
}

/// `--cache-type-k`: storage type of the K cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCacheType {
    /// 16-bit floats.
    F16,
    /// 32-bit floats.
    F32,
    /// 8-bit quantized.
    #[value(name = "q8_0")]
    #[serde(rename = "q8_0")]
    Q8_0,
    /// 4-bit quantized.
    #[value(name = "q4_0")]
    #[serde(rename = "q4_0")]
    Q4_0,
}

/// `--prefetch`: a feature switched on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnOff {
    /// Switched on.
    On,
    /// Switched off.
    Off,
}

/// The model and generation options, each optional until resolved.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Options {
    /// GGUF model file; default: Gemma 3 270M in the cache (`make models`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Context size in tokens; default 4096 (capped at the model's training context).
    #[arg(long)]
    pub ctx: Option<u32>,
    /// Threads for prompt batches; default: all cores (a batch runs on one thread instead while
    /// another process keeps a core busy and one measures faster).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Threads for single-token decodes; default 1 (more threads spin against a busy editor).
    #[arg(long)]
    pub threads_decode: Option<u32>,
    /// Layers offloaded to the GPU; default: all when built with a GPU backend, else 0.
    #[arg(long)]
    pub gpu_layers: Option<u32>,
    /// Largest number of tokens generated per suggestion; default 96.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Largest number of lines in a multi-line suggestion; default 8.
    #[arg(long)]
    pub max_lines: Option<usize>,
    /// Sampling temperature; default 0 (greedy).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Top-k for sampling with temperature > 0; default 40.
    #[arg(long)]
    pub top_k: Option<i32>,
    /// Top-p for sampling with temperature > 0; default 0.95.
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Seed for sampling with temperature > 0; default 0.
    #[arg(long)]
    pub seed: Option<u32>,
    /// KV-cache reuse across edits; default pie.
    #[arg(long, value_enum)]
    pub reuse: Option<Reuse>,
    /// Milliseconds without requests before stale cache cells are re-encoded; default 300.
    #[arg(long)]
    pub repair_idle_ms: Option<u64>,
    /// Storage type of the K cache; default f16.
    #[arg(long, value_enum)]
    pub cache_type_k: Option<KeyCacheType>,
    /// Documents that keep their own cached sequence at once; default 4.
    #[arg(long)]
    pub max_documents: Option<u32>,
    /// Speculative decoding: at most this many draft tokens (guessed from the prompt and recent
    /// suggestions) verified with each generated token, greedy only, output unchanged, used
    /// only when measured to be faster; 0 = off; default 2 (the most).
    #[arg(long)]
    pub draft_tokens: Option<u32>,
    /// Milliseconds a suggestion may take on the engine: generation stops at the end of the last
    /// complete line once the next token would arrive later (the first line is always finished,
    /// unless it runs past 100 characters), sized by the decode speed measured under the
    /// machine's load; 0 = no budget; default 400.
    #[arg(long)]
    pub latency_budget: Option<u64>,
    /// With a latency budget: a request whose model run is still writing its first line when the
    /// budget is spent shows the part written so far (up to its last whole word), and the run
    /// writes the rest for the typed-ahead cache; off: the request waits for the whole line;
    /// default on.
    #[arg(long, value_enum)]
    pub partial_lines: Option<OnOff>,
    /// When to add snippets of other workspace files to the prompt; default auto.
    #[arg(long, value_enum)]
    pub retrieval: Option<Retrieval>,
    /// Token budget of the retrieved snippets in the prompt; default 384.
    #[arg(long)]
    pub retrieval_tokens: Option<usize>,
    /// `--retrieval auto`: skip retrieval when the model's most likely first token is at least
    /// this probable without it; default 0.5.
    #[arg(long)]
    pub retrieval_min_probability: Option<f32>,
    /// `--retrieval auto`: how many of the first line's tokens must each be at least
    /// `--retrieval-min-probability` probable without the snippets (the first included), as the
    /// model writes the line; at the first that is not, the line is written again with them;
    /// 0 or 1: the first token alone decides; default 12.
    #[arg(long)]
    pub retrieval_watch_tokens: Option<usize>,
    /// `--retrieval auto`: the best match's BM25 score per query term needed to retrieve.
    #[arg(long)]
    pub retrieval_min_score: Option<f32>,
    /// Where workspace indexes are kept; default: the `index` folder of Splice's cache.
    #[arg(long)]
    pub index_dir: Option<PathBuf>,
    /// After a suggestion is shown, compute the next one as if it were accepted while the engine
    /// is idle (with `--reuse pie` only); default on.
    #[arg(long, value_enum)]
    pub prefetch: Option<OnOff>,
    /// Check a greedy suggestion's syntax before it is shown (Python): one that adds errors
    /// around the cursor gives way to a candidate that does not; default on.
    #[arg(long, value_enum)]
    pub syntax_check: Option<OnOff>,
    /// With the syntax check: lines branched at the suggestion's least certain tokens to try
    /// when it adds errors; default 2.
    #[arg(long)]
    pub alternatives: Option<u32>,
    /// With the syntax check, for models without fill-in-the-middle tokens: when the model is
    /// unsure of a suggestion's first line, its candidate lines are scored by how probable they
    /// make the next lines of code below the cursor (up to this many tokens of them), and the
    /// most probable is shown; 0: off; default 32.
    #[arg(long)]
    pub below_tokens: Option<usize>,
    /// Token healing of a prompt that ends mid-word or in blanks; default on (off: to measure it).
    #[arg(long, value_enum)]
    pub token_healing: Option<OnOff>,
    /// Multi-line suggestions at empty lines and block openings; default on (off: every
    /// suggestion ends at its first line).
    #[arg(long, value_enum)]
    pub multi_line: Option<OnOff>,
    /// A shared inference engine to send completions to (e.g. `http://gpu-box:8080`): no
    /// weights are loaded, `--model` gives the model's vocabulary only.
    #[arg(long, value_name = "URL")]
    pub engine: Option<String>,
    /// The engine's API: `openai` (`/v1/completions`: vLLM, SGLang, TGI, llama-server) or
    /// `llama-server` (`/completion`); default: detected.
    #[arg(long, value_enum)]
    pub engine_protocol: Option<EngineProtocolOption>,
    /// The model name sent to an OpenAI-compatible engine; default: the first it lists.
    #[arg(long)]
    pub engine_model: Option<String>,
    /// The engine's API key (`Authorization: Bearer`): only from `initializationOptions` or the
    /// `SPLICE_ENGINE_API_KEY` environment variable, never a flag (flags show in `ps`).
    #[arg(skip)]
    pub engine_api_key: Option<Secret>,
}

/// `--engine-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineProtocolOption {
    /// Detect: llama-server if it answers `/props`, else OpenAI-compatible.
    Auto,
    /// `POST /v1/completions`.
    Openai,
    /// llama-server's `POST /completion`.
    LlamaServer,
}

/// A value never written to a log or a debug print (an API key).
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(secret)")
    }
}

impl Options {
    /// Fills every option not set in `self` from `fallback`.
    pub fn or(self, fallback: Options) -> Options {
        Options {
            model: self.model.or(fallback.model),
            ctx: self.ctx.or(fallback.ctx),
            threads: self.threads.or(fallback.threads),
            threads_decode: self.threads_decode.or(fallback.threads_decode),
            gpu_layers: self.gpu_layers.or(fallback.gpu_layers),
            max_tokens: self.max_tokens.or(fallback.max_tokens),
            max_lines: self.max_lines.or(fallback.max_lines),
            temperature: self.temperature.or(fallback.temperature),
            top_k: self.top_k.or(fallback.top_k),
            top_p: self.top_p.or(fallback.top_p),
            seed: self.seed.or(fallback.seed),
            reuse: self.reuse.or(fallback.reuse),
            repair_idle_ms: self.repair_idle_ms.or(fallback.repair_idle_ms),
            cache_type_k: self.cache_type_k.or(fallback.cache_type_k),
            max_documents: self.max_documents.or(fallback.max_documents),
            draft_tokens: self.draft_tokens.or(fallback.draft_tokens),
            latency_budget: self.latency_budget.or(fallback.latency_budget),
            partial_lines: self.partial_lines.or(fallback.partial_lines),
            retrieval: self.retrieval.or(fallback.retrieval),
            retrieval_tokens: self.retrieval_tokens.or(fallback.retrieval_tokens),
            retrieval_min_probability: self.retrieval_min_probability.or(fallback.retrieval_min_probability),
            retrieval_watch_tokens: self.retrieval_watch_tokens.or(fallback.retrieval_watch_tokens),
            retrieval_min_score: self.retrieval_min_score.or(fallback.retrieval_min_score),
            index_dir: self.index_dir.or(fallback.index_dir),
            engine: self.engine.or(fallback.engine),
            engine_protocol: self.engine_protocol.or(fallback.engine_protocol),
            engine_model: self.engine_model.or(fallback.engine_model),
            engine_api_key: self.engine_api_key.or(fallback.engine_api_key),
            prefetch: self.prefetch.or(fallback.prefetch),
            syntax_check: self.syntax_check.or(fallback.syntax_check),
            alternatives: self.alternatives.or(fallback.alternatives),
            below_tokens: self.below_tokens.or(fallback.below_tokens),
            token_healing: self.token_healing.or(fallback.token_healing),
            multi_line: self.multi_line.or(fallback.multi_line),
        }
    }
}

/// A number a client or the command line set outside the range Splice accepts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{flag} (initializationOptions.{key}) = {value} is out of range: it must be {range}")]
pub struct OptionError {
    /// The command-line flag, e.g. `--max-tokens`.
    pub flag: &'static str,
    /// The `initializationOptions` key, e.g. `maxTokens`.
    pub key: &'static str,
    /// The value as given.
    pub value: String,
    /// The accepted range, in words.
    pub range: String,
}

/// The accepted range of every numeric option. Each bound keeps one request's work and memory
/// finite: a generation budget near `u32::MAX` once made the first completion run for minutes
/// while no other request was served.
pub mod bounds {
    use std::ops::RangeInclusive;
    /// `--ctx`: llama.cpp allocates the whole KV cache up front.
    pub const CTX: RangeInclusive<u32> = 128..=262_144;
    /// `--threads`, `--threads-decode`.
    pub const THREADS: RangeInclusive<u32> = 1..=1024;
    /// `--gpu-layers` (999 is the usual "all").
    pub const GPU_LAYERS: RangeInclusive<u32> = 0..=10_000;
    /// `--max-tokens`: about 100 lines of code, far beyond `--max-lines`' default.
    pub const MAX_TOKENS: RangeInclusive<u32> = 1..=1024;
    /// `--max-lines`.
    pub const MAX_LINES: RangeInclusive<usize> = 1..=1000;
    /// `--temperature`.
    pub const TEMPERATURE: RangeInclusive<f32> = 0.0..=5.0;
    /// `--top-k` (0 = off).
    pub const TOP_K: RangeInclusive<i32> = 0..=1_000_000;
    /// `--repair-idle-ms`: up to an hour.
    pub const REPAIR_IDLE_MS: RangeInclusive<u64> = 0..=3_600_000;
    /// `--max-documents`: each document holds two of llama.cpp's at most 256 sequences.
    pub const MAX_DOCUMENTS: RangeInclusive<u32> = 1..=64;
    /// `--draft-tokens` (0 = off): verify batches of more than three tokens run other CPU
    /// kernels than plain decoding and could change the output.
    pub const DRAFT_TOKENS: RangeInclusive<u32> = 0..=2;
    /// `--latency-budget` in milliseconds (0 = off): up to ten minutes.
    pub const LATENCY_BUDGET_MS: RangeInclusive<u64> = 0..=600_000;
    /// `--alternatives`: each costs up to a line of decoding when the suggestion is worse.
    pub const ALTERNATIVES: RangeInclusive<u32> = 0..=8;
    /// `--below-tokens`: a few lines' worth; each costs a token of prefill per candidate.
    pub const BELOW_TOKENS: RangeInclusive<usize> = 0..=128;
    /// `--retrieval-tokens`.
    pub const RETRIEVAL_TOKENS: RangeInclusive<usize> = 0..=16_384;
    /// `--retrieval-min-probability`.
    pub const PROBABILITY: RangeInclusive<f32> = 0.0..=1.0;
    /// `--retrieval-watch-tokens`: a line's worth.
    pub const WATCH_TOKENS: RangeInclusive<usize> = 0..=64;
    /// `--retrieval-min-score`.
    pub const MIN_SCORE: RangeInclusive<f32> = 0.0..=1_000.0;
}

impl Options {
    /// Checks every number against [`bounds`]; the first one out of range is the error. Run on
    /// the command line's flags at start-up and on the editor's `initializationOptions` at
    /// `initialize`, so a bad value is refused in the user's words before anything runs.
    pub fn validate(&self) -> Result<(), OptionError> {
        fn check<T: PartialOrd + std::fmt::Display>(
            value: Option<T>,
            range: std::ops::RangeInclusive<T>,
            flag: &'static str,
            key: &'static str,
        ) -> Result<(), OptionError> {
            match value {
                // `contains` is false for NaN, so a NaN float is refused too.
                Some(value) if !range.contains(&value) => {
                    let range = format!("between {} and {}", range.start(), range.end());
                    Err(OptionError { flag, key, value: value.to_string(), range })
                }
                _ => Ok(()),
            }
        }
        check(self.ctx, bounds::CTX, "--ctx", "ctx")?;
        check(self.threads, bounds::THREADS, "--threads", "threads")?;
        check(self.threads_decode, bounds::THREADS, "--threads-decode", "threadsDecode")?;
        check(self.gpu_layers, bounds::GPU_LAYERS, "--gpu-layers", "gpuLayers")?;
        check(self.max_tokens, bounds::MAX_TOKENS, "--max-tokens", "maxTokens")?;
        check(self.max_lines, bounds::MAX_LINES, "--max-lines", "maxLines")?;
        check(self.temperature, bounds::TEMPERATURE, "--temperature", "temperature")?;
        check(self.top_k, bounds::TOP_K, "--top-k", "topK")?;
        if let Some(p) = self.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(OptionError {
                flag: "--top-p",
                key: "topP",
                value: p.to_string(),
                range: "above 0 and at most 1".to_owned(),
            });
        }
        if let Some(url) = self.engine.as_deref().filter(|url| !is_engine_url(url)) {
            return Err(OptionError {
                flag: "--engine",
                key: "engine",
                value: format!("{url:?}"),
                range: "an http:// or https:// URL with a host".to_owned(),
            });
        }
        check(self.repair_idle_ms, bounds::REPAIR_IDLE_MS, "--repair-idle-ms", "repairIdleMs")?;
        check(self.max_documents, bounds::MAX_DOCUMENTS, "--max-documents", "maxDocuments")?;
        check(self.draft_tokens, bounds::DRAFT_TOKENS, "--draft-tokens", "draftTokens")?;
        check(self.latency_budget, bounds::LATENCY_BUDGET_MS, "--latency-budget", "latencyBudget")?;
        check(self.alternatives, bounds::ALTERNATIVES, "--alternatives", "alternatives")?;
        check(self.below_tokens, bounds::BELOW_TOKENS, "--below-tokens", "belowTokens")?;
        check(self.retrieval_tokens, bounds::RETRIEVAL_TOKENS, "--retrieval-tokens", "retrievalTokens")?;
        check(
            self.retrieval_min_probability,
            bounds::PROBABILITY,
            "--retrieval-min-probability",
            "retrievalMinProbability",
        )?;
        check(self.retrieval_watch_tokens, bounds::WATCH_TOKENS, "--retrieval-watch-tokens", "retrievalWatchTokens")?;
        check(self.retrieval_min_score, bounds::MIN_SCORE, "--retrieval-min-score", "retrievalMinScore")?;
        if let (Some(ctx), Some(max_tokens)) = (self.ctx, self.max_tokens) {
            if max_tokens > ctx / 2 {
                return Err(OptionError {
                    flag: "--max-tokens",
                    key: "maxTokens",
                    value: max_tokens.to_string(),
                    range: "at most half of --ctx (ctx)".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Default generation budget per suggestion.
pub const DEFAULT_MAX_TOKENS: u32 = 96;

/// Default `--latency-budget`: a suggestion that takes longer than this stops at a line end.
pub const DEFAULT_LATENCY_BUDGET_MS: u64 = 400;
/// Default line budget of multi-line suggestions.
pub const DEFAULT_MAX_LINES: usize = 8;
/// File name of the default model in the models cache.
pub const DEFAULT_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// `--retrieval`: when to add snippets of other workspace files to the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Retrieval {
    /// Per request: names from other files near the cursor, a good enough match, and the model
    /// unsure without it.
    Auto,
    /// Whenever the index finds a match.
    Always,
    /// Never; the workspace is not indexed.
    Never,
}

/// Default `--alternatives`.
pub const DEFAULT_ALTERNATIVES: u32 = 2;
/// Default `--below-tokens`.
pub const DEFAULT_BELOW_TOKENS: usize = 32;
/// The environment variable an engine's API key is read from when the editor sends none.
pub const ENGINE_API_KEY_VARIABLE: &str = "SPLICE_ENGINE_API_KEY";
/// Default token budget of the retrieved block.
pub const DEFAULT_RETRIEVAL_TOKENS: usize = 384;
/// Default first-token probability at or above which `auto` skips retrieval.
pub const DEFAULT_RETRIEVAL_MIN_PROBABILITY: f32 = 0.5;

/// Repository retrieval settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalSettings {
    /// When to retrieve.
    pub mode: RetrievalMode,
    /// Token budget of the retrieved block in the prompt.
    pub max_tokens: usize,
    /// `auto`: the model's first-token probability at or above which retrieval is skipped.
    pub min_probability: f32,
    /// `auto`: how many of the first line's tokens are held to `min_probability`.
    pub watch_tokens: usize,
    /// `auto`: the best match's BM25 score per query term needed to retrieve; default: the
    /// retrieval crate's.
    pub min_score: Option<f32>,
    /// Where workspace indexes are kept; default `<cache>/index`.
    pub index_dir: PathBuf,
}

/// Fully resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How to load the model.
    pub engine: EngineConfig,
    /// Sampling.
    pub sampling: SamplingConfig,
    /// Largest number of lines in a multi-line suggestion.
    pub max_lines: usize,
    /// Repository retrieval.
    pub retrieval: RetrievalSettings,
    /// Whether the next suggestion is computed ahead, as if the shown one had been accepted.
    pub prefetch: bool,
    /// Whether a request past its latency budget shows the part of the first line written so
    /// far (see [`Options::partial_lines`]).
    pub partial_lines: bool,
    /// Branched alternatives tried when a suggestion adds syntax errors; `None`: no check.
    pub syntax_check: Option<usize>,
    /// Tokens of the code below the cursor that score candidate lines (0: off).
    pub below_tokens: usize,
    /// Whether suggestions at empty lines and block openings may span several lines.
    pub multi_line: bool,
}

impl Settings {
    /// How long a request waits for its model run before it shows the part of the first line
    /// written so far: the latency budget, when there is one and partial lines are on.
    pub fn partial_after(&self) -> Option<std::time::Duration> {
        self.engine.latency_budget.filter(|_| self.partial_lines)
    }

    /// Applies defaults to whatever `options` leaves open.
    pub fn resolve(options: Options) -> Settings {
        let model = options.model.unwrap_or_else(default_model_path);
        let mut engine = EngineConfig::new(model);
        engine.context_tokens = options.ctx;
        engine.batch_threads = options.threads;
        engine.decode_threads = options.threads_decode;
        engine.gpu_layers = options.gpu_layers;
        // Clamped as well as validated: library callers (benchmarks) skip `validate`.
        engine.max_tokens = options.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).clamp(1, *bounds::MAX_TOKENS.end());
        engine.reuse = match options.reuse.unwrap_or(Reuse::Pie) {
            Reuse::Pie => ReuseMode::Pie,
            Reuse::Prefix => ReuseMode::Prefix,
            Reuse::None => ReuseMode::None,
        };
        if let Some(max) = options.max_documents {
            engine.max_documents = max.clamp(1, *bounds::MAX_DOCUMENTS.end());
        }
        engine.latency_budget = match options.latency_budget.unwrap_or(DEFAULT_LATENCY_BUDGET_MS) {
            0 => None,
            ms => Some(Duration::from_millis(ms.min(*bounds::LATENCY_BUDGET_MS.end()))),
        };
        engine.token_healing = options.token_healing.unwrap_or(OnOff::On) == OnOff::On;
        engine.remote = options.engine.filter(|url| !url.trim().is_empty()).map(|url| RemoteEndpoint {
            url,
            protocol: match options.engine_protocol.unwrap_or(EngineProtocolOption::Auto) {
                EngineProtocolOption::Auto => None,
                EngineProtocolOption::Openai => Some(EngineProtocol::OpenAi),
                EngineProtocolOption::LlamaServer => Some(EngineProtocol::LlamaServer),
            },
            model: options.engine_model,
            api_key: options
                .engine_api_key
                .map(|key| key.0)
                .or_else(|| std::env::var(ENGINE_API_KEY_VARIABLE).ok())
                .filter(|key| !key.is_empty()),
        });
        if let Some(n) = options.draft_tokens {
            engine.draft_tokens = n.min(*bounds::DRAFT_TOKENS.end());
        }
        if let Some(ms) = options.repair_idle_ms {
            engine.repair_idle = Duration::from_millis(ms);
        }
        engine.cache_type_k = match options.cache_type_k.unwrap_or(KeyCacheType::F16) {
            KeyCacheType::F16 => CacheType::F16,
            KeyCacheType::F32 => CacheType::F32,
            KeyCacheType::Q8_0 => CacheType::Q8_0,
            KeyCacheType::Q4_0 => CacheType::Q4_0,
        };
        let defaults = SamplingConfig::default();
        let sampling = SamplingConfig {
            temperature: options.temperature.unwrap_or(defaults.temperature),
            top_k: options.top_k.unwrap_or(defaults.top_k),
            top_p: options.top_p.unwrap_or(defaults.top_p),
            seed: options.seed.unwrap_or(defaults.seed),
        };
        let retrieval = RetrievalSettings {
            mode: match options.retrieval.unwrap_or(Retrieval::Auto) {
                Retrieval::Auto => RetrievalMode::Auto,
                Retrieval::Always => RetrievalMode::Always,
                Retrieval::Never => RetrievalMode::Never,
            },
            max_tokens: options.retrieval_tokens.unwrap_or(DEFAULT_RETRIEVAL_TOKENS),
            min_probability: options.retrieval_min_probability.unwrap_or(DEFAULT_RETRIEVAL_MIN_PROBABILITY),
            watch_tokens: options.retrieval_watch_tokens.unwrap_or(FIRST_LINE_WATCH_TOKENS),
            min_score: options.retrieval_min_score,
            index_dir: options.index_dir.unwrap_or_else(|| cache_dir().join("index")),
        };
        Settings {
            engine,
            sampling,
            max_lines: options.max_lines.unwrap_or(DEFAULT_MAX_LINES).clamp(1, *bounds::MAX_LINES.end()),
            retrieval,
            prefetch: options.prefetch.unwrap_or(OnOff::On) == OnOff::On,
            partial_lines: options.partial_lines.unwrap_or(OnOff::On) == OnOff::On,
            multi_line: options.multi_line.unwrap_or(OnOff::On) == OnOff::On,
            syntax_check: (options.syntax_check.unwrap_or(OnOff::On) == OnOff::On).then(|| {
                options.alternatives.unwrap_or(DEFAULT_ALTERNATIVES).min(*bounds::ALTERNATIVES.end()) as usize
            }),
            below_tokens: options.below_tokens.unwrap_or(DEFAULT_BELOW_TOKENS).min(*bounds::BELOW_TOKENS.end()),
        }
    }
}

/// Whether `url` can name an engine: `http://` or `https://` and a host (the empty string means
/// no engine).
fn is_engine_url(url: &str) -> bool {
    let url = url.trim();
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    url.is_empty() || rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && url.len() <= 2048)
}

/// Splice's cache directory: `$XDG_CACHE_HOME/splice`, else `~/.cache/splice`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("splice")
}

/// Where `scripts/models.sh` puts the default model.
pub fn default_model_path() -> PathBuf {
    cache_dir().join("models").join(DEFAULT_MODEL_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_comes_from_the_options_and_its_key_is_never_printed() {
        let init: Options = serde_json::from_value(serde_json::json!({
            "engine": "http://gpu:8080", "engineProtocol": "llama-server", "engineModel": "coder",
            "engineApiKey": "sk-very-secret"
        }))
        .expect("engine options parse");
        assert!(init.validate().is_ok());
        assert!(!format!("{init:?}").contains("sk-very-secret"), "{init:?}");
        let settings = Settings::resolve(init);
        let remote = settings.engine.remote.clone().expect("a remote engine");
        assert_eq!((remote.url.as_str(), remote.protocol), ("http://gpu:8080", Some(EngineProtocol::LlamaServer)));
        assert_eq!(remote.api_key.as_deref(), Some("sk-very-secret"));
        assert!(!format!("{settings:?}").contains("sk-very-secret"), "{settings:?}");
        for bad in ["gpu:8080", "ftp://gpu", "http://", "http:///x"] {
            let options = Options { engine: Some(bad.to_owned()), ..Options::default() };
            let err = options.validate().expect_err(bad);
            assert_eq!((err.flag, err.key), ("--engine", "engine"));
        }
        assert!(Settings::resolve(Options::default()).engine.remote.is_none());
    }

    #[test]
    fn command_line_wins_and_initialization_options_fill_in() {
        let cli = Options { max_tokens: Some(10), ..Options::default() };
        let init: Options = serde_json::from_value(serde_json::json!({
            "maxTokens": 50, "gpuLayers": 3, "model": "/m.gguf", "unknownKey": true,
            "reuse": "prefix", "cacheTypeK": "q8_0", "retrieval": "always", "prefetch": "off"
        }))
        .expect("camelCase options parse, unknown keys are ignored");
        let settings = Settings::resolve(cli.or(init));
        assert_eq!(settings.engine.max_tokens, 10);
        assert_eq!(settings.engine.gpu_layers, Some(3));
        assert_eq!(settings.engine.model_path, PathBuf::from("/m.gguf"));
        assert_eq!(settings.max_lines, DEFAULT_MAX_LINES);
        assert_eq!(settings.engine.reuse, ReuseMode::Prefix);
        assert_eq!(settings.engine.cache_type_k, CacheType::Q8_0);
        assert_eq!(settings.retrieval.mode, RetrievalMode::Always);
        assert!(!settings.prefetch);
        assert!(Settings::resolve(Options::default()).partial_lines, "partial lines are on by default");
        assert!(Settings::resolve(Options::default()).prefetch, "prefetch is on by default");
        let bad = serde_json::from_value::<Options>(serde_json::json!({ "prefetch": "sometimes" }));
        assert!(bad.is_err(), "prefetch is on or off");
    }

    #[test]
    fn every_number_out_of_range_is_refused_in_the_users_words() {
        let parse = |json: serde_json::Value| serde_json::from_value::<Options>(json).unwrap().validate();
        let err = parse(serde_json::json!({ "maxTokens": 4294967295u32 })).unwrap_err();
        assert_eq!((err.flag, err.key, err.value.as_str()), ("--max-tokens", "maxTokens", "4294967295"));
        assert!(err.to_string().contains("between 1 and 1024"), "{err}");
        for bad in [
            serde_json::json!({ "maxTokens": 0 }),
            serde_json::json!({ "ctx": 16 }),
            serde_json::json!({ "ctx": 4294967295u32 }),
            serde_json::json!({ "threads": 0 }),
            serde_json::json!({ "threadsDecode": 100000 }),
            serde_json::json!({ "maxLines": 0 }),
            serde_json::json!({ "temperature": -1.0 }),
            serde_json::json!({ "topK": -5 }),
            serde_json::json!({ "topP": 0.0 }),
            serde_json::json!({ "topP": 1.5 }),
            serde_json::json!({ "repairIdleMs": 18446744073709551615u64 }),
            serde_json::json!({ "maxDocuments": 0 }),
            serde_json::json!({ "maxDocuments": 1000 }),
            serde_json::json!({ "retrievalTokens": 1000000 }),
            serde_json::json!({ "retrievalMinProbability": 2.0 }),
            serde_json::json!({ "retrievalWatchTokens": 65 }),
            serde_json::json!({ "retrievalMinScore": -1.0 }),
            serde_json::json!({ "alternatives": 9 }),
            serde_json::json!({ "belowTokens": 129 }),
            serde_json::json!({ "ctx": 512, "maxTokens": 400 }),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad} must be refused");
        }
        let nan = Options { temperature: Some(f32::NAN), ..Options::default() };
        assert!(nan.validate().is_err(), "NaN is out of every range");
        let fine = serde_json::json!({ "maxTokens": 1024, "ctx": 4096, "temperature": 0.2, "topP": 1.0,
            "topK": 0, "maxDocuments": 64, "retrievalMinProbability": 0.0, "retrievalWatchTokens": 0, "belowTokens": 0 });
        assert_eq!(parse(fine), Ok(()));
        assert_eq!(Options::default().validate(), Ok(()));
    }

    #[test]
    fn resolve_clamps_what_library_callers_pass_unvalidated() {
        let settings = Settings::resolve(Options { max_tokens: Some(u32::MAX), ..Options::default() });
        assert_eq!(settings.engine.max_tokens, 1024);
    }

    #[test]
    fn options_sent_as_initialization_options_read_back_the_same() {
        let options = Options {
            max_tokens: Some(16),
            reuse: Some(Reuse::Prefix),
            cache_type_k: Some(KeyCacheType::Q8_0),
            retrieval: Some(Retrieval::Never),
            index_dir: Some(PathBuf::from("/tmp/i")),
            ..Options::default()
        };
        let sent = serde_json::to_value(&options).unwrap();
        assert_eq!(sent["maxTokens"], 16);
        assert_eq!(sent["cacheTypeK"], "q8_0");
        assert_eq!(serde_json::from_value::<Options>(sent).unwrap(), options);
    }

    #[test]
    fn the_default_model_lives_in_the_cache() {
        assert!(default_model_path().ends_with("splice/models/gemma-3-270m-q4_k_m.gguf"));
    }
}
