//! When speculative decoding pays, and how many drafts to verify.
//!
//! A verify batch can cost more or less than a single-token decode: every row needs the full
//! vocabulary's logits, but a batch runs on the batch threads (every core) and a single token on
//! the decode thread (one). On an idle 2-core machine a verify batch of 2 or 3 rows took 25 or
//! 29 ms against 35 ms for a single decode, so even a draft the model rejects costs nothing
//! there; with one core busy the batch runs on one thread and takes 45–52 ms, and a draft pays
//! only when the model agrees with it often enough. Both sides are measured as the engine runs: the
//! milliseconds of single-token decodes and of verify batches of each size, and how often the
//! first and second drafts found by an n-gram of each length were accepted. Each step drafts the
//! number of tokens with the most expected tokens per millisecond, none when plain decoding is
//! faster, so on a machine where verify batches are slow (or drafts rarely right) speculation
//! turns itself off, and comes back when that changes (a rare exploring step keeps the numbers
//! fresh).
//!
//! At most [`MAX_DRAFTS_PER_STEP`] drafts: with llama.cpp's CPU weight repacking, a batch's rows
//! are multiplied in groups of four by a different kernel than a single row, so a verify batch
//! of four or more tokens can round differently from plain decoding and, at a near tie, pick
//! another token. Batches of up to three rows use the single-row kernel for every row, so the
//! output is byte-identical to plain greedy decoding (`model/tests/speculative.rs`). Without
//! repacking, batches of up to seven rows are identical too, but repacking is what makes Q4_0 and
//! Q4_K prompts fast, llama-cpp-2 offers no per-model switch, and on a 2-core CPU batches of five
//! rows or more cost half as much again as four (README, `bench decode`).
//!
//! Pure: numbers in, a length out.

use crate::average::Average;
use crate::draft::{MAX_KEY, MIN_KEY};

/// The most drafts verified with one generated token (see the module docs).
pub const MAX_DRAFTS_PER_STEP: usize = 2;

/// Every this many steps that could draft but chose not to, one drafts anyway, so that a cost
/// or acceptance measured under other conditions is measured again.
const EXPLORE_EVERY: u32 = 16;

/// What decodes cost and how often drafts were right, measured as the engine runs.
#[derive(Debug, Clone)]
pub(crate) struct SpeculationPolicy {
    /// Milliseconds of a single-token decode.
    single_ms: Average,
    /// Milliseconds of a verify batch of `i + 2` tokens (the token and `i + 1` drafts).
    verify_ms: [Average; MAX_DRAFTS_PER_STEP],
    /// Per key length: how often the first draft was accepted.
    first_accepted: [Average; MAX_KEY + 1],
    /// Per key length: how often the second draft was accepted after the first was.
    second_accepted: [Average; MAX_KEY + 1],
    /// Steps since the last draft.
    since_draft: u32,
}

impl Default for SpeculationPolicy {
    fn default() -> Self {
        // Priors optimistic enough that drafting is tried before anything is measured.
        Self {
            single_ms: Average::new(1.0),
            verify_ms: [Average::new(1.2), Average::new(1.4)],
            first_accepted: [Average::new(0.5); MAX_KEY + 1],
            second_accepted: [Average::new(0.6); MAX_KEY + 1],
            since_draft: 0,
        }
    }
}

impl SpeculationPolicy {
    /// How many of `available` drafts (found by an n-gram of `key_len` tokens) to verify with
    /// the next token: the count with the most expected tokens per millisecond, 0 when plain
    /// decoding is expected to be faster.
    pub(crate) fn drafts_to_verify(&mut self, key_len: usize, available: usize) -> usize {
        let limit = available.min(MAX_DRAFTS_PER_STEP);
        if limit == 0 || !(MIN_KEY..=MAX_KEY).contains(&key_len) {
            return 0;
        }
        let p1 = self.first_accepted[key_len].value;
        let p2 = self.second_accepted[key_len].value;
        // Tokens a verify batch with one or two drafts is expected to yield.
        let expected = [1.0 + p1, 1.0 + p1 + p1 * p2];
        let mut best = (0, 1.0 / self.single_ms.value.max(1e-6));
        for (k, (tokens, cost)) in expected.iter().zip(&self.verify_ms).enumerate().take(limit) {
            let rate = tokens / cost.value.max(1e-6);
            if rate > best.1 {
                best = (k + 1, rate);
            }
        }
        if best.0 == 0 {
            self.since_draft += 1;
            if self.since_draft >= EXPLORE_EVERY {
                best.0 = limit;
            }
        }
        if best.0 > 0 {
            self.since_draft = 0;
        }
        best.0
    }

