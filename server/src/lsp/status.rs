//! What `splice/status` reports: the engine's state, the model, and request counters.
//!
//! Editors show it in a status bar; tests use it to see what the server did (for example that a
//! cancelled request really stopped the decode).

use super::engine_slot::EngineState;
use crate::report;
use serde_json::{json, Value};
use splice_model::CompletionStats;
use splice_retrieval::{IndexState, IndexStatus};
use std::sync::Mutex;

/// Counters since the server started.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// Completion requests taken, however they ended (or while they are still running).
    pub received: u64,
    /// Requests that produced a suggestion.
    pub suggested: u64,
    /// Requests answered without the model from a suggestion already shown (typed ahead, or the
    /// same spot again).
    pub cached: u64,
    /// Requests that finished with nothing worth showing.
    pub empty: u64,
    /// Requests the client cancelled (`$/cancelRequest`) before they finished.
    pub cancelled: u64,
    /// Requests replaced by a newer request or an edit of the same document.
    pub superseded: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Tokens generated in total (a cancelled decode stops adding to it).
    pub generated_tokens: u64,
    /// Speculative decoding, over the finished requests.
    pub speculation: Speculation,
    /// The last finished request's stats.
    pub last: Option<CompletionStats>,
}

/// Speculative decoding's totals: how many draft tokens were checked and how many the model
/// agreed with.
#[derive(Debug, Default, Clone, Copy)]
pub struct Speculation {
    /// Batches that decoded a generated token with drafts.
    pub verify_steps: u64,
    /// Draft tokens decoded in them.
    pub draft_tokens: u64,
    /// Draft tokens kept.
    pub accepted_draft_tokens: u64,
}

impl Speculation {
    /// Adds one request's numbers.
    pub fn add(&mut self, stats: &CompletionStats) {
        self.verify_steps += stats.verify_steps as u64;
        self.draft_tokens += stats.draft_tokens as u64;
        self.accepted_draft_tokens += stats.accepted_draft_tokens as u64;
    }

    fn to_json(self) -> Value {
        let per_step = (self.verify_steps > 0).then(|| self.accepted_draft_tokens as f64 / self.verify_steps as f64);
        json!({
            "verifySteps": self.verify_steps,
            "draftTokens": self.draft_tokens,
            "acceptedDraftTokens": self.accepted_draft_tokens,
            "acceptedPerStep": per_step.map(|x| (x * 100.0).round() / 100.0),
        })
    }
}

/// Thread-safe counters.
#[derive(Debug, Default)]
pub struct StatusBoard {
    counters: Mutex<Counters>,
}

impl StatusBoard {
    /// Applies `update` to the counters.
    pub fn update(&self, update: impl FnOnce(&mut Counters)) {
        let mut counters = self.counters.lock().unwrap_or_else(|poison| poison.into_inner());
        update(&mut counters);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> Counters {
        self.counters.lock().unwrap_or_else(|poison| poison.into_inner()).clone()
    }
}

/// The JSON of `splice/status` (and of the `splice/status` notification sent on state changes).
pub fn to_json(state: &EngineState, counters: &Counters, index: Option<&IndexStatus>) -> Value {
    let model = match state {
        EngineState::Ready(engine) => report::model_json(engine.info()),
        _ => Value::Null,
    };
    let rates = match state {
        EngineState::Ready(engine) => report::rates_json(&engine.rates()),
        _ => Value::Null,
    };
    let error = match state {
        EngineState::Failed(reason) => Value::String(reason.to_string()),
        _ => Value::Null,
    };
    let last = counters.last.as_ref().map(report::stats_json);
    json!({
        "state": state.label(),
        "error": error,
        "model": model,
        "rates": rates,
        "requests": {
            "received": counters.received,
            "suggested": counters.suggested,
            "cached": counters.cached,
            "empty": counters.empty,
            "cancelled": counters.cancelled,
            "superseded": counters.superseded,
            "failed": counters.failed,
        },
        "generatedTokens": counters.generated_tokens,
        "speculation": counters.speculation.to_json(),
        "last": last,
        "index": index_json(index),
    })
}

/// The workspace index's state: `indexing`, `ready`, `error` (with the reason) or `disabled`
/// (no workspace folder, or `--retrieval never`).
fn index_json(index: Option<&IndexStatus>) -> Value {
    let Some(index) = index else { return json!({ "state": "disabled" }) };
    let (state, error) = match &index.state {
        IndexState::Indexing => ("indexing", None),
        IndexState::Ready => ("ready", None),
        IndexState::Failed(reason) => ("error", Some(reason.clone())),
    };
    json!({ "state": state, "error": error, "files": index.files, "chunks": index.chunks })
}
