//! Draft tokens for speculative decoding without a draft model (prompt lookup decoding, the
//! SuffixDecoding idea): code repeats itself, so the tokens that followed the last few generated
//! tokens somewhere in the text the model is already looking at (the prompt: the document and
//! the retrieved snippets; and recent suggestions) are a good guess of what comes next. The
//! engine decodes the guess in one batch and keeps the longest run the model agrees with, so the
//! output is the model's own (see `Worker::generate`).
//!
//! Pure: tokens in, tokens out.

use std::collections::VecDeque;

/// The longest n-gram matched: longer keys find fewer but surer continuations.
pub(crate) const MAX_KEY: usize = 4;

/// The shortest n-gram matched. A single token (`(`, `self`) recurs everywhere and its
/// continuations often disagree, but where no longer key matches it is still a guess, and a
/// verify batch can cost less than a single decode (it runs on the batch threads): the policy
/// measures how often each key length is right and drafts from it only where that pays.
pub(crate) const MIN_KEY: usize = 1;

/// Suggestions kept as draft sources.
const RECENT_SUGGESTIONS: usize = 8;

/// A guess of what follows, and how long the n-gram it was found by was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft<T> {
    /// The guessed tokens (empty when nothing matched).
    pub tokens: Vec<T>,
    /// The matched suffix's length ([`MIN_KEY`]..=[`MAX_KEY`]; 0 when nothing matched).
    pub key_len: usize,
}

/// Where drafts come from besides the prompt: the tokens of the last few suggestions.
#[derive(Debug)]
pub(crate) struct DraftSources<T> {
    recent: VecDeque<Vec<T>>,
}

impl<T> Default for DraftSources<T> {
    fn default() -> Self {
        Self { recent: VecDeque::with_capacity(RECENT_SUGGESTIONS) }
    }
}

impl<T: Copy + Eq> DraftSources<T> {
    /// Keeps `generated` (one request's generated tokens) as a source for later drafts.
    pub(crate) fn remember(&mut self, generated: Vec<T>) {
        if generated.len() <= MIN_KEY {
            return;
        }
        if self.recent.len() == RECENT_SUGGESTIONS {
            self.recent.pop_front();
        }
        self.recent.push_back(generated);
    }

    /// Up to `max` tokens that may follow `history` (the prompt, the tokens generated so far and
    /// the token just chosen): see [`draft_after`](Self::draft_after).
    #[cfg(test)]
    pub(crate) fn draft(&self, history: &[T], max: usize) -> Draft<T> {
        match history.split_last() {
            Some((&last, earlier)) => self.draft_after(earlier, last, max),
            None => Draft { tokens: Vec::new(), key_len: 0 },
        }
    }

    /// Up to `max` tokens that may follow `earlier` (the prompt and the tokens generated so far)
    /// and then `last` (the token just chosen), without copying either: the continuation of the
    /// longest suffix (of [`MIN_KEY`]..=[`MAX_KEY`] tokens) that occurred before, its most recent
    /// occurrence in the history first, then in the recent suggestions, newest first. Empty when
    /// nothing matches.
    pub(crate) fn draft_after(&self, earlier: &[T], last: T, max: usize) -> Draft<T> {
        let none = Draft { tokens: Vec::new(), key_len: 0 };
        if max == 0 {
            return none;
        }
        for n in (MIN_KEY..=MAX_KEY.min(earlier.len() + 1)).rev() {
            let mut key = earlier[earlier.len() + 1 - n..].to_vec();
            key.push(last);
            // In the history, the key's own occurrence (the suffix) has no continuation.
            let found = continuation(earlier, &key, &[last], max)
                .or_else(|| self.recent.iter().rev().find_map(|source| continuation(source, &key, &[], max)));
            if let Some(tokens) = found {
                return Draft { tokens, key_len: n };
            }
        }
        none
    }
}

/// The tokens (up to `max`) after the last occurrence of `key` in `searched`, read on into
/// `then` (what follows `searched`), if at least one token follows it.
fn continuation<T: Copy + Eq>(searched: &[T], key: &[T], then: &[T], max: usize) -> Option<Vec<T>> {
    let n = key.len();
    if searched.len() < n {
        return None;
    }
    (0..=searched.len() - n).rev().find_map(|start| {
        let end = start + n;
        let follows = searched.len() - end + then.len();
        (follows > 0 && &searched[start..end] == key)
            .then(|| searched[end..].iter().chain(then).take(max).copied().collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn the_continuation_of_the_most_recent_match_is_drafted() {
        let sources = DraftSources::default();
        // "ab" occurs twice before the end; the later occurrence is followed by "Y".
        let history = tokens("abX..abY..ab");
        assert_eq!(sources.draft(&history, 3).tokens, tokens("Y.."));
    }

    #[test]
    fn a_longer_key_wins_over_a_more_recent_shorter_one() {
        let sources = DraftSources::default();
        // The 3-token key "zab" occurs once (followed by "1"); "ab" alone is more recent ("2").
        let history = tokens("zab1__ab2__zab");
        assert_eq!(sources.draft(&history, 1), Draft { tokens: tokens("1"), key_len: 3 });
    }

    #[test]
    fn drafts_stop_at_max_and_at_the_end_of_the_text() {
        let sources = DraftSources::default();
        assert_eq!(sources.draft(&tokens("abcdef ab"), 2).tokens, tokens("cd"));
        assert_eq!(sources.draft(&tokens("abab"), 4).tokens, tokens("ab"), "a match may continue into the key itself");
        assert_eq!(sources.draft(&tokens("abcdef ab"), 0), Draft { tokens: Vec::new(), key_len: 0 });
    }

    #[test]
    fn no_match_no_draft() {
        let sources = DraftSources::default();
        assert!(sources.draft(&tokens("abcdefg"), 4).tokens.is_empty());
        assert!(sources.draft(&tokens("a"), 4).tokens.is_empty());
        assert!(sources.draft(&tokens(""), 4).tokens.is_empty(), "empty history");
    }

    #[test]
    fn a_single_token_key_is_the_last_resort() {
        let sources = DraftSources::default();
        // Only the last token recurs: its most recent earlier occurrence is followed by "1b".
        assert_eq!(sources.draft(&tokens("a1b2a"), 2), Draft { tokens: tokens("1b"), key_len: 1 });
        // "xa" recurs too, and the longer key wins over the more recent single "a".
        assert_eq!(sources.draft(&tokens("xa7_a8_xa"), 1), Draft { tokens: tokens("7"), key_len: 2 });
    }

    #[test]
    fn recent_suggestions_are_searched_after_the_history() {
        let mut sources = DraftSources::default();
        sources.remember(tokens("old: pq-first"));
        sources.remember(tokens("new: pq-second"));
        assert_eq!(sources.draft(&tokens("... pq"), 3).tokens, tokens("-se"), "newest suggestion first");
        assert_eq!(sources.draft(&tokens("pq#pq"), 2).tokens, tokens("#p"), "at the same key length the history wins");
        assert_eq!(sources.draft(&tokens("pq# pq"), 2).tokens, tokens("-s"), "a longer key wins wherever it is");
    }

    #[test]
    fn only_the_last_few_suggestions_are_kept() {
        let mut sources = DraftSources::default();
        sources.remember(tokens("KEY-gone"));
        for i in 0..RECENT_SUGGESTIONS {
            sources.remember(tokens(&format!("filler {i}")));
        }
        assert!(sources.draft(&tokens("KEY"), 3).tokens.is_empty());
        sources.remember(tokens("ab"));
        assert_eq!(sources.recent.len(), RECENT_SUGGESTIONS, "too short to ever match: not kept");
    }
}
