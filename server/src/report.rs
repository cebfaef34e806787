//! The JSON shapes of what Splice reports about itself: the loaded model and one request's
//! counters and timings. `splice complete --json`, `splice/status` and the benchmarks share them.

use serde_json::{json, Value};
use splice_model::{CompletionStats, ModelInfo};

/// The loaded model, its template, context and threads.
pub fn model_json(info: &ModelInfo) -> Value {
    json!({
        "path": info.path,
        "name": info.path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "architecture": info.architecture,
        "template": info.template.describe(),
        "contextTokens": info.context_tokens,
        "gpuLayers": info.gpu_layers,
        "gpuOffloadSupported": info.gpu_offload_supported,
        "reuse": format!("{:?}", info.reuse).to_lowercase(),
        "threads": { "batch": info.threads.0, "decode": info.threads.1 },
    })
}

/// One request's token counts and timings (milliseconds rounded to a tenth).
pub fn stats_json(stats: &CompletionStats) -> Value {
    json!({
        "promptTokens": stats.prompt_tokens,
        "encodedTokens": stats.encoded_tokens,
        "reusedTokens": stats.reused_tokens,
        "shiftedTokens": stats.shifted_tokens,
        "droppedPrefixTokens": stats.dropped_prefix_tokens,
        "generatedTokens": stats.generated_tokens,
        "promptMs": round(stats.prompt_ms),
        "firstTokenMs": round(stats.first_token_ms),
        "totalMs": round(stats.total_ms),
        "generationTokensPerSecond": stats.generation_tokens_per_second().map(round),
    })
}

/// Rounds to one decimal, for printed numbers.
pub fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
