//! Settings: command-line flags, then the editor's `initializationOptions`, then defaults.
//!
//! One struct, [`Options`], is both the clap flag set and the serde shape of
//! `initializationOptions` (camelCase keys), so the two can never drift apart. Flags given on the
//! command line win; the editor's options fill the rest; [`Settings::resolve`] applies defaults.

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use splice_model::{CacheType, EngineConfig, ReuseMode, SamplingConfig};
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
    /// Threads for prompt batches; default: all cores.
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
    /// `--retrieval auto`: the best match's BM25 score per query term needed to retrieve.
    #[arg(long)]
    pub retrieval_min_score: Option<f32>,
    /// Where workspace indexes are kept; default: the `index` folder of Splice's cache.
    #[arg(long)]
    pub index_dir: Option<PathBuf>,
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
            retrieval: self.retrieval.or(fallback.retrieval),
            retrieval_tokens: self.retrieval_tokens.or(fallback.retrieval_tokens),
            retrieval_min_probability: self.retrieval_min_probability.or(fallback.retrieval_min_probability),
            retrieval_min_score: self.retrieval_min_score.or(fallback.retrieval_min_score),
            index_dir: self.index_dir.or(fallback.index_dir),
        }
    }
}

/// Default generation budget per suggestion.
pub const DEFAULT_MAX_TOKENS: u32 = 96;
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
}

impl Settings {
    /// Applies defaults to whatever `options` leaves open.
    pub fn resolve(options: Options) -> Settings {
        let model = options.model.unwrap_or_else(default_model_path);
        let mut engine = EngineConfig::new(model);
        engine.context_tokens = options.ctx;
        engine.batch_threads = options.threads;
        engine.decode_threads = options.threads_decode;
        engine.gpu_layers = options.gpu_layers;
        engine.max_tokens = options.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).max(1);
        engine.reuse = match options.reuse.unwrap_or(Reuse::Pie) {
            Reuse::Pie => ReuseMode::Pie,
            Reuse::Prefix => ReuseMode::Prefix,
            Reuse::None => ReuseMode::None,
        };
        if let Some(max) = options.max_documents {
            engine.max_documents = max.max(1);
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
            min_score: options.retrieval_min_score,
            index_dir: options.index_dir.unwrap_or_else(|| cache_dir().join("index")),
        };
        Settings { engine, sampling, max_lines: options.max_lines.unwrap_or(DEFAULT_MAX_LINES).max(1), retrieval }
    }
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
    fn command_line_wins_and_initialization_options_fill_in() {
        let cli = Options { max_tokens: Some(10), ..Options::default() };
        let init: Options = serde_json::from_value(serde_json::json!({
            "maxTokens": 50, "gpuLayers": 3, "model": "/m.gguf", "unknownKey": true,
            "reuse": "prefix", "cacheTypeK": "q8_0", "retrieval": "always"
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
