//! Builds a request's prompt as tokens: BOS, the repository-context block, then the document in
//! the template's layout, fitted to the context. Shared by the local engine thread and the remote
//! engine, so that both send a model the very same tokens for the same request.

use crate::engine::CompletionRequest;
use crate::healing::Healing;
use crate::prompt;
use crate::rates::SharedRates;
use crate::repo_context::{self, RenderedContext, RepoContext, RepoFormat};
use crate::template::PromptTemplate;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use std::ops::RangeInclusive;

/// A prompt cut by the latency budget keeps at least this many prefix tokens, however slow the
/// machine: fewer say too little about the file for a useful suggestion. Until a request has
/// measured the prefill speed, it is also the allowance.
pub(crate) const MIN_CUT_PREFIX_TOKENS: usize = 256;

/// Prefix tokens one idle widening step gives back to a prompt the budget cut, and the least
/// allowance a budget gives.
pub(crate) const WIDEN_CHUNK: usize = 64;

/// How many prompt tokens a request may encode within a latency budget of `budget_ms`, at the
/// prefill speed in `rates` ([`MIN_CUT_PREFIX_TOKENS`] until one was measured), and never fewer
/// than a widening step. The local engine and the remote one cut their prompts to it.
pub(crate) fn budget_allowance(rates: &SharedRates, budget_ms: f64) -> usize {
    let measured = rates.lock().unwrap_or_else(|p| p.into_inner()).prefill_allowance(budget_ms);
    measured.unwrap_or(MIN_CUT_PREFIX_TOKENS).max(WIDEN_CHUNK)
}

/// The prefix drops a latency-budget cut may make of a document of `prefix_len` prefix tokens
/// whose prompt fitted to the context drops `full_dropped`: more than that, and at most what
/// keeps [`MIN_CUT_PREFIX_TOKENS`]. `None` when there is nothing above that floor to cut.
pub(crate) fn cut_drops(prefix_len: usize, full_dropped: usize) -> Option<RangeInclusive<usize>> {
    let floor = prefix_len.saturating_sub(MIN_CUT_PREFIX_TOKENS);
    (floor > full_dropped).then(|| full_dropped + 1..=floor)
}

/// The smallest drop in `drops` whose prompt (`build`) `fits`, or the range's end (the floor)
/// when none does. The search takes the estimate to fall only as the prompt starts later.
pub(crate) fn smallest_fitting_drop(
    drops: RangeInclusive<usize>,
    build: impl Fn(usize) -> Prompt,
    fits: impl Fn(&Prompt) -> bool,
) -> usize {
    let (mut low, mut high) = drops.into_inner();
    while low < high {
        let mid = low + (high - low) / 2;
        if fits(&build(mid)) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    high
}

/// What a prompt is built with: the model's vocabulary and its formats, and the room it has.
pub(crate) struct PromptBuilder<'a> {
    /// The model (or only its vocabulary) whose tokenizer the prompt is written with.
    pub(crate) model: &'a LlamaModel,
    /// The FIM layout, or prefix-only.
    pub(crate) template: &'a PromptTemplate,
    /// How repository context is written.
    pub(crate) repo_format: RepoFormat,
    /// The token every prompt starts with, if the model wants one.
    pub(crate) bos: Option<LlamaToken>,
    /// Context size in tokens: prompt and generation together.
    pub(crate) n_ctx: usize,
}

/// A request's document as tokens, before fitting.
#[derive(Clone)]
pub(crate) struct DocumentTokens {
    /// The document's key (its sequence in the cache).
    pub(crate) key: String,
    /// Tokens the cache update may encode before the prompt is cut (the latency budget); `None`:
    /// never cut.
    pub(crate) allowance: Option<usize>,
    /// The text before the cursor, without the healed word's tokens.
    pub(crate) prefix: Vec<LlamaToken>,
    /// The text after the cursor (empty without FIM).
    pub(crate) suffix: Vec<LlamaToken>,
    /// The healing of a trailing partial word, if the prefix ends in one.
    pub(crate) healing: Option<Healing>,
}

/// A request's prompt as decoded.
pub(crate) struct Prompt {
    /// Every token, BOS and context block included.
    pub(crate) tokens: Vec<LlamaToken>,
    /// The healing of a trailing partial word, if the prefix ends in one.
    pub(crate) healing: Option<Healing>,
    /// Prefix tokens dropped to fit, the budget's cut included.
    pub(crate) dropped: usize,
    /// Of those, how many the latency budget dropped (0: the prompt is the full window).
    pub(crate) cut: usize,
    /// The repository context block (empty without one).
    pub(crate) context: RenderedContext,
    /// Where the block ends in `tokens` (BOS included).
    pub(crate) context_end: usize,
}

impl Prompt {
    /// This prompt with the latency budget's cut recorded: the prefix tokens it drops beyond
    /// `full` (the same request's prompt fitted without a budget).
    pub(crate) fn cut_from(mut self, full: &Prompt) -> Prompt {
        self.cut = self.dropped.saturating_sub(full.dropped);
        self
    }
}

impl PromptBuilder<'_> {
    /// The request's document as tokens: its prefix, and its suffix when the template uses one.
    /// No healing: the caller heals the prefix if it wants to.
    pub(crate) fn document(&self, request: &CompletionRequest, allowance: Option<usize>) -> DocumentTokens {
        let vocab = self.model.vocab();
        let prefix = vocab.tokenize(request.prefix.as_bytes(), false, false);
        let suffix = match self.template {
            PromptTemplate::PrefixOnly => Vec::new(),
            PromptTemplate::Fim(_) => vocab.tokenize(request.suffix.as_bytes(), false, false),
        };
        DocumentTokens { key: request.document.clone(), prefix, suffix, healing: None, allowance }
    }

    /// The repository-context block of `context` rendered in the model's format, within a third
    /// of the room the prompt has beside `max_tokens` generated tokens.
    pub(crate) fn block(&self, context: &RepoContext, max_tokens: usize) -> RenderedContext {
        let budget = self.n_ctx.saturating_sub(max_tokens);
        let vocab = self.model.vocab();
        let block_budget = context.max_tokens.min(budget / 3);
        repo_context::render(self.repo_format, context, block_budget, |text| {
            vocab.tokenize(text.as_bytes(), false, false)
        })
    }

    /// The fitted prompt with `block` before the document, dropping at least `min_drop` prefix
    /// tokens, with room for `max_tokens` generated tokens.
    pub(crate) fn prompt(
        &self,
        document: &DocumentTokens,
        block: RenderedContext,
        max_tokens: usize,
        min_drop: usize,
    ) -> Prompt {
        let budget = self.n_ctx.saturating_sub(max_tokens);
        let mut tokens: Vec<LlamaToken> = self.bos.into_iter().collect();
        tokens.extend_from_slice(&block.tokens);
        let context_end = tokens.len();
        let fitted = prompt::assemble_dropping(
            self.template,
            None,
            &document.prefix,
            &document.suffix,
            budget.saturating_sub(context_end),
            min_drop,
        );
        tokens.extend_from_slice(&fitted.tokens);
        if tokens.is_empty() {
            // An empty document and no BOS: start from the end-of-sequence token as a separator.
            tokens.push(self.model.vocab().eos());
        }
        Prompt {
            tokens,
            healing: document.healing.clone(),
            dropped: fitted.prefix_dropped,
            cut: 0,
            context: block,
            context_end,
        }
    }
}
