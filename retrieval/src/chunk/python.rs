//! Syntax-aware chunks for Python, from tree-sitter.
//!
//! Each top-level function and class is a chunk, decorators included. A class longer than
//! [`BODY_WINDOW_LINES`] is cut further: each method becomes a chunk whose text starts with the
//! `class` line, and class-level statements are grouped. A function body longer than
//! [`BODY_WINDOW_LINES`] is cut into windows that each repeat the signature (and class line), so
//! every piece still says whose code it is. Consecutive other top-level statements (imports,
//! assignments, `if __name__ == …`) are grouped, at most [`GROUP_MAX_LINES`] lines per group.

use std::ops::Range;

use tree_sitter::{Node, Parser};

use super::{join_lines, split_lines, Chunk};

/// A definition longer than this many lines is cut into windows.
pub const BODY_WINDOW_LINES: usize = 40;
/// Consecutive top-level statements are grouped up to this many lines.
pub const GROUP_MAX_LINES: usize = 20;
/// At most this many lines of a signature are repeated at the top of each window.
const MAX_HEADER_LINES: usize = 5;

/// The chunks of a Python file, or `None` if tree-sitter could not produce a tree at all.
pub fn chunks(text: &str) -> Option<Vec<Chunk>> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_python::LANGUAGE.into()).ok()?;
    let tree = parser.parse(text, None)?;
    let lines = split_lines(text);
    let mut cutter = Cutter { src: text.as_bytes(), lines: &lines, out: Vec::new() };
    cutter.block(tree.root_node(), &[], None);
    Some(cutter.out)
}

/// A run of consecutive non-definition statements waiting to become one chunk.
struct Group {
    lines: Range<usize>,
    symbols: Vec<String>,
}

struct Cutter<'a> {
    src: &'a [u8],
    lines: &'a [&'a str],
    out: Vec<Chunk>,
}

