//! What one replay of `splice bench typing` measured, and the summaries the report prints. The
//! replays fill a [`Run`]; nothing here talks to a server.
//!
//! A keystroke's latency runs from sending its request (right after its edit) to the answer.
//! A keystroke whose answer had not come when the next key was pressed is *late*: it has no
//! latency (the person never saw its answer). Quantiles are given over the answered keystrokes
//! and over all keystrokes with the late ones ranked last ("late" when a quantile falls on them),
//! and over the keystrokes after which the person *stopped* (paused, or finished the spot): the
//! wait a person feels, since while they type on they are not looking for a suggestion.

use crate::bench_stats::{quantile, quantile_with_late, Censored};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The person stopped after a key when the next one came at least this long after it: the
/// script's pauses (0.3 s or more on top of an 80–150 ms typing gap), never a typing gap.
pub const STOP_MS: u64 = 300;

/// How a key changed the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A typed character, a line break with indentation, or leading whitespace.
    Typed,
    /// Tab: the accepted part of the suggestion shown.
    Tab,
}

/// How a key relates to the suggestion on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Along {
    /// It did not type the suggestion's next characters (or nothing was shown).
    No,
    /// It typed the suggestion's next characters and some of it (not only blanks) is left: the
    /// answer is known, the rest.
    Rest,
    /// It typed the suggestion's last characters (only blanks, or nothing, are left): the answer
    /// is the next suggestion, as after a Tab.
    Out,
}

impl Along {
    /// How typing `typed` relates to `shown`, the suggestion on screen.
    pub fn of(shown: Option<&str>, typed: &str) -> Along {
        match shown.and_then(|shown| shown.strip_prefix(typed)) {
            Some(_) if typed.is_empty() => Along::No,
            Some(rest) if rest.trim().is_empty() => Along::Out,
            Some(_) => Along::Rest,
            None => Along::No,
        }
    }
}

/// Who answered a keystroke's request, as far as the client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The model ran (or the answer is not known to come from anywhere else).
    Model,
    /// A suggestion already computed (Splice's typed-ahead reuse, or the peer's client cache).
    Cache,
    /// A suggestion Splice computed ahead of the request (`requests.prefetched`), finished
    /// before the request came.
    Prefetch,
    /// A suggestion Splice was still computing ahead when the request came, which the request
    /// waited for (`requests.prefetchedWaited`).
    PrefetchWaited,
    /// Past the latency budget, the part of a suggestion that a model run was still writing
    /// (`requests.partial`).
    Partial,
    /// Not known (late, or the server's counters did not say).
    Unknown,
}

impl Source {
    /// Answered from a prefetch, finished or waited for.
    pub fn is_prefetch(self) -> bool {
        matches!(self, Source::Prefetch | Source::PrefetchWaited)
    }
}

/// One keystroke and what became of its request.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOutcome {
    /// Typed or Tab.
    pub kind: KeyKind,
    /// Whether the key typed the next characters of the suggestion on screen.
    pub along: Along,
    /// Milliseconds from the request to its answer; `None` when it was late.
    pub latency_ms: Option<f64>,
    /// Who answered.
    pub source: Source,
    /// Whether the person stopped after this key (see [`STOP_MS`]; the spot's last key too).
    pub stopped: bool,
}

/// The quantiles `qs` of `keys`' latencies, the late ones ranked last.
pub fn late_ranked<'k, const N: usize>(keys: impl IntoIterator<Item = &'k KeyOutcome>, qs: [f64; N]) -> [Censored; N] {
    let latencies: Vec<Option<f64>> = keys.into_iter().map(|k| k.latency_ms).collect();
    let answered: Vec<f64> = latencies.iter().flatten().copied().collect();
    let late = latencies.len() - answered.len();
    qs.map(|q| quantile_with_late(&answered, late, q))
}

/// One key as it was pressed, for replaying the same keystrokes on the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedKey {
    /// When, counted from the moment the spot's first suggestion was on screen.
    pub at: Duration,
    /// The text it inserted at the cursor.
    pub text: String,
    /// Typed or Tab.
    pub kind: KeyKind,
}

