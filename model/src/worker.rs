//! The engine thread's state: the llama.cpp context and what its KV cache holds.
//!
//! The cache keeps the tokens of the last prompt plus what was generated after it. A new request
//! plans how the cache follows its prompt ([`cache_plan`](crate::cache_plan): PIE by default,
//! prefix-only or none for comparison) and [`KvSequence`] carries the plan out; only the changed
//! tokens are decoded. Idle time re-encodes cells that went stale across an edit.

use crate::cache_plan::{self, ReuseMode};
use crate::candidates::{
    best, cursor_line, first_line, most_uncertain, runner_up, Branch, Candidate, CandidateSource, CheckStats,
    SuggestionCheck,
};
use crate::code_below;
use crate::documents::Documents;
use crate::draft::{Draft, DraftSources};
use crate::engine::{
    Completion, CompletionRequest, CompletionStats, ContextVerdict, EngineConfig, StopReason, DEFAULT_CONTEXT_TOKENS,
    MIN_PROMPT_TOKENS,
};
use crate::error::{EngineError, ModelError};
use crate::healing::Healing;
use crate::line_watch::LineWatch;
use crate::llama_log;
use crate::prompt_builder::{self, DocumentTokens, Prompt, PromptBuilder, WIDEN_CHUNK};
use crate::rates::SharedRates;
use crate::repo_context::{
    top_probability, top_probability_among, ContextUse, RenderedContext, RepoContext, RepoFormat,
};
use crate::sequence::{Llama, REPAIR_CHUNK};
use crate::shape::StreamVerdict;
use crate::speculation::{SpeculationPolicy, MAX_DRAFTS_PER_STEP};
use crate::template::PromptTemplate;
use crate::vocabulary::{self, TextStream};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::time::Instant;

/// After a new repository-context block is inserted, the document's last this many prompt tokens
/// are re-encoded so that the text at the cursor attends to the block.
const CONTEXT_REFRESH_TOKENS: usize = 64;

/// Most tokens one branched alternative may generate (a line of code).
const MAX_ALTERNATIVE_TOKENS: usize = 32;
/// Token healing re-spells at most this many trailing prompt tokens of a word.
const MAX_HEALED_TOKENS: usize = 3;

/// Owns the context; lives and dies on the engine thread.
pub(crate) struct Worker<'m> {
    model: &'m LlamaModel,
    /// The context, its batch and the scratch pair.
    llama: Llama<'m>,
    template: PromptTemplate,
    /// How repository context is written, and the tokens that end generation besides EOG.
    repo_format: RepoFormat,
    stop_tokens: Vec<LlamaToken>,
    bos: Option<LlamaToken>,
    /// What the KV cache holds, per open document.
    documents: Documents,
    /// How requests reuse the cache (PIE falls back to prefix reuse when cells cannot shift).
    reuse: ReuseMode,
    threads: (u32, u32),
    /// Draft tokens verified with each generated token (0: no speculative decoding).
    draft_tokens: u32,
    /// Verify drafts whenever found, whatever the policy says.
    draft_always: bool,
    /// Whether prompts ending mid-word or in blanks are healed.
    token_healing: bool,
    /// Stop at a line end once a request has run this long (milliseconds).
    latency_budget_ms: Option<f64>,
    /// Measured prefill and decode speeds, shared with the engine's handles.
    rates: SharedRates,
    /// Recent suggestions, as draft sources.
    drafts: DraftSources<LlamaToken>,
    /// Measured decode costs and draft acceptance: whether and how far to speculate.
    policy: SpeculationPolicy,
    /// Every token's text (empty for control tokens), for token healing.
    pieces: Vec<Vec<u8>>,
    /// The last prompt the latency budget cut, which idle time widens back to its full window.
    widening: Option<Widening>,
    /// Snippets a cold document's request left out for the latency budget: the next widening
    /// (idle time) puts them before the document ([`Self::block_over_budget`]).
    deferred_block: Option<RenderedContext>,
    /// A copy of the prompt's last logits, kept while a request's candidates may be scored
    /// against the code below (generation overwrites the batch's).
    prompt_logits: Vec<f32>,
}

/// Where a request's generation started, for scoring candidate lines against the code below:
/// its first cell and the text token healing dropped from the prompt.
struct GenerationStart {
    cell: usize,
    healed: String,
}

/// A chosen token decoded with drafts of what follows it, to be settled once the model's own
/// choices at each row are known.
struct VerifyStep {
    drafts: Vec<LlamaToken>,
    /// The length of the n-gram the drafts were found by.
    key_len: usize,
    /// Milliseconds of the batch.
    ms: f64,
}

/// A document whose cached prompt the latency budget cut, or whose snippets it held back: what
/// its full prompt is made of.
struct Widening {
    document: DocumentTokens,
    block: RenderedContext,
    max_tokens: usize,
    /// Prefix tokens the cached prompt leaves out at its start: requests keep that start
    /// ([`Worker::prompt_with_block`]), and so does the step that puts a held-back block in, so
    /// that it encodes the block and not the document again.
    dropped: usize,
}

/// A prompt with the end of a block only ([`Worker::block_slice`]): its tokens, and that part of
/// the block, which the document's cache then begins with.
struct BlockSlice {
    tokens: Vec<LlamaToken>,
    context: RenderedContext,
}

/// How long one repair step may hold the engine (see [`Worker::idle_slice_tokens`]).
const IDLE_SLICE_MS: f64 = 40.0;

/// The fewest tokens one repair step re-encodes: a smaller batch costs nearly as much.
const MIN_IDLE_SLICE_TOKENS: usize = 8;

/// Tokens one repair step re-encodes at `prefill_tokens_per_second` (unmeasured: the fewest).
fn idle_slice_tokens(prefill_tokens_per_second: Option<f64>) -> usize {
    let within = |rate: f64| (rate * IDLE_SLICE_MS / 1000.0) as usize;
    prefill_tokens_per_second.map_or(MIN_IDLE_SLICE_TOKENS, within).clamp(MIN_IDLE_SLICE_TOKENS, REPAIR_CHUNK)
}

/// What a request's new snippets would cost to encode, over the latency budget's allowance
/// ([`Worker::block_over_budget`]).
struct BlockCost {
    tokens: usize,
    allowance: usize,
    /// The document has no cells cached: the cost is its whole prompt.
    cold: bool,
}

impl<'m> Worker<'m> {
    /// Creates the context for `model` as `config` asks.
    pub(crate) fn new(model: &'m LlamaModel, config: &EngineConfig, rates: SharedRates) -> Result<Self, ModelError> {
        let trained = model.n_ctx_train();
        let requested = config.context_tokens.unwrap_or(DEFAULT_CONTEXT_TOKENS.min(trained.max(1)));
        // Saturating: a generation budget near u32::MAX must fail this check, not wrap past it.
        let needed = config.max_tokens.saturating_add(MIN_PROMPT_TOKENS);
        if requested < needed {
            return Err(ModelError::ContextTooSmall {
                requested,
                needed,
                max_tokens: config.max_tokens,
                min_prompt: MIN_PROMPT_TOKENS,
            });
        }
        if requested > trained {
            tracing::warn!(requested, trained, "context is larger than the model's training context; quality may drop");
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let threads = (config.batch_threads.unwrap_or(cores).max(1), config.decode_threads.unwrap_or(1).max(1));
        let batch_tokens = config.batch_tokens.clamp(1, requested);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(requested))
            .with_n_batch(batch_tokens)
            .with_n_ubatch(batch_tokens)
            .with_n_threads_batch(threads.0 as i32)
            .with_n_threads(threads.1 as i32)
            // Keep the whole sliding-window cache so that cells can be shifted (Gemma 3).
            .with_swa_full(true)
            // PIE parks a shifted tail in a scratch sequence of the same, unified cache.
            .with_n_seq_max(Documents::sequences_needed(config.max_documents as usize))
            .with_kv_unified(true)
            .with_type_k(config.cache_type_k.llama())
            .with_flash_attention_policy(config.flash_attention.llama());
        llama_log::clear_errors();
        let ctx = model.new_context(crate::loader::backend()?, params).map_err(|err| ModelError::Llama {
            action: "create a context",
            reason: llama_log::take_errors().unwrap_or_else(|| err.to_string()),
        })?;
        let vocab = model.vocab();
        let bos = vocab.should_add_bos().then(|| vocab.bos());
        let pieces = vocab.tokens().map(|token| vocab.token_to_piece(token, false, None)).collect();
        let documents = Documents::new(config.max_documents.max(1) as usize);
        let (template, repo_format) = vocabulary::detect_template(model);
        let mut stop_tokens = template.stop_tokens().to_vec();
        stop_tokens.extend(repo_format.stop_tokens());
        let mut llama = Llama::new(ctx, batch_tokens as usize, documents.scratch());
        // A few tokens of code, so that the first request already runs on the faster thread count.
        let sample = vocab.tokenize(b"def main():\n    return run(sys.argv)\n", false, false);
        if let Err(err) = llama.measure_batch_threads(&sample) {
            tracing::debug!(%err, "could not measure the batch threads before the first request");
        }
        Ok(Self {
            pieces,
            model,
            template,
            repo_format,
            stop_tokens,
            bos,
            llama,
            documents,
            reuse: effective_reuse(model, config.reuse),
            threads,
            draft_tokens: config.draft_tokens,
            draft_always: config.draft_always,
            token_healing: config.token_healing,
            latency_budget_ms: config.latency_budget.map(|b| b.as_secs_f64() * 1000.0),
            rates,
            drafts: DraftSources::default(),
            policy: SpeculationPolicy::default(),
            widening: None,
            deferred_block: None,
            prompt_logits: Vec::new(),
        })
    }

