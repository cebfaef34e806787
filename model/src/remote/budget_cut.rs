//! The latency budget's cut of a prompt sent to a remote engine.
//!
//! A prompt the engine would encode more of than the budget allows (a document new to the
//! engine, a spot far away, another editor's prompt in the slot) starts later in the document:
//! as little is dropped as makes the encode fit, but at least
//! [`prompt_builder::MIN_CUT_PREFIX_TOKENS`] prefix tokens are kept. The keystrokes after it keep that start, so
//! the engine's prefix cache goes on serving the cut prompt and a typed key encodes only what
//! was typed; the start is found again by the tokens it begins with (its anchor), so a prompt
//! window that moved a line does not lose it.
//!
//! Unlike the local engine's cut, a remote cut is not widened back in idle time: an engine
//! cannot insert before the cells it holds, so a wider start is a whole new prompt to encode,
//! and llama-server finishes a prompt it started even when the client goes away, holding the
//! editor's slot meanwhile. The full window comes back on the first request whose whole encode
//! fits the budget: at once on a fast engine (the first request, before any speed is measured,
//! is cut to the floor), never on one that is slower than the budget.

use crate::prompt_builder::{self, Prompt};
use llama_cpp_2::token::LlamaToken;
use std::collections::HashMap;

/// How many tokens a cut's anchor holds: enough that a run of them is found once in a window.
const ANCHOR_TOKENS: usize = 16;

/// Where each document's prompt was last cut, by the tokens it began with.
#[derive(Default)]
pub(crate) struct BudgetCuts {
    anchors: HashMap<String, Anchor>,
}

/// The first tokens of a cut prompt's prefix, and how many prefix tokens were dropped before
/// them then.
struct Anchor {
    tokens: Vec<LlamaToken>,
    dropped: usize,
}

impl Anchor {
    /// Where the anchor begins in `prefix` within `range` (the occurrence nearest the last
    /// cut's place), if it does.
    fn find(&self, prefix: &[LlamaToken], range: std::ops::RangeInclusive<usize>) -> Option<usize> {
        let (low, high) = (*range.start(), (*range.end()).min(prefix.len().saturating_sub(self.tokens.len())));
        (low..=high).filter(|&at| prefix[at..].starts_with(&self.tokens)).min_by_key(|&at| at.abs_diff(self.dropped))
    }
}

impl BudgetCuts {
    /// The prompt to send for document `key`, whose prefix tokens are `prefix` and whose prompt
    /// fitted without a budget is `full`: `full` itself when the engine would encode
    /// (`encodes`) at most `allowance` tokens of it (or there is no budget); else the prompt
    /// that `build` makes dropping at least some prefix tokens, with [`Prompt::cut`] set: the
    /// last cut's start when it still fits, else the smallest drop that fits, down to the
    /// floor.
    pub(crate) fn fit(
        &self,
        key: &str,
        prefix: &[LlamaToken],
        full: Prompt,
        allowance: Option<usize>,
        build: impl Fn(usize) -> Prompt,
        encodes: impl Fn(&Prompt) -> usize,
    ) -> Prompt {
        let Some(allowance) = allowance else { return full };
        if encodes(&full) <= allowance {
            return full;
        }
        let Some(drops) = prompt_builder::cut_drops(prefix.len(), full.dropped) else { return full };
        let fits = |prompt: &Prompt| encodes(prompt) <= allowance;
        let kept = self.anchors.get(key).and_then(|anchor| anchor.find(prefix, drops.clone()));
        if let Some(prompt) = kept.map(&build).filter(|prompt| fits(prompt)) {
            return prompt.cut_from(&full);
        }
        // Past any cached start the estimate only falls as the prompt starts later (fewer
        // tokens after the cached ones).
        build(prompt_builder::smallest_fitting_drop(drops, &build, fits)).cut_from(&full)
    }

    /// Remembers where `prompt`, sent for document `key` with prefix tokens `prefix`, starts
    /// when the budget cut it, so that the next request keeps the start; forgets it otherwise.
    pub(crate) fn sent(&mut self, key: &str, prefix: &[LlamaToken], prompt: &Prompt) {
        if prompt.cut == 0 {
            self.anchors.remove(key);
            return;
        }
        let start = prompt.dropped.min(prefix.len());
        let tokens = prefix[start..(start + ANCHOR_TOKENS).min(prefix.len())].to_vec();
        self.anchors.insert(key.to_owned(), Anchor { tokens, dropped: start });
    }

