//! Several open documents share one context: each gets its own llama.cpp sequence, and the
//! least recently used one gives its cells up when the context runs out of room.
//!
//! Sequence ids `0..max` hold documents, `max..2·max` pin their cells, and `2·max`, `2·max + 1`
//! are the scratch pair PIE parks tails in.
//! All sequences live in one unified KV cache of `n_ctx` cells, so the cells a document may use
//! are whatever the others leave.

use crate::repo_context::RenderedContext;
use crate::sequence::{KvSequence, Llama, SeqPair};
use llama_cpp_2::token::LlamaToken;

/// One sequence and the document it holds.
#[derive(Debug)]
struct Slot {
    /// The document's key, or `None` while the slot is free.
    key: Option<String>,
    sequence: KvSequence,
    /// Logical time of the last request, for least-recently-used eviction.
    last_used: u64,
    /// The repository-context block the last prompt began with (after BOS), if any.
    block: Option<RenderedContext>,
}

/// The document sequences of a context.
#[derive(Debug)]
pub(crate) struct Documents {
    slots: Vec<Slot>,
    clock: u64,
}

impl Documents {
    /// Room for `max` documents.
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        let slots = (0..max)
            .map(|i| {
                let pair = SeqPair { main: i as i32, pin: (max + i) as i32 };
                Slot { key: None, sequence: KvSequence::new(pair), last_used: 0, block: None }
            })
            .collect();
        Self { slots, clock: 0 }
    }

    /// Sequence ids a context needs for `max` documents: a pair each, and the scratch pair.
    pub(crate) fn sequences_needed(max: usize) -> u32 {
        (2 * max.max(1) + 2) as u32
    }

    /// The scratch pair.
    pub(crate) fn scratch(&self) -> SeqPair {
        let n = 2 * self.slots.len() as i32;
        SeqPair { main: n, pin: n + 1 }
    }

    /// The slot of `key`: its own if it has one, else a free one, else the least recently used
    /// one (whose cells are dropped).
    pub(crate) fn acquire(&mut self, key: &str, llama: &mut Llama<'_>) -> usize {
        self.clock += 1;
        let index = match self.slots.iter().position(|s| s.key.as_deref() == Some(key)) {
            Some(index) => index,
            None => {
                let index = self.slots.iter().position(|s| s.key.is_none()).unwrap_or_else(|| self.least_recent(None));
                let slot = &mut self.slots[index];
                if let Some(old) = slot.key.take() {
                    tracing::debug!(evicted = %old, "document sequence reused for another document");
                }
                slot.sequence.reset(llama);
                slot.key = Some(key.to_owned());
                index
            }
        };
        self.slots[index].last_used = self.clock;
        index
    }

    /// What the cache holds for document `key` (prompt and generated tokens), if it has a
    /// sequence. Does not count as a use.
    pub(crate) fn cached(&self, key: &str) -> Option<&[LlamaToken]> {
        self.slots.iter().find(|s| s.key.as_deref() == Some(key)).map(|s| s.sequence.tokens())
    }

    /// The cached tokens a plan for `prompt` in document `key` would start from (see
    /// [`KvSequence::plan_base`]), if the document has a sequence. Does not count as a use.
    pub(crate) fn plan_base(&self, key: &str, prompt: &[LlamaToken]) -> Option<&[LlamaToken]> {
        self.slots.iter().find(|s| s.key.as_deref() == Some(key)).map(|s| s.sequence.plan_base(prompt))
    }

    /// The repository-context block `key`'s last prompt began with, if any.
    pub(crate) fn block(&self, key: &str) -> Option<&RenderedContext> {
        self.slots.iter().find(|s| s.key.as_deref() == Some(key)).and_then(|s| s.block.as_ref())
    }

    /// Records the block the prompt just followed at `index` began with (`None`: no block).
    pub(crate) fn set_block(&mut self, index: usize, block: Option<RenderedContext>) {
        self.slots[index].block = block;
    }

    /// The sequence of slot `index`.
    pub(crate) fn sequence(&mut self, index: usize) -> &mut KvSequence {
        &mut self.slots[index].sequence
    }

    /// Drops other documents' cells, least recently used first, until `needed` cells fit in
    /// `n_ctx` next to what they keep. Returns how many documents were evicted.
    pub(crate) fn make_room(&mut self, current: usize, needed: usize, n_ctx: usize, llama: &mut Llama<'_>) -> usize {
        let mut evicted = 0;
        loop {
            let others: usize = self
                .slots
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != current)
                .map(|(_, s)| s.sequence.tokens().len())
                .sum();
            if others + needed <= n_ctx {
                return evicted;
            }
            let victim = self.least_recent(Some(current));
            if victim == current || self.slots[victim].sequence.tokens().is_empty() {
                return evicted;
            }
            tracing::debug!(evicted = ?self.slots[victim].key, "document cells dropped to make room");
            self.slots[victim].sequence.reset(llama);
            self.slots[victim].key = None;
            evicted += 1;
        }
    }

    /// Frees the sequence of `key` (the editor closed the document).
    pub(crate) fn close(&mut self, key: &str, llama: &mut Llama<'_>) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.key.as_deref() == Some(key)) {
            slot.sequence.reset(llama);
            slot.key = None;
        }
    }

    /// The most recently used slot with stale cells: repair serves the document in use first.
    pub(crate) fn stale(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.sequence.stale_from().is_some())
            .max_by_key(|(_, s)| s.last_used)
            .map(|(i, _)| i)
    }

    /// The least recently used slot holding cells, other than `except` (falls back to any slot).
    fn least_recent(&self, except: Option<usize>) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, s)| Some(*i) != except && !s.sequence.tokens().is_empty())
            .min_by_key(|(_, s)| s.last_used)
            .or_else(|| {
                self.slots.iter().enumerate().filter(|(i, _)| Some(*i) != except).min_by_key(|(_, s)| s.last_used)
            })
            .map_or(0, |(i, _)| i)
    }
}
