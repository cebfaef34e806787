//! The search terms for a completion request, from the code around the cursor.
//!
//! The query is the identifiers of the [`CONTEXT_LINES`] lines before the cursor and of the
//! cursor's own line, minus the identifier the cursor is in or just after: that word changes
//! with every keystroke, and leaving it out keeps the query, the hits and so the prompt's
//! retrieved block identical while a word is typed (the model's cache stays warm). Keywords and
//! one-letter names say nothing about which file matters and are left out too (the file's
//! language adds its own keywords to the common ones, [`crate::keywords`]).

use crate::keywords;
use crate::language::Language;
use std::ops::Range;

use crate::tokenize::{identifiers, subwords, whole, word_start};

/// Lines before the cursor's line that the query (and the lexical gate) look at.
pub const CONTEXT_LINES: usize = 10;
/// At most this many distinct sub-word terms per query.
pub const MAX_TERMS: usize = 64;

/// The terms of one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryTerms {
    /// Distinct lowercased sub-words (searched in the sub-word field).
    pub subwords: Vec<String>,
    /// Distinct lowercased whole identifiers (searched in the identifier and symbol fields).
    pub wholes: Vec<String>,
}

impl QueryTerms {
    /// The terms for a cursor at byte `cursor` of `text`, leaving out the common stopwords.
    pub fn around_cursor(text: &str, cursor: usize) -> Self {
        Self::for_language(None, text, cursor)
    }

    /// The terms for a cursor at byte `cursor` of `text` in a file in `language`: its keywords
    /// are left out too.
    pub fn for_language(language: Option<Language>, text: &str, cursor: usize) -> Self {
        let cursor = floor_char_boundary(text, cursor);
        let region = context_region(text, cursor);
        let mut terms = Self::default();
        for (start, ident) in identifiers(&text[region.clone()]) {
            let start = region.start + start;
            if start <= cursor && cursor <= start + ident.len() {
                continue; // the word being typed
            }
            terms.add(language, ident);
        }
        terms
    }

    fn add(&mut self, language: Option<Language>, ident: &str) {
        let Some(w) = whole(ident) else { return };
        if w.chars().count() < 2 || keywords::is_stopword_in(language, &w) {
            return;
        }
        for sub in subwords(ident) {
            if sub.chars().count() >= 2 && !self.subwords.contains(&sub) && self.subwords.len() < MAX_TERMS {
                self.subwords.push(sub);
            }
        }
        if !self.wholes.contains(&w) && self.wholes.len() < MAX_TERMS {
            self.wholes.push(w);
        }
    }

    /// How many terms the score gate divides by (the distinct sub-words).
    pub fn len(&self) -> usize {
        self.subwords.len()
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.subwords.is_empty() && self.wholes.is_empty()
    }
}

/// Shortest typed word that [`typed_word`] reports: shorter prefixes match too many names.
pub const MIN_TYPED_CHARS: usize = 3;

/// The part of an identifier left of the cursor, when the cursor is in or right after one and it
/// has at least [`MIN_TYPED_CHARS`] characters: the name being typed (`helpers.frob┃`).
pub fn typed_word(text: &str, cursor: usize) -> Option<&str> {
    let cursor = floor_char_boundary(text, cursor);
    let word = &text[word_start(text, cursor)..cursor];
    let starts_like_a_name = word.chars().next().is_some_and(|c| !c.is_numeric());
    (starts_like_a_name && word.chars().count() >= MIN_TYPED_CHARS).then_some(word)
}

/// Whether an identifier of `text` other than the one at the cursor starts with `prefix`: the
/// model can already see a name the typed word may become.
pub fn completes_locally(text: &str, cursor: usize, prefix: &str) -> bool {
    identifiers(text).any(|(start, ident)| {
        let at_cursor = start <= cursor && cursor <= start + ident.len();
        !at_cursor && ident.len() > prefix.len() && ident.starts_with(prefix)
    })
}

