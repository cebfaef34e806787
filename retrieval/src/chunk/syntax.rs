//! Syntax-aware chunks, from tree-sitter, for every language of the table
//! ([`crate::language`]).
//!
//! Each top-level definition is a chunk: functions and methods, classes, structs, enums,
//! traits, interfaces, impl blocks, namespaces, with the decorators, attributes and doc comments
//! right above them. A container (class, impl block, namespace, …) longer than
//! [`BODY_WINDOW_LINES`] is cut further: each member becomes a chunk whose text starts with the
//! container's header line, and other member statements are grouped. A function longer than
//! [`BODY_WINDOW_LINES`] is cut into windows that each repeat its signature (and the container's
//! header), so every piece still says whose code it is. Consecutive other top-level statements
//! (imports, constants, declarations) are grouped, at most [`GROUP_MAX_LINES`] lines per group.
//! What counts as which is the language's [`ChunkRules`]: node kinds, not code per language.

use std::ops::Range;

use tree_sitter::{Node, Tree};

use super::{join_lines, split_lines, Chunk};
use crate::language::{ChunkRules, Language};
use crate::names::{bound_names, definition_name, NameWalk, SKIPPED_FIELDS};

/// A definition longer than this many lines is cut into windows.
pub const BODY_WINDOW_LINES: usize = 40;
/// Consecutive top-level statements are grouped up to this many lines.
pub const GROUP_MAX_LINES: usize = 20;
/// At most this many lines of a signature are repeated at the top of each window.
const MAX_HEADER_LINES: usize = 5;
/// Containers nested deeper than this are windowed whole, and wrappers or transparent nodes
/// deeper than this are not looked into (guards against pathological nesting).
const MAX_DEPTH: usize = 8;

/// The chunks of a file in `language`, or `None` if tree-sitter could not produce a tree at
/// all. A file with syntax errors still has a tree (errors are nodes in it), so it still gets
/// chunks.
pub fn chunks(language: Language, text: &str) -> Option<Vec<Chunk>> {
    let mut parser = language.parser()?;
    let tree = parser.parse(text, None)?;
    Some(chunks_of_tree(language, text, &tree))
}

/// The chunks of `text` in `language`, cut along `tree`, its syntax tree.
pub fn chunks_of_tree(language: Language, text: &str, tree: &Tree) -> Vec<Chunk> {
    let lines = split_lines(text);
    let mut cutter = Cutter { rules: &language.spec().chunks, src: text.as_bytes(), lines: &lines, out: Vec::new() };
    cutter.block(tree.root_node(), &[], None, 0);
    cutter.out
}

/// A run of consecutive non-definition statements waiting to become one chunk.
struct Group {
    lines: Range<usize>,
    symbols: Vec<String>,
}

/// What a definition is to the cutter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Chunked whole, windowed under its signature when long.
    Leaf,
    /// One chunk when short, else its members are chunked under its header.
    Container,
}

/// A definition found among a block's statements.
struct Definition<'t> {
    /// The statement, wrappers (decorators, `export`, `template<…>`) included.
    outer: Node<'t>,
    /// The definition inside the wrappers.
    node: Node<'t>,
    shape: Shape,
    /// Its name, if it has one (an impl block has none).
    name: Option<String>,
    /// The node holding its body: the signature is what comes before it.
    body: Option<Node<'t>>,
}

struct Cutter<'a> {
    rules: &'a ChunkRules,
    src: &'a [u8],
    lines: &'a [&'a str],
    out: Vec<Chunk>,
}