impl<'a> Cutter<'a> {
    /// Cuts the statements of a module or class body. `header` is repeated before chunks that do
    /// not start at `header_line` (the class line for a class's methods).
    fn block(&mut self, parent: Node, header: &[&'a str], header_line: Option<usize>) {
        let mut group: Option<Group> = None;
        let mut cursor = parent.walk();
        for node in parent.named_children(&mut cursor) {
            if let Some(def) = definition(node) {
                self.flush(group.take(), header, header_line);
                self.definition(node, def, header);
                continue;
            }
            let range = line_range(node);
            if group.as_ref().is_some_and(|g| range.end - g.lines.start > GROUP_MAX_LINES) {
                self.flush(group.take(), header, header_line);
            }
            let symbols = assigned_names(node, self.src);
            match &mut group {
                Some(g) => {
                    g.lines.end = range.end.max(g.lines.end);
                    g.symbols.extend(symbols);
                }
                None => group = Some(Group { lines: range, symbols }),
            }
        }
        self.flush(group, header, header_line);
    }

    fn flush(&mut self, group: Option<Group>, header: &[&'a str], header_line: Option<usize>) {
        let Some(group) = group else { return };
        let header = if header_line.is_some_and(|h| group.lines.start > h) { header } else { &[] };
        self.windowed(group.lines, header, &[], GROUP_MAX_LINES, group.symbols);
    }

    /// One function or class; `outer` includes its decorators.
    fn definition(&mut self, outer: Node, def: Node, header: &[&'a str]) {
        let range = line_range(outer);
        let name = def.child_by_field_name("name").and_then(|n| n.utf8_text(self.src).ok()).unwrap_or_default();
        let body = def.child_by_field_name("body");
        let body_row = body.map_or(range.start + 1, |b| b.start_position().row.max(range.start + 1));
        let signature: Vec<&'a str> =
            self.lines[range.start.min(self.lines.len())..body_row.min(self.lines.len())].to_vec();
        let signature = &signature[signature.len().saturating_sub(MAX_HEADER_LINES)..];
        let is_class = def.kind() == "class_definition";
        if !is_class || range.len() <= BODY_WINDOW_LINES {
            let mut symbols = vec![name.to_owned()];
            if is_class {
                symbols.extend(body.map(|b| method_names(b, self.src)).unwrap_or_default());
            }
            self.windowed(range, header, signature, BODY_WINDOW_LINES, symbols);
            return;
        }
        let mut class_header: Vec<&'a str> = header.to_vec();
        class_header.extend_from_slice(signature);
        match body {
            Some(body) => self.block(body, &class_header, Some(range.start)),
            None => self.windowed(range.clone(), header, signature, BODY_WINDOW_LINES, vec![name.to_owned()]),
        }
        // The class name belongs to the chunk holding the `class` line.
        if let Some(first) = self.out.iter_mut().rev().find(|c| c.lines.contains(&(range.start as u32))) {
            first.symbols.insert(0, name.to_owned());
        } else {
            let text = join_lines(header, self.lines, range.start..range.start + signature.len().max(1));
            let lines = range.start as u32..(range.start + signature.len().max(1)) as u32;
            self.out.push(Chunk { lines, text, symbols: vec![name.to_owned()] });
        }
    }

    /// Emits `range` as one chunk, or as windows of at most `max` lines of their own when longer;
    /// windows after the first repeat `header` and `signature` before their lines.
    fn windowed(
        &mut self,
        range: Range<usize>,
        header: &[&'a str],
        signature: &[&'a str],
        max: usize,
        symbols: Vec<String>,
    ) {
        let range = range.start.min(self.lines.len())..range.end.min(self.lines.len());
        if range.is_empty() {
            return;
        }
        let mut symbols = Some(symbols);
        let mut start = range.start;
        let mut repeat: Vec<&'a str> = header.to_vec();
        while start < range.end {
            let first = start == range.start;
            if !first && repeat.len() == header.len() {
                repeat.extend_from_slice(signature);
            }
            let room = if first { max } else { max.saturating_sub(repeat.len() - header.len()).max(max / 2) };
            let end = (start + room).min(range.end);
            let text = join_lines(&repeat, self.lines, start..end);
            let symbols = symbols.take().unwrap_or_default();
            self.out.push(Chunk { lines: start as u32..end as u32, text, symbols });
            start = end;
        }
    }
}

/// The function or class a top-level node defines, looking through decorators.
fn definition(node: Node) -> Option<Node> {
    match node.kind() {
        "function_definition" | "class_definition" => Some(node),
        "decorated_definition" => node.child_by_field_name("definition"),
        _ => None,
    }
}

/// The node's zero-based, end-exclusive line range.
fn line_range(node: Node) -> Range<usize> {
    let start = node.start_position().row;
    let end = node.end_position();
    let end_row = if end.column == 0 && end.row > start { end.row } else { end.row + 1 };
    start..end_row
}

/// Names of the functions and classes defined directly in a class body.
fn method_names(body: Node, src: &[u8]) -> Vec<String> {
    let mut cursor = body.walk();
    body.named_children(&mut cursor)
        .filter_map(definition)
        .filter_map(|d| d.child_by_field_name("name")?.utf8_text(src).ok().map(str::to_owned))
        .collect()
}

/// Names a statement assigns: `x = …`, `x: int = …`, `a, b = …` (not `obj.attr = …`).
fn assigned_names(node: Node, src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if node.kind() != "expression_statement" {
        return out;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if !matches!(child.kind(), "assignment" | "augmented_assignment") {
            continue;
        }
        let Some(left) = child.child_by_field_name("left") else { continue };
        collect_targets(left, src, &mut out);
    }
    out
}

fn collect_targets(node: Node, src: &[u8], out: &mut Vec<String>) {
    match node.kind() {
        "identifier" => {
            if let Ok(name) = node.utf8_text(src) {
                out.push(name.to_owned());
            }
        }
        "pattern_list" | "tuple_pattern" | "list_pattern" => {
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                collect_targets(child, src, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> Vec<Chunk> {
        chunks(text).expect("tree-sitter parses Python")
    }

    const SAMPLE: &str = "\
import os
from .utils import parse_config

TIMEOUT = 30
a, b = 1, 2


@cache
def load(path):
    return parse_config(path)


class Session:
    retries = 3

    def __init__(self, url):
        self.url = url

    def get(self, key):
        return key
";

    #[test]
    fn functions_classes_and_statement_groups_are_chunks_with_their_symbols() {
        let chunks = chunk(SAMPLE);
        let summary: Vec<_> = chunks.iter().map(|c| (c.lines.clone(), c.symbols.clone())).collect();
        assert_eq!(
            summary,
            [
                (0..5, vec!["TIMEOUT".to_owned(), "a".to_owned(), "b".to_owned()]),
                (7..10, vec!["load".to_owned()]),
                (12..20, vec!["Session".to_owned(), "__init__".to_owned(), "get".to_owned()]),
            ]
        );
        assert!(chunks[1].text.starts_with("@cache\ndef load(path):"));
    }

    #[test]
    fn statement_groups_stay_within_the_line_limit() {
        let text: String = (0..50).map(|i| format!("NAME_{i} = {i}\n")).collect();
        let chunks = chunk(&text);
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| c.lines.len() <= GROUP_MAX_LINES));
        assert_eq!(chunks[0].symbols[0], "NAME_0");
    }

    #[test]
    fn long_function_bodies_are_windowed_and_every_window_repeats_the_signature() {
        let body: String = (0..100).map(|i| format!("    total += {i}\n")).collect();
        let text = format!("def long_sum(values):\n    total = 0\n{body}    return total\n");
        let chunks = chunk(&text);
        assert!(chunks.len() >= 3, "{chunks:?}");
        for c in &chunks {
            assert!(c.text.starts_with("def long_sum(values):\n"), "{}", c.text);
            assert!(c.text.lines().count() <= BODY_WINDOW_LINES + 1);
        }
        assert_eq!(chunks[0].symbols, ["long_sum"]);
        assert_eq!(chunks.last().map(|c| c.lines.end), Some(103));
        // The windows cover the function without overlapping.
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].lines.end, pair[1].lines.start);
        }
    }

    #[test]
    fn methods_of_long_classes_are_chunks_that_keep_the_class_line() {
        let methods: String =
            (0..12).map(|i| format!("    def method_{i}(self):\n        x = {i}\n        return x\n\n")).collect();
        let text = format!("class Big(Base):\n    \"\"\"Doc.\"\"\"\n\n{methods}");
        let chunks = chunk(&text);
        let method_3 = chunks.iter().find(|c| c.symbols == ["method_3"]).expect("a chunk for method_3");
        assert!(method_3.text.starts_with("class Big(Base):\n    def method_3(self):"), "{}", method_3.text);
        let class_chunk = chunks.iter().find(|c| c.lines.start == 0).expect("a chunk with the class line");
        assert_eq!(class_chunk.symbols[0], "Big");
    }

    #[test]
    fn a_file_with_syntax_errors_still_chunks() {
        let chunks = chunk("def broken(:\n    pass\n\ndef fine():\n    return 1\n");
        assert!(chunks.iter().any(|c| c.symbols.contains(&"fine".to_owned())), "{chunks:?}");
    }
}
