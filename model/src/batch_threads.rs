//! How many threads a prompt batch runs on: the configured batch threads, or one.
//!
//! llama.cpp runs a batch of more than one token on the context's batch threads (`--threads`,
//! every core by default) and a single token on its decode threads (one). On an idle machine
//! more threads encode faster. On a busy one (a build or a test run beside the editor) one of
//! them shares its core with the other process, and ggml's threads meet at a barrier after
//! every operation, so the batch runs at the pace of the one that waits for its core. Measured
//! on a 2-core machine with one core kept busy: a 257-token cold prompt took 1.2–1.7 s on two
//! threads and about 0.75 s on one; a 2–6-token keystroke update 150–650 ms on two and
//! 42–59 ms on one. So the engine measures both, per size of batch, and runs each batch on
//! the faster, trying the other now and then (less often the further behind it is), so that it
//! follows the machine's load as it changes. The thread count never changes a batch's logits
//! (`model/tests/threads.rs`): only when they arrive.
//!
//! Pure: numbers in, a thread count out.

use crate::average::Average;

/// Batches of up to this many tokens (a typed key, a verify batch) are one size class, longer
/// ones (a prompt, a repair chunk) another: per-batch overhead weighs differently in each.
const SMALL_BATCH: usize = 8;

/// A batch runs on the slower choice once in this many, times how many times slower it
/// measured (at most [`MAX_EXPLORE_EVERY`]), so that a change in the machine's load shows.
const EXPLORE_EVERY: u32 = 8;

/// The longest a choice goes unmeasured, in batches of its size class.
const MAX_EXPLORE_EVERY: u32 = 64;

/// Measured milliseconds per token of batches on the configured threads and on one thread, per
/// size class, and the choice they make.
#[derive(Debug, Clone)]
pub(crate) struct BatchThreads {
    /// The batch threads the context was made with.
    configured: u32,
    /// `[class][choice]`: milliseconds per token; choice 0 is `configured`, 1 is one thread.
    ms_per_token: [[Average; 2]; 2],
    /// Per class: batches since the slower choice last ran.
    since_explored: [u32; 2],
}

impl BatchThreads {
    /// A policy for a context made with `configured` batch threads.
    pub(crate) fn new(configured: u32) -> Self {
        Self { configured, ms_per_token: [[Average::new(0.0); 2]; 2], since_explored: [0; 2] }
    }

    /// The thread count a batch of `tokens` tokens should run on.
    pub(crate) fn choose(&mut self, tokens: usize) -> u32 {
        if self.configured <= 1 || tokens < 2 {
            return self.configured;
        }
        let class = usize::from(tokens > SMALL_BATCH);
        let [many, one] = self.ms_per_token[class];
        // The configured threads first, one thread next, then the faster with exploring steps.
        let choice = if many.samples == 0 {
            0
        } else if one.samples == 0 {
            1
        } else {
            let (faster, slower) = if one.value < many.value { (1, 0) } else { (0, 1) };
            let (fast, slow) = (self.ms_per_token[class][faster].value, self.ms_per_token[class][slower].value);
            let times_slower = (slow / fast.max(1e-6)).ceil().clamp(1.0, f64::from(MAX_EXPLORE_EVERY)) as u32;
            let every = (EXPLORE_EVERY * times_slower).min(MAX_EXPLORE_EVERY);
            self.since_explored[class] += 1;
            if self.since_explored[class] >= every {
                self.since_explored[class] = 0;
                slower
            } else {
                faster
            }
        };
        if choice == 0 {
            self.configured
        } else {
            1
        }
    }

    /// Records that a batch of `tokens` tokens took `ms` on `threads` threads.
    pub(crate) fn record(&mut self, tokens: usize, threads: u32, ms: f64) {
        if self.configured <= 1 || tokens < 2 {
            return;
        }
        let class = usize::from(tokens > SMALL_BATCH);
        let choice = usize::from(threads != self.configured);
        self.ms_per_token[class][choice].add(ms / tokens as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `batches` batches of `tokens` tokens, each costing `cost(threads)` per token, and
    /// returns how many ran on one thread.
    fn run(policy: &mut BatchThreads, batches: usize, tokens: usize, cost: impl Fn(u32) -> f64) -> usize {
        let mut on_one = 0;
        for _ in 0..batches {
            let threads = policy.choose(tokens);
            on_one += usize::from(threads == 1);
            policy.record(tokens, threads, cost(threads) * tokens as f64);
        }
        on_one
    }

    #[test]
    fn one_configured_thread_leaves_nothing_to_choose() {
        let mut policy = BatchThreads::new(1);
        assert_eq!(run(&mut policy, 10, 4, |_| 1.0), 10);
        assert_eq!(BatchThreads::new(4).choose(1), 4, "a single token is not a batch");
    }

    #[test]
    fn an_idle_machine_keeps_the_configured_threads() {
        let mut policy = BatchThreads::new(2);
        assert_eq!(policy.choose(100), 2, "before anything is measured");
        // Two threads twice as fast: one thread is tried once, then once in 16.
        let on_one = run(&mut policy, 100, 100, |threads| if threads == 2 { 2.0 } else { 4.0 });
        assert!((5..=8).contains(&on_one), "{on_one}");
    }

    #[test]
    fn a_busy_core_moves_batches_to_one_thread() {
        let mut policy = BatchThreads::new(2);
        // Two threads slowed by a busy core: 40 ms a token against 15 on one thread.
        let on_one = run(&mut policy, 100, 3, |threads| if threads == 2 { 40.0 } else { 15.0 });
        assert!(on_one >= 95, "{on_one}");
        assert_eq!(policy.choose(3), 1);
        assert_eq!(policy.choose(200), 2, "long batches are measured apart");
    }

    #[test]
    fn the_choice_follows_the_load_back() {
        let mut policy = BatchThreads::new(2);
        run(&mut policy, 50, 64, |threads| if threads == 2 { 8.0 } else { 4.0 });
        assert_eq!(policy.choose(64), 1, "busy");
        // The other process ended: two threads are twice as fast again.
        run(&mut policy, 200, 64, |threads| if threads == 2 { 2.0 } else { 4.0 });
        let on_one = run(&mut policy, 64, 64, |threads| if threads == 2 { 2.0 } else { 4.0 });
        assert!(on_one <= 4, "back on two threads: {on_one}");
    }
}
