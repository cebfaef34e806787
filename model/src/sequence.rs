//! The document's tokens in the KV cache, and the surgery that keeps them there across edits.
//!
//! [`KvSequence`] mirrors what llama.cpp holds for one sequence: token `i` sits in a cell at
//! position `i`. [`KvSequence::follow`] brings the cache to a new prompt by a
//! [`CachePlan`]: keep the common prefix, remove the replaced middle, shift the kept tail by the
//! length change, decode only the new tokens (PIE).
//!
//! llama.cpp refuses a batch whose positions do not continue the sequence's last position, so
//! new tokens cannot be decoded straight into the middle of a sequence. The recipe: tag the tail
//! with a scratch sequence (`seq_cp`), remove it from the document's sequence, shift it in the
//! scratch sequence, decode the new tokens (they see only the cells before them, as PIE requires;
//! the pending K-shift runs during this decode), copy the tail back and clear the scratch
//! sequence. This needs a unified KV cache and two sequences.
//!
//! Every document cell also belongs to a *pin* sequence. llama.cpp's sliding-window caches
//! (Gemma 3) reuse a cell that only one sequence holds once it is outside that sequence's window,
//! and then purge that sequence's older positions, which would silently drop cells an edit far
//! above the cursor, or a parked tail, still needs. A cell held by two sequences is never
//! reused, so pairs keep the whole document in the cache; the scratch is a pair too.
//!
//! Cells after an edit were computed without the new text: they are *stale* from
//! [`KvSequence::stale_from`] to the end of the prompt. [`KvSequence::repair_step`] re-encodes
//! them in order, one chunk at a time, with the same recipe (no shift); after the last chunk
//! the cache equals a full re-encode of the prompt.

use crate::batch_threads::BatchThreads;
use crate::cache_plan::{self, CachePlan};
use crate::cancel::CancelToken;
use crate::context_threads::ContextThreads;
use crate::error::EngineError;
use crate::llama_log;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use std::ops::Range;
use std::time::Instant;

/// The most tokens one repair step re-encodes (the worker sizes steps by time, see
/// `Worker::idle_slice_tokens`).
pub(crate) const REPAIR_CHUNK: usize = 64;

/// A document's llama.cpp sequence and its pin (see the module docs): they always hold the same
/// cells at the same positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeqPair {
    /// The sequence attention runs in.
    pub main: i32,
    /// The sequence that only keeps the cells from being reused.
    pub pin: i32,
}

/// What the KV cache holds for one document's sequence.
#[derive(Debug)]
pub(crate) struct KvSequence {
    /// The llama.cpp sequence pair.
    seq: SeqPair,
    /// Token `i` is in a cell at position `i`: the last prompt, then what was generated.
    tokens: Vec<LlamaToken>,
    /// How many of `tokens` are the last prompt.
    prompt_len: usize,
    /// Cells of the prompt from here on were computed before an edit that precedes them.
    stale_from: Option<usize>,
}

/// The llama.cpp context, a reusable batch and the scratch pair: what cache surgery works on.
pub(crate) struct Llama<'m> {
    /// The context.
    pub ctx: LlamaContext<'m>,
    /// A batch with room for `batch_tokens` tokens, two sequence ids each (a document and its pin).
    pub batch: LlamaBatch<'static>,
    /// The batch's capacity.
    pub batch_tokens: usize,
    /// The sequence pair that parks a tail while new tokens are decoded before it; empty between
    /// operations.
    pub scratch: SeqPair,
    /// The context's batch threads, when they can be changed.
    threads: Option<ContextThreads>,
    /// Which thread count each batch runs on ([`crate::batch_threads`]).
    batch_threads: BatchThreads,
}

impl<'m> Llama<'m> {
    /// Wraps `ctx` with a batch of `batch_tokens` tokens.
    pub(crate) fn new(ctx: LlamaContext<'m>, batch_tokens: usize, scratch: SeqPair) -> Self {
        let threads = ContextThreads::of(&ctx);
        if threads.is_none() {
            tracing::debug!("the context's thread counts cannot be changed: batches stay on the configured threads");
        }
        let batch_threads = BatchThreads::new(threads.as_ref().map_or(1, ContextThreads::batch));
        Self { ctx, batch: LlamaBatch::new(batch_tokens, 2), batch_tokens, scratch, threads, batch_threads }
    }