    pub(crate) fn template(&self) -> &PromptTemplate {
        &self.template
    }

    pub(crate) fn repo_format(&self) -> RepoFormat {
        self.repo_format
    }

    pub(crate) fn context_tokens(&self) -> u32 {
        self.llama.ctx.n_ctx()
    }

    pub(crate) fn threads(&self) -> (u32, u32) {
        self.threads
    }

    /// The reuse mode in force.
    pub(crate) fn reuse(&self) -> ReuseMode {
        self.reuse
    }

    /// Runs one request to the end, a stop, or cancellation.
    pub(crate) fn complete(&mut self, request: &CompletionRequest) -> Result<Completion, EngineError> {
        let started = Instant::now();
        let max_tokens = self.max_tokens(request);
        let mut stats = CompletionStats::default();
        let document = self.tokenize_document(request, self.prefill_allowance());
        let (mut prompt, mut slot, mut held) = self.prepare_prompt(request, &document, max_tokens, &mut stats)?;
        self.note_prompt(request, &document, &prompt, max_tokens, started, &mut stats);
        // At most twice: a watched generation the model turns unsure in goes again with the
        // held-back context, unwatched.
        let scores_below = request.check.as_ref().is_some_and(|check| self.may_score_below(check));
        let (generated_from, (text, stop, branches)) = loop {
            let healing = prompt.healing.take();
            stats.healed_text = healing.as_ref().map(|h| String::from_utf8_lossy(h.remaining()).into_owned());
            let generated_from = GenerationStart {
                cell: self.documents.sequence(slot).tokens().len(),
                healed: stats.healed_text.clone().unwrap_or_default(),
            };
            if scores_below {
                self.prompt_logits.clear();
                self.prompt_logits.extend_from_slice(self.llama.last_logits());
            }
            let watch = held.as_ref().map(|held| LineWatch::new(held.min_probability, held.watch_tokens));
            let unsure = match self.generate(request, slot, healing, max_tokens, started, &mut stats, watch)? {
                Generated::Done(text, stop, branches) => break (generated_from, (text, stop, branches)),
                Generated::Unsure(unsure) => unsure,
            };
            let Some(context) = held.take() else {
                break (generated_from, (String::new(), StopReason::EndOfGeneration, Vec::new()));
            };
            // What was written without the context goes; the line is written again with it.
            self.documents.sequence(slot).truncate_generated(&mut self.llama, generated_from.cell)?;
            stats.discarded_tokens = std::mem::take(&mut stats.generated_tokens);
            let reason = unsure.unsure_reason().unwrap_or_default();
            let verdict = ContextVerdict::new(true, reason, Some(context.first_token_probability))
                .with_line_probability(unsure.least.map(|(_, p)| p));
            (prompt, slot) = self.use_context(request, context.with, verdict, false, max_tokens, &mut stats)?;
            self.note_prompt(request, &document, &prompt, max_tokens, started, &mut stats);
        };
        let (text, stop) =
            self.check_candidates(request, slot, &generated_from, (text, stop), branches, started, &mut stats)?;
        stats.total_ms = ms_since(started);
        let mut rates = self.rates.lock().unwrap_or_else(|poison| poison.into_inner());
        rates.add(stats.encoded_tokens, stats.prompt_ms, stats.generated_tokens, stats.decode_ms());
        rates.batch_threads = self.llama.current_batch_threads();
        drop(rates);
        Ok(Completion { text, stop, stats })
    }

    /// Records what the prompt the cache now holds is made of, and when it is cut by the latency
    /// budget, remembers it for idle widening.
    fn note_prompt(
        &mut self,
        request: &CompletionRequest,
        document: &DocumentTokens,
        prompt: &Prompt,
        max_tokens: usize,
        started: Instant,
        stats: &mut CompletionStats,
    ) {
        stats.prompt_tokens = prompt.tokens.len();
        stats.reused_tokens = prompt.tokens.len().saturating_sub(stats.encoded_tokens);
        stats.dropped_prefix_tokens = prompt.dropped;
        stats.budget_cut_tokens = prompt.cut;
        let deferred = self.deferred_block.take();
        if prompt.cut > 0 || deferred.is_some() {
            let document = DocumentTokens { allowance: Some(WIDEN_CHUNK), ..document.clone() };
            let block = deferred.unwrap_or_else(|| prompt.context.clone());
            self.widening = Some(Widening { document, block, max_tokens, dropped: prompt.dropped });
        } else if self.widening.as_ref().is_some_and(|w| w.document.key == request.document) {
            self.widening = None;
        }
        stats.prompt_ms = ms_since(started);
        tracing::debug!(
            prompt = prompt.tokens.len(),
            context = stats.context_tokens,
            encoded = stats.encoded_tokens,
            shifted = stats.shifted_tokens,
            "prompt ready"
        );
    }

    /// Builds the request's prompt, with or without its repository context, and brings the
    /// document's cache to it; the batch then holds the prompt's last logits. With
    /// [`ContextUse::IfUncertain`] the prompt without context is decoded first (usually cached:
    /// typing is an append) and the context is added if the model is unsure of the first token;
    /// if it is sure, the context is held back ([`HeldContext`]) while the first line is written.
    fn prepare_prompt(
        &mut self,
        request: &CompletionRequest,
        document: &DocumentTokens,
        max_tokens: usize,
        stats: &mut CompletionStats,
    ) -> Result<(Prompt, usize, Option<HeldContext>), EngineError> {
        let with =
            request.context.as_ref().map(|context| (context, self.prompt_for(document, Some(context), max_tokens)));
        let (context, with) = match with {
            Some((context, with)) if with.context.files > 0 => (context, with),
            unfit => {
                if unfit.is_none() {
                    let reason = || "kept the previous request's context (cached; none asked for)".to_owned();
                    if let Some((prompt, slot)) =
                        self.keep_cached_block(request, document, max_tokens, reason, stats)?
                    {
                        return Ok((prompt, slot, None));
                    }
                }
                let prompt = self.prompt_for(document, None, max_tokens);
                let slot = self.follow_without_block(request, &prompt, max_tokens, stats)?;
                if unfit.is_some() {
                    let reason = "no retrieved snippet fits the context budget".to_owned();
                    stats.context = Some(ContextVerdict::new(false, reason, None));
                }
                return Ok((prompt, slot, None));
            }
        };
        let block = &with.tokens[..with.context_end];
        let block_cached = self.documents.cached(&request.document).is_some_and(|cached| cached.starts_with(block));
        if !block_cached {
            if let Some(cost) = self.block_over_budget(request, document, &with) {
                return self.defer_block(request, document, context, with, &cost, max_tokens, stats);
            }
        }
        let verdict = match context.usage {
            ContextUse::Always | ContextUse::Decided => {
                ContextVerdict::new(true, "used without asking the model".to_owned(), None)
            }
            ContextUse::IfUncertain { min_probability, watch_tokens } => {
                if block_cached {
                    ContextVerdict::new(true, "the same context as the previous request (kept cached)".to_owned(), None)
                } else {
                    let without = self.prompt_for(document, None, max_tokens);
                    let slot = self.follow_without_block(request, &without, max_tokens, stats)?;
                    let p = top_probability(self.llama.last_logits());
                    if p >= min_probability {
                        // Sure of the first token: the first line decides ([`LineWatch`]); the
                        // verdict stands unless generation finds an unsure token.
                        let reason = format!("model sure without it (first token p={p:.2} ≥ {min_probability})");
                        stats.context = Some(ContextVerdict::new(false, reason, Some(p)));
                        let held = (watch_tokens > 1).then_some(HeldContext {
                            with,
                            min_probability,
                            watch_tokens,
                            first_token_probability: p,
                        });
                        return Ok((without, slot, held));
                    }
                    let reason = format!("model unsure without it (first token p={p:.2} < {min_probability})");
                    ContextVerdict::new(true, reason, Some(p))
                }
            }
        };
        let (prompt, slot) = self.use_context(request, with, verdict, block_cached, max_tokens, stats)?;
        Ok((prompt, slot, None))
    }