    /// The document was closed.
    pub(crate) fn forget(&mut self, key: &str) {
        self.anchors.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt_builder::MIN_CUT_PREFIX_TOKENS;
    use crate::repo_context::RenderedContext;

    /// A prompt of `prefix` dropping `drop` tokens, after a one-token BOS.
    fn prompt(prefix: &[LlamaToken], drop: usize) -> Prompt {
        let mut tokens = vec![LlamaToken(1)];
        tokens.extend_from_slice(&prefix[drop.min(prefix.len())..]);
        Prompt { tokens, healing: None, dropped: drop, cut: 0, context: RenderedContext::default(), context_end: 1 }
    }

    /// What an engine holding `sent` would encode for `prompt`: all after their common prefix.
    fn encodes(sent: &[LlamaToken], prompt: &Prompt) -> usize {
        let common = sent.iter().zip(&prompt.tokens).take_while(|(a, b)| a == b).count();
        prompt.tokens.len() - common
    }

    fn document(len: i32) -> Vec<LlamaToken> {
        (100..100 + len).map(LlamaToken).collect()
    }

    fn fit(cuts: &BudgetCuts, prefix: &[LlamaToken], sent: &[LlamaToken], allowance: Option<usize>) -> Prompt {
        cuts.fit("doc", prefix, prompt(prefix, 0), allowance, |drop| prompt(prefix, drop), |p| encodes(sent, p))
    }

    #[test]
    fn a_prompt_that_fits_or_no_budget_is_sent_whole() {
        let cuts = BudgetCuts::default();
        let prefix = document(2000);
        assert_eq!(fit(&cuts, &prefix, &[], None).cut, 0, "no budget");
        assert_eq!(fit(&cuts, &prefix, &[], Some(5000)).cut, 0, "the engine is fast enough");
        let warm = prompt(&prefix, 0).tokens;
        assert_eq!(fit(&cuts, &prefix, &warm[..warm.len() - 3], Some(10)).cut, 0, "the engine holds it");
    }

    #[test]
    fn a_cold_prompt_starts_as_late_as_the_allowance_needs_but_keeps_the_floor() {
        let cuts = BudgetCuts::default();
        let prefix = document(2000);
        let cut = fit(&cuts, &prefix, &[], Some(600));
        assert_eq!(cut.tokens.len(), 600, "as little dropped as fits: BOS and 599 tokens");
        assert_eq!(cut.cut, 1401);
        let floor = fit(&cuts, &prefix, &[], Some(50));
        assert_eq!(floor.tokens.len() - 1, MIN_CUT_PREFIX_TOKENS, "never below the floor");
        let short = document(200);
        assert_eq!(fit(&cuts, &short, &[], Some(50)).cut, 0, "nothing above the floor to cut");
    }

    #[test]
    fn typing_keeps_the_cuts_start_even_where_a_later_one_would_fit_and_the_window_moved() {
        let mut cuts = BudgetCuts::default();
        let mut prefix = document(2000);
        let first = fit(&cuts, &prefix, &[], Some(300));
        cuts.sent("doc", &prefix, &first);
        let start = first.dropped;
        // Keys typed at the end, and the window's start moved down by 40 tokens.
        prefix.extend([LlamaToken(7), LlamaToken(8)]);
        let moved: Vec<LlamaToken> = prefix[40..].to_vec();
        let next = fit(&cuts, &moved, &first.tokens, Some(300));
        assert_eq!(next.dropped, start - 40, "the same text starts the prompt");
        assert_eq!(encodes(&first.tokens, &next), 2, "only the keys are encoded");
        assert!(next.cut > 0);
    }

    #[test]
    fn a_cut_that_no_longer_fits_is_made_again_and_a_whole_fit_forgets_it() {
        let mut cuts = BudgetCuts::default();
        let prefix = document(2000);
        let first = fit(&cuts, &prefix, &[], Some(300));
        cuts.sent("doc", &prefix, &first);
        // Another prompt in the engine's slot: the kept start would be encoded whole.
        let elsewhere = fit(&cuts, &prefix, &[LlamaToken(1), LlamaToken(3)], Some(280));
        assert_eq!(elsewhere.tokens.len(), 281, "cut again to what fits: BOS and 280 tokens to encode");
        // A faster engine pays for the whole window: sent whole, and the cut is forgotten.
        let whole = fit(&cuts, &prefix, &[], Some(5000));
        assert_eq!(whole.cut, 0);
        cuts.sent("doc", &prefix, &whole);
        assert!(cuts.anchors.is_empty());
    }
}