/// Byte range of the [`CONTEXT_LINES`] lines before the cursor's line, and that whole line.
pub fn context_region(text: &str, cursor: usize) -> Range<usize> {
    let cursor = floor_char_boundary(text, cursor);
    let line_end = text[cursor..].find('\n').map_or(text.len(), |i| cursor + i);
    let mut start = text[..cursor].rfind('\n').map_or(0, |i| i + 1);
    for _ in 0..CONTEXT_LINES {
        if start == 0 {
            break;
        }
        start = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
    }
    start..line_end
}

/// Zero-based, end-exclusive lines covered by a byte range of `text`.
pub fn line_span(text: &str, bytes: &Range<usize>) -> Range<u32> {
    let count = |end: usize| text.as_bytes()[..end.min(text.len())].iter().filter(|&&b| b == b'\n').count() as u32;
    let start = count(bytes.start);
    start..count(bytes.end).max(start) + 1
}

/// `index` moved back to a character boundary of `text` (and into it).
pub fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut i = index.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_come_from_the_lines_before_the_cursor_without_keywords() {
        let text = "import os\nfrom .utils import parse_config\n\ndef load(path):\n    cfg = parse_config(path)\n    ";
        let terms = QueryTerms::around_cursor(text, text.len());
        assert_eq!(terms.subwords, ["os", "utils", "parse", "config", "load", "path", "cfg"]);
        assert_eq!(terms.wholes, ["os", "utils", "parse_config", "load", "path", "cfg"]);
    }

    #[test]
    fn a_language_leaves_out_its_own_keywords() {
        let text = "func load(c chan Config) {\n    select {\n    ";
        let go = QueryTerms::for_language(Some(Language::Go), text, text.len());
        assert_eq!(go.wholes, ["load", "config"]);
        let python = QueryTerms::for_language(Some(Language::Python), text, text.len());
        assert_eq!(python.wholes, ["load", "chan", "config", "select"]);
    }

    #[test]
    fn lines_further_up_than_the_context_are_not_used() {
        let far: String = (0..20).map(|i| format!("far_{i} = {i}\n")).collect();
        let text = format!("ancient_name = 1\n{far}near = 2\n");
        let terms = QueryTerms::around_cursor(&text, text.len());
        assert!(!terms.wholes.contains(&"ancient_name".to_owned()));
        assert!(terms.wholes.contains(&"near".to_owned()));
    }

    #[test]
    fn the_query_does_not_change_while_a_word_is_typed() {
        let before = "from shop.cart import Cart\n\ncart = Cart()\nx = ";
        let expected = QueryTerms::around_cursor(before, before.len());
        for typed in ["c", "ca", "cal", "calc", "calculate_total"] {
            let text = format!("{before}{typed}");
            assert_eq!(QueryTerms::around_cursor(&text, text.len()), expected, "after typing {typed:?}");
        }
    }

    #[test]
    fn the_typed_word_is_the_identifier_left_of_the_cursor() {
        let text = "total = helpers.frob";
        assert_eq!(typed_word(text, text.len()), Some("frob"));
        assert_eq!(typed_word(text, text.len() - 2), None, "two letters are too short");
        assert_eq!(typed_word("x = ", 4), None);
        assert_eq!(typed_word("n = 123", 7), None, "a number is not a name");
        assert!(completes_locally("frobnicate = 1\nfrob", 19, "frob"));
        assert!(!completes_locally("x = 1\nfrob", 10, "frob"), "only the typed word itself");
    }

    #[test]
    fn byte_ranges_become_line_spans() {
        let text = "a\nbb\nccc\n";
        assert_eq!(line_span(text, &(0..1)), 0..1);
        assert_eq!(line_span(text, &(2..7)), 1..3);
        assert_eq!(line_span(text, &(0..text.len())), 0..4);
    }

    #[test]
    fn a_cursor_past_the_end_or_inside_a_character_is_clamped() {
        let text = "größe = 1\n";
        assert_eq!(QueryTerms::around_cursor(text, 3).wholes, Vec::<String>::new());
        assert_eq!(QueryTerms::around_cursor(text, 999).wholes, ["größe"]);
    }
}