    /// Brings the document's cache to `without`, a prompt with no repository-context block,
    /// re-encoding the tokens at the cursor when the cache began with one
    /// ([`Self::follow_block_change`]): they would still carry what they saw there, and the model
    /// step would judge the model's confidence from them.
    fn follow_without_block(
        &mut self,
        request: &CompletionRequest,
        without: &Prompt,
        max_tokens: usize,
        stats: &mut CompletionStats,
    ) -> Result<usize, EngineError> {
        let had_block = self.documents.block(&request.document).is_some_and(|block| block.files > 0);
        self.follow_block_change(&request.document, without, had_block, max_tokens, &request.cancel, stats)
    }

    /// What putting `with`'s snippets in would cost, when that is more than the latency budget
    /// allows this request to encode (`None`: it fits, or there is no budget). A cold document
    /// encodes its whole prompt: its document is cut to the allowance, but the snippets would
    /// come on top of it uncut (a block of a few hundred tokens takes longer to encode than the
    /// whole allowance). A warm document encodes the new block and re-encodes the cells at the
    /// cursor, which had seen the old one ([`Self::follow_block_change`]). While a person types,
    /// retrieval finds a slightly different set of snippets every few keys; paying for each set
    /// on the keystroke that brought it made every such keystroke miss the budget (on a busy
    /// machine, by seconds), only for the next one to bring another set.
    fn block_over_budget(
        &self,
        request: &CompletionRequest,
        document: &DocumentTokens,
        with: &Prompt,
    ) -> Option<BlockCost> {
        let allowance = document.allowance?;
        let cold = self.documents.cached(&request.document).is_none();
        let tokens = if cold {
            // Nothing of a cold document is cached: its whole prompt is encoded.
            with.tokens.len()
        } else {
            self.estimated_encode(&request.document, &with.tokens) + refreshed_after_block_change(with)
        };
        (tokens > allowance).then_some(BlockCost { tokens, allowance, cold })
    }

    /// Serves a request whose snippets the latency budget cannot pay for ([`BlockCost`]) without
    /// encoding them: with the block the document's cache already begins with, if any (older
    /// snippets of the same workspace; dropping them would cost a refresh too), else with none.
    /// The new snippets are remembered for the first idle widening step
    /// ([`Self::widen_step`]), where the next requests find them cached. With
    /// [`ContextUse::IfUncertain`] and no cached block, a model sure of the first token without
    /// them keeps them out for good, as when they fit.
    #[allow(clippy::too_many_arguments)]
    fn defer_block(
        &mut self,
        request: &CompletionRequest,
        document: &DocumentTokens,
        context: &RepoContext,
        with: Prompt,
        cost: &BlockCost,
        max_tokens: usize,
        stats: &mut CompletionStats,
    ) -> Result<(Prompt, usize, Option<HeldContext>), EngineError> {
        let wait = format!(
            "{} would encode {} tokens, more than the latency budget allows ({}); idle time adds them",
            if cost.cold { "a new document's prompt with them" } else { "the new snippets" },
            cost.tokens,
            cost.allowance
        );
        let reason = || format!("kept the cached context: {wait}");
        if let Some((prompt, slot)) = self.keep_cached_block(request, document, max_tokens, reason, stats)? {
            self.deferred_block = Some(with.context);
            return Ok((prompt, slot, None));
        }
        let without = self.prompt_for(document, None, max_tokens);
        let slot = self.follow_without_block(request, &without, max_tokens, stats)?;
        if let ContextUse::IfUncertain { min_probability, .. } = context.usage {
            let p = top_probability(self.llama.last_logits());
            if p >= min_probability {
                let reason = format!("model sure without it (first token p={p:.2} ≥ {min_probability})");
                stats.context = Some(ContextVerdict::new(false, reason, Some(p)));
                return Ok((without, slot, None));
            }
        }
        stats.context = Some(ContextVerdict::new(false, format!("held back: {wait}"), None));
        self.deferred_block = Some(with.context);
        Ok((without, slot, None))
    }

    /// Brings the document's cache to the prompt with the block it already begins with
    /// ([`Self::prompt_with_cached_block`]), if it does, recording that the context was used
    /// and `reason`; `None` (nothing done) when it does not.
    fn keep_cached_block(
        &mut self,
        request: &CompletionRequest,
        document: &DocumentTokens,
        max_tokens: usize,
        reason: impl FnOnce() -> String,
        stats: &mut CompletionStats,
    ) -> Result<Option<(Prompt, usize)>, EngineError> {
        let Some(prompt) = self.prompt_with_cached_block(request, document, max_tokens) else { return Ok(None) };
        let slot = self.follow_into(&request.document, &prompt.tokens, max_tokens, &request.cancel, stats)?;
        stats.context_tokens = prompt.context.tokens.len();
        stats.context_files = prompt.context.files;
        stats.context = Some(ContextVerdict::new(true, reason(), None));
        Ok(Some((prompt, slot)))
    }

    /// Brings the cache of document `key` to `prompt` and records the block it begins with (none if it
    /// has none). When the block changed (`block_changed`: one went in or one left), PIE slid the
    /// document's cells across it without re-encoding them, so they still reflect the block they
    /// attended to before; the tokens at the cursor are re-encoded, the rest by the idle repair.
    /// A prompt encoded whole in this update (a document new to the cache) needs none of it. The
    /// batch then holds the prompt's last logits.
    fn follow_block_change(
        &mut self,
        key: &str,
        prompt: &Prompt,
        block_changed: bool,
        max_tokens: usize,
        cancel: &crate::CancelToken,
        stats: &mut CompletionStats,
    ) -> Result<usize, EngineError> {
        let encoded_before = stats.encoded_tokens;
        let slot = self.follow_into(key, &prompt.tokens, max_tokens, cancel, stats)?;
        self.documents.set_block(slot, (prompt.context.files > 0).then(|| prompt.context.clone()));
        let encoded_whole =
            stats.encoded_tokens - encoded_before >= prompt.tokens.len() - usize::from(self.bos.is_some());
        if block_changed && !encoded_whole && self.reuse == ReuseMode::Pie {
            let n = refreshed_after_block_change(prompt);
            stats.encoded_tokens += self.documents.sequence(slot).refresh_tail(&mut self.llama, n)?;
        }
        Ok(slot)
    }

    /// Brings the document's cache to `with`, a prompt that starts with a repository-context
    /// block (`block_cached`: the cache already begins with it), and records `verdict`.
    fn use_context(
        &mut self,
        request: &CompletionRequest,
        with: Prompt,
        verdict: ContextVerdict,
        block_cached: bool,
        max_tokens: usize,
        stats: &mut CompletionStats,
    ) -> Result<(Prompt, usize), EngineError> {
        let slot =
            self.follow_block_change(&request.document, &with, !block_cached, max_tokens, &request.cancel, stats)?;
        stats.context_tokens = with.context_end - usize::from(self.bos.is_some());
        stats.context_files = with.context.files;
        stats.context = Some(verdict);
        Ok((with, slot))
    }

    /// [`Self::follow`], adding the update's cost to `stats`.
    fn follow_into(
        &mut self,
        document: &str,
        prompt: &[LlamaToken],
        max_tokens: usize,
        cancel: &crate::CancelToken,
        stats: &mut CompletionStats,
    ) -> Result<usize, EngineError> {
        let (slot, update) = self.follow(document, prompt, max_tokens, cancel)?;
        stats.encoded_tokens += update.encoded;
        stats.shifted_tokens += update.shifted;
        Ok(slot)
    }

    /// The next-token logits at the end of `request`'s prompt (with its repository context, if
    /// any), with the cache updated as for a completion. For fidelity checks against a full
    /// re-encode.
    pub(crate) fn prompt_logits(&mut self, request: &CompletionRequest) -> Result<Vec<f32>, EngineError> {
        let max_tokens = self.max_tokens(request);
        let document = self.tokenize_document(request, None);
        let prompt = self.prompt_for(&document, request.context.as_ref(), max_tokens);
        self.follow(&request.document, &prompt.tokens, max_tokens, &request.cancel)?;
        Ok(self.llama.last_logits().to_vec())
    }

