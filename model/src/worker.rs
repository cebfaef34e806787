//! The engine thread's state: the llama.cpp context and what its KV cache holds.
//!
//! The cache keeps the tokens of the last prompt plus what was generated after it. A new request
//! reuses the longest common token prefix and decodes only the rest (the llama-server-like
//! baseline; edit-aware reuse replaces it in the PIE sessions).

use crate::engine::{
    Completion, CompletionRequest, CompletionStats, EngineConfig, StopReason, DEFAULT_CONTEXT_TOKENS, MIN_PROMPT_TOKENS,
};
use crate::error::{EngineError, ModelError};
use crate::healing::Healing;
use crate::llama_log;
use crate::prompt;
use crate::shape::StreamVerdict;
use crate::template::PromptTemplate;
use crate::vocabulary::{self, TextStream};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::time::Instant;

/// The sequence id that holds the cached prompt.
const SEQ: i32 = 0;

/// Token healing re-spells at most this many trailing prompt tokens of a word.
const MAX_HEALED_TOKENS: usize = 3;

/// Owns the context; lives and dies on the engine thread.
pub(crate) struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    template: PromptTemplate,
    bos: Option<LlamaToken>,
    /// Tokens whose cells are in the KV cache of [`SEQ`], at positions 0..len.
    cached: Vec<LlamaToken>,
    batch: LlamaBatch<'static>,
    batch_tokens: usize,
    threads: (u32, u32),
    /// Every token's text (empty for control tokens), for token healing.
    pieces: Vec<Vec<u8>>,
}

impl<'m> Worker<'m> {
    /// Creates the context for `model` as `config` asks.
    pub(crate) fn new(model: &'m LlamaModel, config: &EngineConfig) -> Result<Self, ModelError> {
        let trained = model.n_ctx_train();
        let requested = config.context_tokens.unwrap_or(DEFAULT_CONTEXT_TOKENS.min(trained.max(1)));
        let needed = config.max_tokens + MIN_PROMPT_TOKENS;
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
            // Keep the whole sliding-window cache so that cells can be shifted later (Gemma 3).
            .with_swa_full(true);
        llama_log::clear_errors();
        let ctx = model.new_context(loaderless_backend()?, params).map_err(|err| ModelError::Llama {
            action: "create a context",
            reason: llama_log::take_errors().unwrap_or_else(|| err.to_string()),
        })?;
        let vocab = model.vocab();
        let bos = vocab.should_add_bos().then(|| vocab.bos());
        let pieces = vocab.tokens().map(|token| vocab.token_to_piece(token, false, None)).collect();
        Ok(Self {
            pieces,
            model,
            template: vocabulary::detect_template(model),
            bos,
            cached: Vec::new(),
            batch: LlamaBatch::new(batch_tokens as usize, 1),
            batch_tokens: batch_tokens as usize,
            threads,
            ctx,
        })
    }

    pub(crate) fn template(&self) -> &PromptTemplate {
        &self.template
    }

    pub(crate) fn context_tokens(&self) -> u32 {
        self.ctx.n_ctx()
    }

    pub(crate) fn threads(&self) -> (u32, u32) {
        self.threads
    }

    /// Runs one request to the end, a stop, or cancellation.
    pub(crate) fn complete(&mut self, request: &CompletionRequest) -> Result<Completion, EngineError> {
        let started = Instant::now();
        let span = tracing::debug_span!(
            "engine_complete",
            prompt_tokens = tracing::field::Empty,
            encoded = tracing::field::Empty
        );
        let _enter = span.enter();
        let n_ctx = self.ctx.n_ctx() as usize;
        let max_tokens = (request.max_tokens as usize).min(n_ctx.saturating_sub(MIN_PROMPT_TOKENS as usize)).max(1);
        let (fitted, healing) = self.fit_prompt(request, n_ctx - max_tokens);
        let reused = self.reuse_prefix(&fitted.tokens)?;
        span.record("prompt_tokens", fitted.tokens.len());
        span.record("encoded", fitted.tokens.len() - reused);
        self.decode_prompt(&fitted.tokens[reused..], &request.cancel)?;
        let prompt_ms = ms_since(started);
        let mut stats = CompletionStats {
            prompt_tokens: fitted.tokens.len(),
            reused_tokens: reused,
            encoded_tokens: fitted.tokens.len() - reused,
            dropped_prefix_tokens: fitted.prefix_dropped,
            prompt_ms,
            ..CompletionStats::default()
        };
        let (text, stop) = self.generate(request, healing, max_tokens, started, &mut stats)?;
        stats.total_ms = ms_since(started);
        Ok(Completion { text, stop, stats })
    }