    /// Records a single-token decode's milliseconds.
    pub(crate) fn decoded_single(&mut self, ms: f64) {
        self.single_ms.add(ms);
    }

    /// Records a verify batch: `drafts` drafts found by a `key_len`-token n-gram, `accepted` of
    /// them kept, and the batch's milliseconds.
    pub(crate) fn verified(&mut self, key_len: usize, drafts: usize, accepted: usize, ms: f64) {
        if drafts == 0 || drafts > MAX_DRAFTS_PER_STEP || key_len > MAX_KEY {
            return;
        }
        self.verify_ms[drafts - 1].add(ms);
        self.first_accepted[key_len].add(if accepted >= 1 { 1.0 } else { 0.0 });
        if drafts >= 2 && accepted >= 1 {
            self.second_accepted[key_len].add(if accepted >= 2 { 1.0 } else { 0.0 });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(single: f64, verify: [f64; 2], accepted: f64) -> SpeculationPolicy {
        let mut policy = SpeculationPolicy::default();
        for _ in 0..50 {
            policy.decoded_single(single);
            for key in MIN_KEY..=MAX_KEY {
                let keep = usize::from(accepted >= 0.5) * 2;
                policy.verified(key, 1, keep.min(1), verify[0]);
                policy.verified(key, 2, keep, verify[1]);
            }
        }
        policy
    }

    #[test]
    fn before_anything_is_measured_drafting_is_tried() {
        let mut policy = SpeculationPolicy::default();
        assert_eq!(policy.drafts_to_verify(3, 5), MAX_DRAFTS_PER_STEP);
    }

    #[test]
    fn cheap_verifies_and_right_drafts_verify_the_most() {
        let mut policy = measured(50.0, [55.0, 60.0], 1.0);
        assert_eq!(policy.drafts_to_verify(2, 8), 2);
        assert_eq!(policy.drafts_to_verify(4, 1), 1, "never more than were found");
    }

    #[test]
    fn slow_verifies_or_wrong_drafts_turn_speculation_off() {
        let mut slow = measured(50.0, [120.0, 170.0], 1.0);
        assert_eq!(slow.drafts_to_verify(3, 2), 0, "a verify batch costs more than the tokens it gains");
        let mut wrong = measured(50.0, [55.0, 60.0], 0.0);
        assert_eq!(wrong.drafts_to_verify(3, 2), 0, "drafts are never accepted");
    }

    #[test]
    fn a_step_explores_now_and_then() {
        let mut policy = measured(50.0, [120.0, 170.0], 0.0);
        let drafted = (0..EXPLORE_EVERY).filter(|_| policy.drafts_to_verify(3, 2) > 0).count();
        assert_eq!(drafted, 1);
    }

    #[test]
    fn no_draft_without_a_match() {
        let mut policy = SpeculationPolicy::default();
        assert_eq!(policy.drafts_to_verify(0, 0), 0);
        assert_eq!(policy.drafts_to_verify(3, 0), 0);
    }

    #[test]
    fn averages_follow_a_changed_machine() {
        let mut policy = measured(50.0, [120.0, 170.0], 1.0);
        assert_eq!(policy.drafts_to_verify(3, 2), 0);
        for _ in 0..30 {
            policy.verified(3, 2, 2, 55.0);
            policy.verified(3, 1, 1, 52.0);
        }
        assert_eq!(policy.drafts_to_verify(3, 2), 2, "verify batches got cheap (the other core is free again)");
    }
}