    /// Whether cells are stale and idle time should repair them.
    pub(crate) fn needs_repair(&self) -> bool {
        self.documents.stale().is_some()
    }

    /// Re-encodes one chunk of stale cells of the most recently used document that has some.
    /// Returns whether stale cells remain anywhere.
    fn repair_step(&mut self) -> Result<bool, EngineError> {
        let Some(slot) = self.documents.stale() else { return Ok(false) };
        let chunk = self.idle_slice_tokens();
        self.documents.sequence(slot).repair_step(&mut self.llama, chunk)?;
        Ok(self.needs_repair())
    }

    /// Tokens one repair step re-encodes: as many as the measured prefill speed encodes in
    /// [`IDLE_SLICE_MS`] (a request that comes meanwhile waits for the step to end), between
    /// [`MIN_IDLE_SLICE_TOKENS`] and [`REPAIR_CHUNK`]. Steps of 64 tokens held the engine for
    /// about 240 ms on a 2-core machine, and a keystroke after a pause waited that long.
    ///
    /// Widening steps stay at [`WIDEN_CHUNK`] tokens: each one inserts before cached cells, and
    /// the K-shift pass that follows rotates every cell of the cache, 150–250 ms there whatever
    /// the step's size; smaller steps would pay it more often for little less waiting.
    fn idle_slice_tokens(&self) -> usize {
        let rate = self.rates.lock().unwrap_or_else(|poison| poison.into_inner()).prefill_tokens_per_second;
        idle_slice_tokens(rate)
    }

    /// Frees the cells of a document the editor closed.
    pub(crate) fn close_document(&mut self, key: &str) {
        if self.widening.as_ref().is_some_and(|w| w.document.key == key) {
            self.widening = None;
        }
        self.documents.close(key, &mut self.llama);
    }

    /// Whether idle time has cache work to do: widening a cut prompt or repairing stale cells.
    pub(crate) fn has_idle_work(&self) -> bool {
        self.needs_widening() || self.needs_repair()
    }

    /// One chunk of idle cache work: widening first (each widening step stales the cells after
    /// it again, so repairing before would be wasted), then repair.
    pub(crate) fn idle_step(&mut self) -> Result<(), EngineError> {
        let started = Instant::now();
        let widening = self.needs_widening();
        let result = if widening { self.widen_step().map(drop) } else { self.repair_step().map(drop) };
        tracing::debug!(kind = if widening { "widen" } else { "repair" }, ms = ms_since(started) as u64, "idle step");
        result
    }

    /// Whether the latency budget cut a prompt whose document is still cached, and idle time
    /// should give it back its full window.
    fn needs_widening(&self) -> bool {
        self.widening.as_ref().is_some_and(|w| self.documents.cached(&w.document.key).is_some())
    }

    /// Gives the cut prompt back up to [`WIDEN_CHUNK`] tokens of its prefix, just before where it
    /// now starts, or, while snippets a request held back are not all in, up to that many more
    /// of their block ([`Self::block_slice`]; a block of 300 tokens put in at once held the
    /// engine for 2 s). The cells after them go stale, for the repair. Returns whether more
    /// remain.
    fn widen_step(&mut self) -> Result<bool, EngineError> {
        if !self.needs_widening() {
            self.widening = None;
            return Ok(false);
        }
        let Some(widening) = self.widening.take() else { return Ok(false) };
        let key = widening.document.key.clone();
        let cached_block = self.documents.block(&key).map(|block| &block.tokens);
        let block_changed = cached_block != (widening.block.files > 0).then_some(&widening.block.tokens);
        let cancel = crate::CancelToken::new();
        let prompt = if block_changed {
            // Snippets a request held back go in first, before the document as it starts now.
            let (document, block) = (&widening.document, widening.block.clone());
            let full = self.builder().prompt(document, block, widening.max_tokens, 0);
            let prompt = self.cut_prompt(document, &full, widening.max_tokens, widening.dropped);
            if let Some(part) = self.block_slice(&key, &prompt, WIDEN_CHUNK) {
                let (slot, _) = self.follow(&key, &part.tokens, widening.max_tokens, &cancel)?;
                self.documents.set_block(slot, Some(part.context));
                self.widening = Some(widening);
                return Ok(true);
            }
            prompt
        } else {
            self.prompt_with_block(&widening.document, widening.block.clone(), widening.max_tokens)
        };
        // Followed as if the block had not changed: a request refreshes the cells at the cursor
        // after a block change, but in idle time the repair re-encodes every cell after the
        // block, a slice at a time.
        let mut stats = CompletionStats::default();
        self.follow_block_change(&key, &prompt, false, widening.max_tokens, &cancel, &mut stats)?;
        if prompt.cut > 0 {
            self.widening = Some(Widening { dropped: prompt.dropped, ..widening });
        }
        Ok(self.widening.is_some())
    }

    /// The next step of putting `prompt`'s block into `key`'s cache in idle time, when more than
    /// one is left: the prompt with the block's last tokens only, `slice` more of them than the
    /// cache already begins with (a block's end, recorded by the step before). The block goes
    /// in end first, so that a request in between keeps a block that still ends where the
    /// document begins (in formats with file markers, the current file's). `None`: one step
    /// puts the rest in.
    fn block_slice(&self, key: &str, prompt: &Prompt, slice: usize) -> Option<BlockSlice> {
        let bos = usize::from(self.bos.is_some());
        let block = &prompt.tokens[bos..prompt.context_end];
        let held =
            self.block_in_cache(key).filter(|cached| block.ends_with(&cached.tokens)).map_or(0, |c| c.tokens.len());
        let upto = held + slice;
        if upto >= block.len() {
            return None;
        }
        let end_of_block = block[block.len() - upto..].to_vec();
        let tokens = [&prompt.tokens[..bos], &end_of_block[..], &prompt.tokens[prompt.context_end..]].concat();
        let context = RenderedContext { tokens: end_of_block, files: prompt.context.files };
        Some(BlockSlice { tokens, context })
    }

    /// How many tokens a request may encode within the latency budget, at the measured prefill
    /// speed ([`prompt_builder::MIN_CUT_PREFIX_TOKENS`] until one was measured), and never fewer than a widening
    /// step; `None` without a budget.
    fn prefill_allowance(&self) -> Option<usize> {
        let budget = self.latency_budget_ms?;
        // A prompt that would take longer is cut at its start ([`Worker::prompt_with_block`]).
        Some(prompt_builder::budget_allowance(&self.rates, budget))
    }

    /// Tokens that bringing `key`'s cache to `prompt` would encode, region by region as
    /// [`Self::follow`] applies it. (One plan over every change would count all the cells between
    /// a cut moved at the prompt's start and a key typed at its end, so the budget's search for
    /// the widest prompt that fits would find none, and cut the window back to its floor.)
    fn estimated_encode(&self, key: &str, prompt: &[LlamaToken]) -> usize {
        let Some(base) = self.documents.plan_base(key, prompt) else { return prompt.len() };
        if self.reuse != ReuseMode::Pie {
            return cache_plan::plan(base, prompt, self.reuse).encoded();
        }
        let targets = region_by_region(base, prompt);
        let mut from = base;
        let mut encoded = 0;
        for target in &targets {
            encoded += cache_plan::plan(from, target, self.reuse).encoded();
            from = target;
        }
        encoded
    }

    fn max_tokens(&self, request: &CompletionRequest) -> usize {
        let n_ctx = self.llama.ctx.n_ctx() as usize;
        (request.max_tokens as usize).min(n_ctx.saturating_sub(MIN_PROMPT_TOKENS as usize)).max(1)
    }

