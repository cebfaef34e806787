//! `splice bench exec --peer`: the same holes asked of llama.cpp's `llama-server` as a new user
//! would ask it, plain and greedy.
//!
//! The server gets Splice's model, context, batch and threads (`LlamaServer`, as in `bench
//! typing`). A model with FIM tokens is asked through `/infill` (the text before and after the
//! cursor; llama-server fits them itself); one without, through `/completion` with the text
//! before the cursor as the prompt, from a line start chosen as Splice chooses its window
//! (`completion::window_start`) so that it fits the context less the generation budget. Both
//! with `temperature` 0, `cache_prompt`, `n_predict` = Splice's `--max-tokens`, and a stop at
//! the first line break: only the first line is put back, and a greedy first line is the same
//! with or without the stop. Nothing of Splice's shaping or postprocessing is applied: the
//! first line is llama-server's raw output.

use crate::bench_http;
use crate::bench_retrieval_tasks::Task;
use crate::bench_typing_peer::{window_bytes, LlamaServer, PeerSettings};
use crate::completion::window_start;
use anyhow::Context;
use serde_json::json;
use std::time::{Duration, Instant};

/// How long one request may take before the bench gives up on it.
const GUARD: Duration = Duration::from_secs(300);

/// How the peer is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerEndpoint {
    /// `/infill`, for a model with FIM tokens.
    Infill,
    /// `/completion` with the text before the cursor.
    Completion,
}

/// One hole's answer from the peer.
#[derive(Debug, Clone)]
pub struct PeerAnswer {
    /// The first line of the generated text.
    pub first_line: String,
    /// Round trip of the request.
    pub total_ms: f64,
}

/// Whether the peer's model takes `/infill` (llama-server refuses it without FIM tokens).
pub fn endpoint(server: &LlamaServer) -> PeerEndpoint {
    let probe = json!({ "input_prefix": "def f():\n    ", "input_suffix": "\n", "n_predict": 1, "temperature": 0.0 });
    match bench_http::post_json(server.addr(), "/infill", &probe, GUARD) {
        Ok(_) => PeerEndpoint::Infill,
        Err(_) => PeerEndpoint::Completion,
    }
}

/// Asks every task, in order (consecutive tasks of one file share the prompt cache).
pub fn answers(
    server: &LlamaServer,
    settings: &PeerSettings,
    endpoint: PeerEndpoint,
    tasks: &[Task],
) -> anyhow::Result<Vec<PeerAnswer>> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let before = &task.text[..task.cursor];
        let (path, mut body) = match endpoint {
            PeerEndpoint::Completion => {
                let window = window_bytes(server.addr(), settings, before)?;
                let start = window_start(&task.text, task.cursor, window, 0);
                ("/completion", json!({ "prompt": &task.text[start..task.cursor] }))
            }
            PeerEndpoint::Infill => {
                ("/infill", json!({ "input_prefix": before, "input_suffix": &task.text[task.cursor..], "prompt": "" }))
            }
        };
        body["n_predict"] = json!(settings.max_tokens);
        body["temperature"] = json!(0.0);
        body["cache_prompt"] = json!(true);
        body["stop"] = json!(["\n"]);
        body["id_slot"] = json!(0);
        let sent = Instant::now();
        let answer = bench_http::post_json(server.addr(), path, &body, GUARD)
            .with_context(|| format!("llama-server {path} failed at {}", task.path.display()))?;
        let content = answer["content"].as_str().unwrap_or_default();
        out.push(PeerAnswer {
            first_line: content.split('\n').next().unwrap_or_default().to_owned(),
            total_ms: sent.elapsed().as_secs_f64() * 1000.0,
        });
    }
    Ok(out)
}
