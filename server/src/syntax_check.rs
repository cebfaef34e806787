//! The judge of a suggestion's syntax ([`splice_model::SuggestionCheck`]): how many tree-sitter
//! errors the suggestion, finished as the editor would show it, adds around the cursor.
//!
//! Only the code around the cursor is parsed: from the last line before the cursor's line that
//! starts a top-level statement (at column 0; not a comment, a closing bracket or an `else`,
//! `elif`, `except` or `finally`) to the first such line after it, inside the request's window.
//! That keeps a parse to one definition (milliseconds), and errors elsewhere in the window (its
//! cut edges, code the user is still writing far away) count the same before and after. The
//! region's errors without the suggestion are counted once per request, on the first judgement.

use splice_model::shape::{finish_suggestion, CursorContext, SuggestionShape};
use splice_model::SuggestionCheck;
use splice_retrieval::syntax::{SyntaxChecker, SyntaxLanguage};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The check for a request whose window is `prefix` + `suffix` with the cursor between them, or
/// `None` when the file's language has no grammar.
pub fn check_for(
    language: Option<SyntaxLanguage>,
    prefix: &str,
    suffix: &str,
    shape: &SuggestionShape,
    alternatives: usize,
) -> Option<SuggestionCheck> {
    let language = language?;
    let (start, end) = region(prefix, suffix);
    let judge = Judge {
        language,
        window: format!("{prefix}{suffix}"),
        cursor: prefix.len(),
        shape: shape.clone(),
        region: start..prefix.len() + end,
        before: OnceLock::new(),
    };
    let judge = Arc::new(judge);
    Some(SuggestionCheck::new(alternatives, move |raw: &str| judge.errors_added(raw)))
}

/// The language of a document, from its path or, without one, its URI's extension.
pub fn language_of(path: Option<&Path>, document: &str) -> Option<SyntaxLanguage> {
    match path {
        Some(path) => SyntaxLanguage::from_path(path),
        None => {
            let name = document.rsplit('/').next().unwrap_or(document);
            SyntaxLanguage::from_path(Path::new(name))
        }
    }
}

struct Judge {
    language: SyntaxLanguage,
    window: String,
    cursor: usize,
    shape: SuggestionShape,
    /// The parsed region in `window`.
    region: std::ops::Range<usize>,
    /// The region's errors without a suggestion.
    before: OnceLock<Option<usize>>,
}

impl Judge {
    fn errors_added(&self, raw: &str) -> Option<usize> {
        let context = CursorContext::from_text(&self.window, self.cursor);
        let Some(shown) = finish_suggestion(&self.shape, &context, raw) else { return Some(0) };
        let mut checker = SyntaxChecker::new(self.language)?;
        let before = *self.before.get_or_init(|| {
            let mut checker = SyntaxChecker::new(self.language)?;
            checker.error_count(&self.window[self.region.clone()])
        });
        let with = format!(
            "{}{shown}{}",
            &self.window[self.region.start..self.cursor],
            &self.window[self.cursor..self.region.end]
        );
        let after = checker.error_count(&with)?;
        Some(after.saturating_sub(before?))
    }
}

/// The region to parse: (its start in `prefix`, its end in `suffix`).
fn region(prefix: &str, suffix: &str) -> (usize, usize) {
    let cursor_line = prefix.rfind('\n').map_or(0, |i| i + 1);
    let mut start = 0;
    let mut line_end = prefix.len();
    let mut line_start = cursor_line;
    loop {
        if starts_top_level(&prefix[line_start..line_end]) {
            start = line_start;
            break;
        }
        if line_start == 0 {
            break;
        }
        line_end = line_start - 1;
        line_start = prefix[..line_end].rfind('\n').map_or(0, |i| i + 1);
    }
    let mut end = suffix.len();
    if let Some(first_break) = suffix.find('\n') {
        let mut offset = first_break + 1;
        for line in suffix[offset..].split_inclusive('\n') {
            if starts_top_level(line) {
                end = offset;
                break;
            }
            offset += line.len();
        }
    }
    (start, end)
}