/// Request counters of `splice/status` (`requests`), or their change over a stretch of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `received`.
    pub received: u64,
    /// `cached`: answered from a suggestion already shown.
    pub cached: u64,
    /// `prefetched`, when the server reports it.
    pub prefetched: Option<u64>,
    /// `prefetchedWaited` (of `prefetched`, those that waited for a running prefetch), when the
    /// server reports it.
    pub prefetched_waited: Option<u64>,
    /// `partial` (the part of a suggestion a run was still writing), when the server reports it.
    pub partial: Option<u64>,
}

impl Counters {
    /// Reads `requests` of a `splice/status` result.
    pub fn from_status(status: &Value) -> Counters {
        let r = &status["requests"];
        Counters {
            received: r["received"].as_u64().unwrap_or(0),
            cached: r["cached"].as_u64().unwrap_or(0),
            prefetched: r["prefetched"].as_u64(),
            prefetched_waited: r["prefetchedWaited"].as_u64(),
            partial: r["partial"].as_u64(),
        }
    }

    /// `self - earlier`, field by field (never below 0).
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            received: self.received.saturating_sub(earlier.received),
            cached: self.cached.saturating_sub(earlier.cached),
            prefetched: self.prefetched.map(|p| p.saturating_sub(earlier.prefetched.unwrap_or(0))),
            prefetched_waited: self.prefetched_waited.map(|p| p.saturating_sub(earlier.prefetched_waited.unwrap_or(0))),
            partial: self.partial.map(|p| p.saturating_sub(earlier.partial.unwrap_or(0))),
        }
    }

    /// Adds `other` field by field.
    pub fn add(&mut self, other: &Counters) {
        self.received += other.received;
        self.cached += other.cached;
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.prefetched = sum(self.prefetched, other.prefetched);
        self.prefetched_waited = sum(self.prefetched_waited, other.prefetched_waited);
        self.partial = sum(self.partial, other.partial);
    }

    /// Requests answered without the model: `cached + prefetched`.
    pub fn without_model(&self) -> u64 {
        self.cached + self.prefetched.unwrap_or(0)
    }
}

/// Speculative decoding's counters (`speculation` of `splice/status`, or summed from `last`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Speculation {
    /// Verification steps (one batch of the target model checking a draft).
    pub verify_steps: u64,
    /// Draft tokens proposed.
    pub draft_tokens: u64,
    /// Draft tokens the target model accepted.
    pub accepted_draft_tokens: u64,
}

impl Speculation {
    /// Reads a `speculation` object (or a `last` object's `verifySteps`, `draftTokens`,
    /// `acceptedDraftTokens`); `None` when it has none of them.
    pub fn from_json(value: &Value) -> Option<Speculation> {
        let field = |k: &str| value.get(k).and_then(Value::as_u64);
        if field("verifySteps").is_none() && field("draftTokens").is_none() {
            return None;
        }
        Some(Speculation {
            verify_steps: field("verifySteps").unwrap_or(0),
            draft_tokens: field("draftTokens").unwrap_or(0),
            accepted_draft_tokens: field("acceptedDraftTokens").unwrap_or(0),
        })
    }

    /// `self - earlier`.
    pub fn since(&self, earlier: &Speculation) -> Speculation {
        Speculation {
            verify_steps: self.verify_steps.saturating_sub(earlier.verify_steps),
            draft_tokens: self.draft_tokens.saturating_sub(earlier.draft_tokens),
            accepted_draft_tokens: self.accepted_draft_tokens.saturating_sub(earlier.accepted_draft_tokens),
        }
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &Speculation) {
        self.verify_steps += other.verify_steps;
        self.draft_tokens += other.draft_tokens;
        self.accepted_draft_tokens += other.accepted_draft_tokens;
    }
}

/// Everything one replay measured.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// The column name: `plain`, `speculative`, `llama-server`.
    pub name: String,
    /// Every keystroke, in order.
    pub keys: Vec<KeyOutcome>,
    /// Characters inserted by Tab.
    pub accepted_chars: usize,
    /// The server's request counters over the typing (warm-ups left out); `None` for the peer.
    pub counters: Option<Counters>,
    /// Requests the client sent (the peer's include its speculative ones).
    pub requests_sent: u64,
    /// Decode: tokens after the first and the milliseconds they took, summed over the requests
    /// whose stats were seen.
    pub decode_tokens: u64,
    /// See `decode_tokens`.
    pub decode_ms: f64,
    /// Prompt tokens of the requests whose stats were seen.
    pub prompt_tokens: Vec<u64>,
    /// The server's own measured decode rate (`rates.decodeTokensPerSecond`) at the end.
    pub server_decode_tps: Option<f64>,
    /// Speculative decoding over the typing, when the server reports it.
    pub speculation: Option<Speculation>,
    /// Milliseconds of each spot's first request (a cold prompt), not in `keys`.
    pub warmup_ms: Vec<f64>,
    /// Error answers by message.
    pub errors: BTreeMap<String, u64>,
    /// Requests without an answer within the hang guard.
    pub hangs: u64,
    /// The keys as pressed, per spot (for the peer).
    pub recording: Vec<Vec<RecordedKey>>,
    /// Each finished model run's stats seen (`last` of `splice/status`, a new one read by the
    /// probe after a key's answer), with that key's index in `keys`; empty for the peer.
    pub model_runs: Vec<(usize, Value)>,
}

