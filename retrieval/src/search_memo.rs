//! The last searches of one index root and their hits, for as long as the index does not change.
//!
//! While a person types inside a word, the query's terms stay the same (they leave out the word
//! being typed), and the index changes only when a file is committed. So most keystrokes ask
//! the same search as the keystroke before: the gate's near-copy search, its score gate, and the
//! definitions of the word being typed. A search that the memo holds for the reader's current
//! generation is answered from it; a new generation (a commit and reload) forgets everything,
//! but the index searches the last few again as it commits ([`SearchMemo::recent_keys`]), so a
//! person who paused (the pause is what re-indexes the file) finds them remembered again.

use std::collections::VecDeque;

use crate::store::Hit;

/// Searches remembered at once: a few spots and kinds of search, most recent first.
const SEARCHES_REMEMBERED: usize = 16;

/// What identifies a search: its kind, its words and how many hits it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchKey {
    /// A BM25 search over sub-words and whole identifiers.
    Terms {
        /// The query's sub-words.
        subwords: Vec<String>,
        /// The query's whole identifiers.
        wholes: Vec<String>,
        /// Hits asked for.
        limit: usize,
    },
    /// Chunks defining a name that starts with `prefix`.
    Definitions {
        /// The lowercased prefix.
        prefix: String,
        /// Hits asked for.
        limit: usize,
    },
}

impl SearchKey {
    /// The key of a BM25 search for `terms` asking for `limit` hits.
    pub fn terms(terms: &crate::query::QueryTerms, limit: usize) -> Self {
        SearchKey::Terms { subwords: terms.subwords.clone(), wholes: terms.wholes.clone(), limit }
    }
}

/// The last [`SEARCHES_REMEMBERED`] searches of one reader generation and their hits.
#[derive(Debug, Default)]
pub(crate) struct SearchMemo {
    generation: u64,
    searches: VecDeque<(SearchKey, Vec<Hit>)>,
}

impl SearchMemo {
    /// The hits of `key` remembered for the searcher `generation`, if any (made the most recent).
    pub fn get(&mut self, generation: u64, key: &SearchKey) -> Option<Vec<Hit>> {
        if generation != self.generation {
            return None;
        }
        let at = self.searches.iter().position(|(k, _)| k == key)?;
        let entry = self.searches.remove(at)?;
        let hits = entry.1.clone();
        self.searches.push_front(entry);
        Some(hits)
    }

    /// Whether the hits of `key` are remembered for the searcher `generation` (nothing is
    /// made more recent).
    pub fn holds(&self, generation: u64, key: &SearchKey) -> bool {
        generation == self.generation && self.searches.iter().any(|(k, _)| k == key)
    }

    /// The keys of the `n` most recent searches, most recent first, whatever their generation:
    /// what to search again on a new one.
    pub fn recent_keys(&self, n: usize) -> Vec<SearchKey> {
        self.searches.iter().take(n).map(|(key, _)| key.clone()).collect()
    }

    /// Remembers `hits` for `key` in `generation`; a newer generation forgets the older one's,
    /// and an older one (a search that began before the last reload) is not remembered.
    pub fn put(&mut self, generation: u64, key: SearchKey, hits: Vec<Hit>) {
        if generation < self.generation {
            return;
        }
        if generation != self.generation {
            self.searches.clear();
            self.generation = generation;
        }
        self.searches.retain(|(k, _)| *k != key);
        self.searches.push_front((key, hits));
        self.searches.truncate(SEARCHES_REMEMBERED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(word: &str) -> SearchKey {
        SearchKey::Terms { subwords: vec![word.to_owned()], wholes: Vec::new(), limit: 8 }
    }

    fn hits(rel: &str) -> Vec<Hit> {
        vec![Hit { rel: rel.to_owned(), lines: 0..3, text: "fn a() {}".to_owned(), score: 1.5 }]
    }

    #[test]
    fn a_search_is_remembered_only_for_its_generation_and_key() {
        let mut memo = SearchMemo::default();
        memo.put(3, key("parse"), hits("a.rs"));
        assert_eq!(memo.get(3, &key("parse")), Some(hits("a.rs")));
        assert!(memo.holds(3, &key("parse")));
        assert_eq!(memo.get(3, &key("load")), None);
        assert!(!memo.holds(3, &key("load")));
        assert!(!memo.holds(4, &key("parse")), "another generation");
        assert_eq!(memo.get(3, &SearchKey::Definitions { prefix: "parse".to_owned(), limit: 8 }), None);
        let more = SearchKey::Terms { subwords: vec!["parse".to_owned()], wholes: Vec::new(), limit: 9 };
        assert_eq!(memo.get(3, &more), None, "another limit is another search");
        // A commit makes a new generation: what the old one found is gone.
        assert_eq!(memo.get(4, &key("parse")), None);
        memo.put(4, key("load"), hits("b.rs"));
        assert_eq!(memo.get(3, &key("parse")), None);
        assert_eq!(memo.get(4, &key("parse")), None);
        assert_eq!(memo.get(4, &key("load")), Some(hits("b.rs")));
    }

    #[test]
    fn a_search_of_an_older_generation_never_replaces_a_newer_ones() {
        let mut memo = SearchMemo::default();
        memo.put(5, key("parse"), hits("new.rs"));
        memo.put(4, key("load"), hits("old.rs"));
        assert_eq!(memo.get(5, &key("parse")), Some(hits("new.rs")));
        assert_eq!(memo.get(4, &key("load")), None);
        assert_eq!(memo.recent_keys(8), vec![key("parse")]);
    }

    #[test]
    fn recent_keys_come_most_recent_first() {
        let mut memo = SearchMemo::default();
        for word in ["a", "b", "c"] {
            memo.put(1, key(word), hits("a.rs"));
        }
        memo.get(1, &key("a"));
        assert_eq!(memo.recent_keys(2), vec![key("a"), key("c")]);
        assert_eq!(memo.recent_keys(9).len(), 3);
    }

    #[test]
    fn the_least_recently_used_search_is_forgotten_first() {
        let mut memo = SearchMemo::default();
        for i in 0..SEARCHES_REMEMBERED {
            memo.put(1, key(&format!("w{i}")), hits("a.rs"));
        }
        assert!(memo.get(1, &key("w0")).is_some(), "used again: now the most recent");
        memo.put(1, key("new"), hits("a.rs"));
        assert!(memo.get(1, &key("w0")).is_some());
        assert!(memo.get(1, &key("w1")).is_none(), "the least recently used is gone");
        assert!(memo.get(1, &key("new")).is_some());
        // The same key put again replaces its hits.
        memo.put(1, key("new"), hits("c.rs"));
        assert_eq!(memo.get(1, &key("new")), Some(hits("c.rs")));
        assert_eq!(memo.searches.len(), SEARCHES_REMEMBERED);
    }
}
