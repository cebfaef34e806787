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
//! of the step's decoding: one token on a CPU, several on a fast GPU or a busy engine.

/// The share of a step's decode time its round trip may cost.
pub(crate) const STEP_OVERHEAD_SHARE: f64 = 0.05;

/// The longest step: an engine whose round trip outweighs more decoding is asked as one
/// request would be, nearly.
pub(crate) const MAX_STEP_TOKENS: usize = 32;

use super::wire::EngineCounters;

/// Weight of a new round trip in the running average.
const ALPHA: f64 = 0.25;

/// The running average of a step's round trip, and the step it implies.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StepSizer {
    /// Milliseconds a continued step took beyond the engine's own time for it; `None` until
    /// one was measured.
    round_trip_ms: Option<f64>,
}

impl StepSizer {
    /// The tokens the next step asks for, given the engine's measured milliseconds per
    /// generated token. Until both are measured, one token: the first request's steps measure
    /// them.
    pub(crate) fn tokens(&self, decode_ms_per_token: Option<f64>) -> usize {
        match (self.round_trip_ms, decode_ms_per_token.filter(|ms| *ms > 0.0)) {
            (Some(round_trip), Some(decode)) => {
                let tokens = (round_trip / (STEP_OVERHEAD_SHARE * decode)).ceil();
                (tokens as usize).clamp(1, MAX_STEP_TOKENS)
            }
            _ => 1,
        }
    }

    /// Records a continued step (not a request's first, whose wall time holds the wait for the
    /// slot and the prompt): `wall_ms` from sending it to its last event, `engine_ms` the
    /// engine's `prompt_ms + predicted_ms` for it.
    pub(crate) fn saw(&mut self, wall_ms: f64, engine_ms: f64) {
        let sample = (wall_ms - engine_ms).max(0.0);
        self.round_trip_ms = Some(self.round_trip_ms.map_or(sample, |old| old + ALPHA * (sample - old)));
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
    fn a_cpu_engine_is_asked_a_token_at_a_time_and_a_fast_one_for_more() {
        let mut sizer = StepSizer::default();
        assert_eq!(sizer.tokens(Some(45.0)), 1, "unmeasured: one token");
        sizer.saw(46.5, 45.0);
        assert_eq!(sizer.round_trip_ms(), Some(1.5));
        assert_eq!(sizer.tokens(Some(45.0)), 1, "1.5 ms is within 5 % of a 45 ms decode");
        assert_eq!(sizer.tokens(Some(6.0)), 5, "a GPU's 6 ms decode: 1.5 ms is 5 % of 5 tokens");
        assert_eq!(sizer.tokens(None), 1, "no decode speed yet");
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
        sizer.saw(130.0, 60.0);
        assert_eq!(sizer.tokens(Some(60.0)), 24, "70 ms of waiting over 60 ms decodes");
        sizer.saw(10_000.0, 60.0);
        assert_eq!(sizer.tokens(Some(60.0)), MAX_STEP_TOKENS);
        let mut quick = StepSizer::default();
        quick.saw(40.0, 45.0);
        assert_eq!(quick.round_trip_ms(), Some(0.0), "an engine that reports more than the wall clock costs nothing");
    }
}