impl Run {
    /// Counts an error answer.
    pub fn error(&mut self, message: impl Into<String>) {
        *self.errors.entry(message.into()).or_default() += 1;
    }

    /// Latencies of the answered keystrokes among `keys`.
    fn answered(keys: &[&KeyOutcome]) -> Vec<f64> {
        keys.iter().filter_map(|k| k.latency_ms).collect()
    }

    /// p50 / p90 / p99 over the answered keystrokes matching `filter`.
    pub fn answered_quantiles(&self, filter: impl Fn(&KeyOutcome) -> bool) -> [Option<f64>; 3] {
        let keys: Vec<&KeyOutcome> = self.keys.iter().filter(|k| filter(k)).collect();
        let answered = Self::answered(&keys);
        [0.5, 0.9, 0.99].map(|q| quantile(&answered, q))
    }

    /// p50 / p90 / p99 over every keystroke, late ones ranked last.
    pub fn all_quantiles(&self) -> [Censored; 3] {
        late_ranked(&self.keys, [0.5, 0.9, 0.99])
    }

    /// p50 / p90 / p99 over the keystrokes the person stopped after, late ones ranked last.
    pub fn stop_quantiles(&self) -> [Censored; 3] {
        late_ranked(self.keys.iter().filter(|k| k.stopped), [0.5, 0.9, 0.99])
    }

    /// Marks which of the last spot's keys the person stopped after, from `spot_keys`, the
    /// spot's recording, whose keys are the last of `keys` in the same order.
    pub fn mark_stops(&mut self, spot_keys: &[RecordedKey]) {
        let first = self.keys.len().saturating_sub(spot_keys.len());
        for (outcome, (i, key)) in self.keys[first..].iter_mut().zip(spot_keys.iter().enumerate()) {
            outcome.stopped = spot_keys
                .get(i + 1)
                .is_none_or(|next| next.at.saturating_sub(key.at) >= Duration::from_millis(STOP_MS));
        }
    }

    /// Keystrokes that were late.
    pub fn late(&self) -> usize {
        self.keys.iter().filter(|k| k.latency_ms.is_none()).count()
    }

    /// Of the keystrokes matching `filter`: how many, and how many were answered within `ms`.
    pub fn within(&self, filter: impl Fn(&KeyOutcome) -> bool, ms: f64) -> (usize, usize) {
        let keys: Vec<&KeyOutcome> = self.keys.iter().filter(|k| filter(k)).collect();
        let fast = keys.iter().filter(|k| k.latency_ms.is_some_and(|l| l <= ms)).count();
        (keys.len(), fast)
    }

    /// Decode tokens per second over the requests whose stats were seen.
    pub fn decode_tps(&self) -> Option<f64> {
        (self.decode_ms > 0.0).then(|| self.decode_tokens as f64 * 1000.0 / self.decode_ms)
    }

    /// Requests that ran the model: received − cached − prefetched (server-counted).
    pub fn model_calls(&self) -> Option<u64> {
        self.counters.map(|c| c.received.saturating_sub(c.without_model()))
    }