    /// Decodes the batch, a batch of several tokens on the thread count measured to be faster
    /// under the machine's current load ([`crate::batch_threads`]).
    pub(crate) fn decode_batch(&mut self) -> Result<(), EngineError> {
        let tokens = self.batch.n_tokens().max(0) as usize;
        let chosen = match &mut self.threads {
            Some(threads) if tokens >= 2 => {
                let chosen = self.batch_threads.choose(tokens);
                threads.set_batch(chosen);
                Some(chosen)
            }
            _ => None,
        };
        let started = Instant::now();
        self.ctx
            .decode(&mut self.batch)
            .map_err(|err| EngineError::Decode(llama_log::take_errors().unwrap_or_else(|| err.to_string())))?;
        if let Some(chosen) = chosen {
            self.batch_threads.record(tokens, chosen, started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(())
    }

    /// Decodes `sample` (a few tokens; a batch of at most 8 is a small one) into the scratch pair
    /// and clears it, three times: on the configured batch threads, on one, and on the faster
    /// ([`BatchThreads`] measures each), so that a machine busy from the start runs its first
    /// cold prompt on the faster thread count too.
    pub(crate) fn measure_batch_threads(&mut self, sample: &[LlamaToken]) -> Result<(), EngineError> {
        if self.threads.as_ref().is_none_or(|threads| threads.batch() <= 1) || sample.len() < 2 {
            return Ok(());
        }
        let sample = &sample[..sample.len().min(8).min(self.batch_tokens)];
        let scratch = self.scratch;
        for _ in 0..3 {
            let decoded = self.decode_at(scratch, 0, sample, true);
            self.clear(scratch);
            decoded?;
        }
        Ok(())
    }

    /// The batch threads the last batch ran on.
    pub(crate) fn current_batch_threads(&self) -> Option<u32> {
        self.threads.as_ref().map(ContextThreads::batch)
    }

    /// The logits of the last token decoded with logits.
    pub(crate) fn last_logits(&self) -> &[f32] {
        self.ctx.get_logits_ith(self.batch.n_tokens() - 1)
    }

    /// Decodes `tokens` into `seq` at positions `start..`, in batches; logits for the very last
    /// token if `want_logits`.
    fn decode_at(
        &mut self,
        seq: SeqPair,
        start: usize,
        tokens: &[LlamaToken],
        want_logits: bool,
    ) -> Result<(), EngineError> {
        let chunks = tokens.chunks(self.batch_tokens);
        let last_chunk = chunks.len().saturating_sub(1);
        for (c, chunk) in chunks.enumerate() {
            self.batch.clear();
            let offset = start + c * self.batch_tokens;
            for (i, token) in chunk.iter().enumerate() {
                let logits = want_logits && c == last_chunk && i + 1 == chunk.len();
                self.batch
                    .add(*token, (offset + i) as i32, &[seq.main, seq.pin], logits)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            self.decode_batch()?;
        }
        Ok(())
    }

    fn remove(&mut self, seq: SeqPair, from: usize, to: Option<usize>) -> Result<(), EngineError> {
        for id in [seq.main, seq.pin] {
            if self.ctx.kv_cache_seq_rm(id, Some(from as u32), to.map(|t| t as u32)).is_err() {
                return Err(EngineError::Decode(format!("could not remove cells {from}.. of sequence {id}")));
            }
        }
        Ok(())
    }

    fn tag_scratch(&mut self, seq: SeqPair, from: usize) -> Result<(), EngineError> {
        let scratch = self.scratch;
        for (src, dst) in [(seq.main, scratch.main), (seq.pin, scratch.pin)] {
            self.ctx
                .kv_cache_seq_cp(src, dst, Some(from as u32), None)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
        }
        Ok(())
    }

    fn untag_scratch(&mut self, seq: SeqPair) -> Result<(), EngineError> {
        let scratch = self.scratch;
        for (src, dst) in [(scratch.main, seq.main), (scratch.pin, seq.pin)] {
            self.ctx.kv_cache_seq_cp(src, dst, None, None).map_err(|e| EngineError::Decode(e.to_string()))?;
        }
        self.clear(scratch);
        Ok(())
    }

    fn clear(&mut self, seq: SeqPair) {
        for id in [seq.main, seq.pin] {
            let _ = self.ctx.clear_kv_cache_seq(Some(id as u32), None, None);
        }
    }

    /// Moves the pair's cells in `from..to` by `delta`. A position belongs to the cell, not to a
    /// sequence, so shifting through the main sequence moves the pin's view too.
    fn shift(&mut self, seq: SeqPair, from: usize, to: usize, delta: isize) -> Result<(), EngineError> {
        self.ctx
            .kv_cache_seq_add(seq.main, Some(from as u32), Some(to as u32), delta as i32)
            .map_err(|e| EngineError::Decode(e.to_string()))
    }
}

impl KvSequence {
    /// An empty sequence held by the pair `seq`.
    pub(crate) fn new(seq: SeqPair) -> Self {
        Self { seq, tokens: Vec::new(), prompt_len: 0, stale_from: None }
    }

    /// The tokens in the cache (prompt, then generated).
    pub(crate) fn tokens(&self) -> &[LlamaToken] {
        &self.tokens
    }

    /// Where stale cells begin, if any.
    pub(crate) fn stale_from(&self) -> Option<usize> {
        self.stale_from
    }

    /// The base a plan for a new prompt starts from: everything in the cache when the new prompt
    /// continues into what was generated (the user typed the suggestion), else the last prompt.
    pub(crate) fn plan_base(&self, prompt: &[LlamaToken]) -> &[LlamaToken] {
        if cache_plan::common_prefix(&self.tokens, prompt) > self.prompt_len {
            &self.tokens
        } else {
            &self.tokens[..self.prompt_len]
        }
    }

    /// Brings the cache to `prompt` by `plan` (made against [`plan_base`](Self::plan_base)),
    /// leaving logits for the prompt's last token in the batch. On error the cache is cleared.
    /// Cancellation is checked between prompt batches after the tail is in place; a cancelled
    /// update leaves a consistent, shorter cache.
    pub(crate) fn follow(
        &mut self,
        llama: &mut Llama<'_>,
        plan: &CachePlan,
        prompt: &[LlamaToken],
        cancel: &CancelToken,
    ) -> Result<(), EngineError> {
        let result = self.apply(llama, plan, prompt, cancel);
        if matches!(result, Err(EngineError::Decode(_))) {
            self.reset(llama);
        }
        result
    }

    fn apply(
        &mut self,
        llama: &mut Llama<'_>,
        plan: &CachePlan,
        prompt: &[LlamaToken],
        cancel: &CancelToken,
    ) -> Result<(), EngineError> {
        let new_middle = &prompt[plan.inserted.clone()];
        // Everything after the tail (the old prompt's last token, generated tokens) goes.
        llama.remove(self.seq, plan.tail.end, None)?;
        if !plan.removed.is_empty() {
            llama.remove(self.seq, plan.removed.start, Some(plan.removed.end))?;
        }
        if !plan.tail.is_empty() && !new_middle.is_empty() {
            // Decode the new middle before the tail: park the tail in the scratch sequence.
            llama.tag_scratch(self.seq, plan.tail.start)?;
            llama.remove(self.seq, plan.tail.start, None)?;
            let scratch = llama.scratch;
            llama.shift(scratch, plan.tail.start, plan.tail.end, plan.shift)?;
            llama.decode_at(self.seq, plan.keep, new_middle, false)?;
            llama.untag_scratch(self.seq)?;
        } else if plan.shifts() {
            // A pure deletion: the tail only moves.
            llama.shift(self.seq, plan.tail.start, plan.tail.end, plan.shift)?;
        } else if !new_middle.is_empty() {
            llama.decode_at(self.seq, plan.keep, new_middle, false)?;
        }
        let appended = &prompt[plan.appended.clone()];
        let mut done = 0;
        for chunk in appended.chunks(llama.batch_tokens) {
            if cancel.is_cancelled() {
                self.settle(plan, &prompt[..plan.appended.start + done]);
                return Err(EngineError::Cancelled);
            }
            let last = done + chunk.len() == appended.len();
            llama.decode_at(self.seq, plan.appended.start + done, chunk, last)?;
            done += chunk.len();
        }
        self.settle(plan, prompt);
        Ok(())
    }

    /// Records that the cache now holds `held` (the new prompt, or the part of it decoded before a
    /// cancellation).
    fn settle(&mut self, plan: &CachePlan, held: &[LlamaToken]) {
        self.track_staleness(plan);
        self.tokens.clear();
        self.tokens.extend_from_slice(held);
        self.prompt_len = held.len();
        if self.stale_from.is_some_and(|s| s >= held.len()) {
            self.stale_from = None;
        }
    }

    /// Moves the stale mark through an edit: cells after a changed middle were computed without
    /// it; stale cells before the edit stay stale; re-decoded cells are fresh.
    fn track_staleness(&mut self, plan: &CachePlan) {
        let tail_kept = !plan.tail.is_empty();
        let middle_changed = !plan.removed.is_empty() || !plan.inserted.is_empty();
        self.stale_from = match self.stale_from {
            Some(s) if s < plan.keep => Some(s),
            Some(_) if tail_kept => Some(plan.inserted.end),
            _ if tail_kept && middle_changed => Some(plan.inserted.end),
            _ => None,
        };
    }

    /// Appends one generated token's cell (decoded with logits).
    pub(crate) fn push_generated(&mut self, llama: &mut Llama<'_>, token: LlamaToken) -> Result<(), EngineError> {
        let at = self.tokens.len();
        if let Err(err) = llama.decode_at(self.seq, at, &[token], true) {
            self.reset(llama);
            return Err(err);
        }
        self.tokens.push(token);
        Ok(())
    }

    /// Appends the cells of a chosen `token` and of `drafts` (guesses of what follows it) in one
    /// batch with logits for every one: batch row `i` then holds the prediction after the token
    /// (`i == 0`) or after draft `i - 1`. The caller keeps the drafts the model agrees with and
    /// drops the rest with [`truncate_generated`](Self::truncate_generated). `drafts` must fit
    /// the batch beside the token.
    pub(crate) fn push_with_drafts(
        &mut self,
        llama: &mut Llama<'_>,
        token: LlamaToken,
        drafts: &[LlamaToken],
    ) -> Result<(), EngineError> {
        let at = self.tokens.len();
        llama.batch.clear();
        let result = std::iter::once(&token)
            .chain(drafts)
            .enumerate()
            .try_for_each(|(i, t)| llama.batch.add(*t, (at + i) as i32, &[self.seq.main, self.seq.pin], true));
        let result = result.map_err(|e| EngineError::Decode(e.to_string())).and_then(|()| llama.decode_batch());
        if let Err(err) = result {
            self.reset(llama);
            return Err(err);
        }
        self.tokens.push(token);
        self.tokens.extend_from_slice(drafts);
        Ok(())
    }

    /// Drops the generated cells from `len` on (drafts the model did not agree with).
    pub(crate) fn truncate_generated(&mut self, llama: &mut Llama<'_>, len: usize) -> Result<(), EngineError> {
        debug_assert!(len >= self.prompt_len, "only generated cells are truncated");
        if len >= self.tokens.len() {
            return Ok(());
        }
        if let Err(err) = llama.remove(self.seq, len, None) {
            self.reset(llama);
            return Err(err);
        }
        self.tokens.truncate(len);
        Ok(())
    }

    /// Re-encodes the next `chunk` stale prompt cells (at least one), in document order. Returns
    /// whether stale cells remain. The generated tokens after the prompt are dropped when the
    /// last chunk is repaired.
    pub(crate) fn repair_step(&mut self, llama: &mut Llama<'_>, chunk: usize) -> Result<bool, EngineError> {
        let Some(from) = self.stale_from else { return Ok(false) };
        let end = (from + chunk.max(1)).min(self.prompt_len);
        self.reencode(llama, from..end, false)?;
        self.stale_from = (end < self.prompt_len).then_some(end);
        Ok(self.stale_from.is_some())
    }

    /// Re-encodes the prompt's last `n` cells so that they attend to everything before them again
    /// (after an insertion far above, such as a new repository-context block, whose effect on the
    /// tokens at the cursor matters most), leaving logits for the prompt's last token. Generated
    /// tokens after the prompt are dropped. Returns how many cells were re-encoded.
    pub(crate) fn refresh_tail(&mut self, llama: &mut Llama<'_>, n: usize) -> Result<usize, EngineError> {
        let from = self.prompt_len.saturating_sub(n);
        if from == self.prompt_len {
            return Ok(0);
        }
        self.reencode(llama, from..self.prompt_len, true)?;
        if self.stale_from.is_some_and(|s| s >= from) {
            self.stale_from = None;
        }
        Ok(self.prompt_len - from)
    }

    /// Decodes the prompt cells `cells` again, in place: the same tokens, attending to the cells
    /// before them as they are now. A range ending at the prompt's end drops the generated tokens
    /// after it (`want_logits`: leave logits for the last one); otherwise the cells after the
    /// range are parked in the scratch sequence meanwhile. On error the cache is cleared.
    fn reencode(&mut self, llama: &mut Llama<'_>, cells: Range<usize>, want_logits: bool) -> Result<(), EngineError> {
        let (from, end) = (cells.start, cells.end);
        let chunk: Vec<LlamaToken> = self.tokens[cells].to_vec();
        let result = if end == self.prompt_len {
            llama.remove(self.seq, from, None).and_then(|()| llama.decode_at(self.seq, from, &chunk, want_logits))
        } else {
            llama
                .tag_scratch(self.seq, end)
                .and_then(|()| llama.remove(self.seq, from, None))
                .and_then(|()| llama.decode_at(self.seq, from, &chunk, false))
                .and_then(|()| llama.untag_scratch(self.seq))
        };
        if let Err(err) = result {
            self.reset(llama);
            return Err(err);
        }
        if end == self.prompt_len {
            self.tokens.truncate(self.prompt_len);
        }
        Ok(())
    }

    /// Forgets everything: this sequence's cells (and the scratch sequence) are cleared and the
    /// next prompt is encoded in full.
    pub(crate) fn reset(&mut self, llama: &mut Llama<'_>) {
        llama.clear(self.seq);
        let scratch = llama.scratch;
        llama.clear(scratch);
        self.tokens.clear();
        self.prompt_len = 0;
        self.stale_from = None;
    }
}

#[cfg(test)]
mod tests {
    //! The shift itself, on a real model: moving every cell by +k must leave the next-token
    //! distribution as it was (within RoPE's floating-point noise at larger positions).

    use super::*;
    use splice_e2e::logits::{argmax, kl};

    const DOC_SEQ: SeqPair = SeqPair { main: 0, pin: 1 };
    const SCRATCH_SEQ: SeqPair = SeqPair { main: 2, pin: 3 };
    use crate::loader;
    use llama_cpp_2::context::params::LlamaContextParams;
    use std::num::NonZeroU32;

    fn context(model: &llama_cpp_2::model::LlamaModel) -> LlamaContext<'_> {
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(2048))
            .with_n_batch(512)
            .with_n_ubatch(512)
            .with_swa_full(true)
            .with_n_seq_max(4)
            .with_kv_unified(true);
        model.new_context(loader::backend().unwrap(), params).unwrap()
    }

    /// The cache holds exactly the mirrored tokens at positions 0..len, and the scratch sequence
    /// is empty.
    fn assert_mirrored(llama: &Llama<'_>, sequence: &KvSequence) {
        let len = sequence.tokens().len() as i32;
        for id in [DOC_SEQ.main, DOC_SEQ.pin] {
            assert_eq!(llama.ctx.kv_cache_seq_pos_min(id), if len == 0 { -1 } else { 0 }, "sequence {id}");
            assert_eq!(llama.ctx.kv_cache_seq_pos_max(id), len - 1, "sequence {id}");
        }
        for id in [SCRATCH_SEQ.main, SCRATCH_SEQ.pin] {
            assert_eq!(llama.ctx.kv_cache_seq_pos_max(id), -1, "the scratch sequence {id} is cleared");
        }
    }

    /// Applies `steps` random edits to `text`, following each with a plan, and checks the mirror
    /// and the cells after every step; repairs every `repair_every` steps and at the end.
    fn random_edits(path: &std::path::Path, text: &str, steps: usize, repair_every: usize) {
        use crate::cache_plan::{plan, ReuseMode};
        let (model, _) = loader::load_model(path, 0, false).unwrap();
        let mut llama = Llama::new(context(&model), 512, SCRATCH_SEQ);
        let mut sequence = KvSequence::new(DOC_SEQ);
        let never = CancelToken::new();
        let mut text = text.to_owned();
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) % n.max(1) as u64) as usize
        };
        for step in 0..steps {
            let at = (0..=next(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap();
            let end = (at..=(at + next(40)).min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap();
            let inserted = ["", "x", "    # note 😀\n", "value = 中文\n", "def f():\n    pass\n"][next(5)];
            text.replace_range(at..end, inserted);
            let prompt = model.vocab().tokenize(text.as_bytes(), true, false);
            let cache_plan = plan(sequence.plan_base(&prompt), &prompt, ReuseMode::Pie);
            sequence.follow(&mut llama, &cache_plan, &prompt, &never).unwrap();
            assert_eq!(sequence.tokens(), &prompt[..], "step {step}: the mirror is the tokenized prompt");
            assert_mirrored(&llama, &sequence);
            if step % repair_every == repair_every - 1 || step + 1 == steps {
                while sequence.repair_step(&mut llama, REPAIR_CHUNK).unwrap() {
                    assert_mirrored(&llama, &sequence);
                }
                assert_eq!(sequence.stale_from(), None);
                assert_mirrored(&llama, &sequence);
            }
        }
    }

    #[test]
    fn the_batch_threads_of_a_context_can_be_changed() {
        let (model, _) = loader::load_model(&splice_e2e::gemma(), 0, false).unwrap();
        let ctx = context(&model);
        let mut threads = ContextThreads::of(&ctx).expect("llama-cpp-2 prints the context's pointer");
        let configured = threads.batch();
        assert!(configured >= 1);
        threads.set_batch(configured + 1);
        assert_eq!(threads.reported_by_llama(), configured as i32 + 1, "llama.cpp reads the new count back");
        let mut llama = Llama::new(ctx, 512, SCRATCH_SEQ);
        let prompt = model.vocab().tokenize(b"def add(a, b):\n    return", true, false);
        llama.measure_batch_threads(&prompt).unwrap();
        assert!(llama.batch_threads.knows_the_load(), "both counts measured before any request");
        for id in [SCRATCH_SEQ.main, SCRATCH_SEQ.pin] {
            assert_eq!(llama.ctx.kv_cache_seq_pos_max(id), -1, "the scratch sequence {id} is cleared");
        }
        let mut sequence = KvSequence::new(DOC_SEQ);
        let plan = crate::cache_plan::plan(&[], &prompt, crate::cache_plan::ReuseMode::Pie);
        sequence.follow(&mut llama, &plan, &prompt, &CancelToken::new()).unwrap();
        assert!(llama.current_batch_threads().is_some(), "batches run on a chosen count");
    }

    #[test]
    fn random_edits_keep_the_mirror_equal_to_the_tokenized_prompt() {
        random_edits(&splice_e2e::smollm2(), include_str!("../../tests/fixtures/python/inventory.py"), 24, 5);
    }

    #[test]
    fn a_sliding_window_cache_keeps_every_cell_of_a_long_document() {
        // Gemma 3 attends through a 512-token sliding window in most layers; llama.cpp reuses cells
        // outside a sequence's window unless another sequence holds them. Edits anywhere in a
        // document several windows long must still find every cell at its position.
        let long = include_str!("../../tests/fixtures/python/inventory.py").repeat(4);
        random_edits(&splice_e2e::gemma(), &long, 10, 10);
    }

    #[test]
    fn shifting_a_whole_sequence_keeps_its_next_token() {
        for path in [splice_e2e::smollm2(), splice_e2e::gemma()] {
            let (model, _) = loader::load_model(&path, 0, false).unwrap();
            let mut llama = Llama::new(context(&model), 512, SCRATCH_SEQ);
            let text = include_str!("../../tests/fixtures/python/inventory.py");
            let tokens = model.vocab().tokenize(text.as_bytes(), true, false);
            let (body, last) = tokens.split_at(tokens.len() - 1);

            llama.decode_at(DOC_SEQ, 0, &tokens, true).unwrap();
            let plain = llama.last_logits().to_vec();

            for k in [1usize, 37, 700] {
                llama.ctx.clear_kv_cache();
                llama.decode_at(DOC_SEQ, 0, body, false).unwrap();
                llama.shift(DOC_SEQ, 0, body.len(), k as isize).unwrap();
                llama.decode_at(DOC_SEQ, body.len() + k, last, true).unwrap();
                let shifted = llama.last_logits().to_vec();
                let divergence = kl(&plain, &shifted);
                println!("{}: shift +{k}: KL {divergence:.2e}", path.display());
                assert_eq!(argmax(&shifted), argmax(&plain), "shift +{k}");
                assert!(divergence < 1e-2, "shift +{k}: KL {divergence:.2e}");
            }
        }
    }
}
