//! The prefill and decode speeds the engine measures as it runs, under whatever load the
//! machine has: what the latency budget sizes generation by, and what `splice/status` shows.

use std::sync::{Arc, Mutex};

/// Weight of a new request's speed in the running averages.
const ALPHA: f64 = 0.25;

/// Prompt batches smaller than this say little about prefill speed (per-batch overhead).
const MIN_PREFILL_SAMPLE: usize = 32;

/// The share of the latency budget a request may spend bringing the engine's cache to its
/// prompt.
const BUDGET_PREFILL_SHARE: f64 = 0.5;

/// Running averages of the engine's speeds; `None` until a request measured them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeasuredRates {
    /// Prompt tokens encoded per second (requests that encoded at least a few dozen tokens).
    pub prefill_tokens_per_second: Option<f64>,
    /// Milliseconds per generated token after the first (speculative decoding included).
    pub decode_ms_per_token: Option<f64>,
    /// Requests measured.
    pub requests: u64,
    /// The threads prompt batches ran on last: the configured batch threads, or one when the
    /// machine's load made one faster (`None`: not chosen by the engine).
    pub batch_threads: Option<u32>,
}

impl MeasuredRates {
    /// Adds one request's numbers: `encoded` prompt tokens in `prompt_ms`, `generated` tokens of
    /// which those after the first took `decode_ms`.
    pub(crate) fn add(&mut self, encoded: usize, prompt_ms: f64, generated: usize, decode_ms: f64) {
        if encoded >= MIN_PREFILL_SAMPLE && prompt_ms > 0.0 {
            let rate = encoded as f64 * 1000.0 / prompt_ms;
            self.prefill_tokens_per_second = Some(average(self.prefill_tokens_per_second, rate));
        }
        if generated >= 2 && decode_ms > 0.0 {
            let per_token = decode_ms / (generated - 1) as f64;
            self.decode_ms_per_token = Some(average(self.decode_ms_per_token, per_token));
        }
        self.requests += 1;
    }

    /// How many prompt tokens a request may encode within `budget_ms` at the measured prefill
    /// speed (half the budget: the rest is for the first line); `None` until measured.
    pub(crate) fn prefill_allowance(&self, budget_ms: f64) -> Option<usize> {
        self.prefill_tokens_per_second.map(|rate| (rate * budget_ms * BUDGET_PREFILL_SHARE / 1000.0) as usize)
    }

    /// Generated tokens per second, from [`Self::decode_ms_per_token`].
    pub fn decode_tokens_per_second(&self) -> Option<f64> {
        self.decode_ms_per_token.filter(|ms| *ms > 0.0).map(|ms| 1000.0 / ms)
    }
}

fn average(old: Option<f64>, sample: f64) -> f64 {
    old.map_or(sample, |old| old + ALPHA * (sample - old))
}

/// The rates, shared between the engine thread (which writes) and handles (which read).
pub(crate) type SharedRates = Arc<Mutex<MeasuredRates>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_prompts_and_single_tokens_do_not_count() {
        let mut rates = MeasuredRates::default();
        rates.add(3, 10.0, 1, 0.0);
        assert_eq!(rates.prefill_tokens_per_second, None);
        assert_eq!(rates.decode_ms_per_token, None);
        assert_eq!(rates.requests, 1);
        assert_eq!(rates.prefill_allowance(400.0), None, "not measured yet");
    }

    #[test]
    fn rates_follow_the_machine() {
        let mut rates = MeasuredRates::default();
        rates.add(1000, 5000.0, 11, 500.0);
        assert_eq!(rates.prefill_tokens_per_second, Some(200.0));
        assert_eq!(rates.decode_ms_per_token, Some(50.0));
        assert_eq!(rates.decode_tokens_per_second(), Some(20.0));
        assert_eq!(rates.prefill_allowance(400.0), Some(40), "half of 400 ms at 200 tokens/s");
        for _ in 0..20 {
            rates.add(1000, 10_000.0, 11, 1000.0);
        }
        assert!((rates.prefill_tokens_per_second.unwrap() - 100.0).abs() < 1.0, "the other core got busy");
        assert!((rates.decode_ms_per_token.unwrap() - 100.0).abs() < 1.0);
    }
}
