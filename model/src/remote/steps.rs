//! How many tokens each request to llama-server generates before Splice asks for the next
//! ones (a *step*).
//!
//! llama-server notices a closed connection only when it next sends a token, and acts on it
//! only after the decode it has begun meanwhile: a stream that the person typed past holds the
//! editor's slot for one more decode than the one under way, and the next keystroke's request
//! waits for it (about 45 ms a decode on a 2-core CPU, where keys come every 80–150 ms). A
//! request that generates only a step and ends by itself frees the slot the moment its last
//! token is out; Splice then sends the next step (the prompt and the tokens so far, which the
//! slot holds but for the last) while the request is still wanted, and stops asking when it is
//! not. Greedy output is the same token for token.
//!
//! A step costs a round trip (HTTP, the engine's task set-up, and under load a wait to join
//! the engine's next batch). Steps are sized so that this stays within [`STEP_OVERHEAD_SHARE`]
//! of the step's decoding: one token on an idle CPU engine, several on a fast GPU or a busy
//! engine. On a busy llama-server the wait is most of a decode: while other slots generate,
//! its loop starts the next decode the moment the last one ends, before a step asked for on the
//! token it sent can arrive, so each one-token step waited out a whole decode of the others
//! (eight editors on two cores: 107 ms a token, of which 70 ms decoding).
//!
//! The decode time a step is weighed against is measured on the continued steps themselves
//! (each decodes every token it generates; one Splice closes early counts up to its last
//! event, whose counters it has), so it follows the engine's load from a request's second step
//! on. The per-request rate, measured only when a request ends, stayed unmeasured on a busy
//! engine, whose requests are mostly typed past: every step asked for one token.
//!
//! A request's first step asks for one token whatever the size: while the person types, a
//! keystroke's request is typed past as a rule within its first step (keys come every
//! 80–150 ms, and that step waits for the slot and encodes the edit), and a longer one would
//! hold the editor's slot for the engine's next decodes after the key. A request that outlives
//! its first step is one the person is waiting for.

/// The share of a step's decode time its round trip may cost.
pub(crate) const STEP_OVERHEAD_SHARE: f64 = 0.05;

/// The longest step: an engine whose round trip outweighs more decoding is asked as one
/// request would be, nearly.
pub(crate) const MAX_STEP_TOKENS: usize = 32;

use super::wire::EngineCounters;

/// Weight of a new round trip in the running average.
const ALPHA: f64 = 0.25;

/// The running averages of a step's round trip and of the engine's decode, and the step they
/// imply.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StepSizer {
    /// Milliseconds a continued step took beyond the engine's own time for it; `None` until
    /// one was measured.
    round_trip_ms: Option<f64>,
    /// The engine's milliseconds per token over the continued steps; `None` until one was
    /// measured.
    decode_ms: Option<f64>,
}

impl StepSizer {
    /// The tokens step `step` of a request asks for (0 is its first: one token). The decode
    /// time is the steps' own, else `fallback_decode_ms` (the requests' measured rate). Until
    /// both are measured, one token: the first request's steps measure them.
    pub(crate) fn tokens(&self, step: u32, fallback_decode_ms: Option<f64>) -> usize {
        if step == 0 {
            return 1;
        }
        let decode = self.decode_ms.or(fallback_decode_ms).filter(|ms| *ms > 0.0);
        match (self.round_trip_ms, decode) {
            (Some(round_trip), Some(decode)) => {
                let tokens = (round_trip / (STEP_OVERHEAD_SHARE * decode)).ceil();
                (tokens as usize).clamp(1, MAX_STEP_TOKENS)
            }
            _ => 1,
        }
    }

    /// Records a continued step (not a request's first, whose wall time holds the wait for the
    /// slot and the prompt): `wall_ms` from sending it to its last event, `engine_ms` the
    /// engine's `prompt_ms + predicted_ms` for it, in which it decoded its `tokens`.
    pub(crate) fn saw(&mut self, wall_ms: f64, engine_ms: f64, tokens: usize) {
        let sample = (wall_ms - engine_ms).max(0.0);
        self.round_trip_ms = Some(self.round_trip_ms.map_or(sample, |old| old + ALPHA * (sample - old)));
        if tokens > 0 && engine_ms > 0.0 {
            let per_token = engine_ms / tokens as f64;
            self.decode_ms = Some(self.decode_ms.map_or(per_token, |old| old + ALPHA * (per_token - old)));
        }
    }