impl<'a> Cutter<'a> {
    /// Cuts the statements of a file or container body. `header` is repeated before chunks that
    /// do not start at `header_line` (the class line for a class's methods).
    fn block(&mut self, parent: Node, header: &[&'a str], header_line: Option<usize>, depth: usize) {
        let mut group: Option<Group> = None;
        // Comments and attributes waiting to see whether a definition follows them.
        let mut leading: Option<Range<usize>> = None;
        let mut previous_end_row: Option<usize> = None;
        for node in self.statements(parent) {
            let range = line_range(node);
            let own_line = previous_end_row.is_none_or(|row| range.start > row);
            previous_end_row = Some(range.end - 1);
            if own_line && self.rules.leading.contains(&node.kind()) {
                match &mut leading {
                    Some(run) if range.start <= run.end => run.end = run.end.max(range.end),
                    _ => {
                        if let Some(run) = leading.replace(range) {
                            self.add(&mut group, run, Vec::new(), header, header_line);
                        }
                    }
                }
                continue;
            }
            if let Some(def) = self.definition(node, 0) {
                let start = match leading.take() {
                    Some(run) if range.start <= run.end => Some(run.start),
                    Some(run) => {
                        self.add(&mut group, run, Vec::new(), header, header_line);
                        None
                    }
                    None => None,
                };
                self.flush(group.take(), header, header_line);
                self.definition_chunks(def, start, header, depth);
                continue;
            }
            if let Some(run) = leading.take() {
                self.add(&mut group, run, Vec::new(), header, header_line);
            }
            let symbols = self.declared_names(node);
            self.add(&mut group, range, symbols, header, header_line);
        }
        if let Some(run) = leading.take() {
            self.add(&mut group, run, Vec::new(), header, header_line);
        }
        self.flush(group, header, header_line);
    }

    /// The named children of `parent`, with those of transparent nodes (include guards,
    /// `extern "C"` blocks) in their place.
    fn statements<'t>(&self, parent: Node<'t>) -> Vec<Node<'t>> {
        let mut out = Vec::new();
        self.push_statements(parent, &mut out, 0);
        out
    }

    fn push_statements<'t>(&self, parent: Node<'t>, out: &mut Vec<Node<'t>>, depth: usize) {
        let mut cursor = parent.walk();
        for node in parent.named_children(&mut cursor) {
            if depth < MAX_DEPTH && self.rules.transparent.contains(&node.kind()) {
                self.push_statements(node, out, depth + 1);
            } else {
                out.push(node);
            }
        }
    }

    /// Adds a statement's lines and symbols to the open group, flushing it first when the
    /// statement would make it longer than [`GROUP_MAX_LINES`].
    fn add(
        &mut self,
        group: &mut Option<Group>,
        range: Range<usize>,
        symbols: Vec<String>,
        header: &[&'a str],
        header_line: Option<usize>,
    ) {
        if group.as_ref().is_some_and(|g| range.end.saturating_sub(g.lines.start) > GROUP_MAX_LINES) {
            self.flush(group.take(), header, header_line);
        }
        match group {
            Some(g) => {
                g.lines.end = range.end.max(g.lines.end);
                g.symbols.extend(symbols);
            }
            None => *group = Some(Group { lines: range, symbols }),
        }
    }

    fn flush(&mut self, group: Option<Group>, header: &[&'a str], header_line: Option<usize>) {
        let Some(group) = group else { return };
        let header = if header_line.is_some_and(|h| group.lines.start > h) { header } else { &[] };
        self.windowed(group.lines, header, &[], GROUP_MAX_LINES, group.symbols);
    }

    /// One definition; `leading_start` is the first line of the comments and attributes above
    /// it, when it has some.
    fn definition_chunks(&mut self, def: Definition, leading_start: Option<usize>, header: &[&'a str], depth: usize) {
        let own = line_range(def.outer);
        let range = leading_start.unwrap_or(own.start)..own.end;
        let body_row = def.body.map_or(own.start + 1, |b| b.start_position().row.max(own.start + 1));
        let signature: Vec<&'a str> =
            self.lines[own.start.min(self.lines.len())..body_row.min(self.lines.len())].to_vec();
        let signature = &signature[signature.len().saturating_sub(MAX_HEADER_LINES)..];
        let name = def.name.clone();
        if def.shape == Shape::Leaf || range.len() <= BODY_WINDOW_LINES || depth >= MAX_DEPTH {
            let mut symbols: Vec<String> = match &name {
                Some(name) => vec![name.clone()],
                None if def.shape == Shape::Leaf => self.declared_names(def.node),
                None => Vec::new(),
            };
            if def.shape == Shape::Container {
                // A constructor named like its class adds nothing.
                let members = def.body.map(|b| self.member_names(b)).unwrap_or_default();
                symbols.extend(members.into_iter().filter(|m| Some(m) != name.as_ref()));
            }
            self.windowed(range, header, signature, BODY_WINDOW_LINES, symbols);
            return;
        }
        let mut container_header: Vec<&'a str> = header.to_vec();
        container_header.extend_from_slice(signature);
        match def.body {
            Some(body) => self.block(body, &container_header, Some(own.start), depth + 1),
            None => self.windowed(range.clone(), header, signature, BODY_WINDOW_LINES, name.iter().cloned().collect()),
        }
        let Some(name) = name else { return };
        // The container's name belongs to the chunk holding its header line.
        if let Some(first) = self.out.iter_mut().rev().find(|c| c.lines.contains(&(own.start as u32))) {
            first.symbols.insert(0, name);
        } else {
            // Its header on its own: the lines before the body (doc comments included).
            let end = body_row.max(range.start + 1);
            self.windowed(range.start..end, header, &[], BODY_WINDOW_LINES, vec![name]);
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

    /// The definition a statement is or wraps (looking through decorators, `export` and
    /// `template<…>`), if it is one.
    fn definition<'t>(&self, node: Node<'t>, depth: usize) -> Option<Definition<'t>> {
        if let Some(def) = self.bare_definition(node) {
            return Some(def);
        }
        let &(_, field) = self.rules.wrappers.iter().find(|(kind, _)| *kind == node.kind())?;
        if depth >= MAX_DEPTH {
            return None;
        }
        let inner = if field.is_empty() {
            let mut cursor = node.walk();
            let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
            children.into_iter().find_map(|child| self.definition(child, depth + 1))
        } else {
            self.definition(node.child_by_field_name(field)?, depth + 1)
        };
        inner.map(|def| Definition { outer: node, ..def })
    }

    /// A definition without wrappers.
    fn bare_definition<'t>(&self, node: Node<'t>) -> Option<Definition<'t>> {
        let kind = node.kind();
        let shape = if self.rules.definitions.contains(&kind) {
            Shape::Leaf
        } else if self.rules.containers.contains(&kind) && body_of(node).is_some() {
            Shape::Container
        } else {
            return self.function_variable(node);
        };
        let name = definition_name(node, self.src);
        Some(Definition { outer: node, node, shape, name, body: body_of(node) })
    }

    /// A declaration of one variable whose value is a function (`const parse = (s) => …`).
    fn function_variable<'t>(&self, node: Node<'t>) -> Option<Definition<'t>> {
        if self.rules.function_values.is_empty() || !self.rules.declarations.contains(&node.kind()) {
            return None;
        }
        let mut sites = Vec::new();
        self.name_sites(node, &mut sites, 0);
        let [site] = sites.as_slice() else { return None };
        let value = site.child_by_field_name("value").or_else(|| site.child_by_field_name("right"))?;
        if !self.rules.function_values.contains(&value.kind()) {
            return None;
        }
        let names = self.declared_names(node);
        let [name] = names.as_slice() else { return None };
        Some(Definition {
            outer: node,
            node,
            shape: Shape::Leaf,
            name: Some(name.clone()),
            body: value.child_by_field_name("body"),
        })
    }

    /// The nodes under a declaration statement that name what it declares: not its type
    /// (`enum kind f();` declares `f`, not `kind`), unless the type is defined right there
    /// (`struct point { … } origin;` declares both).
    fn name_sites<'t>(&self, node: Node<'t>, out: &mut Vec<Node<'t>>, depth: usize) {
        if self.rules.names.iter().any(|(kind, _)| *kind == node.kind()) {
            out.push(node);
        }
        if depth >= MAX_DEPTH || !self.rules.declarations.contains(&node.kind()) {
            return;
        }
        let mut cursor = node.walk();
        if !cursor.goto_first_child() {
            return;
        }
        loop {
            let defined_here = cursor.node().child_by_field_name("body").is_some();
            let skipped = cursor
                .field_name()
                .is_some_and(|field| SKIPPED_FIELDS.contains(&field) && !(field == "type" && defined_here));
            if cursor.node().is_named() && !skipped {
                self.name_sites(cursor.node(), out, depth + 1);
            }
            if !cursor.goto_next_sibling() {
                break;
            }
        }
    }

    /// Names a statement declares: `x = …` and `a, b = …` in Python, `const x`, `static X`,
    /// `int x, *y;`, `type T …` (not `obj.attr = …`).
    fn declared_names(&self, node: Node) -> Vec<String> {
        let mut sites = Vec::new();
        self.name_sites(node, &mut sites, 0);
        let mut out = Vec::new();
        for site in sites {
            for (kind, field) in self.rules.names {
                if *kind == site.kind() {
                    self.names_under(site, field, &mut out);
                }
            }
        }
        out
    }

    /// Names of the definitions in a container's body (its methods), and of its members that
    /// count as its symbols.
    fn member_names(&self, body: Node) -> Vec<String> {
        let mut out = Vec::new();
        for node in self.statements(body) {
            if let Some(def) = self.definition(node, 0) {
                out.extend(def.name);
                continue;
            }
            for (kind, field) in self.rules.members {
                if *kind == node.kind() {
                    self.names_under(node, field, &mut out);
                }
            }
        }
        out
    }

    fn names_under(&self, node: Node, field: &str, out: &mut Vec<String>) {
        let walk = NameWalk { exports: self.rules.exports, parameters: false };
        let mut cursor = node.walk();
        for child in node.children_by_field_name(field, &mut cursor) {
            bound_names(child, self.src, walk, out);
        }
    }
}

/// The node holding a definition's body: its `body` field, or its type's (`typedef struct
/// { … } T;`).
fn body_of(node: Node) -> Option<Node> {
    node.child_by_field_name("body").or_else(|| node.child_by_field_name("type")?.child_by_field_name("body"))
}

/// The node's zero-based, end-exclusive line range.
fn line_range(node: Node) -> Range<usize> {
    let start = node.start_position().row;
    let end = node.end_position();
    let end_row = if end.column == 0 && end.row > start { end.row } else { end.row + 1 };
    start..end_row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> Vec<Chunk> {
        chunks(Language::Python, text).expect("tree-sitter parses Python")
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
