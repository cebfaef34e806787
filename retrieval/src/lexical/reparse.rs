//! One document's syntax tree kept between keystrokes: each new text is parsed incrementally
//! from the last one (tree-sitter reuses every subtree the edit did not touch), so the gate's
//! cost per keystroke follows the edit, not the file.
//!
//! The edit is not taken from the editor: it is found by comparing the previous text with the
//! new one (their common start and end), so any sequence of texts is handled, including a
//! prompt window that moved or a prefetch's speculative document between two real ones.

use tree_sitter::{InputEdit, Parser, Point, Tree};

use crate::language::Language;

/// A parser and the last text it parsed, with its tree.
#[derive(Default)]
pub struct Reparser {
    last: Option<Parsed>,
}

struct Parsed {
    language: Language,
    parser: Parser,
    source: String,
    tree: Tree,
}

impl Reparser {
    /// The tree of `source` in `language`: parsed incrementally from the previous text when it
    /// was in the same language, else from scratch. `None` if the grammar would not load or
    /// tree-sitter gave up (the previous tree is then forgotten).
    pub fn parse(&mut self, language: Language, source: &str) -> Option<&Tree> {
        let previous = self.last.take().filter(|last| last.language == language);
        let (mut parser, old_tree, mut buffer) = match previous {
            Some(Parsed { parser, source: old, mut tree, .. }) => {
                tree.edit(&text_edit(&old, source));
                (parser, Some(tree), old)
            }
            None => (language.parser()?, None, String::new()),
        };
        let tree = parser.parse(source, old_tree.as_ref())?;
        buffer.clear();
        buffer.push_str(source);
        Some(&self.last.insert(Parsed { language, parser, source: buffer, tree }).tree)
    }
}

/// The one edit that turns `old` into `new`: everything between their common start and their
/// common end (which never overlap), on character boundaries.
pub fn text_edit(old: &str, new: &str) -> InputEdit {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let mut start = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while !new.is_char_boundary(start) {
        start -= 1;
    }
    let limit = a.len().min(b.len()) - start;
    let mut common_end = a.iter().rev().zip(b.iter().rev()).take(limit).take_while(|(x, y)| x == y).count();
    // The common end is the same bytes in both texts, so a boundary in one is one in the other.
    while !old.is_char_boundary(old.len() - common_end) {
        common_end -= 1;
    }
    let (old_end, new_end) = (old.len() - common_end, new.len() - common_end);
    let start_position = point_at(old, 0, Point::new(0, 0), start);
    InputEdit {
        start_byte: start,
        old_end_byte: old_end,
        new_end_byte: new_end,
        start_position,
        old_end_position: point_at(old, start, start_position, old_end),
        new_end_position: point_at(new, start, start_position, new_end),
    }
}

/// The row and byte column of byte `at` of `text`, counting on from `from` (at `point`).
fn point_at(text: &str, from: usize, point: Point, at: usize) -> Point {
    let span = &text.as_bytes()[from..at];
    match span.iter().rposition(|&b| b == b'\n') {
        Some(last) => {
            let rows = span.iter().filter(|&&b| b == b'\n').count();
            Point::new(point.row + rows, span.len() - last - 1)
        }
        None => Point::new(point.row, point.column + span.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sexp(language: Language, source: &str) -> String {
        language.parser().unwrap().parse(source, None).unwrap().root_node().to_sexp()
    }

    #[test]
    fn the_edit_spans_what_changed_on_character_boundaries() {
        let edit = text_edit("fn a() {}\nfn b() {}\n", "fn a() {}\nfn bc() {}\n");
        assert_eq!((edit.start_byte, edit.old_end_byte, edit.new_end_byte), (14, 14, 15));
        assert_eq!(edit.start_position, Point::new(1, 4));
        assert_eq!(edit.new_end_position, Point::new(1, 5));
        // Repeated text: the common start and end never overlap.
        let edit = text_edit("aaa", "aaaa");
        assert_eq!((edit.start_byte, edit.old_end_byte, edit.new_end_byte), (3, 3, 4));
        // `é` and `è` share their first byte: the edit takes the whole character.
        let edit = text_edit("xé\ny", "xè\ny");
        assert_eq!((edit.start_byte, edit.old_end_byte, edit.new_end_byte), (1, 3, 3));
        let edit = text_edit("line\n", "");
        assert_eq!((edit.old_end_position, edit.new_end_position), (Point::new(1, 0), Point::new(0, 0)));
    }

    #[test]
    fn every_incremental_tree_equals_a_fresh_parse() {
        let mut text = String::from("fn main() {\n    let x = 1;\n}\n\nstruct S { a: u32 }\n");
        let mut reparser = Reparser::default();
        let steps: &[(usize, usize, &str)] = &[
            (26, 26, "\n    let y = x + 2;"),
            (44, 45, "3"),
            (0, 0, "use crate::é::T;\n"),
            (20, 40, ""),
            (5, 5, "{{{ unbalanced"),
            (5, 19, ""),
        ];
        for &(from, to, insert) in steps {
            let (from, to) = (from.min(text.len()), to.min(text.len()));
            let (from, to) =
                (crate::query::floor_char_boundary(&text, from), crate::query::floor_char_boundary(&text, to));
            text.replace_range(from..to, insert);
            let tree = reparser.parse(Language::Rust, &text).unwrap();
            assert_eq!(tree.root_node().to_sexp(), sexp(Language::Rust, &text), "after {insert:?}: {text}");
        }
        // Another language starts over.
        let tree = reparser.parse(Language::Go, "package p\n").unwrap();
        assert_eq!(tree.root_node().to_sexp(), sexp(Language::Go, "package p\n"));
    }
}
