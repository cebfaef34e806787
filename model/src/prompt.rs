//! Fitting a prompt into the context, token-exact, without ever cutting a FIM sentinel.
//!
//! The engine tokenizes the text before and after the cursor with the model's own tokenizer (user
//! text never parses special tokens, so a document that contains `<|fim_prefix|>` cannot inject
//! one), then [`assemble`] decides how much of each fits. Sentinels are inserted as token ids after
//! fitting, so they can never be truncated.
//!
//! The prefix is cut from its start in steps of [`PREFIX_DROP_QUANTUM_DIV`]-th of the budget, so
//! that typing at the cursor of a long file keeps the same prompt start (and so the same cached
//! tokens) for many keystrokes instead of moving it by one token each time.

use crate::template::{FimLayout, PromptTemplate};
use llama_cpp_2::token::LlamaToken;

/// The prefix start moves in steps of `budget / PREFIX_DROP_QUANTUM_DIV` tokens.
pub const PREFIX_DROP_QUANTUM_DIV: usize = 8;

/// With FIM, the suffix gets at most `budget / SUFFIX_SHARE_DIV` tokens unless the prefix leaves more.
pub const SUFFIX_SHARE_DIV: usize = 4;

/// A prompt ready for decoding, with what was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FittedPrompt {
    /// The tokens to decode, sentinels included.
    pub tokens: Vec<LlamaToken>,
    /// How many prefix tokens were kept.
    pub prefix_kept: usize,
    /// How many prefix tokens were dropped from the start.
    pub prefix_dropped: usize,
    /// How many suffix tokens were kept (0 without FIM).
    pub suffix_kept: usize,
}

/// Builds the prompt for `template` from already tokenized prefix and suffix, within `budget`
/// tokens (sentinels and BOS included). Costs O(budget).
///
/// `bos` is prepended when the model wants one. If `budget` cannot even hold the sentinels, the
/// prompt holds the sentinels and no text.
pub fn assemble(
    template: &PromptTemplate,
    bos: Option<LlamaToken>,
    prefix: &[LlamaToken],
    suffix: &[LlamaToken],
    budget: usize,
) -> FittedPrompt {
    assemble_dropping(template, bos, prefix, suffix, budget, 0)
}

/// [`assemble`], dropping at least `min_drop` tokens from the prefix's start (the latency
/// budget's cut of a prompt too long to encode in time); the suffix keeps what `budget` gives it.
pub fn assemble_dropping(
    template: &PromptTemplate,
    bos: Option<LlamaToken>,
    prefix: &[LlamaToken],
    suffix: &[LlamaToken],
    budget: usize,
    min_drop: usize,
) -> FittedPrompt {
    let overhead = usize::from(bos.is_some()) + sentinel_count(template);
    let text_budget = budget.saturating_sub(overhead);
    let (prefix_kept, suffix_kept) = match template {
        PromptTemplate::PrefixOnly => (prefix.len().min(text_budget), 0),
        PromptTemplate::Fim(_) => split_budget(prefix.len(), suffix.len(), text_budget),
    };
    let prefix_dropped = quantized_drop(prefix.len(), prefix_kept, text_budget).max(min_drop.min(prefix.len()));
    let prefix_part = &prefix[prefix_dropped..];
    let suffix_part = &suffix[..suffix_kept];

    let mut tokens = Vec::with_capacity(overhead + prefix_part.len() + suffix_part.len());
    tokens.extend(bos);
    match template {
        PromptTemplate::PrefixOnly => tokens.extend_from_slice(prefix_part),
        PromptTemplate::Fim(fim) => match fim.layout {
            FimLayout::PrefixSuffixMiddle => {
                tokens.push(fim.prefix);
                tokens.extend_from_slice(prefix_part);
                tokens.push(fim.suffix);
                tokens.extend_from_slice(suffix_part);
                tokens.extend(fim.middle);
            }
            FimLayout::SuffixPrefix => {
                tokens.push(fim.suffix);
                tokens.extend_from_slice(suffix_part);
                tokens.push(fim.prefix);
                tokens.extend_from_slice(prefix_part);
                tokens.extend(fim.middle);
            }
            FimLayout::SuffixPrefixMiddle => {
                tokens.push(fim.prefix);
                tokens.push(fim.suffix);
                tokens.extend_from_slice(suffix_part);
                tokens.extend(fim.middle);
                tokens.extend_from_slice(prefix_part);
            }
        },
    }
    FittedPrompt { tokens, prefix_kept: prefix_part.len(), prefix_dropped, suffix_kept }
}

fn sentinel_count(template: &PromptTemplate) -> usize {
    match template {
        PromptTemplate::PrefixOnly => 0,
        PromptTemplate::Fim(fim) => 2 + usize::from(fim.middle.is_some()),
    }
}