    /// Tokenizes and fits the prompt. When the prefix ends mid-word, its last token is left out
    /// and returned as the [`Healing`] the first generated tokens must spell.
    fn fit_prompt(&self, request: &CompletionRequest, budget: usize) -> (prompt::FittedPrompt, Option<Healing>) {
        let vocab = self.model.vocab();
        let mut prefix = vocab.tokenize(request.prefix.as_bytes(), false, false);
        let healing = self.heal_trailing_word(&mut prefix, &request.prefix);
        let suffix = match self.template {
            PromptTemplate::PrefixOnly => Vec::new(),
            PromptTemplate::Fim(_) => vocab.tokenize(request.suffix.as_bytes(), false, false),
        };
        (prompt::assemble(&self.template, self.bos, &prefix, &suffix, budget), healing)
    }

    /// Drops the tokens of the word the prefix ends in (at most [`MAX_HEALED_TOKENS`]), or its
    /// trailing blank token, and returns the healing that makes generation spell them again.
    fn heal_trailing_word(&self, prefix: &mut Vec<LlamaToken>, text: &str) -> Option<Healing> {
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
            // Trailing blanks (`return ┃`) are healed too: the model writes ` a`, not ` ` + `a`.
            let blank = count == 0 && !piece.is_empty() && piece.iter().all(|b| *b == b' ' || *b == b'\t');
            if blank {
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

    /// Keeps the longest cached prefix of `prompt` (always leaving at least one token to decode,
    /// so the last position has fresh logits) and drops the rest of the cache. Returns its length.
    fn reuse_prefix(&mut self, prompt: &[LlamaToken]) -> Result<usize, EngineError> {
        let common = self.cached.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let keep = common.min(prompt.len().saturating_sub(1));
        if self.ctx.kv_cache_seq_rm(SEQ, Some(keep as u32), None).is_err() {
            self.ctx.clear_kv_cache();
            self.cached.clear();
            return Ok(0);
        }
        self.cached.truncate(keep);
        Ok(keep)
    }

    /// Decodes `tokens` after the cached ones, in batches, with logits for the last token only.
    fn decode_prompt(&mut self, tokens: &[LlamaToken], cancel: &crate::CancelToken) -> Result<(), EngineError> {
        let chunks = tokens.chunks(self.batch_tokens);
        let last_chunk = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.enumerate() {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            self.decode(chunk, i == last_chunk)?;
        }
        Ok(())
    }

    /// Decodes `tokens` at the next positions; logits for the last one if `want_logits`.
    fn decode(&mut self, tokens: &[LlamaToken], want_logits: bool) -> Result<(), EngineError> {
        self.batch.clear();
        let start = self.cached.len();
        for (i, token) in tokens.iter().enumerate() {
            let last = i + 1 == tokens.len();
            self.batch
                .add(*token, (start + i) as i32, &[SEQ], want_logits && last)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
        }
        if let Err(err) = self.ctx.decode(&mut self.batch) {
            // The cache state is unknown now: start from scratch next time.
            self.ctx.clear_kv_cache();
            self.cached.clear();
            return Err(EngineError::Decode(llama_log::take_errors().unwrap_or_else(|| err.to_string())));
        }
        self.cached.extend_from_slice(tokens);
        Ok(())
    }

    fn generate(
        &mut self,
        request: &CompletionRequest,
        mut healing: Option<Healing>,
        max_tokens: usize,
        started: Instant,
        stats: &mut CompletionStats,
    ) -> Result<(String, StopReason), EngineError> {
        let mut sampler = request.sampling.sampler();
        let mut text = TextStream::default();
        let mut piece = Vec::with_capacity(16);
        let n_ctx = self.ctx.n_ctx() as usize;
        let vocab = self.model.vocab();
        let stop = loop {
            if request.cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            if stats.generated_tokens >= max_tokens {
                break StopReason::TokenBudget;
            }
            if self.cached.len() >= n_ctx {
                break StopReason::ContextFull;
            }
            let last = self.batch.n_tokens() - 1;
            let token = match &healing {
                Some(heal) => match heal.best_token(self.ctx.get_logits_ith(last), &self.pieces) {
                    Some(token) => token,
                    // No token spells what the user typed: nothing sensible to suggest.
                    None => break StopReason::EndOfGeneration,
                },
                None => sampler.sample(&self.ctx, last),
            };
            if stats.generated_tokens == 0 {
                stats.first_token_ms = ms_since(started);
            }
            if healing.is_none() && (vocab.is_eog(token) || self.template.stop_tokens().contains(&token)) {
                break StopReason::EndOfGeneration;
            }
            stats.generated_tokens += 1;
            piece.clear();
            vocab.token_to_piece_into(token, &mut piece, false, None);
            match healing.as_mut().map(|heal| heal.consume(&piece)) {
                Some((beyond, done)) => {
                    text.push(beyond);
                    if done {
                        healing = None;
                    }
                }
                None => text.push(&piece),
            }
            if request.shape.verdict(text.text()) == StreamVerdict::Stop {
                break StopReason::ShapeComplete;
            }
            self.decode(&[token], true)?;
        };
        Ok((text.finish(), stop))
    }
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

fn loaderless_backend() -> Result<&'static llama_cpp_2::llama_backend::LlamaBackend, ModelError> {
    crate::loader::backend()
}
