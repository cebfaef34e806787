//! The text below the construct being edited, read apart from the text above it.
//!
//! A keystroke changes the construct at the cursor; tree-sitter then re-lexes from the edit and,
//! while that code is unfinished (it nearly always is while a person types), recovers from the
//! error over the text that follows, which can cost milliseconds per key in a long window. So
//! the gate parses the text only to the end of the cursor's top-level construct
//! ([`end_of_construct`]) on every request, and reads what the rest defines and imports only
//! when that rest changed: typing inside a function never reparses the functions below it.

use std::sync::Arc;

use tree_sitter::Tree;

use super::reparse::Reparser;
use super::scope_memo::{Part, ScopeMemo};
use crate::language::Language;

/// Where the top-level construct that holds byte `from` (the end of the cursor's line) ends:
/// after the first later line that begins at column 0 with a closing bracket (the `}` of a
/// function or a class, the `)]` of an attribute), or before the first later line that begins
/// at column 0 with anything else (the next item), else at the text's end. What follows is then
/// a sequence of whole top-level items, which parses cleanly on its own.
pub(super) fn end_of_construct(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let Some(newline) = text.get(from..).and_then(|rest| rest.find('\n')) else {
        return text.len();
    };
    let mut line = from + newline + 1;
    while line < text.len() {
        let next = text[line..].find('\n').map_or(text.len(), |newline| line + newline + 1);
        match bytes[line] {
            b'}' | b')' | b']' => return next,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => return line,
        }
        line = next;
    }
    text.len()
}

/// What the gate keeps of the text below the cursor's construct: its last text and tree (a
/// changed text is parsed incrementally from it), the scope of its subtrees, and what that last
/// text defines and imports (the same text in the same language costs nothing).
#[derive(Default)]
pub(super) struct BelowCursor {
    reparser: Reparser,
    memo: ScopeMemo,
    /// What the reparser's last text defines and imports; `None` when that text was not read
    /// (the whole document, when it was opened).
    part: Option<Arc<Part>>,
    /// How many texts were parsed and read (the same text again is not).
    #[cfg(test)]
    pub(super) reads: usize,
}

impl BelowCursor {
    /// What `source` (the text below the cursor's construct) defines and imports, as `read`
    /// reads a tree of it into the memo: remembered when `source` is the last text asked about.
    /// `None` when it is empty or would not parse.
    pub fn read(
        &mut self,
        language: Language,
        source: &str,
        read: impl FnOnce(&Tree, &str, &mut ScopeMemo) -> Arc<Part>,
    ) -> Option<Arc<Part>> {
        if source.is_empty() {
            return None;
        }
        if let Some(part) = self.part.as_ref().filter(|_| self.reparser.last_was(language, source)) {
            return Some(Arc::clone(part));
        }
        self.part = None;
        let tree = self.reparser.parse(language, source)?;
        let part = read(tree, source, &mut self.memo);
        #[cfg(test)]
        {
            self.reads += 1;
        }
        self.part = Some(Arc::clone(&part));
        Some(part)
    }

    /// Starts from the whole document as `reparser` and `memo` read it (when it was opened):
    /// the first text below a cursor is then parsed incrementally from that tree, and its
    /// unchanged subtrees' scopes are remembered.
    pub fn start_from(&mut self, reparser: &Reparser, memo: &ScopeMemo) {
        if let Some(copy) = reparser.copy() {
            self.reparser = copy;
            self.memo = memo.clone();
            self.part = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text_with_cursor: &str) -> (String, String) {
        let text = text_with_cursor.replace('┃', "");
        let cursor = text_with_cursor.find('┃').unwrap();
        let line_end = text[cursor..].find('\n').map_or(text.len(), |i| cursor + i);
        let at = end_of_construct(&text, line_end);
        (text[..at].to_owned(), text[at..].to_owned())
    }

    #[test]
    fn the_construct_ends_at_its_closing_bracket_or_before_the_next_item() {
        let (head, below) = split("fn a() {\n    let x┃ = 1;\n\n    x\n}\n\nfn b() {}\n");
        assert_eq!(head, "fn a() {\n    let x = 1;\n\n    x\n}\n");
        assert_eq!(below, "\nfn b() {}\n");
        // A multi-line attribute is closed by `)]` at column 0.
        let (head, below) = split("#![allow(\n    clippy::a,┃\n    clippy::b,\n)]\n\nuse std::fmt;\n");
        assert!(head.ends_with(")]\n"), "{head}");
        assert_eq!(below, "\nuse std::fmt;\n");
        // Code at the top level: the next item starts below.
        let (head, below) = split("const A: u32 = 1;┃\nconst B: u32 = 2;\n");
        assert_eq!((head.as_str(), below.as_str()), ("const A: u32 = 1;\n", "const B: u32 = 2;\n"));
        // Nothing closes it: everything is the cursor's construct.
        let (head, below) = split("class A {\n    m() {┃\n        return 1;\n    }\n");
        assert_eq!(below, "");
        assert!(head.ends_with("    }\n"));
        // The last line, without a newline.
        assert_eq!(split("fn a() {}┃").1, "");
    }
}
