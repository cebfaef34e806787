//! Token healing: completing a word the user is in the middle of typing.
//!
//! A prompt that ends mid-word ends with a token the model rarely saw there: after `self.q` the
//! tokenizer produced `q`, but in training `quantity` was one token, so the model does not
//! continue with `uantity`. Healing drops the prompt's last token when it is part of a word and
//! makes the first generated tokens spell it again: only tokens whose text starts with what was
//! dropped (or is a prefix of it) may be chosen, greedily, until it is spelled out. The dropped
//! text is then not part of the suggestion. The same holds for a prompt ending in blanks
//! (`return ┃`, or the indentation an editor typed on a new line): the model writes ` a` as one
//! token, not a lone space followed by `a`. Blanks are re-spelled exactly: the text after them
//! must not start with another blank, or a wider whitespace token would double the indentation
//! the editor already has (`        if` where `    ` was typed).

use llama_cpp_2::token::LlamaToken;

/// The text still to be re-spelled by generated tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Healing {
    remaining: Vec<u8>,
    /// The dropped text was blanks: what follows them may not be a blank.
    blank: bool,
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

impl Healing {
    /// Healing for a prompt whose last tokens spell `dropped`, if healing applies: the dropped
    /// text must end with a word character (letters, digits, `_`) or be spaces and tabs.
    pub(crate) fn for_dropped_piece(dropped: &[u8]) -> Option<Healing> {
        let text = std::str::from_utf8(dropped).ok()?;
        let last = text.chars().next_back()?;
        let blank = text.chars().all(|c| c == ' ' || c == '\t');
        (blank || last.is_alphanumeric() || last == '_').then(|| Healing { remaining: dropped.to_vec(), blank })
    }

    /// No text to re-spell, only the rule that follows blanks: the first generated token may not
    /// start with another blank (the prompt ends in blanks the tokenizer keeps apart from words).
    pub(crate) fn after_blank() -> Healing {
        Healing { remaining: Vec::new(), blank: true }
    }

    /// The text still to be re-spelled (at the start: the dropped text).
    pub(crate) fn remaining(&self) -> &[u8] {
        &self.remaining
    }

    /// Whether a token with text `piece` may come next.
    pub(crate) fn allows(&self, piece: &[u8]) -> bool {
        if piece.is_empty() {
            return false;
        }
        if piece.len() > self.remaining.len() {
            piece.starts_with(&self.remaining) && !(self.blank && is_blank(piece[self.remaining.len()]))
        } else {
            self.remaining.starts_with(piece)
        }
    }

    /// Takes a chosen token's text; returns the part of it that goes past the healed text (what
    /// the suggestion shows) and whether healing is done. Blanks spelled exactly leave one more
    /// step: the next token must not start with a blank.
    pub(crate) fn consume<'p>(&mut self, piece: &'p [u8]) -> (&'p [u8], bool) {
        if piece.len() >= self.remaining.len() {
            let beyond = &piece[self.remaining.len()..];
            self.remaining.clear();
            (beyond, !(self.blank && beyond.is_empty()))
        } else {
            self.remaining.drain(..piece.len());
            (&[], false)
        }
    }

    /// The most likely token that `allows`, given the logits of every token and their texts.
    /// O(vocabulary): runs only for the few healing steps.
    pub(crate) fn best_token(&self, logits: &[f32], pieces: &[Vec<u8>]) -> Option<LlamaToken> {
        logits
            .iter()
            .zip(pieces)
            .enumerate()
            .filter(|(_, (_, piece))| self.allows(piece))
            .max_by(|(_, (a, _)), (_, (b, _))| a.total_cmp(b))
            .map(|(id, _)| LlamaToken(id as i32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_word_pieces_are_healed() {
        assert!(Healing::for_dropped_piece(b"q").is_some());
        assert!(Healing::for_dropped_piece(b" qu").is_some());
        assert!(Healing::for_dropped_piece(b"x_1").is_some());
        assert!(Healing::for_dropped_piece(b".").is_none());
        assert!(Healing::for_dropped_piece(b"    ").is_some(), "trailing blanks");
        assert!(Healing::for_dropped_piece(b"x ").is_none());
        assert!(Healing::for_dropped_piece(b"\n").is_none());
        assert!(Healing::for_dropped_piece(b"").is_none());
    }

    #[test]
    fn the_first_tokens_must_spell_the_dropped_text() {
        let mut healing = Healing::for_dropped_piece(b" qu").unwrap();
        assert!(healing.allows(b" quantity"));
        assert!(healing.allows(b" q"));
        assert!(!healing.allows(b" price"));
        assert!(!healing.allows(b""));
        assert_eq!(healing.consume(b" q"), (&b""[..], false));
        assert!(healing.allows(b"uantity") && !healing.allows(b"q"));
        assert_eq!(healing.consume(b"uantity"), (&b"antity"[..], true));
    }

    #[test]
    fn after_kept_blanks_only_a_wider_blank_is_refused() {
        let mut healing = Healing::after_blank();
        assert!(healing.allows(b"if") && healing.allows(b"return x"));
        assert!(!healing.allows(b"    ") && !healing.allows(b" if") && !healing.allows(b"\tx"));
        assert!(!healing.allows(b""));
        assert_eq!(healing.consume(b"if"), (&b"if"[..], true), "the whole token is shown, and healing ends");
    }

    #[test]
    fn blanks_are_spelled_exactly_and_never_widened() {
        let mut healing = Healing::for_dropped_piece(b"    ").unwrap();
        assert!(healing.allows(b"    if"));
        assert!(healing.allows(b"  "), "part of the blanks");
        assert!(!healing.allows(b"        "), "a wider run doubles the editor's indentation");
        assert!(!healing.allows(b"        if"));
        assert!(!healing.allows(b"    \tif"));
        assert!(healing.allows(b"    \n"), "an empty line is not more indentation");
        // Spelled exactly: one more step, in which the text must not start with a blank.
        assert_eq!(healing.consume(b"    "), (&b""[..], false));
        assert!(healing.allows(b"if") && healing.allows(b"\n"));
        assert!(!healing.allows(b"    if") && !healing.allows(b"\t"));
        assert_eq!(healing.consume(b"if"), (&b"if"[..], true));
        // Trailing blanks after code too: `return ┃` never becomes `return  x`.
        let after_code = Healing::for_dropped_piece(b" ").unwrap();
        assert!(after_code.allows(b" x") && !after_code.allows(b"  x"));
        // Words are unaffected: what follows a healed word may be anything.
        let mut word = Healing::for_dropped_piece(b"q").unwrap();
        assert_eq!(word.consume(b"q"), (&b""[..], true));
    }

    #[test]
    fn the_best_allowed_token_wins() {
        let pieces: Vec<Vec<u8>> = vec![b"price".to_vec(), b"quantity".to_vec(), b"q".to_vec(), Vec::new()];
        let healing = Healing::for_dropped_piece(b"q").unwrap();
        assert_eq!(healing.best_token(&[9.0, 2.0, 1.0, 50.0], &pieces), Some(LlamaToken(1)));
        let nothing = Healing::for_dropped_piece(b"zz").unwrap();
        assert_eq!(nothing.best_token(&[9.0, 2.0, 1.0, 50.0], &pieces), None);
    }
}