    /// What prompts are built with: the model's vocabulary, formats and context size.
    fn builder(&self) -> PromptBuilder<'_> {
        PromptBuilder {
            model: self.model,
            template: &self.template,
            repo_format: self.repo_format,
            bos: self.bos,
            n_ctx: self.llama.ctx.n_ctx() as usize,
        }
    }

    /// The fitted prompt: BOS, the repository `context` block when given, then the document's
    /// prompt in the template's layout.
    fn prompt_for(&self, document: &DocumentTokens, context: Option<&RepoContext>, max_tokens: usize) -> Prompt {
        let block = context.map(|context| self.builder().block(context, max_tokens)).unwrap_or_default();
        self.prompt_with_block(document, block, max_tokens)
    }

    /// The fitted prompt with an already rendered repository-context `block`.
    ///
    /// With an allowance (the latency budget), a prompt whose cache update would encode more
    /// tokens than that is cut at its prefix's start, as little as fits the allowance (PIE then
    /// keeps what is cached and inserts the rest before it), but never below
    /// [`prompt_builder::MIN_CUT_PREFIX_TOKENS`] prefix tokens. Idle time widens it back ([`Self::widen_step`]).
    ///
    /// A request on a document that is already cut keeps the cut's start even where the
    /// allowance could pay for more: widening is idle time's work. Spent on a keystroke, the
    /// allowance (half the budget, and at least a widening step) went to the prompt on every key
    /// while the person typed; on a busy machine every keystroke took over 500 ms that way.
    fn prompt_with_block(&self, document: &DocumentTokens, block: RenderedContext, max_tokens: usize) -> Prompt {
        let full = self.builder().prompt(document, block, max_tokens, 0);
        let Some(allowance) = document.allowance else { return full };
        if self.estimated_encode(&document.key, &full.tokens) <= allowance {
            return full;
        }
        let Some(drops) = prompt_builder::cut_drops(document.prefix.len(), full.dropped) else { return full };
        // While idle time widens, `self.widening` is taken: the step may start earlier.
        let cut_start = self.widening.as_ref().filter(|w| w.document.key == document.key).map_or(0, |w| w.dropped);
        let floor = *drops.end();
        // The smallest drop whose update fits: the estimate only falls as the prompt starts later.
        let drop = prompt_builder::smallest_fitting_drop(
            (*drops.start()).max(cut_start).min(floor)..=floor,
            |drop| self.builder().prompt(document, full.context.clone(), max_tokens, drop),
            |prompt| self.estimated_encode(&document.key, &prompt.tokens) <= allowance,
        );
        self.cut_prompt(document, &full, max_tokens, drop)
    }

    /// `full` (the prompt the builder fits without a budget) dropping at least `drop` prefix
    /// tokens, with what the budget cut recorded.
    fn cut_prompt(&self, document: &DocumentTokens, full: &Prompt, max_tokens: usize, drop: usize) -> Prompt {
        self.builder().prompt(document, full.context.clone(), max_tokens, drop).cut_from(full)
    }

    /// For a request that comes without repository context, the prompt with the block the
    /// document's cache already begins with, if it does: while a person types, the retrieval
    /// gate's verdict changes with the line, and dropping the block only to insert it again a
    /// keystroke later would shift every cell of the document twice and re-encode the block,
    /// while keeping it costs nothing.
    fn prompt_with_cached_block(
        &self,
        request: &CompletionRequest,
        document: &DocumentTokens,
        max_tokens: usize,
    ) -> Option<Prompt> {
        let block = self.block_in_cache(&request.document)?;
        let prompt = self.prompt_with_block(document, block.clone(), max_tokens);
        // Only if the document still has room beside it, as a fresh block would.
        (prompt.tokens.len() + max_tokens <= self.llama.ctx.n_ctx() as usize && prompt.dropped == prompt.cut)
            .then_some(prompt)
    }

    /// The repository-context block recorded for document `key`, when its cache does begin with
    /// it (after BOS) and it is not empty.
    fn block_in_cache(&self, key: &str) -> Option<&RenderedContext> {
        let block = self.documents.block(key)?;
        let after_bos = self.documents.cached(key)?.get(usize::from(self.bos.is_some())..)?;
        (!block.tokens.is_empty() && after_bos.starts_with(&block.tokens)).then_some(block)
    }

    /// Plans and applies the cache update of `document`'s sequence for `prompt`, making room for
    /// it and `max_tokens` generated tokens; the batch then holds the prompt's last logits.
    ///
    /// Under PIE, edits far apart (a rename, edits in two places between requests) are applied
    /// one region at a time, each with its own shift, so the unchanged runs between them stay
    /// cached; nearby edits are one region.
    fn follow(
        &mut self,
        document: &str,
        prompt: &[LlamaToken],
        max_tokens: usize,
        cancel: &crate::CancelToken,
    ) -> Result<(usize, CacheUpdate), EngineError> {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let n_ctx = self.llama.ctx.n_ctx() as usize;
        let slot = self.documents.acquire(document, &mut self.llama);
        self.documents.make_room(slot, prompt.len() + max_tokens, n_ctx, &mut self.llama);
        let sequence = self.documents.sequence(slot);
        let targets = match self.reuse {
            ReuseMode::Pie => region_by_region(sequence.plan_base(prompt), prompt),
            _ => vec![prompt.to_vec()],
        };
        let mut update = CacheUpdate::default();
        for target in &targets {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let plan = cache_plan::plan(sequence.plan_base(target), target, self.reuse);
            tracing::debug!(?plan, cached = sequence.tokens().len(), target = target.len(), "cache plan");
            sequence.follow(&mut self.llama, &plan, target, cancel)?;
            update.encoded += plan.encoded();
            if plan.shifts() {
                update.shifted += plan.tail.len();
                update.shift_passes += 1;
            }
        }
        Ok((slot, update))
    }

    /// Tokenizes the request's document once; every prompt built for the request (with or
    /// without repository context) fits these tokens. When the prefix ends mid-word, its last
    /// token is left out and returned as the [`Healing`] the first generated tokens must spell.
    fn tokenize_document(&self, request: &CompletionRequest, allowance: Option<usize>) -> DocumentTokens {
        let mut document = self.builder().document(request, allowance);
        document.healing = self.heal_trailing_word(&mut document.prefix, &request.prefix);
        document
    }

    /// Drops the tokens of the word the prefix ends in (at most [`MAX_HEALED_TOKENS`]), or its
    /// trailing blank token, and returns the healing that makes generation spell them again.
    fn heal_trailing_word(&self, prefix: &mut Vec<LlamaToken>, text: &str) -> Option<Healing> {
        if !self.token_healing {
            return None;
        }
        let mut dropped: Vec<u8> = Vec::new();
        let mut count = 0;
        while count < MAX_HEALED_TOKENS {
            let Some(piece) =
                prefix.get(prefix.len().wrapping_sub(count + 1)).and_then(|t| self.pieces.get(t.0 as usize))
            else {
                break;
            };
            let word = std::str::from_utf8(piece).is_ok_and(|p| {
                let body = p.strip_prefix(' ').unwrap_or(p);
                !body.is_empty() && body.chars().all(|c| c.is_alphanumeric() || c == '_')
            });
            // Trailing blanks (`return ┃`) are healed too where the tokenizer writes them joined to
            // the word after them (` a`, not ` ` + `a`). Where it writes them as a token of their
            // own (Gemma's indentation), the prompt is already spelled as the model reads it, and
            // re-spelling it would let the first step split the indentation (8 + 4 spaces for 12)
            // into tokens the model never saw there; only a wider blank must not follow.
            let blank = count == 0 && !piece.is_empty() && piece.iter().all(|b| *b == b' ' || *b == b'\t');
            if blank {
                if !self.blank_joins_next_word(piece) {
                    return text.as_bytes().ends_with(piece).then(Healing::after_blank);
                }
                dropped.extend_from_slice(piece);
                count = 1;
                break;
            }
            if !word {
                break;
            }
            dropped.splice(0..0, piece.iter().copied());
            count += 1;
            if piece.first() == Some(&b' ') {
                break;
            }
        }
        if count == 0 || !text.as_bytes().ends_with(&dropped) {
            return None;
        }
        let healing = Healing::for_dropped_piece(&dropped)?;
        prefix.truncate(prefix.len() - count);
        Some(healing)
    }

    /// Whether the tokenizer joins the blank `piece` to a word written after it (`␣if` as one
    /// token, as GPT-style vocabularies do), probed with a few words code starts lines with.
    fn blank_joins_next_word(&self, piece: &[u8]) -> bool {
        let vocab = self.model.vocab();
        ["if", "return", "x", "self", "_"].iter().any(|word| {
            let mut probe = piece.to_vec();
            probe.extend_from_slice(word.as_bytes());
            let tokens = vocab.tokenize(&probe, false, false);
            tokens.first().and_then(|t| self.pieces.get(t.0 as usize)).map(Vec::as_slice) != Some(piece)
        })
    }

    /// Generates from the logits the prompt left in the batch until a stop rule, the budget, a
    /// full context or cancellation. Greedy requests decode speculatively when drafts are on:
    /// each chosen token is decoded together with up to `draft_tokens` guesses of what follows
    /// it ([`DraftSources`]), and the guesses are kept only as far as the model's own choice at
    /// each position agrees, so the output is what plain greedy decoding would produce (up to the
    /// floating-point effects of decoding a few tokens in one batch).
    ///
    /// With a `watch` (the request's context held back), generation gives up at the first
    /// token of the first line whose probability is below the watch's threshold.
    #[allow(clippy::too_many_arguments)]
    fn generate(
        &mut self,
        request: &CompletionRequest,
        slot: usize,
        healing: Option<Healing>,
        max_tokens: usize,
        started: Instant,
        stats: &mut CompletionStats,
        watch: Option<LineWatch>,
    ) -> Result<Generated, EngineError> {
        let mut sampler = request.sampling.sampler();
        let wants_branches = request.check.is_some() && request.sampling.is_greedy();
        let mut out = Output {
            text: TextStream::default(),
            piece: Vec::with_capacity(16),
            healing,
            started,
            branches: wants_branches.then(Vec::new),
            watch,
        };
        let n_ctx = self.llama.ctx.n_ctx() as usize;
        let vocab = self.model.vocab();
        let generated_from = self.documents.sequence(slot).tokens().len();
        // The batch row holding the logits the next token is chosen from.
        let mut row = self.llama.batch.n_tokens() - 1;
        let column = crate::shape::cursor_column(&request.prefix);
        let stop = 'generation: loop {
            // A waiter past its latency budget may show this much while the run goes on.
            request.cancel.wrote(out.text.text());
            // Cancelled, or released and contradicted by what the person typed since.
            if request.cancel.should_stop(out.text.text()) {
                tracing::debug!(generated = stats.generated_tokens, "stopped: cancelled, or released and typed past");
                return Err(EngineError::Cancelled);
            }
            if stats.generated_tokens >= max_tokens {
                break StopReason::TokenBudget;
            }
            let cached = self.documents.sequence(slot).tokens().len();
            if cached >= n_ctx {
                break StopReason::ContextFull;
            }
            if self.over_budget(&out, column, started, stats) {
                break StopReason::LatencyBudget;
            }
            let chosen = out.choose(&mut sampler, &self.llama.ctx, row, &self.pieces, stats.generated_tokens);
            if let Some(watch) = out.unsure() {
                return Ok(Generated::Unsure(watch));
            }
            let Some(token) = chosen else {
                // No token spells what the user typed: nothing sensible to suggest.
                break StopReason::EndOfGeneration;
            };
            if let Some(stop) = out.take(token, &vocab, &self.stop_tokens, request, stats) {
                break stop;
            }
            let room = (max_tokens - stats.generated_tokens).min(n_ctx - cached - 1);
            let Some(step) = self.decode_next(slot, token, out.draft_room(request, room))? else {
                row = self.llama.batch.n_tokens() - 1;
                continue;
            };
            let drafts = &step.drafts;
            stats.verify_steps += 1;
            stats.draft_tokens += drafts.len();
            // Row `i` predicts what follows the token (`i == 0`) or draft `i - 1`.
            let mut accepted = 0;
            let mut stop = None;
            for (i, &draft) in drafts.iter().enumerate() {
                if stats.generated_tokens >= max_tokens || request.cancel.should_stop(out.text.text()) {
                    break;
                }
                let step = stats.generated_tokens;
                let chosen = out.choose(&mut sampler, &self.llama.ctx, i as i32, &self.pieces, step);
                if let Some(watch) = out.unsure() {
                    return Ok(Generated::Unsure(watch));
                }
                if chosen != Some(draft) {
                    break;
                }
                stop = out.take(draft, &vocab, &self.stop_tokens, request, stats);
                if stop.is_some() {
                    // Plain decoding stops before decoding this token: its cell goes too.
                    break;
                }
                accepted += 1;
            }
            stats.accepted_draft_tokens += accepted;
            self.settle_drafts(slot, &step, cached, accepted)?;
            if let Some(stop) = stop {
                break 'generation stop;
            }
            row = accepted as i32;
        };
        let generated = self.documents.sequence(slot).tokens()[generated_from..].to_vec();
        self.drafts.remember(generated);
        if let (Some(watch), Some(verdict)) = (out.watch.as_ref(), stats.context.as_mut()) {
            verdict.line_probability = watch.least.map(|(_, p)| p);
        }
        let branches = out.branches.take().unwrap_or_default();
        let mut text = out.text.finish();
        crate::shape::trim_at_stop(&mut text, stop);
        Ok(Generated::Done(text, stop, branches))
    }

    /// Decodes the chosen `token` at the end of `slot`'s sequence: with drafts of what follows
    /// it when up to `room` of them may be decoded (0: never) and the policy expects them to pay
    /// ([`SpeculationPolicy`]), else alone. Returns the verify step when drafts went with it:
    /// batch row `i` then predicts what follows the token (`i == 0`) or draft `i - 1`, and the
    /// caller settles it with [`Self::settle_drafts`]. Alone, the token's logits are the batch's
    /// last row.
    fn decode_next(&mut self, slot: usize, token: LlamaToken, room: usize) -> Result<Option<VerifyStep>, EngineError> {
        let room = room.min(self.draft_tokens as usize).min(MAX_DRAFTS_PER_STEP);
        let mut draft = Draft { tokens: Vec::new(), key_len: 0 };
        if room > 0 {
            draft = self.drafts.draft_after(self.documents.sequence(slot).tokens(), token, room);
            let verify = if self.draft_always {
                draft.tokens.len()
            } else {
                self.policy.drafts_to_verify(draft.key_len, draft.tokens.len())
            };
            draft.tokens.truncate(verify);
        }
        let started = Instant::now();
        let sequence = self.documents.sequence(slot);
        if draft.tokens.is_empty() {
            sequence.push_generated(&mut self.llama, token)?;
            self.policy.decoded_single(ms_since(started));
            return Ok(None);
        }
        sequence.push_with_drafts(&mut self.llama, token, &draft.tokens)?;
        Ok(Some(VerifyStep { drafts: draft.tokens, key_len: draft.key_len, ms: ms_since(started) }))
    }

    /// Records how many of a verify step's drafts the model agreed with (`accepted`) and drops
    /// the cells of the rest: the sequence then ends with the token and the accepted drafts
    /// after its `cached` cells from before the step.
    fn settle_drafts(
        &mut self,
        slot: usize,
        step: &VerifyStep,
        cached: usize,
        accepted: usize,
    ) -> Result<(), EngineError> {
        self.policy.verified(step.key_len, step.drafts.len(), accepted, step.ms);
        self.documents.sequence(slot).truncate_generated(&mut self.llama, cached + 1 + accepted)
    }

    /// Checks the greedy suggestion with the request's judge and, when it adds syntax errors,
    /// tries the cheaper candidates ([`crate::candidates`]): its first line alone, then lines
    /// branched at its least certain first-line tokens. When the code below the cursor judges
    /// too and the model was unsure of the first line, the branched lines are generated anyway
    /// and every candidate is scored against it ([`crate::code_below`]). Returns the text to
    /// show and why it ended. Alternatives and scores are not computed past the latency budget.
    #[allow(clippy::too_many_arguments)]
    fn check_candidates(
        &mut self,
        request: &CompletionRequest,
        slot: usize,
        start: &GenerationStart,
        greedy: (String, StopReason),
        branches: Vec<Branch>,
        started: Instant,
        stats: &mut CompletionStats,
    ) -> Result<(String, StopReason), EngineError> {
        let Some(check) = request.check.as_ref().filter(|_| request.sampling.is_greedy()) else {
            return Ok(greedy);
        };
        let mut report = CheckStats::default();
        let judge = |text: &str, source: CandidateSource, report: &mut CheckStats| {
            let judged = Instant::now();
            let errors_added = check.errors_added(text);
            report.judge_ms += ms_since(judged);
            report.candidates.push(Candidate { text: text.to_owned(), errors_added, source, below_logprob: None });
            errors_added.unwrap_or(0) == 0
        };
        let (greedy_text, greedy_stop) = greedy;
        let greedy_fits = judge(&greedy_text, CandidateSource::Greedy, &mut report);
        // Branches are noted at every token of the greedy first line.
        let line_tokens = branches.iter().map(|b| b.step + 1).max().unwrap_or(0);
        let branches = most_uncertain(branches, check.alternatives);
        let below = self.code_below(request, check, &greedy_text, &branches, line_tokens, started);
        if greedy_fits && below.is_none() {
            stats.check = Some(report);
            return Ok((greedy_text, greedy_stop));
        }
        if !greedy_fits {
            if let Some(first) = first_line(&greedy_text) {
                judge(first, CandidateSource::FirstLine, &mut report);
            }
        }
        let budget = self.latency_budget_ms;
        let over_budget = |started: Instant| budget.is_some_and(|budget| ms_since(started) >= budget);
        for branch in branches {
            // Without the code below to judge, the first candidate that adds no error is shown.
            let one_fits = report.candidates.iter().any(|c| c.errors_added.unwrap_or(0) == 0);
            if (below.is_none() && one_fits) || request.cancel.is_cancelled() || over_budget(started) {
                break;
            }
            let generating = Instant::now();
            let text = self.alternative(request, slot, start.cell, &branch, &greedy_text, &mut report)?;
            report.alternatives_ms += ms_since(generating);
            if text.trim().is_empty() || report.candidates.iter().any(|c| c.text == text) {
                continue;
            }
            judge(&text, CandidateSource::Branch { step: branch.step, margin: branch.margin }, &mut report);
        }
        if let Some(below) = below.filter(|_| report.candidates.len() > 1 && !over_budget(started)) {
            self.score_below(request, slot, start, &below, &mut report)?;
        }
        report.chosen = best(&report.candidates);
        let shown = match report.chosen {
            0 => (greedy_text, greedy_stop),
            i => (report.candidates[i].text.clone(), StopReason::ShapeComplete),
        };
        stats.check = Some(report);
        Ok(shown)
    }

    /// Whether `check` may have the code below score candidate lines with this model: asked
    /// for, with alternatives to score, and a prefix-only prompt (a fill-in-the-middle prompt
    /// already holds the code below).
    fn may_score_below(&self, check: &SuggestionCheck) -> bool {
        check.below_tokens > 0 && check.alternatives > 0 && matches!(self.template, PromptTemplate::PrefixOnly)
    }

    /// The window of the code below the cursor that scores this request's candidate lines, cut
    /// at the check's token budget; `None` when the code below does not judge: not allowed
    /// ([`Self::may_score_below`]), no code below, no first line, a first line the model was
    /// sure of (`branches`, the ones to try, least certain first), or a latency budget that the
    /// alternatives and their scoring would overrun ([`code_below::estimated_ms`]).
    fn code_below(
        &self,
        request: &CompletionRequest,
        check: &SuggestionCheck,
        greedy_text: &str,
        branches: &[Branch],
        line_tokens: usize,
        started: Instant,
    ) -> Option<String> {
        if !self.may_score_below(check) || cursor_line(greedy_text).trim().is_empty() {
            return None;
        }
        if !branches.first().is_some_and(|branch| branch.margin < code_below::UNSURE_MARGIN) {
            return None;
        }
        let window = code_below::window(&request.suffix)?;
        let tokens = self.model.vocab().tokenize(window.as_bytes(), false, false);
        let window_tokens = tokens.len().min(check.below_tokens);
        if let Some(budget) = self.latency_budget_ms {
            // Only what fits in the time left, at the speeds measured so far.
            let steps: Vec<usize> = branches.iter().map(|b| b.step).collect();
            let rates = *self.rates.lock().unwrap_or_else(|poison| poison.into_inner());
            let cost = code_below::estimated_ms(
                &steps,
                line_tokens,
                window_tokens,
                rates.decode_ms_per_token,
                rates.prefill_tokens_per_second,
            );
            if cost.is_none_or(|cost| ms_since(started) + cost > budget) {
                tracing::debug!(?cost, budget, "the code below does not judge: it would not fit the latency budget");
                return None;
            }
        }
        if tokens.len() <= check.below_tokens {
            return Some(window.to_owned());
        }
        let bytes: usize = tokens[..check.below_tokens].iter().map(|t| self.pieces[t.0 as usize].len()).sum();
        Some(code_below::cut_at(window, bytes).to_owned())
    }

    /// Scores every candidate's first line by the probability of it followed by `below` given
    /// the prompt: the line's and the window's tokens are decoded in one batch after the
    /// prompt's cells (with the text token healing dropped before them), and the log
    /// probabilities of each next token summed. The cache is cut back to the prompt after.
    fn score_below(
        &mut self,
        request: &CompletionRequest,
        slot: usize,
        start: &GenerationStart,
        below: &str,
        report: &mut CheckStats,
    ) -> Result<(), EngineError> {
        let scoring = Instant::now();
        let n_ctx = self.llama.ctx.n_ctx() as usize;
        let mut scored: Vec<(String, f64)> = Vec::new();
        for i in 0..report.candidates.len() {
            let line = cursor_line(&report.candidates[i].text).to_owned();
            if let Some((_, logprob)) = scored.iter().find(|(text, _)| *text == line) {
                report.candidates[i].below_logprob = Some(*logprob);
                continue;
            }
            if request.cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let text = format!("{}{line}{below}", start.healed);
            let tokens = self.model.vocab().tokenize(text.as_bytes(), false, false);
            if tokens.is_empty() || tokens.len() > self.llama.batch_tokens || start.cell + tokens.len() >= n_ctx {
                continue;
            }
            let sequence = self.documents.sequence(slot);
            sequence.truncate_generated(&mut self.llama, start.cell)?;
            sequence.push_with_drafts(&mut self.llama, tokens[0], &tokens[1..])?;
            let mut logprob = code_below::log_probability(&self.prompt_logits, tokens[0].0 as usize);
            for (row, next) in tokens[1..].iter().enumerate() {
                logprob += code_below::log_probability(self.llama.ctx.get_logits_ith(row as i32), next.0 as usize);
            }
            report.below_scored_tokens += tokens.len();
            report.candidates[i].below_logprob = Some(logprob);
            scored.push((line, logprob));
        }
        self.documents.sequence(slot).truncate_generated(&mut self.llama, start.cell)?;
        report.below_ms = ms_since(scoring);
        Ok(())
    }

    /// One branched alternative: the cache cut back to `branch.step` generated tokens, the
    /// runner-up token taken there, then greedy decoding to the end of the line (or a stop).
    fn alternative(
        &mut self,
        request: &CompletionRequest,
        slot: usize,
        generated_from: usize,
        branch: &Branch,
        greedy_text: &str,
        report: &mut CheckStats,
    ) -> Result<String, EngineError> {
        self.documents.sequence(slot).truncate_generated(&mut self.llama, generated_from + branch.step)?;
        let mut out = Output {
            text: TextStream::starting_with(&greedy_text[..branch.text_len]),
            piece: Vec::with_capacity(16),
            healing: branch.healing.clone(),
            started: Instant::now(),
            branches: None,
            watch: None,
        };
        let mut sampler = request.sampling.sampler();
        let vocab = self.model.vocab();
        let n_ctx = self.llama.ctx.n_ctx() as usize;
        // `take` counts into these; the request's own stats are not the alternative's.
        let mut scratch = CompletionStats { generated_tokens: branch.step.max(1), ..CompletionStats::default() };
        let mut token = branch.token;
        let mut produced = 0;
        'line: loop {
            if request.cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            if out.take(token, &vocab, &self.stop_tokens, request, &mut scratch).is_some()
                || out.text.text().contains('\n')
            {
                break;
            }
            produced += 1;
            let cached = self.documents.sequence(slot).tokens().len();
            if produced >= MAX_ALTERNATIVE_TOKENS || cached + 1 >= n_ctx {
                break;
            }
            // Never more cells than plain decoding would reach before its context check stops it.
            let room = (MAX_ALTERNATIVE_TOKENS - produced).min(n_ctx - cached - 2);
            // Greedy lines decode speculatively, as the suggestion does: the same tokens, sooner.
            let row = match self.decode_next(slot, token, out.draft_room(request, room))? {
                None => self.llama.batch.n_tokens() - 1,
                Some(step) => {
                    // Drafts are kept as far as the model's own choice agrees, each taken as
                    // plain decoding would take it.
                    let mut accepted = 0;
                    let mut ended = false;
                    for (i, &draft) in step.drafts.iter().enumerate() {
                        if out.choose(&mut sampler, &self.llama.ctx, i as i32, &self.pieces, 0) != Some(draft) {
                            break;
                        }
                        ended = out.take(draft, &vocab, &self.stop_tokens, request, &mut scratch).is_some()
                            || out.text.text().contains('\n');
                        if ended {
                            break;
                        }
                        produced += 1;
                        accepted += 1;
                        if produced >= MAX_ALTERNATIVE_TOKENS {
                            ended = true;
                            break;
                        }
                    }
                    self.settle_drafts(slot, &step, cached, accepted)?;
                    report.alternative_accepted_drafts += accepted;
                    if ended {
                        break 'line;
                    }
                    accepted as i32
                }
            };
            match out.choose(&mut sampler, &self.llama.ctx, row, &self.pieces, 0) {
                Some(next) => token = next,
                None => break,
            }
        }
        report.alternative_tokens += produced;
        let mut text = out.text.finish();
        if let Some(end) = text.find('\n') {
            text.truncate(end);
        }
        Ok(text)
    }

    /// Whether the latency budget says to stop before the next token: the output may end
    /// ([`crate::shape::budget_may_end`]: a complete line, or a long open one continuing the
    /// cursor's line at `column`), and the next token would end past the budget (at this
    /// request's own decode speed so far, else the engine's measured one).
    fn over_budget(&self, out: &Output, column: usize, started: Instant, stats: &CompletionStats) -> bool {
        let Some(budget) = self.latency_budget_ms else { return false };
        if !crate::shape::budget_may_end(out.text.text(), column) {
            return false;
        }
        let elapsed = ms_since(started);
        let per_token = if stats.generated_tokens >= 2 {
            (elapsed - stats.first_token_ms) / (stats.generated_tokens - 1) as f64
        } else {
            self.rates.lock().map_or(0.0, |rates| rates.decode_ms_per_token.unwrap_or(0.0))
        };
        elapsed + per_token > budget
    }
}

