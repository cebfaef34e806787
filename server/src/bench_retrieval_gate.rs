//! `splice bench retrieval --through gate`: how long a request's preparation (the prompt window,
//! the suggestion's shape and the retrieval decision) takes before the model, while a person
//! types, without running the model.
//!
//! At each task of the set the document is asked about once as it was cut (the task's first
//! request), then the removed text is typed back key by key (up to [`KEYS`] keys), one request
//! per key, as an editor asks while a person types. Every request goes through the server's own
//! `completion::prepare` over one shared index, in process: what differs from keystroke to
//! keystroke is what the gate keeps of the document between requests (its syntax tree, what each
//! part of the file defines), and that is what this measures. The model is never loaded, so a
//! run takes seconds.
//!
//! One variant also reads, after every request, the document as a prefetch would: with the rest
//! of the line being typed inserted as if a suggestion of it were accepted ([`AcceptedText`]),
//! untimed and not counted. Its requests' decisions must equal those parsed from scratch: what
//! the gate keeps through a prefetch's text must not change the next real decision.

use crate::bench_retrieval_tasks::Task;
use crate::bench_stats::quantile;
use crate::completion::{self, At};
use crate::config::{Options, Retrieval, Settings};
use crate::prefetch::AcceptedText;
use crate::workspace::Workspace;
use serde_json::{json, Value};
use splice_model::CancelToken;
use splice_retrieval::{RetrievalDecision, WorkspaceIndex};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Keys typed back at each task after its first request.
pub const KEYS: usize = 16;

/// One mode's preparation times.
#[derive(Debug, Default, Clone)]
pub struct GateTimes {
    /// Reading each file's syntax when it is opened (off the request path, as the server does
    /// at `didOpen`), ms.
    pub open_ms: Vec<f64>,
    /// Each task's first request, ms.
    pub first_ms: Vec<f64>,
    /// Every typed key's request, ms.
    pub typing_ms: Vec<f64>,
    /// Requests whose decision was to retrieve, of all.
    pub retrieved: usize,
    /// First requests (one per task) whose decision was to retrieve.
    pub first_retrieved: usize,
    /// All requests.
    pub requests: usize,
    /// Each request's decision (to retrieve or not), in order: the variants' decisions are
    /// compared request by request.
    pub decisions: Vec<bool>,
}

impl GateTimes {
    /// Adds another repository's times of the same mode.
    pub fn extend(&mut self, other: GateTimes) {
        self.open_ms.extend(other.open_ms);
        self.first_ms.extend(other.first_ms);
        self.typing_ms.extend(other.typing_ms);
        self.retrieved += other.retrieved;
        self.first_retrieved += other.first_retrieved;
        self.requests += other.requests;
        self.decisions.extend(other.decisions);
    }

    /// The share of requests (%) decided as in `reference` (the same requests in another
    /// variant), `None` when the two saw different requests.
    pub fn same_decisions_rate(&self, reference: &GateTimes) -> Option<f64> {
        if self.decisions.len() != reference.decisions.len() || self.decisions.is_empty() {
            return None;
        }
        let same = self.decisions.iter().zip(&reference.decisions).filter(|(a, b)| a == b).count();
        Some((1000.0 * same as f64 / self.decisions.len() as f64).round() / 10.0)
    }

    /// The times as JSON: p50 and p95 of the reads when files are opened, of first requests and
    /// of typed keys, ms.
    pub fn json(&self, mode: &str) -> Value {
        let ms = |values: &[f64], q| quantile(values, q).map(|v| (v * 1000.0).round() / 1000.0);
        json!({
            "mode": mode,
            "tasks": self.first_ms.len(),
            "keys": self.typing_ms.len(),
            "filesOpened": self.open_ms.len(),
            "openMsMedian": ms(&self.open_ms, 0.5),
            "openMsP95": ms(&self.open_ms, 0.95),
            "firstMsMedian": ms(&self.first_ms, 0.5),
            "firstMsP95": ms(&self.first_ms, 0.95),
            "typingMsMedian": ms(&self.typing_ms, 0.5),
            "typingMsP95": ms(&self.typing_ms, 0.95),
            "typingMsMax": ms(&self.typing_ms, 1.0),
            "retrievedRate": (1000.0 * self.retrieved as f64 / self.requests.max(1) as f64).round() / 10.0,
            "firstRetrievedRate": (1000.0 * self.first_retrieved as f64 / self.first_ms.len().max(1) as f64).round() / 10.0,
        })
    }
}

/// A configuration whose preparation is timed: a retrieval mode, whether the gate keeps each
/// document's syntax between requests (off: parsed from scratch every time, as before),
/// whether a file's syntax is read when it is opened (as the server does at `didOpen`), and
/// whether a prefetch's read comes between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateVariant {
    /// The retrieval mode.
    pub mode: Retrieval,
    /// Whether the gate keeps documents' syntax trees between requests.
    pub keep_syntax: bool,
    /// Whether each file is read when it is opened, before its first request.
    pub read_at_open: bool,
    /// Whether every request is followed by a prefetch's read of the document with the rest of
    /// the line inserted (untimed, not counted), as after a suggestion is shown.
    pub prefetch_reads: bool,
}

