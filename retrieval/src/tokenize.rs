//! Code-aware tokenization: identifiers split into lowercased sub-words.
//!
//! BM25 only finds what the tokenizer lets it compare. Code names the same thing `parse_config`,
//! `parseConfig` and `ParseConfig`, so the index stores each identifier twice: as sub-words
//! (`parse`, `config`), which match across naming conventions, and whole (`parse_config`), which a
//! boosted field rewards when the exact name appears. Both tantivy tokenizers here and the query
//! builder use the same functions, so what is indexed and what is asked always agree.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Tokens longer than this (in bytes) are dropped: minified code and base64 blobs, not names.
pub const MAX_TOKEN_BYTES: usize = 64;

/// Whether `c` can be part of an identifier (Unicode letters and digits, and `_`).
pub fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Byte offset where the identifier ending at `cursor` starts (`cursor` itself when the
/// character before it is not an identifier character). `cursor` must be a char boundary.
pub fn word_start(text: &str, cursor: usize) -> usize {
    text[..cursor].char_indices().rev().take_while(|(_, c)| is_ident_char(*c)).last().map_or(cursor, |(i, _)| i)
}

/// Every identifier-like run in `text` with its byte range, in order. Pure numbers (`42`) are
/// skipped: they are literals, not names.
pub fn identifiers(text: &str) -> impl Iterator<Item = (usize, &str)> + '_ {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || loop {
        let (start, c) = rest.next()?;
        if !is_ident_char(c) {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, c)) = rest.peek() {
            if !is_ident_char(c) {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        let word = &text[start..end];
        if word.chars().any(|c| !c.is_ascii_digit()) {
            return Some((start, word));
        }
    })
}

/// The identifier's lowercased sub-words: split on `_`, on lower→upper case changes, before the
/// last capital of an acronym (`HTTPResponse` → `http`, `response`) and between letters and
/// digits. `parseHTTPResponse2` → `parse http response 2`; `__init__` → `init`.
pub fn subwords(ident: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in ident.split('_').filter(|p| !p.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            if is_boundary(chars[i - 1], chars[i], chars.get(i + 1).copied()) {
                push_lower(&mut out, &chars[start..i]);
                start = i;
            }
        }
        push_lower(&mut out, &chars[start..]);
    }
    out
}

/// The identifier as the whole-name field stores it: lowercased, outer underscores trimmed
/// (`__init__` → `init`, `parseHTTPResponse2` → `parsehttpresponse2`). `None` for nothing left
/// or a name too long to be useful.
pub fn whole(ident: &str) -> Option<String> {
    let trimmed = ident.trim_matches('_');
    (!trimmed.is_empty() && trimmed.len() <= MAX_TOKEN_BYTES).then(|| trimmed.to_lowercase())
}

fn is_boundary(prev: char, cur: char, next: Option<char>) -> bool {
    let lower_to_upper = (prev.is_lowercase() || prev.is_numeric()) && cur.is_uppercase();
    let acronym_end = prev.is_uppercase() && cur.is_uppercase() && next.is_some_and(char::is_lowercase);
    let digit_edge = prev.is_numeric() != cur.is_numeric();
    lower_to_upper || acronym_end || digit_edge
}

fn push_lower(out: &mut Vec<String>, chars: &[char]) {
    if chars.is_empty() || chars.len() > MAX_TOKEN_BYTES {
        return;
    }
    out.push(chars.iter().flat_map(|c| c.to_lowercase()).collect());
}

/// Which tokens a [`CodeTokenizer`] emits for each identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Lowercased sub-words ([`subwords`]).
    Subwords,
    /// The whole lowercased identifier ([`whole`]).
    Whole,
}

/// A tantivy tokenizer over code text, registered under [`CodeTokenizer::name`].
#[derive(Debug, Clone, Copy)]
pub struct CodeTokenizer(pub TokenKind);

impl CodeTokenizer {
    /// The name the index registers this tokenizer under.
    pub fn name(self) -> &'static str {
        match self.0 {
            TokenKind::Subwords => "splice_subwords",
            TokenKind::Whole => "splice_whole",
        }
    }

    /// The tokens this tokenizer produces for `text`, in order (also used to build queries).
    pub fn tokens(self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        for (offset, ident) in identifiers(text) {
            let words = match self.0 {
                TokenKind::Subwords => subwords(ident),
                TokenKind::Whole => whole(ident).into_iter().collect(),
            };
            for word in words {
                out.push(Token {
                    offset_from: offset,
                    offset_to: offset + ident.len(),
                    position: out.len(),
                    text: word,
                    position_length: 1,
                });
            }
        }
        out
    }
}

impl Tokenizer for CodeTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream { tokens: self.tokens(text), next: 0, fallback: Token::default() }
    }
}

/// Tokens computed up front and handed to tantivy one by one.
#[derive(Debug)]
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
    /// Returned if tantivy asks for a token before `advance` (it does not; this avoids a panic).
    fallback: Token,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        self.next.checked_sub(1).and_then(|i| self.tokens.get(i)).unwrap_or(&self.fallback)
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1).and_then(|i| self.tokens.get_mut(i)) {
            Some(token) => token,
            None => &mut self.fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_left_of_the_cursor_is_found() {
        let text = "x = self.quan";
        assert_eq!(&text[word_start(text, text.len())..], "quan");
        assert_eq!(word_start("self.", 5), 5, "no word: the edit starts at the cursor");
        let cjk = "名前_1";
        assert_eq!(word_start(cjk, cjk.len()), 0);
    }

    fn split(ident: &str) -> String {
        subwords(ident).join(" ")
    }

    #[test]
    fn camel_case_acronyms_and_digits_split() {
        assert_eq!(split("parseHTTPResponse2"), "parse http response 2");
        assert_eq!(split("XMLHttpRequest"), "xml http request");
        assert_eq!(split("utf8Decode"), "utf 8 decode");
        assert_eq!(split("v2_api_KEY"), "v 2 api key");
    }

    #[test]
    fn snake_case_and_dunder_names_split() {
        assert_eq!(split("parse_config"), "parse config");
        assert_eq!(split("__init__"), "init");
        assert_eq!(split("MAX_RETRIES"), "max retries");
    }

    #[test]
    fn unicode_identifiers_split_and_lowercase() {
        assert_eq!(split("größe_berechnen"), "größe berechnen");
        assert_eq!(split("ÜberKlasse"), "über klasse");
    }

    #[test]
    fn whole_identifiers_are_lowercased_and_trimmed() {
        assert_eq!(whole("parseHTTPResponse2").as_deref(), Some("parsehttpresponse2"));
        assert_eq!(whole("__init__").as_deref(), Some("init"));
        assert_eq!(whole("___"), None);
    }

    #[test]
    fn identifiers_skip_numbers_and_punctuation() {
        let found: Vec<_> = identifiers("x = foo.bar(42, größe) # 3rd").map(|(_, w)| w).collect();
        assert_eq!(found, ["x", "foo", "bar", "größe", "3rd"]);
    }

    #[test]
    fn the_tantivy_stream_yields_every_token() {
        let mut tokenizer = CodeTokenizer(TokenKind::Subwords);
        let mut stream = tokenizer.token_stream("getUser(id)");
        let mut seen = Vec::new();
        while stream.advance() {
            seen.push(stream.token().text.clone());
        }
        assert_eq!(seen, ["get", "user", "id"]);
    }
}