    /// Adds one finished request's stats (`last` of `splice/status`, or the peer's timings):
    /// decode tokens after the first and their milliseconds.
    pub fn add_decode(&mut self, generated: u64, decode_ms: f64) {
        if generated > 1 && decode_ms > 0.0 {
            self.decode_tokens += generated - 1;
            self.decode_ms += decode_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(latency_ms: Option<f64>, kind: KeyKind, along: bool) -> KeyOutcome {
        let along = if along { Along::Rest } else { Along::No };
        KeyOutcome { kind, along, latency_ms, source: Source::Unknown, stopped: false }
    }

    #[test]
    fn the_keys_the_person_stopped_after_are_the_pauses_and_the_spots_last() {
        let mut run = Run::default();
        for ms in [1.0, 300.0, 2.0] {
            run.keys.push(key(Some(ms), KeyKind::Typed, false));
        }
        run.keys.push(key(None, KeyKind::Typed, false));
        let at_ms = [0, 120, 700, 800];
        let recorded: Vec<RecordedKey> = at_ms
            .iter()
            .map(|&ms| RecordedKey { at: Duration::from_millis(ms), text: "x".into(), kind: KeyKind::Typed })
            .collect();
        // The first key belongs to another spot.
        run.mark_stops(&recorded[1..]);
        let stopped: Vec<bool> = run.keys.iter().map(|k| k.stopped).collect();
        assert_eq!(stopped, [false, true, false, true], "a 580 ms gap and the spot's end; 100 ms is typing");
        assert_eq!(run.stop_quantiles(), [Censored::Ms(300.0), Censored::NotInTime, Censored::NotInTime]);
    }

    #[test]
    fn a_key_types_along_while_some_of_the_suggestion_is_left_and_then_types_it_out() {
        assert_eq!(Along::of(Some("foo(x)"), "f"), Along::Rest);
        assert_eq!(Along::of(Some("foo(x)"), "foo(x"), Along::Rest);
        assert_eq!(Along::of(Some("foo(x)"), "foo(x)"), Along::Out);
        assert_eq!(Along::of(Some("x,\n    "), "x,"), Along::Out, "only blanks left");
        assert_eq!(Along::of(Some("foo(x)"), "g"), Along::No);
        assert_eq!(Along::of(None, "f"), Along::No);
        assert_eq!(Along::of(Some("foo"), ""), Along::No);
    }

    #[test]
    fn late_keystrokes_count_in_the_whole_replay_only() {
        let mut run = Run::default();
        for ms in [1.0, 2.0, 3.0, 200.0] {
            run.keys.push(key(Some(ms), KeyKind::Typed, ms < 5.0));
        }
        run.keys.push(key(None, KeyKind::Typed, false));
        assert_eq!(run.answered_quantiles(|_| true), [Some(2.0), Some(200.0), Some(200.0)]);
        assert_eq!(run.all_quantiles(), [Censored::Ms(3.0), Censored::NotInTime, Censored::NotInTime]);
        assert_eq!(run.late(), 1);
        assert_eq!(run.within(|k| k.along == Along::Rest, 5.0), (3, 3));
        assert_eq!(run.within(|_| true, 5.0), (5, 3));
    }

    #[test]
    fn counters_subtract_and_add_with_or_without_prefetch() {
        let before = Counters::from_status(&json!({ "requests": { "received": 10, "cached": 4 } }));
        let after = Counters::from_status(
            &json!({ "requests": { "received": 25, "cached": 9, "prefetched": 3, "prefetchedWaited": 1, "partial": 2 } }),
        );
        let delta = after.since(&before);
        let expected =
            Counters { received: 15, cached: 5, prefetched: Some(3), prefetched_waited: Some(1), partial: Some(2) };
        assert_eq!(delta, expected);
        let mut total = Counters { received: 1, cached: 1, prefetched: None, prefetched_waited: None, partial: None };
        total.add(&delta);
        assert_eq!(total.prefetched_waited, Some(1));
        assert_eq!(total.partial, Some(2));
        assert_eq!(total.without_model(), 9);
        let run = Run { counters: Some(total), ..Run::default() };
        assert_eq!(run.model_calls(), Some(7));
    }

    #[test]
    fn speculation_is_read_only_when_reported() {
        assert_eq!(Speculation::from_json(&json!({ "promptTokens": 3 })), None);
        let s = Speculation::from_json(&json!({ "verifySteps": 4, "draftTokens": 16, "acceptedDraftTokens": 10 }));
        assert_eq!(s, Some(Speculation { verify_steps: 4, draft_tokens: 16, accepted_draft_tokens: 10 }));
    }

    #[test]
    fn decode_speed_sums_tokens_after_the_first() {
        let mut run = Run::default();
        run.add_decode(11, 200.0);
        run.add_decode(1, 50.0);
        run.add_decode(21, 200.0);
        assert_eq!(run.decode_tps(), Some(75.0));
    }
}