/// What generation has produced so far, and the healing it still owes.
struct Output {
    text: TextStream,
    /// Scratch for one token's bytes.
    piece: Vec<u8>,
    /// The healing of a trailing partial word, until the generated text has spelled it.
    healing: Option<Healing>,
    started: Instant,
    /// The first line's branch points, when the suggestion will be checked.
    branches: Option<Vec<Branch>>,
    /// The first line's confidence, while the request's context is held back.
    watch: Option<LineWatch>,
}

/// How a generation ended.
enum Generated {
    /// With a suggestion: its text, why it stopped, and its first line's branch points.
    Done(String, StopReason, Vec<Branch>),
    /// Given up at a token of the first line: the watch says which, and why.
    Unsure(LineWatch),
}

/// A request's repository context held back because the model was sure of the first token
/// without it ([`ContextUse::IfUncertain`]): it goes in if the model turns unsure within the
/// first line.
struct HeldContext {
    /// The prompt with the context.
    with: Prompt,
    min_probability: f32,
    watch_tokens: usize,
    first_token_probability: f32,
}

impl Output {
    /// How many drafts the next step may verify (`room`, or 0): drafts are checked against
    /// greedy choices only, and not while token healing constrains the next token.
    fn draft_room(&self, request: &CompletionRequest, room: usize) -> usize {
        if request.sampling.is_greedy() && self.healing.is_none() {
            room
        } else {
            0
        }
    }