    /// The running average of a step's round trip, once measured.
    pub(crate) fn round_trip_ms(&self) -> Option<f64> {
        self.round_trip_ms
    }
}

/// A request's counters with a continued step's added: the step's prompt (the last token of the
/// step before, which the engine had sampled but not yet decoded) and its generation are both
/// decoding; what was cached and encoded of the request's prompt stays the first step's.
pub(crate) fn with_continued_step(total: EngineCounters, step: EngineCounters) -> EngineCounters {
    let step_ms = step.prompt_ms.unwrap_or(0.0) + step.predicted_ms.unwrap_or(0.0);
    EngineCounters {
        predicted_tokens: Some(total.predicted_tokens.unwrap_or(0) + step.predicted_tokens.unwrap_or(0)),
        predicted_ms: Some(total.predicted_ms.unwrap_or(0.0) + step_ms),
        ..total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_cpu_engine_is_asked_a_token_at_a_time_and_a_fast_one_for_more() {
        let mut sizer = StepSizer::default();
        assert_eq!(sizer.tokens(1, Some(45.0)), 1, "unmeasured: one token");
        sizer.saw(46.5, 45.0, 1);
        assert_eq!(sizer.round_trip_ms(), Some(1.5));
        assert_eq!(sizer.tokens(1, None), 1, "1.5 ms is within 5 % of the step's own 45 ms decode");
        let mut gpu = StepSizer::default();
        gpu.saw(13.5, 12.0, 2);
        assert_eq!(gpu.tokens(1, None), 5, "a GPU's 6 ms decode: 1.5 ms is 5 % of 5 tokens");
        assert_eq!(gpu.tokens(0, None), 1, "a request's first step: one token");
        let mut unmeasured = StepSizer::default();
        unmeasured.saw(1.5, 0.0, 0);
        assert_eq!(unmeasured.tokens(1, Some(6.0)), 5, "the requests' rate until a step decoded");
        assert_eq!(StepSizer::default().tokens(3, None), 1, "nothing measured yet");
    }

    #[test]
    fn a_busy_engines_decode_is_learnt_from_its_steps_and_lengthens_them() {
        let mut sizer = StepSizer::default();
        // Eight editors on two cores: a one-token step took 107 ms, 70 of them decoding.
        sizer.saw(107.0, 70.0, 1);
        assert_eq!(
            sizer.tokens(1, Some(36.0)),
            11,
            "37 ms of waiting over the steps' own 70 ms decode, not the requests' stale 36"
        );
        assert_eq!(sizer.tokens(0, Some(36.0)), 1, "the first step still asks for one");
    }

    #[test]
    fn a_continued_step_counts_as_decoding_and_keeps_the_first_steps_prompt_counters() {
        let first = EngineCounters {
            cached_tokens: Some(250),
            prompt_tokens_evaluated: Some(3),
            prompt_ms: Some(60.0),
            predicted_tokens: Some(1),
            predicted_ms: Some(0.0),
        };
        let step = EngineCounters {
            cached_tokens: Some(253),
            prompt_tokens_evaluated: Some(1),
            prompt_ms: Some(45.0),
            predicted_tokens: Some(2),
            predicted_ms: Some(44.0),
        };
        let total = with_continued_step(with_continued_step(first, step), step);
        assert_eq!(total.cached_tokens, Some(250));
        assert_eq!(total.prompt_tokens_evaluated, Some(3));
        assert_eq!(total.prompt_ms, Some(60.0));
        assert_eq!(total.predicted_tokens, Some(5));
        assert_eq!(total.predicted_ms, Some(178.0), "4 decodes after the first token");
    }

    #[test]
    fn a_busy_engine_whose_steps_wait_for_its_batch_gets_longer_steps_within_the_bound() {
        let mut sizer = StepSizer::default();
        sizer.saw(130.0, 60.0, 1);
        assert_eq!(sizer.tokens(1, None), 24, "70 ms of waiting over 60 ms decodes");
        sizer.saw(10_000.0, 60.0, 1);
        assert_eq!(sizer.tokens(1, None), MAX_STEP_TOKENS);
        let mut quick = StepSizer::default();
        quick.saw(40.0, 45.0, 1);
        assert_eq!(quick.round_trip_ms(), Some(0.0), "an engine that reports more than the wall clock costs nothing");
    }
}
