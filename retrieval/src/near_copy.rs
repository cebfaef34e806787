//! Near copies: another place in the workspace that repeats the lines right before the cursor,
//! and goes on after them.
//!
//! The lexical gate asks whether the cursor needs a name that another file defines; that is
//! what retrieval supplies in Python, where a missing definition is the usual gap. In the other
//! languages' packages retrieval helps as often by showing a sibling file's near copy
//! (express's `view.js` and `response.js` open with the same requires; commander's `argument.js`
//! and `option.js` share whole methods), at cursors where no foreign name is near. When the
//! lines before the cursor appear in the same order somewhere else, with a line after them, the
//! model cannot know that line, and it is the best guess of what comes next.
//!
//! [`Anchor`] is what must repeat: the last line before the cursor's line and what is typed on
//! the cursor's line, or, at an empty line, the last two lines; lines that hold no word (blank,
//! or brackets and punctuation alone) are skipped on both sides, and the rest compared with
//! leading and repeated whitespace ignored; only lines that hold enough to be told apart from
//! boilerplate count (`return;` repeats everywhere). [`find`] looks for it in a search's hits.

use crate::tokenize::identifiers;
use crate::Snippet;

/// The fewest non-whitespace characters the repeated lines must hold together.
pub const MIN_ANCHOR_CHARS: usize = 24;
/// The fewest identifiers (of two characters or more) the repeated lines must hold together.
pub const MIN_ANCHOR_NAMES: usize = 3;

/// The lines before a cursor that a near copy must repeat, whitespace-normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The line before the last one (only when nothing is typed on the cursor's line).
    earlier: Option<String>,
    /// The last line before the cursor's line (of those that hold a word).
    last: String,
    /// What is typed on the cursor's line before the cursor (empty at an empty line).
    typed: String,
}

impl Anchor {
    /// The anchor for a cursor at byte `cursor` of `text`, or `None` when the lines before it
    /// are too short or too plain to tell a copy from boilerplate.
    pub fn before(text: &str, cursor: usize) -> Option<Anchor> {
        let cursor = crate::query::floor_char_boundary(text, cursor);
        let line_start = text[..cursor].rfind('\n').map_or(0, |i| i + 1);
        let typed = normalise(&text[line_start..cursor]);
        let mut previous = text[..line_start].lines().rev().map(normalise).filter(|line| says_something(line));
        let last = previous.next()?;
        let earlier = if typed.is_empty() { Some(previous.next()?) } else { None };
        let anchor = Anchor { earlier, last, typed };
        anchor.is_distinctive().then_some(anchor)
    }

    fn is_distinctive(&self) -> bool {
        let lines = || self.earlier.iter().chain([&self.last, &self.typed]);
        let chars: usize = lines().map(|line| line.chars().filter(|c| !c.is_whitespace()).count()).sum();
        let names: usize = lines().map(|line| identifiers(line).filter(|(_, name)| name.len() >= 2).count()).sum();
        chars >= MIN_ANCHOR_CHARS && names >= MIN_ANCHOR_NAMES
    }

    /// Whether `lines` (a hit's lines that hold a word, normalised) repeat the anchor at `at` (the
    /// position of [`Anchor::last`]) and go on after it.
    fn matches_at(&self, lines: &[String], at: usize) -> bool {
        let earlier_matches = match &self.earlier {
            Some(earlier) => at > 0 && lines[at - 1] == *earlier,
            None => true,
        };
        let goes_on =
            lines.get(at + 1).is_some_and(|next| next.starts_with(&self.typed) && next.len() > self.typed.len());
        lines[at] == self.last && earlier_matches && goes_on
    }

    /// The lines as a reason shows them.
    pub fn describe(&self) -> String {
        let count = 1 + usize::from(self.earlier.is_some());
        if self.typed.is_empty() {
            format!("the {count} lines before the cursor")
        } else {
            "the line before the cursor and the typed text".to_owned()
        }
    }
}

/// The position in `hits` of the first one that repeats `anchor` and goes on after it.
pub fn find(anchor: &Anchor, hits: &[Snippet]) -> Option<usize> {
    hits.iter().position(|snippet| {
        let lines: Vec<String> = snippet.text.lines().map(normalise).filter(|line| says_something(line)).collect();
        (0..lines.len()).any(|at| anchor.matches_at(&lines, at))
    })
}

