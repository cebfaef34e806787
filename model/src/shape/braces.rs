//! Where a multi-line suggestion ends in a brace language: where the block the cursor is in
//! closes, never past it.
//!
//! Brackets are counted from the cursor (depth 0 there) with the language's lexer
//! (`shape/lexer.rs`), so those in strings, characters and comments do not count. The rules,
//! for the lines of the generated text (the first one continues the cursor's line):
//!
//! - A line after the first whose brackets go below depth 0 closes a block opened before the
//!   cursor (the editor's `}` below, or the function's): the suggestion ends before that line.
//! - The first line may close the brackets its own line left open before the cursor
//!   (`foo(┃` + `a, b);`) and the suggestion then ends after it; closing more (`}` on an empty
//!   line) leaves no suggestion.
//! - A blank line between statements of the cursor's block (at depth 0, in code) ends it, as a
//!   blank line ends an indentation block; a blank line inside a block the suggestion opened
//!   does not, so that block is kept whole.
//! - At most `max_lines` lines.

use super::lexer::BraceLexer;
use super::syntax::Literals;
use super::Line;

/// Where a brace block suggestion is cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BraceCut {
    /// How many leading lines are kept.
    pub keep: usize,
    /// Whether nothing generated later can change `keep`.
    pub settled: bool,
    /// For each line read, whether it starts at the cursor's depth and in code.
    at_cursor_depth: Vec<bool>,
}

impl BraceCut {
    /// Whether line `index` starts where the text below the cursor starts: at the cursor's
    /// bracket depth, in code. Only from such a line may the suggestion's last lines repeat the
    /// lines below the cursor: a `}` that closes a block the suggestion opened is not the `}`
    /// below it.
    pub(super) fn at_cursor_depth(&self, index: usize) -> bool {
        self.at_cursor_depth.get(index).copied().unwrap_or(false)
    }
}

/// Cuts `lines` (see the module documentation). `closable` is how many brackets the cursor's
/// line leaves open; with `finished`, the last line counts as complete.
pub(super) fn cut(lines: &[Line], literals: Literals, closable: usize, max_lines: usize, finished: bool) -> BraceCut {
    let max_lines = max_lines.max(1);
    let mut lexer = BraceLexer::new(literals);
    let mut depth: isize = 0;
    let mut at_cursor_depth = Vec::with_capacity(lines.len());
    let done = |keep: usize, at_cursor_depth: Vec<bool>| BraceCut { keep, settled: true, at_cursor_depth };
    for (i, line) in lines.iter().enumerate() {
        if i >= max_lines {
            return done(max_lines, at_cursor_depth);
        }
        let starts_in_code = lexer.in_code();
        at_cursor_depth.push(depth == 0 && starts_in_code);
        let complete = line.terminated || finished;
        if i > 0 && depth == 0 && starts_in_code && complete && line.text.trim().is_empty() {
            return done(i, at_cursor_depth);
        }
        let floor = if i == 0 { -isize::try_from(closable).unwrap_or(isize::MAX) } else { 0 };
        for bracket in lexer.scan_line(line.text) {
            depth += if bracket.opens { 1 } else { -1 };
            if depth < floor {
                return done(i, at_cursor_depth);
            }
        }
        if i == 0 && depth < 0 && complete {
            return done(1, at_cursor_depth);
        }
        lexer.end_line();
    }
    BraceCut { keep: lines.len(), settled: false, at_cursor_depth }
}

/// How many brackets `line_prefix` (the cursor's line left of the cursor) leaves open, if it
/// ends with an opening bracket in code (trailing whitespace ignored): the cursor is at a block
/// opening. `None` otherwise (an opener in a comment or string does not count).
pub(super) fn open_at_end(line_prefix: &str, literals: Literals) -> Option<usize> {
    let last = line_prefix.trim_end().len().checked_sub(1)?;
    let brackets = BraceLexer::new(literals).scan_line(line_prefix);
    if !brackets.last().is_some_and(|bracket| bracket.opens && bracket.offset == last) {
        return None;
    }
    let open =
        brackets.iter().fold(0usize, |open, bracket| if bracket.opens { open + 1 } else { open.saturating_sub(1) });
    Some(open)
}

#[cfg(test)]
mod tests {
    use super::super::split_lines;
    use super::super::syntax::Backticks;
    use super::*;

    fn keep(text: &str, closable: usize, max_lines: usize) -> (usize, bool) {
        let cut = cut(&split_lines(text), Literals::default(), closable, max_lines, false);
        (cut.keep, cut.settled)
    }

    #[test]
    fn a_line_closing_the_cursors_block_is_cut_before() {
        assert_eq!(keep("a();\n  b();\n}\nc();", 0, 8), (2, true));
        assert_eq!(keep("a();\n} else {\n", 0, 8), (1, true));
        // Nested blocks opened and closed inside are kept.
        assert_eq!(keep("if (x) {\n  y();\n}\nz();\n", 0, 8), (5, false));
    }

    #[test]
    fn the_first_line_may_close_what_its_line_opened_and_ends_there() {
        assert_eq!(keep("a, b);", 1, 8), (1, false));
        assert_eq!(keep("a, b);\nnext();", 1, 8), (1, true));
        assert_eq!(keep("a, b));\n", 1, 8), (0, true));
        assert_eq!(keep("}\n", 0, 8), (0, true));
        // Closing and opening again on the first line goes on.
        assert_eq!(keep("} else {\n  b();\n}\n", 1, 8), (2, true));
    }

    #[test]
    fn a_blank_line_ends_the_block_only_at_the_cursors_depth() {
        assert_eq!(keep("a();\n\nb();", 0, 8), (1, true));
        assert_eq!(keep("if (x) {\n\n  y();\n}\n\n", 0, 8), (4, true));
        // A blank line inside a template string is not between statements.
        let template = Literals { backticks: Backticks::Template, ..Literals::default() };
        let cut = cut(&split_lines("s = `\n\n{`;\n"), template, 0, 8, false);
        assert_eq!((cut.keep, cut.settled), (4, false));
        // The first line is never a stop point; a blank line is complete with its terminator.
        assert_eq!(keep("\n  a();\n  ", 0, 8), (3, false));
    }

    #[test]
    fn at_most_max_lines() {
        assert_eq!(keep("{\n{\n{\n{\n", 0, 3), (3, true));
        assert_eq!(keep("a\nb\n", 0, 0), (1, true));
    }

    #[test]
    fn only_lines_at_the_cursors_depth_may_repeat_the_text_below() {
        let lines = split_lines("if (x) {\n  y();\n}\n/* {\n*/ }");
        let cut = cut(&lines, Literals::default(), 0, 8, true);
        let at: Vec<bool> = (0..6).map(|i| cut.at_cursor_depth(i)).collect();
        assert_eq!(at, [true, false, false, true, false, false]);
        assert_eq!(cut.keep, 4);
    }

    #[test]
    fn a_block_opening_is_an_opener_in_code_at_the_end() {
        let c = Literals::default();
        assert_eq!(open_at_end("int main() {", c), Some(1));
        assert_eq!(open_at_end("} else {  ", c), Some(1));
        assert_eq!(open_at_end("foo(bar(", c), Some(2));
        assert_eq!(open_at_end("x = [", c), Some(1));
        assert_eq!(open_at_end("f(); // {", c), None);
        assert_eq!(open_at_end("s = \"{", c), None);
        assert_eq!(open_at_end("f()", c), None);
        assert_eq!(open_at_end("case 1:", c), None);
        assert_eq!(open_at_end("", c), None);
        assert_eq!(open_at_end("é{", c), Some(1));
    }
}