/// Splits the text budget: the suffix gets up to a quarter, or more when the prefix is short.
fn split_budget(prefix_len: usize, suffix_len: usize, budget: usize) -> (usize, usize) {
    let suffix_share = (budget / SUFFIX_SHARE_DIV).max(budget.saturating_sub(prefix_len));
    let suffix_kept = suffix_len.min(suffix_share);
    let prefix_kept = prefix_len.min(budget - suffix_kept);
    (prefix_kept, suffix_kept)
}

/// How many tokens to drop from the prefix start: at least `len - kept`, rounded up to a multiple
/// of the quantum, so the start stays put while the prefix grows.
fn quantized_drop(len: usize, kept: usize, budget: usize) -> usize {
    let needed = len - kept;
    if needed == 0 {
        return 0;
    }
    let quantum = (budget / PREFIX_DROP_QUANTUM_DIV).max(1);
    needed.div_ceil(quantum).saturating_mul(quantum).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{FimFamily, FimTemplate};

    fn toks(range: std::ops::Range<i32>) -> Vec<LlamaToken> {
        range.map(LlamaToken).collect()
    }

    fn psm() -> PromptTemplate {
        PromptTemplate::Fim(FimTemplate {
            family: FimFamily::Qwen,
            layout: FimLayout::PrefixSuffixMiddle,
            prefix: LlamaToken(-1),
            suffix: LlamaToken(-2),
            middle: Some(LlamaToken(-3)),
            repo_name: None,
            file_sep: None,
            stop: vec![],
        })
    }

    #[test]
    fn prefix_only_keeps_everything_that_fits() {
        let p = assemble(&PromptTemplate::PrefixOnly, Some(LlamaToken(1)), &toks(10..20), &toks(50..60), 100);
        assert_eq!(p.tokens.len(), 11);
        assert_eq!(p.tokens[0], LlamaToken(1));
        assert_eq!(p.suffix_kept, 0);
    }

    #[test]
    fn fim_sentinels_survive_any_budget() {
        for budget in 0..40 {
            let p = assemble(&psm(), None, &toks(0..100), &toks(200..300), budget);
            assert_eq!(p.tokens.iter().filter(|t| t.0 < 0).count(), 3, "budget {budget}");
            assert_eq!(p.tokens[0], LlamaToken(-1));
            assert_eq!(*p.tokens.last().unwrap(), LlamaToken(-3));
            assert!(p.tokens.len() <= budget.max(3));
        }
    }

    #[test]
    fn fim_keeps_the_end_of_the_prefix_and_the_start_of_the_suffix() {
        let p = assemble(&psm(), None, &toks(0..1000), &toks(2000..3000), 403);
        // text budget 400: suffix gets 100, prefix 300, dropped in steps of 50.
        assert_eq!(p.suffix_kept, 100);
        let suf_at = p.tokens.iter().position(|t| *t == LlamaToken(-2)).unwrap();
        assert_eq!(p.tokens[suf_at + 1], LlamaToken(2000));
        assert_eq!(p.tokens[suf_at - 1], LlamaToken(999), "prefix ends at the cursor");
        assert!(p.prefix_dropped >= 700 && p.prefix_dropped.is_multiple_of(50));
    }

    #[test]
    fn with_spm_typing_at_the_cursor_is_an_append() {
        let PromptTemplate::Fim(mut fim) = psm() else { unreachable!() };
        fim.layout = FimLayout::SuffixPrefixMiddle;
        let spm = PromptTemplate::Fim(fim);
        let before = assemble(&spm, None, &toks(0..100), &toks(200..300), 1000);
        let typed = assemble(&spm, None, &toks(0..101), &toks(200..300), 1000);
        assert_eq!(&typed.tokens[..before.tokens.len()], &before.tokens[..]);
        assert_eq!(&typed.tokens[..4], &[LlamaToken(-1), LlamaToken(-2), LlamaToken(200), LlamaToken(201)]);
    }

    #[test]
    fn a_short_prefix_leaves_room_for_more_suffix() {
        let p = assemble(&psm(), None, &toks(0..10), &toks(100..1000), 103);
        assert_eq!((p.prefix_kept, p.suffix_kept), (10, 90));
    }

    #[test]
    fn the_prefix_start_is_stable_while_typing() {
        let starts: Vec<usize> = (1000..1040)
            .map(|len| assemble(&PromptTemplate::PrefixOnly, None, &toks(0..len), &[], 800).prefix_dropped)
            .collect();
        let distinct: std::collections::BTreeSet<_> = starts.iter().collect();
        assert!(distinct.len() <= 2, "start moved too often: {distinct:?}");
    }
}