/// Whether a (normalised) line holds a word: blank lines and lines of brackets and punctuation
/// alone (`}`, `});`, `*/`) say nothing, and copies differ in them (nesting, formatting), so
/// neither side counts them.
fn says_something(line: &str) -> bool {
    line.chars().any(char::is_alphanumeric)
}

/// `line` without leading or trailing whitespace, and with every run of whitespace inside it one
/// space: indentation and alignment differ between copies.
fn normalise(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn snippet(first_line: u32, text: &str) -> Snippet {
        let lines = text.lines().count() as u32;
        Snippet {
            path: PathBuf::from("lib/other.js"),
            lines: first_line..first_line + lines,
            text: text.to_owned(),
            score: 1.0,
        }
    }

    const SIBLING: &str = "var debug = require('debug')('express:view');\nvar path = require('path');\n\nvar fs = require('fs');\nvar resolve = path.resolve;\n";

    #[test]
    fn the_line_before_and_the_typed_text_repeated_elsewhere_with_a_line_after_them_is_a_near_copy() {
        let text = "'use strict';\nvar path = require('path');\n  var fs = req";
        let anchor = Anchor::before(text, text.len()).expect("distinctive");
        let hits = [snippet(0, "module.exports = 1;\n"), snippet(10, SIBLING)];
        assert_eq!(find(&anchor, &hits), Some(1), "blank lines are skipped");
        assert!(anchor.describe().contains("typed text"));
    }

    #[test]
    fn at_an_empty_line_the_two_lines_before_it_must_repeat_in_order() {
        let text = "var path = require('path');\nvar fs = require('fs');\n    ";
        let anchor = Anchor::before(text, text.len()).expect("distinctive");
        assert_eq!(find(&anchor, &[snippet(3, SIBLING)]), Some(0));
        let reordered = "var fs = require('fs');\nvar path = require('path');\nvar resolve = path.resolve;\n";
        assert_eq!(find(&anchor, &[snippet(0, reordered)]), None);
    }

    #[test]
    fn a_copy_with_nothing_after_it_or_a_different_next_line_is_not_a_near_copy() {
        let text = "var path = require('path');\nvar fs = require('fs');\nvar resolve = ";
        let anchor = Anchor::before(text, text.len()).expect("distinctive");
        assert_eq!(find(&anchor, &[snippet(0, "var fs = require('fs');\n")]), None, "nothing after it");
        assert_eq!(find(&anchor, &[snippet(0, "var fs = require('fs');\nvar join = path.join;\n")]), None);
        assert_eq!(
            find(&anchor, &[snippet(0, "var fs = require('fs');\nvar resolve = \n")]),
            None,
            "only the typed text"
        );
    }

    #[test]
    fn lines_of_brackets_alone_are_skipped_on_both_sides() {
        let text = "    if (value === undefined) {\n      return previous;\n    }\n\n    ";
        let anchor = Anchor::before(text, text.len()).expect("distinctive");
        let copy = "if (value === undefined) { return previous; }\nreturn previous.concat(value);\n";
        assert_eq!(find(&anchor, &[snippet(0, copy)]), None, "the lines are not the same lines");
        let copy = "  if (value === undefined) {\n    return previous;\n  });\n  return previous.concat(value);\n";
        assert_eq!(find(&anchor, &[snippet(0, copy)]), Some(0));
    }

    #[test]
    fn indentation_and_spacing_do_not_matter() {
        let text = "fn main() {\n        let   config = load_config(path);\n        config.";
        let anchor = Anchor::before(text, text.len()).expect("distinctive");
        let copy = "fn other() {\n\tlet config = load_config(path);\n\tconfig.validate()?;\n}\n";
        assert_eq!(find(&anchor, &[snippet(20, copy)]), Some(0));
    }

    #[test]
    fn boilerplate_and_the_start_of_a_file_give_no_anchor() {
        for text in ["}\n\nreturn ", "  }\n}\n", "", "only_one_line();\n", "x = 1\ny = 2\n"] {
            assert_eq!(Anchor::before(text, text.len()), None, "{text:?}");
        }
    }
}