    /// The token chosen from batch row `row`'s logits: the healing's best while it lasts (`None`
    /// if no token can spell it), else the sampler's.
    fn choose(
        &mut self,
        sampler: &mut llama_cpp_2::sampling::LlamaSampler,
        ctx: &llama_cpp_2::context::LlamaContext<'_>,
        row: i32,
        pieces: &[Vec<u8>],
        step: usize,
    ) -> Option<LlamaToken> {
        self.note_branch(ctx.get_logits_ith(row), pieces, step);
        self.watch_line(ctx.get_logits_ith(row), pieces, step);
        match &self.healing {
            Some(heal) => heal.best_token(ctx.get_logits_ith(row), pieces),
            None => Some(sampler.sample(ctx, row)),
        }
    }

    /// The watched line's confidence at the `step`-th generated token: the most likely allowed
    /// token's probability (renormalized over what spells the typed text while healing lasts).
    fn watch_line(&mut self, logits: &[f32], pieces: &[Vec<u8>], step: usize) {
        let Some(watch) = self.watch.as_mut() else { return };
        if watch.unsure().is_some() || !watch.watches(step, self.text.text()) {
            return;
        }
        let p = match &self.healing {
            Some(heal) => top_probability_among(logits, |id| pieces.get(id).is_some_and(|p| heal.allows(p))),
            None => top_probability(logits),
        };
        watch.saw(step, p);
    }

