//! How many threads a prompt batch runs on: the configured batch threads, or one.
//!
//! llama.cpp runs a batch of more than one token on the context's batch threads (`--threads`,
//! every core by default) and a single token on its decode threads (one). On an idle machine
//! more threads encode faster. On a busy one (a build or a test run beside the editor) one of
//! them shares its core with the other process, and ggml's threads meet at a barrier after
//! every operation, so the batch runs at the pace of the one that waits for its core. Measured
//! on a 2-core machine with one core kept busy: a 257-token cold prompt took 1.2–1.7 s on two
//! threads and about 0.75 s on one; a 2–6-token keystroke update 150–650 ms on two and
//! 42–59 ms on one. So the engine measures both as it runs and runs each batch on the faster.
//! Small batches (a typed key's update, a verify batch: frequent and cheap) keep both choices
//! measured, trying the slower one now and then (less often the further behind it is), and
//! say what the machine's load is now. Long batches (a prompt, a repair chunk) follow them:
//! they try one thread only while small batches find one thread faster, and the configured
//! threads again once small batches do, so an idle machine's prompts never run on one thread
//! to find out. The thread count never changes a batch's logits (`model/tests/threads.rs`):
//! only when they arrive.
//!
//! Pure: numbers in, a thread count out.

use crate::average::Average;

/// Batches of up to this many tokens (a typed key, a verify batch) are one size class, longer
/// ones (a prompt, a repair chunk) another: per-batch overhead weighs differently in each.
const SMALL_BATCH: usize = 8;

/// A small batch runs on the slower choice once in this many, times how many times slower it
/// measured (at most [`MAX_EXPLORE_EVERY`]), so that a change in the machine's load shows; a
/// long batch whose faster choice disagrees with the small batches' runs on theirs as often.
const EXPLORE_EVERY: u32 = 8;

/// The longest a choice goes unmeasured, in batches of its size class.
const MAX_EXPLORE_EVERY: u32 = 64;

/// The size classes.
const SMALL: usize = 0;
const LONG: usize = 1;

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
        let choice = if tokens <= SMALL_BATCH { self.choose_small() } else { self.choose_long() };
        if choice == 0 {
            self.configured
        } else {
            1
        }
    }

    /// The configured threads first, one thread next, then the faster with exploring steps.
    fn choose_small(&mut self) -> usize {
        let Some(faster) = self.faster(SMALL) else {
            // The configured threads are measured first (choice 0), one thread next (choice 1).
            return usize::from(self.ms_per_token[SMALL][0].samples > 0);
        };
        let (fast, slow) = (self.ms_per_token[SMALL][faster].value, self.ms_per_token[SMALL][1 - faster].value);
        let times_slower = (slow / fast.max(1e-6)).ceil().clamp(1.0, f64::from(MAX_EXPLORE_EVERY)) as u32;
        self.explore(SMALL, (EXPLORE_EVERY * times_slower).min(MAX_EXPLORE_EVERY), faster, 1 - faster)
    }

    /// What small batches find faster now, unless long batches measured otherwise; then that,
    /// with the small batches' choice now and then (either may be out of date).
    fn choose_long(&mut self) -> usize {
        let load = self.faster(SMALL).unwrap_or(0);
        match self.faster(LONG) {
            Some(faster) if faster != load => self.explore(LONG, EXPLORE_EVERY, faster, load),
            _ => load,
        }
    }

    /// Whether small batches measured both choices (the load is known).
    #[cfg(test)]
    pub(crate) fn knows_the_load(&self) -> bool {
        self.faster(SMALL).is_some()
    }

    /// The faster choice in `class`, once both are measured.
    fn faster(&self, class: usize) -> Option<usize> {
        let [many, one] = self.ms_per_token[class];
        (many.samples > 0 && one.samples > 0).then_some(usize::from(one.value < many.value))
    }

    /// `usual`, or `other` once every `every` batches of `class`.
    fn explore(&mut self, class: usize, every: u32, usual: usize, other: usize) -> usize {
        self.since_explored[class] += 1;
        if self.since_explored[class] >= every {
            self.since_explored[class] = 0;
            other
        } else {
            usual
        }
    }

    /// Records that a batch of `tokens` tokens took `ms` on `threads` threads.
    pub(crate) fn record(&mut self, tokens: usize, threads: u32, ms: f64) {
        if self.configured <= 1 || tokens < 2 {
            return;
        }
        let class = if tokens <= SMALL_BATCH { SMALL } else { LONG };
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

    /// Two threads at `many` ms per token, one at `one`.
    fn costs(many: f64, one: f64) -> impl Fn(u32) -> f64 {
        move |threads| if threads == 1 { one } else { many }
    }

    #[test]
    fn an_idle_machine_keeps_the_configured_threads() {
        let mut policy = BatchThreads::new(2);
        assert_eq!(policy.choose(100), 2, "before anything is measured");
        // Two threads twice as fast: small batches try one thread once, then once in 16.
        let on_one = run(&mut policy, 100, 3, costs(5.0, 10.0));
        assert!((5..=8).contains(&on_one), "{on_one}");
        // Long batches (a cold prompt) never run on one thread to find out.
        assert_eq!(run(&mut policy, 100, 100, costs(2.0, 4.0)), 0);
    }

    #[test]
    fn a_busy_core_moves_batches_to_one_thread() {
        let mut policy = BatchThreads::new(2);
        run(&mut policy, 4, 200, costs(6.0, 4.0));
        // Two threads slowed by a busy core: 40 ms a token against 15 on one thread.
        let on_one = run(&mut policy, 100, 3, costs(40.0, 15.0));
        assert!(on_one >= 95, "{on_one}");
        assert_eq!(policy.choose(3), 1);
        // Long batches follow what the small ones found, and keep to it once measured.
        let on_one = run(&mut policy, 100, 200, costs(6.0, 4.0));
        assert!(on_one >= 95, "{on_one}");
    }

    #[test]
    fn the_choice_follows_the_load_back() {
        let mut policy = BatchThreads::new(2);
        for _ in 0..20 {
            run(&mut policy, 10, 3, costs(40.0, 15.0));
            run(&mut policy, 2, 64, costs(8.0, 4.0));
        }
        assert_eq!((policy.choose(3), policy.choose(64)), (1, 1), "busy");
        // The other process ended: two threads are twice as fast again.
        for _ in 0..20 {
            run(&mut policy, 10, 3, costs(5.0, 10.0));
            run(&mut policy, 2, 64, costs(2.0, 4.0));
        }
        let small = run(&mut policy, 64, 3, costs(5.0, 10.0));
        let long = run(&mut policy, 64, 64, costs(2.0, 4.0));
        assert!(small <= 5 && long == 0, "back on two threads: {small} small, {long} long batches on one");
    }

    #[test]
    fn long_batches_measured_faster_on_one_thread_keep_it_while_small_ones_disagree() {
        let mut policy = BatchThreads::new(2);
        run(&mut policy, 20, 3, costs(40.0, 15.0));
        run(&mut policy, 20, 64, costs(8.0, 4.0));
        // Small batches happen to find two threads faster again, long ones still do not.
        run(&mut policy, 40, 3, costs(5.0, 10.0));
        let on_one = run(&mut policy, 80, 64, costs(8.0, 4.0));
        assert!(on_one >= 70, "{on_one}");
    }
}
