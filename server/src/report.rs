//! The JSON shapes of what Splice reports about itself: the loaded model and one request's
//! counters and timings. `splice complete --json`, `splice/status` and the benchmarks share them.

use serde_json::{json, Value};
use splice_model::{
    CandidateSource, CheckStats, CompletionStats, EngineProtocol, MeasuredRates, ModelInfo, RemoteStatus,
};
use splice_retrieval::RetrievalDecision;

/// The loaded model, its template, context and threads.
pub fn model_json(info: &ModelInfo) -> Value {
    json!({
        "path": info.path,
        "name": info.path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "architecture": info.architecture,
        "template": info.template.describe(),
        "repoFormat": info.repo_format.describe(),
        "contextTokens": info.context_tokens,
        "gpuLayers": info.gpu_layers,
        "gpuOffloadSupported": info.gpu_offload_supported,
        "devices": info.devices,
        "reuse": format!("{:?}", info.reuse).to_lowercase(),
        "threads": { "batch": info.threads.0, "decode": info.threads.1 },
        "engineUrl": info.engine_url,
    })
}

/// Where completions are computed: `{"kind": "local"}`, or the remote engine's address, protocol,
/// model and health (`state`: `connecting`, `ok`, `down`, `wrong-model`, with `error` while it
/// is not `ok`), the llama-server slot its requests ask for, and their steps (the tokens the
/// last asked for, the measured round trip). Never the API key.
pub fn engine_json(remote: Option<&RemoteStatus>) -> Value {
    let Some(remote) = remote else { return json!({ "kind": "local" }) };
    json!({
        "kind": "remote",
        "url": remote.url,
        "protocol": remote.protocol.map(EngineProtocol::name),
        "model": remote.model,
        "contextTokens": remote.context_tokens,
        "state": remote.state.label(),
        "error": remote.last_error,
        "failures": remote.failures,
        "outages": remote.outages,
        "retryInMs": remote.retry_in_ms,
        "logprobs": remote.logprobs,
        "slot": remote.slot,
        "stepTokens": remote.step_tokens,
        "stepRoundTripMs": remote.step_round_trip_ms,
    })
}

/// The engine's measured speeds (`null` until measured).
pub fn rates_json(rates: &MeasuredRates) -> Value {
    json!({
        "prefillTokensPerSecond": rates.prefill_tokens_per_second.map(round),
        "decodeTokensPerSecond": rates.decode_tokens_per_second().map(round),
        "requests": rates.requests,
        "batchThreads": rates.batch_threads,
    })
}

/// One request's token counts and timings (milliseconds rounded to a tenth), and the verdict on
/// its repository context (`context`: whether the prompt used it, and why).
pub fn stats_json(stats: &CompletionStats) -> Value {
    json!({
        "promptTokens": stats.prompt_tokens,
        "encodedTokens": stats.encoded_tokens,
        "reusedTokens": stats.reused_tokens,
        "shiftedTokens": stats.shifted_tokens,
        "droppedPrefixTokens": stats.dropped_prefix_tokens,
        "budgetCutTokens": stats.budget_cut_tokens,
        "generatedTokens": stats.generated_tokens,
        "discardedTokens": stats.discarded_tokens,
        "promptMs": round(stats.prompt_ms),
        "firstTokenMs": round(stats.first_token_ms),
        "totalMs": round(stats.total_ms),
        "decodeMs": round(stats.decode_ms()),
        "engineMs": stats.engine_ms.map(round),
        "prepareMs": (stats.prepare_ms * 1000.0).round() / 1000.0,
        "decisionMs": (stats.decision_ms * 1000.0).round() / 1000.0,
        "generationTokensPerSecond": stats.generation_tokens_per_second().map(round),
        "contextTokens": stats.context_tokens,
        "contextFiles": stats.context_files,
        "context": stats.context.as_ref().map(|verdict| json!({ "used": verdict.used, "reason": verdict.reason })),
        "verifySteps": stats.verify_steps,
        "draftTokens": stats.draft_tokens,
        "acceptedDraftTokens": stats.accepted_draft_tokens,
        "check": stats.check.as_ref().map(check_json),
        "healedText": stats.healed_text,
    })
}

/// What checking the suggestion did: every candidate judged (syntax errors added and, when the
/// code below judged, its log-probability with it), which one is shown, and what it cost.
pub fn check_json(check: &CheckStats) -> Value {
    let candidates: Vec<Value> = check
        .candidates
        .iter()
        .map(|c| {
            let (source, step, margin) = match c.source {
                CandidateSource::Greedy => ("greedy", None, None),
                CandidateSource::FirstLine => ("firstLine", None, None),
                CandidateSource::Branch { step, margin } => ("branch", Some(step), Some(round(f64::from(margin)))),
            };
            json!({
                "text": c.text,
                "errorsAdded": c.errors_added,
                "source": source,
                "step": step,
                "margin": margin,
                "belowLogprob": c.below_logprob.map(|p| (p * 1000.0).round() / 1000.0),
            })
        })
        .collect();
    json!({
        "candidates": candidates,
        "chosen": check.chosen,
        "judgeMs": (check.judge_ms * 1000.0).round() / 1000.0,
        "alternativesMs": round(check.alternatives_ms),
        "alternativeTokens": check.alternative_tokens,
        "alternativeAcceptedDrafts": check.alternative_accepted_drafts,
        "belowMs": round(check.below_ms),
        "belowScoredTokens": check.below_scored_tokens,
    })
}

/// What the retriever decided for a request and whether the prompt used it: `retrieved` is
/// true only when snippets went into the prompt. `gate` is the retriever's reason, `model` the
/// engine's (for `auto`, the first token's probability without the snippets, and the least of
/// the first line's next tokens' when the model wrote on without them; `discardedTokens` were
/// written without them and thrown away when the model turned unsure).
pub fn retrieval_json(decision: &RetrievalDecision, stats: &CompletionStats) -> Value {
    match decision {
        RetrievalDecision::Skip { reason } => match stats.context.as_ref().filter(|v| v.used) {
            // Nothing retrieved for this request, but the block already cached was kept.
            Some(kept) => json!({
                "retrieved": true,
                "gate": reason,
                "model": kept.reason,
                "contextTokens": stats.context_tokens,
            }),
            None => json!({ "retrieved": false, "gate": reason }),
        },
        RetrievalDecision::Retrieve { snippets, reason, check_model } => {
            let verdict = stats.context.as_ref();
            json!({
                "retrieved": verdict.is_some_and(|v| v.used),
                "gate": reason,
                "checkModel": check_model,
                "model": verdict.map(|v| v.reason.clone()),
                "firstTokenProbability": verdict.and_then(|v| v.first_token_probability),
                "lineProbability": verdict.and_then(|v| v.line_probability),
                "discardedTokens": stats.discarded_tokens,
                "contextTokens": stats.context_tokens,
                "snippets": snippets.iter().map(|s| json!({
                    "path": s.path,
                    "lines": [s.lines.start + 1, s.lines.end],
                    "score": (s.score * 100.0).round() / 100.0,
                })).collect::<Vec<_>>(),
            })
        }
    }
}

/// Rounds to one decimal, for printed numbers.
pub fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
