//! Reading the loaded model's vocabulary: its FIM sentinels and the text of generated tokens.

use crate::repo_context::RepoFormat;
use crate::template::{self, MetadataFimTokens, PromptTemplate};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use std::collections::{HashMap, HashSet};

/// Detects the prompt template and the repository format of a loaded model. Scans the vocabulary
/// once: O(vocabulary size), a few milliseconds for 150k tokens.
pub(crate) fn detect_template(model: &LlamaModel) -> (PromptTemplate, RepoFormat) {
    let vocab = model.vocab();
    let wanted: HashSet<&'static str> = template::sentinel_texts().chain(RepoFormat::token_texts()).collect();
    let mut found: HashMap<&'static str, LlamaToken> = HashMap::new();
    for token in vocab.tokens() {
        let Some(text) = vocab.text(token).and_then(|t| t.to_str().ok()) else { continue };
        if let Some(known) = wanted.get(text) {
            found.entry(known).or_insert(token);
        }
    }
    let present = |token: LlamaToken| (token.0 >= 0).then_some(token);
    let metadata = MetadataFimTokens {
        prefix: present(vocab.fim_pre()),
        suffix: present(vocab.fim_suf()),
        middle: present(vocab.fim_mid()),
        pad: present(vocab.fim_pad()),
        repo: present(vocab.fim_rep()),
        sep: present(vocab.fim_sep()),
    };
    let lookup = |text: &str| found.get(text).copied();
    let prompt = template::detect(lookup, metadata);
    let repo = RepoFormat::detect(&prompt, lookup);
    (prompt, repo)
}

/// Turns a stream of token byte pieces into text, holding back an incomplete UTF-8 sequence
/// until the next piece completes it (an emoji is often split over two tokens).
#[derive(Debug, Default)]
pub(crate) struct TextStream {
    text: String,
    pending: Vec<u8>,
}

impl TextStream {
    /// Appends one token's bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(valid) => {
                    self.text.push_str(valid);
                    self.pending.clear();
                    return;
                }
                Err(err) => {
                    let valid_len = err.valid_up_to();
                    // The first `valid_len` bytes were just validated, so this never falls back.
                    self.text.push_str(std::str::from_utf8(&self.pending[..valid_len]).unwrap_or_default());
                    match err.error_len() {
                        // An incomplete sequence at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid_len);
                            return;
                        }
                        // Invalid bytes: replace them and go on.
                        Some(bad) => {
                            self.text.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid_len + bad);
                        }
                    }
                }
            }
        }
    }

    /// The text decoded so far.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// A stream that has decoded `text` and holds nothing back.
    pub(crate) fn starting_with(text: &str) -> TextStream {
        TextStream { text: text.to_owned(), pending: Vec::new() }
    }

    /// Whether no incomplete UTF-8 sequence is held back.
    pub(crate) fn is_clean(&self) -> bool {
        self.pending.is_empty()
    }

    /// Consumes the stream; an unfinished sequence at the end becomes U+FFFD.
    pub(crate) fn finish(mut self) -> String {
        if !self.pending.is_empty() {
            self.text.push(char::REPLACEMENT_CHARACTER);
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::TextStream;

    #[test]
    fn an_emoji_split_over_two_tokens_appears_whole() {
        let bytes = "a😀b".as_bytes();
        let mut stream = TextStream::default();
        stream.push(&bytes[..3]);
        assert_eq!(stream.text(), "a");
        stream.push(&bytes[3..]);
        assert_eq!(stream.finish(), "a😀b");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut stream = TextStream::default();
        stream.push(&[b'x', 0xff, b'y']);
        assert_eq!(stream.finish(), "x\u{fffd}y");
    }
}