/// Whether a line starts a top-level statement: code at column 0 that does not continue one.
fn starts_top_level(line: &str) -> bool {
    let Some(first) = line.chars().next() else { return false };
    if first.is_whitespace() || matches!(first, '#' | ')' | ']' | '}') {
        return false;
    }
    let word: String = line.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    !matches!(word.as_str(), "else" | "elif" | "except" | "finally")
}

#[cfg(test)]
mod tests {
    use super::*;
    use splice_model::shape::ShapeLimits;

    fn check(prefix: &str, suffix: &str) -> SuggestionCheck {
        check_in(SyntaxLanguage::Python, prefix, suffix)
    }

    fn check_in(language: SyntaxLanguage, prefix: &str, suffix: &str) -> SuggestionCheck {
        let shape = SuggestionShape::for_cursor(
            &CursorContext::from_text(&format!("{prefix}{suffix}"), prefix.len()),
            ShapeLimits { max_lines: 8, block_syntax: crate::block_syntax::block_syntax(Some(language)) },
        );
        check_for(Some(language), prefix, suffix, &shape, 2).unwrap()
    }

    #[test]
    fn brace_languages_are_judged_in_the_function_around_the_cursor() {
        let prefix = "use std::fmt;\n\nfn depth(text: &str) -> i32 {\n    let mut depth = 0;\n    for c in text.chars() {\n        ";
        let suffix = "\n    }\n    depth\n}\n\nfn broken( {\n";
        let (start, end) = region(prefix, suffix);
        assert!(prefix[start..].starts_with("fn depth"), "{:?}", &prefix[start..]);
        assert_eq!(&suffix[..end], "\n    }\n    depth\n}\n\n", "the next item and its error are outside");
        let check = check_in(SyntaxLanguage::Rust, prefix, suffix);
        assert_eq!(check.errors_added("if c == '(' { depth += 1; }"), Some(0));
        assert!(check.errors_added("if c == '(' { depth += 1; ").unwrap() > 0);
    }

    #[test]
    fn the_region_is_the_top_level_statement_around_the_cursor() {
        let prefix = "import os\n\ndef f(a):\n    if a:\n        ";
        let suffix = "\n    return a\n\nclass B:\n    pass\n";
        let (start, end) = region(prefix, suffix);
        assert_eq!(&prefix[start..], "def f(a):\n    if a:\n        ");
        assert_eq!(&suffix[..end], "\n    return a\n\n");
        // An `else` at column 0 continues the statement above it.
        let (start, _) = region("if x:\n    y = 1\nelse:\n    ", "");
        assert_eq!(start, 0);
    }

    #[test]
    fn a_line_that_breaks_the_syntax_adds_errors_and_a_good_one_adds_none() {
        let prefix = "def f(s):\n    for i in s:\n        ";
        let suffix = "\n            return 1\n    return 0\n";
        let check = check(prefix, suffix);
        assert_eq!(check.errors_added("if i == ')':"), Some(0));
        assert!(check.errors_added("if i == ')'):").unwrap() > 0);
    }

    #[test]
    fn errors_far_from_the_cursor_do_not_count() {
        // The window's cut end leaves an unclosed call below the next definition.
        let prefix = "def f(a):\n    ";
        let suffix = "\n    return a\n\ndef g(b):\n    return h(b,\n";
        let check = check(prefix, suffix);
        assert_eq!(check.errors_added("a = a + 1"), Some(0));
        assert!(check.errors_added("a = (a + 1").unwrap() > 0);
    }

    #[test]
    fn other_languages_are_not_judged() {
        assert!(language_of(None, "file:///notes/todo.txt").is_none());
        assert_eq!(language_of(None, "file:///src/lib.rs"), Some(SyntaxLanguage::Rust));
        assert_eq!(language_of(None, "file:///src/app.py"), Some(SyntaxLanguage::Python));
        assert_eq!(language_of(Some(Path::new("a.pyi")), "untitled:1"), Some(SyntaxLanguage::Python));
    }
}
