//! The gate's last answer about a document, given again while a person types a word.
//!
//! The gate ignores the word being typed, so a key that only makes that word longer (`conf` →
//! `confi`) leaves its answer as it was, unless the key changes how the code around it parses
//! or reads: the word becomes or stops being a keyword (`le` → `let`), a prefix changes a
//! literal (`b` → `br` before a quote), or another name near the cursor is spelled like the
//! word (it may be the binding the word is becoming). Each of those is checked; everything
//! else about the text must be byte for byte the last question's. Such a key then costs two
//! comparisons of the text instead of a parse: about half of all keys a person types.

use crate::language::Language;
use crate::query::context_region;
use crate::tokenize::{identifiers, is_ident_char, word_start};

/// The last question the gate answered about one document, with its answer.
#[derive(Debug, Default)]
pub(super) struct LastAnswer {
    asked: Option<Asked>,
    /// How many questions were answered from the last answer.
    #[cfg(test)]
    pub(super) given_again: usize,
}

#[derive(Debug)]
struct Asked {
    language: Language,
    starts_mid_file: bool,
    text: String,
    cursor: usize,
    names: Vec<String>,
}

impl LastAnswer {
    /// The last answer, when `text` with the cursor at `cursor` is the last question with only
    /// the word before its cursor made longer at the end, by a key that cannot change the
    /// answer (see the module's documentation); it then becomes the last question.
    pub fn again(
        &mut self,
        language: Language,
        text: &str,
        cursor: usize,
        starts_mid_file: bool,
    ) -> Option<Vec<String>> {
        let asked = self.asked.as_mut()?;
        if asked.language != language || asked.starts_mid_file != starts_mid_file {
            return None;
        }
        let (old, at) = (asked.text.as_str(), asked.cursor);
        let added = text.len().checked_sub(old.len()).filter(|&added| added > 0)?;
        if cursor != at + added
            || text.as_bytes()[..at] != old.as_bytes()[..at]
            || text.as_bytes()[cursor..] != old.as_bytes()[at..]
        {
            return None;
        }
        let typed = text.get(at..cursor)?;
        if !typed.chars().all(is_ident_char) {
            return None;
        }
        let start = word_start(old, at);
        let (old_word, new_word) = (&old[start..at], &text[start..cursor]);
        if old_word.is_empty() || old_word.starts_with(|c: char| c.is_ascii_digit()) {
            return None; // a new word, or a number's digits and suffix
        }
        // `#include`, `@decorator`, `$var`, lifetimes and escapes read the word with its prefix;
        // a word right before a quote may be a literal's prefix (`b"`, `r#"`, `u8"`).
        let before = old[..start].chars().next_back();
        let after = text[cursor..].chars().next();
        if matches!(before, Some('#' | '@' | '$' | '\'' | '\\'))
            || after.is_some_and(|c| is_ident_char(c) || matches!(c, '"' | '\'' | '`' | '#'))
        {
            return None;
        }
        let grammar = language.grammar();
        let keyword = |word: &str| grammar.id_for_node_kind(word, false) != 0 || language.is_keyword(word);
        if keyword(old_word) || keyword(new_word) {
            return None;
        }
        let region = context_region(text, cursor);
        let near = &text[region.clone()];
        if identifiers(near).any(|(at, word)| region.start + at != start && (word == old_word || word == new_word)) {
            return None;
        }
        asked.text.insert_str(at, typed);
        asked.cursor = cursor;
        #[cfg(test)]
        {
            self.given_again += 1;
        }
        Some(asked.names.clone())
    }

    /// Forgets the last answer (a text too long to be compared whole).
    pub fn forget(&mut self) {
        self.asked = None;
    }