impl GateVariant {
    /// Each mode as configured by default, and `auto` three more times: with a prefetch's read
    /// between requests, without reading files when they are opened, and with every request
    /// parsed from scratch (the comparisons for the prefetches, the read at open and the kept
    /// syntax).
    pub fn for_modes(modes: &[Retrieval]) -> Vec<GateVariant> {
        let variant = |mode, keep_syntax, read_at_open, prefetch_reads| GateVariant {
            mode,
            keep_syntax,
            read_at_open,
            prefetch_reads,
        };
        let mut variants: Vec<GateVariant> = modes.iter().map(|&mode| variant(mode, true, true, false)).collect();
        if modes.contains(&Retrieval::Auto) {
            variants.push(variant(Retrieval::Auto, true, true, true));
            variants.push(variant(Retrieval::Auto, true, false, false));
            variants.push(variant(Retrieval::Auto, false, false, false));
        }
        variants
    }

    /// The variant's name in the table.
    pub fn name(&self) -> String {
        let mode = crate::bench_retrieval::mode_name(self.mode);
        match (self.keep_syntax, self.read_at_open, self.prefetch_reads) {
            (false, _, _) => format!("{mode}, parsed from scratch"),
            (true, _, true) => format!("{mode}, a prefetch's read between requests"),
            (true, false, false) => format!("{mode}, not read when opened"),
            (true, true, false) => mode,
        }
    }
}

/// Times every task's first request and its typed keys in each variant, over `index`.
pub fn decision_times(
    repository: &Path,
    index: &Arc<WorkspaceIndex>,
    tasks: &[Task],
    variants: &[GateVariant],
    options: &Options,
) -> anyhow::Result<Vec<GateTimes>> {
    let context_tokens = options.ctx.unwrap_or(2048);
    let mut all = Vec::new();
    for variant in variants {
        let settings = Settings::resolve(Options { retrieval: Some(variant.mode), ..options.clone() });
        let workspace = Workspace::with_index_and_gate(
            vec![repository.to_path_buf()],
            settings.retrieval.clone(),
            Arc::clone(index),
            |gate| gate.keep_syntax = variant.keep_syntax,
        );
        let mut times = GateTimes::default();
        let mut open: Option<&Path> = None;
        for task in tasks {
            // A new file is opened, as over LSP (the tasks of a file come one after the other).
            if open != Some(task.path.as_path()) {
                open = Some(task.path.as_path());
                // Only `auto` reads syntax; the other modes do nothing at open.
                if variant.read_at_open && variant.mode == Retrieval::Auto {
                    let started = Instant::now();
                    workspace.document_opened(&task.path, &task.text);
                    times.open_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            let document = task.path.display().to_string();
            let mut text = task.text.clone();
            let mut cursor = task.cursor;
            let keys: Vec<char> = task.expected.chars().take(KEYS).collect();
            for key in 0..=keys.len() {
                if key > 0 {
                    let c = keys[key - 1];
                    text.insert(cursor, c);
                    cursor += c.len_utf8();
                }
                let at = At::whole(&document, &text, cursor, Some(&task.path));
                let started = Instant::now();
                let prepared = completion::prepare(at, &workspace, &settings, context_tokens, CancelToken::new());
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                if key == 0 {
                    times.first_ms.push(ms);
                } else {
                    times.typing_ms.push(ms);
                }
                times.requests += 1;
                if variant.prefetch_reads {
                    let rest: String = task.expected.chars().skip(key).collect();
                    let accepted = AcceptedText::new(
                        &text,
                        cursor,
                        completion::lines_ended(&text[..cursor]),
                        assumed_suggestion(&rest),
                        completion::Reach::for_context(context_tokens),
                    );
                    let _ = completion::prepare(
                        accepted.at(&document, Some(&task.path)),
                        &workspace,
                        &settings,
                        context_tokens,
                        CancelToken::new(),
                    );
                }
                let retrieved = prepared.is_ok_and(|p| matches!(p.retrieval, RetrievalDecision::Retrieve { .. }));
                times.decisions.push(retrieved);
                if retrieved {
                    times.retrieved += 1;
                    times.first_retrieved += usize::from(key == 0);
                }
            }
        }
        all.push(times);
    }
    Ok(all)
}

/// What a prefetch assumes accepted when the person is about to type `rest`: the rest of the
/// line (or, at a line's end, the next line with its line break), as a suggestion of it would be.
fn assumed_suggestion(rest: &str) -> &str {
    let first = rest.chars().next().map_or(0, char::len_utf8);
    let end = rest[first..].find('\n').map_or(rest.len(), |i| first + i);
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefetch_assumes_the_rest_of_the_line_accepted() {
        assert_eq!(assumed_suggestion("x + 1)\n    return x\n"), "x + 1)");
        assert_eq!(assumed_suggestion("\n    return x\n"), "\n    return x");
        assert_eq!(assumed_suggestion("é"), "é");
        assert_eq!(assumed_suggestion(""), "");
    }

    #[test]
    fn the_prefetch_variant_is_compared_with_the_same_mode_parsed_from_scratch() {
        let variants = GateVariant::for_modes(&[Retrieval::Auto]);
        let prefetching: Vec<_> = variants.iter().filter(|v| v.prefetch_reads).collect();
        assert_eq!(prefetching.len(), 1);
        assert!(prefetching[0].keep_syntax, "a prefetch's read matters only to kept syntax");
        assert!(variants.iter().any(|v| v.mode == Retrieval::Auto && !v.keep_syntax), "its reference");
        assert!(GateVariant::for_modes(&[Retrieval::Never]).iter().all(|v| !v.prefetch_reads));
    }
}