    /// The watch, once the model was unsure of a first-line token without the held-back context.
    fn unsure(&self) -> Option<LineWatch> {
        self.watch.filter(|watch| watch.unsure().is_some())
    }

    /// Remembers where the `step`-th generated token could have been another (its runner-up),
    /// while the first line lasts and branches are wanted. O(vocabulary), a few times a request.
    fn note_branch(&mut self, logits: &[f32], pieces: &[Vec<u8>], step: usize) {
        let Some(branches) = self.branches.as_mut() else { return };
        if self.text.text().contains('\n') || !self.text.is_clean() {
            return;
        }
        let found = match &self.healing {
            Some(heal) => runner_up(logits, |id| pieces.get(id).is_some_and(|p| heal.allows(p))),
            None => runner_up(logits, |_| true),
        };
        let Some((_, token, margin)) = found else { return };
        branches.retain(|b| b.step != step);
        branches.push(Branch { step, token, margin, text_len: self.text.text().len(), healing: self.healing.clone() });
    }

    /// Adds `token` to the output; returns why generation stops at it, if it does. An
    /// end-of-generation token is not part of the output; a token that completes the
    /// suggestion's shape is.
    fn take(
        &mut self,
        token: LlamaToken,
        vocab: &llama_cpp_2::vocab::LlamaVocab<'_>,
        stop_tokens: &[LlamaToken],
        request: &CompletionRequest,
        stats: &mut CompletionStats,
    ) -> Option<StopReason> {
        if stats.generated_tokens == 0 {
            stats.first_token_ms = ms_since(self.started);
        }
        if self.healing.is_none() && (vocab.is_eog(token) || stop_tokens.contains(&token)) {
            return Some(StopReason::EndOfGeneration);
        }
        stats.generated_tokens += 1;
        self.piece.clear();
        vocab.token_to_piece_into(token, &mut self.piece, false, None);
        match self.healing.as_mut().map(|heal| heal.consume(&self.piece)) {
            Some((beyond, done)) => {
                self.text.push(beyond);
                if done {
                    self.healing = None;
                }
            }
            None => self.text.push(&self.piece),
        }
        (request.shape.verdict(self.text.text()) == StreamVerdict::Stop).then_some(StopReason::ShapeComplete)
    }
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// What a cache update cost.
#[derive(Debug, Default, Clone, Copy)]
struct CacheUpdate {
    /// Tokens decoded.
    encoded: usize,
    /// Cells moved.
    shifted: usize,
    /// Shift passes (each rotates the whole cache at its next decode).
    shift_passes: usize,
}

/// How many of `prompt`'s last tokens are re-encoded when the block before its document changed
/// ([`Worker::follow_block_change`]).
fn refreshed_after_block_change(prompt: &Prompt) -> usize {
    CONTEXT_REFRESH_TOKENS.min(prompt.tokens.len() - prompt.context_end)
}

/// The intermediate prompts that apply the changed regions of `base` → `prompt` one at a time,
/// ending with `prompt` itself (see [`cache_plan::one_region_at_a_time`]).
fn region_by_region(base: &[LlamaToken], prompt: &[LlamaToken]) -> Vec<Vec<LlamaToken>> {
    cache_plan::one_region_at_a_time(base, prompt, &cache_plan::hunks(base, prompt))
}

/// PIE needs cells that can shift: not M-RoPE (multimodal positions), not recurrent or hybrid
/// memories (a partial removal fails). llama.cpp's `llama_memory_can_shift` is not exposed by
/// llama-cpp-2, so this decides by the model's properties; such models fall back to prefix reuse.
fn effective_reuse(model: &LlamaModel, wanted: ReuseMode) -> ReuseMode {
    use llama_cpp_2::model::RopeType;
    let fixed_positions = matches!(model.rope_type(), Some(RopeType::MRope | RopeType::IMRope | RopeType::Vision));
    let no_partial_removal = model.is_recurrent() || model.is_hybrid();
    if wanted == ReuseMode::Pie && (fixed_positions || no_partial_removal) {
        tracing::warn!("this model's KV cache cannot shift; falling back to prefix reuse (--reuse prefix)");
        return ReuseMode::Prefix;
    }
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repair_step_encodes_about_40_ms_of_prefill_within_its_bounds() {
        assert_eq!(idle_slice_tokens(None), MIN_IDLE_SLICE_TOKENS, "unmeasured: the fewest");
        assert_eq!(idle_slice_tokens(Some(170.0)), MIN_IDLE_SLICE_TOKENS, "6.8 tokens in 40 ms: the floor");
        assert_eq!(idle_slice_tokens(Some(800.0)), 32);
        assert_eq!(idle_slice_tokens(Some(50_000.0)), REPAIR_CHUNK, "a fast machine: the largest step");
    }
}