    /// Remembers the answer `names` to `text` with the cursor at `cursor`.
    pub fn remember(&mut self, language: Language, text: &str, cursor: usize, starts_mid_file: bool, names: &[String]) {
        let mut kept = self.asked.take().map(|asked| asked.text).unwrap_or_default();
        kept.clear();
        kept.push_str(text);
        self.asked = Some(Asked { language, starts_mid_file, text: kept, cursor, names: names.to_vec() });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{foreign_names, foreign_names_again, GateSyntax, Surrounding};
    use crate::language::Language;

    /// Asks `state` about `text_with_cursor` (cursor at `┃`) and checks the answer against a
    /// fresh reading; returns whether it was the last answer given again.
    fn ask(state: &mut GateSyntax, language: Language, text_with_cursor: &str) -> bool {
        let cursor = text_with_cursor.find('┃').expect("cursor marker");
        let text = text_with_cursor.replace('┃', "");
        let before = state.last.given_again;
        let answer = foreign_names_again(state, Some(language), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
        assert_eq!(answer, foreign_names(Some(language), &text, cursor, &(0..text.len())), "{text_with_cursor}");
        state.last.given_again > before
    }

    #[test]
    fn a_word_made_longer_is_answered_again_without_a_parse() {
        let mut state = GateSyntax::default();
        let text = |word: &str| {
            format!(
                "use crate::remote;\nfn f(x: u32) -> u32 {{\n    let y = remote::{word}┃(x);\n    y + helper(x)\n}}\n"
            )
        };
        assert!(!ask(&mut state, Language::Rust, &text("")));
        assert!(!ask(&mut state, Language::Rust, &text("c")), "a new word is parsed");
        for end in 2..="configure".len() {
            assert!(ask(&mut state, Language::Rust, &text(&"configure"[..end])), "{}", &"configure"[..end]);
        }
        // Another key (not a word's) is parsed, and so is a word typed after it.
        assert!(!ask(&mut state, Language::Rust, &text("configure(")));
        assert!(!ask(&mut state, Language::TypeScript, &text("configure(")), "another language");
    }

    #[test]
    fn a_key_that_could_change_the_answer_is_parsed() {
        let mut state = GateSyntax::default();
        // The word becomes a keyword.
        assert!(!ask(&mut state, Language::Rust, "fn f() {\n    le┃\n    total + helper(1)\n}\n"));
        assert!(!ask(&mut state, Language::Rust, "fn f() {\n    let┃\n    total + helper(1)\n}\n"));
        // A name near the cursor (in the lines above it) is spelled like the word; one below the
        // cursor's line is not near.
        assert!(!ask(&mut state, Language::Rust, "fn f() {\n    total + val;\n    let va┃\n}\n"));
        assert!(!ask(&mut state, Language::Rust, "fn f() {\n    total + val;\n    let val┃\n}\n"));
        assert!(!ask(&mut state, Language::Rust, "fn f() {\n    let va┃\n    total + val\n}\n"));
        assert!(ask(&mut state, Language::Rust, "fn f() {\n    let val┃\n    total + val\n}\n"));
        // A literal's prefix, a preprocessor directive, a lifetime.
        assert!(!ask(&mut state, Language::Rust, "fn f() {\n    let s = b┃\"x\";\n}\n"));
        assert!(!ask(&mut state, Language::Rust, "fn f() {\n    let s = br┃\"x\";\n}\n"));
        assert!(!ask(&mut state, Language::C, "#inc┃\nint f(void) { return helper(); }\n"));
        assert!(!ask(&mut state, Language::C, "#incl┃\nint f(void) { return helper(); }\n"));
        // Typed in the middle of a word, or something else changed too.
        assert!(!ask(&mut state, Language::Go, "package p\n\nfunc f() int {\n\treturn hel┃p(1)\n}\n"));
        assert!(!ask(&mut state, Language::Go, "package p\n\nfunc f() int {\n\treturn hell┃p(1)\n}\n"));
        assert!(!ask(&mut state, Language::Go, "package q\n\nfunc f() int {\n\treturn helll┃p(1)\n}\n"));
    }
}
