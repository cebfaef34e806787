//! The gate for the table's languages read by syntax (all but Python): what the file defines
//! and imports, from its tree-sitter tree, and which names near the cursor come from elsewhere.
//!
//! A name counts when it is imported (`use crate::a::B;`, `import { parse } from "./util"`,
//! `import "strings"`, `import java.util.List;`, `using std::string;`), or when the file never
//! defines it (no declaration, parameter or pattern binds it) and it is no keyword or builtin
//! of the language: a C function from `#include "util.h"`, a Go function from another file of
//! the package, a Java class of the same package. A member of such a name counts with it
//! (`strings.Split`, `Bar::new`), and so does a path into another module of the project
//! (`crate::config::load`). Field and property names (`Config { timeout: 3 }`,
//! `{ key: value }`), words in strings and comments, attributes and the import statements'
//! own names are never uses.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use tree_sitter::{Node, Tree};

use super::imports::{import_kinds, read_import};
use super::items::{end_of_construct, start_of_construct, ItemMemo};
use super::scope_memo::{Part, ReadNode, ScopeMemo};
use super::GateSyntax;
use super::{nested, reparse};
use crate::language::{Language, LanguageSpec};
use crate::names::{bound_names, NameWalk, NAME_KINDS};
use crate::query::context_region;

/// What the analysed text defines and imports.
struct FileScope<'p> {
    defined: HashSet<&'p str>,
    imported: HashSet<&'p str>,
    /// Byte ranges of import statements: their names are not uses.
    imports: Vec<Range<usize>>,
}

/// Names near the cursor whose definitions are elsewhere, in order, as written (`parse`,
/// `strings.Split`, `Bar::new`); `None` if the grammar would not load or parse.
/// `analysed` is the byte range of `text` read for definitions and imports; `state` holds the
/// document's previous tree and scope, so that only what changed since is parsed and read.
pub(super) fn foreign_names(
    language: Language,
    text: &str,
    cursor: usize,
    analysed: Range<usize>,
    state: &mut GateSyntax,
) -> Option<Vec<String>> {
    let spec = language.spec();
    let region = context_region(text, cursor);
    // The cursor's top-level construct is parsed on every request; the whole items above and
    // below it are read item by item and remembered by their text (see `items`).
    let (head_start, head_end) = if state.by_items {
        let end = end_of_construct(text, region.end).clamp(analysed.start, analysed.end);
        (start_of_construct(text, region.start, analysed.start).min(end), end)
    } else {
        (analysed.start, analysed.end)
    };
    let read_item =
        |tree: &Tree, source: &str, from: usize, memo: &mut ScopeMemo| read_tree(language, tree, source, from, memo);
    let mut around = state.items.read(language, text.get(analysed.start..head_start)?, &read_item);
    around.extend(state.items.read(language, text.get(head_end..analysed.end)?, &read_item));
    let construct = head_start..head_end;
    // Unfinished code that would run on through a long construct: the cursor's item is parsed
    // in the construct's header, and the rest of the construct is read apart (see `nested`).
    let read_apart_last = |rest: &str| state.rest.reparser.last_tree(language, rest).is_some();
    let nested = state
        .by_items
        .then(|| {
            nested::split_where_code_runs_on(
                text,
                construct.clone(),
                region.clone(),
                &spec.delimiters,
                spec.line_comment,
                &read_apart_last,
            )
        })
        .flatten();
    let composed;
    let GateSyntax { head, item, rest, items, .. } = state;
    let (reading, source, in_source): (_, &str, &dyn Fn(usize) -> usize) = match &nested {
        Some((nested, rest_text)) => {
            around.push(rest.read(language, rest_text, items)?);
            composed = nested.source(text);
            (item, &composed, &|at| nested.in_source(at))
        }
        None => (head, text.get(construct.clone())?, &|at| at.saturating_sub(construct.start)),
    };
    // The cursor's item alone shares too little with the construct's tree from when the
    // document was opened to start from it.
    let (tree, part) = reading.parse_and_read(language, source, items, nested.is_none())?;
    let src = source.as_bytes();
    let mut scope = FileScope::of(&part, tree.root_node().start_byte());
    for item in &around {
        scope.add_names(item);
    }
    let start = in_source(region.start.max(construct.start));
    let end = in_source(region.end.min(construct.end));
    let cursor = in_source(cursor);
    let mut out: Vec<String> = Vec::new();
    let mut chain_base_foreign = false;
    let mut last_end: Option<usize> = None;
    for leaf in leaves(spec, tree.root_node(), start..end) {
        let (from, to) = (leaf.start_byte(), leaf.end_byte());
        if from <= cursor && cursor <= to {
            continue; // the word being typed
        }
        if scope.imports.iter().any(|r| r.contains(&from)) {
            continue;
        }
        let Ok(name) = leaf.utf8_text(src) else { continue };
        if let Some((separator, base_end)) = member_of(spec, source, from) {
            if last_end == Some(base_end) {
                if chain_base_foreign {
                    if let Some(last) = out.last_mut() {
                        last.push_str(separator);
                        last.push_str(name);
                    }
                }
            } else if let Some(root) = path_root(spec, &source[..base_end]) {
                out.push(format!("{root}{separator}{name}"));
                chain_base_foreign = true;
            } else {
                chain_base_foreign = false;
            }
            last_end = Some(to);
            continue;
        }
        last_end = Some(to);
        chain_base_foreign = spec.scope.references.contains(&leaf.kind()) && scope.is_foreign(language, name);
        if chain_base_foreign {
            out.push(name.to_owned());
        }
    }
    let mut seen = HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    Some(out)
}

/// Edits since the last request that span at most this many bytes (keys typed, the window
/// moved by a few lines) are parsed from the last tree without looking for a closer one.
const NEAR_EDIT_BYTES: usize = 1024;

/// Reads what each item of `source` (a whole document, just opened) defines and imports into
/// `state`, as [`foreign_names`] reads the items around the cursor's construct: a request at
/// any spot of the document then parses only its own construct.
pub(super) fn read_ahead(language: Language, source: &str, state: &mut GateSyntax) {
    state.items.read_ahead(language, source, &|tree, source, from, memo| read_tree(language, tree, source, from, memo));
}

/// One construct's reading kept between requests: the cursor's construct (or its item inside a
/// long construct), or the rest of that long construct. Each new text is parsed incrementally
/// from the last one, or from the tree its construct had when the document was opened, and its
/// subtrees are read through the memo.
#[derive(Default)]
pub(super) struct ConstructReading {
    pub(super) reparser: reparse::Reparser,
    pub(super) memo: ScopeMemo,
    /// What the last text read defines and imports.
    last: Option<Arc<Part>>,
}

impl ConstructReading {
    /// `source`'s tree and what its subtrees define and import: the last ones again when
    /// `source` is the last text read; `None` if the grammar would not load or parse. With
    /// `from_opened`, a text far from the last one starts from the tree of its construct when
    /// the document was opened, if `items` holds one.
    pub(super) fn parse_and_read(
        &mut self,
        language: Language,
        source: &str,
        items: &ItemMemo,
        from_opened: bool,
    ) -> Option<(&Tree, Arc<Part>)> {
        if self.reparser.last_tree(language, source).is_some() {
            if let Some(part) = self.last.clone() {
                return Some((self.reparser.last_tree(language, source)?, part));
            }
        }
        self.last = None;
        let opened = match from_opened && !self.reparser.is_near(language, source, NEAR_EDIT_BYTES) {
            true => items.tree_for(language, source),
            false => None,
        };
        if let Some(opened) = opened {
            // The construct as it was when the document was opened: its tree, and what each of
            // its subtrees defines, are at hand.
            if self.reparser.start_from(language, opened.text, opened.tree, source, opened.unchanged) {
                self.memo.seed(opened.part);
            }
        }
        let tree = self.reparser.parse(language, source)?;
        let part = read_tree(language, tree, source, 0, &mut self.memo);
        self.last = Some(Arc::clone(&part));
        Some((tree, part))
    }

    /// What `source` defines and imports, as [`ConstructReading::parse_and_read`] reads it.
    fn read(&mut self, language: Language, source: &str, items: &ItemMemo) -> Option<Arc<Part>> {
        self.parse_and_read(language, source, items, true).map(|(_, part)| part)
    }
}

/// What `tree` (of `source`, in `language`) defines and imports from byte `from` on (0: all of
/// it), read through `memo`: the cursor's construct and each item around it are read this one
/// way.
fn read_tree(language: Language, tree: &Tree, source: &str, from: usize, memo: &mut ScopeMemo) -> Arc<Part> {
    FileScope::read(language.spec(), &language.grammar(), tree.root_node(), source.as_bytes(), from, memo)
}

impl<'p> FileScope<'p> {
    /// What the tree under `root` defines and imports, in the nodes that begin at byte `from` or
    /// later: bindings define names, import statements import them. Subtrees whose text `memo`
    /// has seen before are not walked again.
    fn read(
        spec: &LanguageSpec,
        grammar: &tree_sitter::Language,
        root: Node,
        src: &[u8],
        from: usize,
        memo: &mut ScopeMemo,
    ) -> Arc<Part> {
        let reader = NodeReader {
            spec,
            imports: KindSet::new(grammar, import_kinds(spec.imports).iter().copied()),
            bindings: KindSet::new(grammar, spec.scope.bindings.iter().map(|(kind, _)| *kind)),
            src,
        };
        memo.read_from(&reader, root, src, from)
    }

    /// The scope `part` (the root's, starting at byte `start`) and the parts below it hold.
    fn of(part: &'p Part, start: usize) -> Self {
        let mut scope = FileScope { defined: HashSet::new(), imported: HashSet::new(), imports: Vec::new() };
        scope.add(part, start);
        scope
    }

    /// Adds the names `part` and the parts below it define and import (not where its import
    /// statements are: `part` lies outside the text whose names are looked at).
    fn add_names(&mut self, part: &'p Part) {
        part.each(0, &mut |part, _| {
            self.defined.extend(part.defined.iter().map(String::as_str));
            self.imported.extend(part.imported.iter().map(String::as_str));
        });
    }

    /// Adds what `part` (starting at byte `start`) and the parts below it hold.
    fn add(&mut self, part: &'p Part, start: usize) {
        self.add_names(part);
        part.each(start, &mut |part, base| {
            self.imports.extend(part.imports.iter().map(|r| base + r.start..base + r.end));
        });
    }

    fn is_foreign(&self, language: Language, name: &str) -> bool {
        if self.imported.contains(name) {
            return true;
        }
        if self.defined.contains(name) || name.chars().count() < 2 || name.starts_with(|c: char| c.is_numeric()) {
            return false;
        }
        !language.knows(name)
    }
}

/// How the gate reads one node: an import statement imports its names (and is not walked
/// into), a binding defines them, an error node keeps what unfinished code still defines.
struct NodeReader<'a> {
    spec: &'a LanguageSpec,
    imports: KindSet,
    bindings: KindSet,
    src: &'a [u8],
}

impl ReadNode for NodeReader<'_> {
    fn read_node(&self, node: Node, part: &mut Part, base: usize) -> bool {
        if !node.is_named() {
            return node.child_count() > 0;
        }
        if self.imports.contains(node) && read_import(self.spec.imports, node, self.src, &mut part.imported) {
            let range = node.byte_range();
            part.imports.push(range.start - base..range.end - base);
            return false;
        }
        if node.is_error() {
            defined_in_error(node, self.src, &mut part.defined);
        }
        if self.bindings.contains(node) {
            bind(self.spec, node, self.src, NameWalk { exports: &[], parameters: true }, &mut part.defined);
        }
        node.child_count() > 0
    }
}

/// The names a binding node of the language defines (a parameter's pattern, a declaration's
/// name).
fn bind(spec: &LanguageSpec, node: Node, src: &[u8], walk: NameWalk, out: &mut Vec<String>) {
    for (_, field) in spec.scope.bindings.iter().filter(|(kind, _)| *kind == node.kind()) {
        let mut cursor = node.walk();
        if field.is_empty() {
            for child in node.named_children(&mut cursor) {
                bound_names(child, src, walk, out);
            }
        } else {
            for child in node.children_by_field_name(field, &mut cursor) {
                bound_names(child, src, walk, out);
            }
        }
    }
}

/// A set of node kinds as a table indexed by kind id: the walk asks it for every node.
struct KindSet(Vec<bool>);

impl KindSet {
    fn new<'k>(grammar: &tree_sitter::Language, kinds: impl Iterator<Item = &'k str>) -> Self {
        let mut table = vec![false; grammar.node_kind_count()];
        for kind in kinds {
            let id = usize::from(grammar.id_for_node_kind(kind, true));
            if id != 0 && id < table.len() {
                table[id] = true;
            }
        }
        KindSet(table)
    }

    fn contains(&self, node: Node) -> bool {
        self.0.get(usize::from(node.kind_id())).copied().unwrap_or(false)
    }
}

/// Keywords that, in any of the table's languages, make the name after them a definition.
const DEFINING_KEYWORDS: &[&str] = &[
    "fn",
    "func",
    "function",
    "class",
    "struct",
    "enum",
    "union",
    "trait",
    "interface",
    "type",
    "let",
    "const",
    "var",
    "mod",
    "namespace",
    "static",
];

/// Names an error node still defines: code being typed is often unfinished (`fn f(a: u32) {`
/// with no `}` yet), and tree-sitter keeps its pieces as children of an `ERROR` node. A name
/// right after a defining keyword, or right before a parameter list, is a definition, and so
/// are the names of a pattern (`for (i, x) in` cut from its loop) or a C-like declarator
/// (`int main(void) {`).
fn defined_in_error(node: Node, src: &[u8], out: &mut Vec<String>) {
    let mut cursor = node.walk();
    let children: Vec<Node> = node.children(&mut cursor).collect();
    for (i, child) in children.iter().enumerate() {
        if child.kind().ends_with("declarator") || child.kind().ends_with("pattern") {
            bound_names(*child, src, NameWalk { exports: &[], parameters: true }, out);
            continue;
        }
        if !NAME_KINDS.contains(&child.kind()) {
            continue;
        }
        let after_keyword = i > 0 && DEFINING_KEYWORDS.contains(&children[i - 1].kind());
        let before_parameters = children.get(i + 1).is_some_and(|next| {
            let kind = next.kind();
            kind.ends_with("parameters") || kind == "parameter_list"
        });
        if after_keyword || before_parameters {
            out.extend(child.utf8_text(src).ok().map(str::to_owned));
        }
    }
}

/// The identifier leaves overlapping `region`, in source order, outside the language's ignored
/// nodes (attributes, lifetimes).
fn leaves<'t>(spec: &LanguageSpec, root: Node<'t>, region: Range<usize>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        let outside = node.end_byte() <= region.start || node.start_byte() >= region.end;
        let mut descend = !outside && node.child_count() > 0;
        if !outside && node.is_named() {
            if spec.scope.ignored.contains(&node.kind()) {
                descend = false;
            } else if NAME_KINDS.contains(&node.kind()) {
                out.push(node);
                descend = false;
            }
        }
        if descend && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return out;
            }
        }
    }
}

/// If the identifier starting at byte `start` follows a member separator (`a.b`, `a::b`,
/// `p->b`, `a?.b`, also across a line break), the separator and where the text before it ends.
/// A range or spread (`0..n`, `...rest`) is no member access.
fn member_of<'s>(spec: &'s LanguageSpec, source: &str, start: usize) -> Option<(&'s str, usize)> {
    let before = source.get(..start)?.trim_end();
    let separator = spec.scope.separators.iter().find(|s| before.ends_with(*s))?;
    if *separator == "." && before.ends_with("..") {
        return None;
    }
    let base = before[..before.len() - separator.len()].trim_end();
    Some((separator, base.len()))
}

/// The keyword that `before` (the text before a separator) ends with, if it starts a path into
/// another module of the project (`crate`, `super`).
fn path_root<'s>(spec: &'s LanguageSpec, before: &str) -> Option<&'s str> {
    spec.scope.path_roots.iter().copied().find(|root| {
        before.strip_suffix(root).is_some_and(|rest| !rest.ends_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

#[cfg(test)]
mod tests {
    use super::super::{foreign_names as gate, foreign_names_again, gate_language, GateSyntax, Surrounding};
    use crate::language::Language;
    use std::path::Path;

    /// A window that begins mid-file, with none of the document around it at hand.
    const MID_FILE: Surrounding<'static> = Surrounding { mid_file: true, ..Surrounding::WHOLE };

    /// The foreign names of a text in `language` with the cursor at `┃`.
    fn foreign(language: Language, text_with_cursor: &str) -> Vec<String> {
        let cursor = text_with_cursor.find('┃').expect("cursor marker");
        let text = text_with_cursor.replace('┃', "");
        gate(Some(language), &text, cursor, &(0..text.len()))
    }

    #[test]
    fn rust_names_from_use_declarations_and_crate_paths_are_foreign() {
        let text =
            "use crate::foo::Bar;\n\nfn build(n: usize) -> u32 {\n    let x = n + 1;\n    let b = Bar::new(x);\n    ┃";
        assert_eq!(foreign(Language::Rust, text), ["Bar::new"]);
        assert_eq!(foreign(Language::Rust, "fn f() {\n    crate::config::load(┃"), ["crate::config::load"]);
        assert_eq!(
            foreign(Language::Rust, "use a::{b::{self, C}, d as e};\nfn f() { b::g(C, e)┃ }"),
            ["b::g", "C", "e"]
        );
    }

    #[test]
    fn rust_locals_fields_attributes_and_the_prelude_are_not_foreign() {
        assert!(foreign(Language::Rust, "fn build(n: usize) -> usize {\n    let x = n + 1;\n    x * 2┃").is_empty());
        let text = "struct Config { timeout: u32 }\nfn f() -> Config {\n    Config { timeout: 3 }┃";
        assert!(foreign(Language::Rust, text).is_empty());
        let text = "#[derive(Serialize)]\nstruct A;\nfn f(v: Vec<String>) -> Option<usize> {\n    Some(v.len())┃";
        assert!(foreign(Language::Rust, text).is_empty());
        let text = "fn f(items: &[u32]) {\n    for (i, item) in items.iter().enumerate() {\n        if let Some(x) = item.checked_add(1) { println!(\"{i} {x}\"); }┃";
        assert!(foreign(Language::Rust, text).is_empty());
        let text = "fn f() {\n    // call remote_helper here\n    let s = \"remote_helper\";\n    s┃";
        assert!(foreign(Language::Rust, text).is_empty());
    }

    #[test]
    fn typescript_and_javascript_imports_and_requires_are_foreign() {
        let text = "import { parse } from \"./util\";\n\nexport function load(text: string) {\n  const tree = parse(text);\n  return tree┃";
        assert_eq!(foreign(Language::TypeScript, text), ["parse"]);
        assert_eq!(foreign(Language::Tsx, text), ["parse"]);
        let text = "import Default, * as ns from \"m\";\nimport x = require(\"y\");\nDefault(ns.run(x.go()))┃";
        assert_eq!(foreign(Language::TypeScript, text), ["Default", "ns.run", "x.go"]);
        let text = "const { join } = require(\"path\");\nconst fs = require(\"fs\");\n\nfunction f(dir) {\n  return join(dir, fs.readdirSync(dir)[0])┃";
        assert_eq!(foreign(Language::JavaScript, text), ["join", "fs.readdirSync"]);
    }

    #[test]
    fn typescript_unknown_names_count_but_locals_keys_and_globals_do_not() {
        assert_eq!(foreign(Language::TypeScript, "function f(a: number) {\n  return helper(a)┃"), ["helper"]);
        let text = "const o = { retries: 3 };\nfunction g({ a, b }: Opts, ...rest: string[]) {\n  console.log(o.retries, a, b, rest?.length)┃";
        assert_eq!(foreign(Language::TypeScript, text), ["Opts"]);
        let text =
            "const App = () => {\n  const [n, setN] = useState(0);\n  return <Button onClick={() => setN(n + 1)} />┃";
        assert_eq!(foreign(Language::Tsx, text), ["useState", "Button"]);
    }

    #[test]
    fn go_packages_and_their_members_are_foreign() {
        let text =
            "package main\n\nimport \"strings\"\n\nfunc split(s string) []string {\n\treturn strings.Split(s, \",\")┃";
        assert_eq!(foreign(Language::Go, text), ["strings.Split"]);
        let text = "package main\n\nimport (\n\tj \"encoding/json\"\n)\n\nfunc f(v any) ([]byte, error) {\n\treturn j.Marshal(v)┃";
        assert_eq!(foreign(Language::Go, text), ["j.Marshal"]);
        assert!(foreign(
            Language::Go,
            "package main\n\nfunc f(a int) int {\n\tb := a * 2\n\treturn len(make([]int, b))┃"
        )
        .is_empty());
        assert_eq!(
            foreign(Language::Go, "package main\n\nfunc f() {\n\tx := parseConfig()\n\t_ = x┃"),
            ["parseConfig"]
        );
    }

    #[test]
    fn c_unknown_functions_from_headers_are_foreign_but_libc_is_not() {
        let text = "#include \"util.h\"\n#include <stdio.h>\n\nint main(void) {\n    int n = add_numbers(1, 2);\n    printf(\"%d\", n);\n    return n┃";
        assert_eq!(foreign(Language::C, text), ["add_numbers"]);
        let text = "#define LIMIT 4\nstruct point { int x; };\nint f(struct point *p) {\n    return p->x + LIMIT┃";
        assert!(foreign(Language::C, text).is_empty());
    }

    #[test]
    fn cpp_using_declarations_and_unknown_namespaces_are_foreign() {
        let text = "#include \"shape.h\"\n\nusing geo::Circle;\n\ndouble f() {\n    Circle c(2.0);\n    std::vector<int> v;\n    return c.area() + util::scale(v)┃";
        assert_eq!(foreign(Language::Cpp, text), ["Circle", "util::scale"]);
    }

    #[test]
    fn java_imports_and_same_package_classes_are_foreign() {
        let text =
            "import java.util.List;\n\nclass A {\n    int count(List<String> items) {\n        return items.size()┃";
        assert_eq!(foreign(Language::Java, text), ["List"]);
        let text = "class A {\n    void f() {\n        UserRepo repo = new UserRepo();\n        String s = repo.name();\n        System.out.println(s)┃";
        assert_eq!(foreign(Language::Java, text), ["UserRepo"]);
    }

    #[test]
    fn a_huge_file_is_parsed_only_around_the_cursor() {
        let filler: String = (0..20_000).map(|i| format!("fn filler_{i}() -> u32 {{ {i} }}\n")).collect();
        assert!(filler.len() > super::super::MAX_PARSED_BYTES);
        let text =
            format!("use crate::net::Client;\n{filler}fn main() {{\n    let c = Client::connect(filler_7());\n    ");
        let window = text.len() - 2000..text.len();
        // `Client` is imported far above the parsed part: unknown there, so still foreign.
        assert_eq!(gate(Some(Language::Rust), &text, text.len(), &window), ["Client::connect", "filler_7"]);
    }

    #[test]
    fn the_word_being_typed_is_ignored() {
        assert!(foreign(Language::Rust, "fn f() {\n    let y = unknown_wo┃").is_empty());
        assert!(foreign(Language::Go, "package p\n\nfunc f() {\n\tstrin┃").is_empty());
    }

    #[test]
    fn the_language_comes_from_the_path() {
        assert_eq!(gate_language(None), Some(Language::Python));
        assert_eq!(gate_language(Some(Path::new("bin/script"))), Some(Language::Python));
        assert_eq!(gate_language(Some(Path::new("src/lib.rs"))), Some(Language::Rust));
        assert_eq!(gate_language(Some(Path::new("App.TSX"))), Some(Language::Tsx));
        assert_eq!(gate_language(Some(Path::new("build.gradle"))), None);
    }

    /// A Rust module of 31 functions with its `use` line: long enough (over 2 KB) to keep its
    /// tree when the file is opened.
    fn long_module(m: usize) -> String {
        let functions: String = (0..30)
            .map(|f| format!("    pub fn f{m}_{f}(input: &str) -> usize {{\n        helpers::parse_{m}(input).len() + {f}\n    }}\n\n"))
            .collect();
        format!("use crate::config::Config;\n\nmod m{m} {{\n{functions}    fn last() -> usize {{\n        Config::default().limit\n    }}\n}}\n\n")
    }

    /// A Rust file of `n` modules of three functions each, every function over 256 bytes.
    fn modules(n: usize) -> String {
        (0..n)
            .map(|m| {
                let functions: String = (0..3)
                    .map(|f| {
                        format!(
                            "    pub fn f{m}_{f}(input: &str) -> usize {{\n        let parsed = helpers::parse_{m}(input);\n        \
                             let total = parsed.iter().map(|x| x.len()).sum::<usize>();\n        \
                             let checked = total.checked_add({f}).unwrap_or_default();\n        \
                             checked + Config::default().limit\n    }}\n\n"
                        )
                    })
                    .collect();
                format!("use crate::config::Config;\n\nmod m{m} {{\n{functions}}}\n\n")
            })
            .collect()
    }

    #[test]
    fn a_document_edited_key_by_key_gets_the_same_names_as_a_fresh_reading() {
        let mut text = modules(6);
        let mut state = GateSyntax::default();
        let mut cursor = text.find("checked + Config").unwrap();
        // Typing a new line (unfinished code on the way), deleting it again, pasting a block
        // above the cursor, then a prompt window that moves: every step as a fresh reading.
        enum Step {
            Type(char),
            Delete,
            PasteAtTop(&'static str),
        }
        let mut steps: Vec<Step> =
            "let extra = remote::fetch(&parsed, totl);\n        ".chars().map(Step::Type).collect();
        steps.extend((0..12).map(|_| Step::Delete));
        steps.push(Step::PasteAtTop("fn pasted(a: u32) -> u32 { outer::twice(a) }\n"));
        for step in steps {
            match step {
                Step::Type(c) => {
                    text.insert(cursor, c);
                    cursor += c.len_utf8();
                }
                Step::Delete => {
                    cursor -= 1;
                    text.remove(cursor);
                }
                Step::PasteAtTop(block) => {
                    text.insert_str(0, block);
                    cursor += block.len();
                }
            }
            let window = 0..text.len();
            let again =
                foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &window, Surrounding::WHOLE);
            assert_eq!(again, gate(Some(Language::Rust), &text, cursor, &window), "at {cursor}");
        }
        for shift in [0, 40, 300, 35, 2000] {
            let window = shift..text.len();
            let again =
                foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &window, Surrounding::WHOLE);
            assert_eq!(again, gate(Some(Language::Rust), &text, cursor, &window), "window from {shift}");
        }
        for language in [Language::TypeScript, Language::Go, Language::Cpp, Language::Rust] {
            let again =
                foreign_names_again(&mut state, Some(language), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
            assert_eq!(again, gate(Some(language), &text, cursor, &(0..text.len())), "{language:?}");
        }
    }

    #[test]
    fn typing_inside_a_construct_never_parses_the_items_around_it_again() {
        let mut text = modules(8);
        let mut state = GateSyntax::default();
        let mut cursor = text.find("fn f3_2").and_then(|f| text[f..].find("checked + Config").map(|i| f + i)).unwrap();
        foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
        let (parsed, remembered) = state.item_counts();
        // Three modules above the cursor's, four below, and the blank line at the end.
        assert_eq!((parsed, remembered), (8, 8));
        // A new line typed key by key, unfinished code on the way: every answer is a fresh
        // reading's, and the modules around the cursor's are never parsed again.
        for c in "let extra = remote::fetch(&parsed, totl);\n        ".chars() {
            text.insert(cursor, c);
            cursor += c.len_utf8();
            let window = 0..text.len();
            let again =
                foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &window, Surrounding::WHOLE);
            assert_eq!(again, gate(Some(Language::Rust), &text, cursor, &window), "at {cursor}");
        }
        assert_eq!(state.item_counts().0, parsed, "the items around the cursor's module did not change");
        // An edit below the cursor's module is read: that one module is parsed.
        let below = text.rfind("checked + Config").unwrap();
        text.insert_str(below, "1 + ");
        let again =
            foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
        assert_eq!(again, gate(Some(Language::Rust), &text, cursor, &(0..text.len())));
        assert_eq!(state.item_counts().0, parsed + 1);
        // So is one above it.
        text.insert_str(text.find("checked + Config").unwrap(), "2 + ");
        cursor += 4;
        let again =
            foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
        assert_eq!(again, gate(Some(Language::Rust), &text, cursor, &(0..text.len())));
        assert_eq!(state.item_counts().0, parsed + 2);
    }

    #[test]
    fn names_defined_below_the_cursor_and_attributes_around_it_are_not_foreign() {
        let text = "fn first() -> u32 {\n    helper(2) + remote::twice(┃)\n}\n\nfn helper(x: u32) -> u32 {\n    x\n}\n";
        assert_eq!(foreign(Language::Rust, text), ["remote::twice"]);
        let text = "export function first(): number {\n  return helper(2) + twice(┃);\n}\n\nfunction helper(x: number) {\n  return x;\n}\n";
        assert_eq!(foreign(Language::TypeScript, text), ["twice"]);
        // The cursor inside a multi-line attribute: its lint names are no uses.
        let text = "#![allow(\n    clippy::cast_lossless,\n    clippy::doc_markdown,\n    ┃\n)]\n\nuse std::fmt;\n";
        assert!(foreign(Language::Rust, text).is_empty(), "{:?}", foreign(Language::Rust, text));
    }

    #[test]
    fn a_keystroke_reads_only_the_subtrees_it_changed() {
        let mut text = modules(20);
        let mut state = GateSyntax::default();
        let mut cursor = text.rfind("checked + Config").unwrap();
        let first =
            foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
        let (remembered, fresh) = state.memo_counts();
        assert_eq!(remembered, fresh, "the first reading computes every part");
        // The cursor's module, its functions and their bodies; the modules above are items.
        assert!(remembered >= 6, "{remembered} parts: the module and its functions are remembered");
        assert_eq!(state.item_counts(), (20, 20));
        assert_eq!(first, ["helpers::parse_19", "Config::default"]);
        text.insert_str(cursor, "2 * ");
        cursor += 4;
        let again =
            foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
        assert_eq!(again, first);
        let (remembered_now, fresh) = state.memo_counts();
        // The module, the function and its body, the statement: not the other functions.
        assert!(fresh < remembered, "{fresh} of {remembered} parts read again after one edit");
        assert!(remembered_now.abs_diff(remembered) <= 2, "{remembered} then {remembered_now} remembered");
        assert_eq!(state.item_counts(), (20, 20), "no module around the cursor's was parsed again");
    }

    #[test]
    fn a_key_typed_in_a_long_table_reads_only_the_rows_around_it() {
        // One construct of 300 small rows, as a table of file types is: no row is long enough
        // to be remembered alone.
        let rows: String =
            (0..300).map(|i| format!("    (&[\"kind{i}\"], &[\"*.ext{i}\", \"*.alt{i}\"]),\n")).collect();
        let mut text =
            format!("pub const TYPES: &[(&[&str], &[&str])] = &[\n{rows}];\n\nfn f() {{\n    lookup(TYPES)\n}}\n");
        let mut state = GateSyntax::default();
        let mut cursor = text.find("\"*.ext150\"").unwrap() + 1;
        let read = |state: &mut GateSyntax, text: &str, cursor: usize| {
            let names =
                foreign_names_again(state, Some(Language::Rust), text, cursor, &(0..text.len()), Surrounding::WHOLE);
            assert_eq!(names, gate(Some(Language::Rust), text, cursor, &(0..text.len())), "as parsed from scratch");
        };
        read(&mut state, &text, cursor);
        let (remembered, fresh) = state.memo_counts();
        assert_eq!(remembered, fresh, "the first reading computes every part");
        assert!(remembered >= 20, "{remembered} parts: the rows are remembered in runs");
        // A key typed in a row, then a whole row removed: one run or two are read again, and the
        // runs after them are found unchanged although every row below moved.
        for edit in 0..2 {
            match edit {
                0 => text.insert(cursor, 'x'),
                _ => {
                    let row = text.find("    (&[\"kind40\"]").unwrap();
                    let end = row + text[row..].find('\n').unwrap() + 1;
                    text.replace_range(row..end, "");
                    cursor -= end - row;
                }
            }
            read(&mut state, &text, cursor);
            let (remembered_now, fresh) = state.memo_counts();
            assert!(fresh <= 6, "edit {edit}: {fresh} of {remembered_now} parts read again");
            assert!(remembered_now.abs_diff(remembered) <= 2, "edit {edit}: {remembered} then {remembered_now}");
        }
    }

    #[test]
    fn a_document_read_when_opened_has_first_windows_that_parse_only_their_own_construct() {
        let text = modules(40);
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Rust), &text);
        // Every module and the blank line at the end.
        assert_eq!(state.item_counts(), (41, 41));
        // A first request: a window from a module's start to the middle of a later one, with a
        // key typed at the cursor, as the editor's window and the person's first key make it.
        let (start, end) = (text.find("mod m12 ").unwrap(), text.find("mod m30 ").unwrap() + 40);
        let mut window = text[start..end].to_owned();
        let mut cursor = window.rfind("checked + Config").unwrap();
        window.insert_str(cursor, "2 * ");
        cursor += 4;
        let names =
            foreign_names_again(&mut state, Some(Language::Rust), &window, cursor, &(0..window.len()), MID_FILE);
        let fresh_reading = foreign_names_again(
            &mut GateSyntax::whole_text(),
            Some(Language::Rust),
            &window,
            cursor,
            &(0..window.len()),
            MID_FILE,
        );
        assert_eq!(names, fresh_reading);
        assert_eq!(names, ["helpers::parse_29", "Config::default"]);
        // Only the items the window cut were new: the first (without its `use` line) and the
        // last; the sixteen whole modules between were read when the file was opened.
        assert_eq!(state.item_counts().0, 41 + 2);
        // A spot elsewhere in the same window: nothing new around its construct.
        let elsewhere = window.find("fn f20_2").and_then(|f| window[f..].find("checked +").map(|i| f + i)).unwrap();
        let names =
            foreign_names_again(&mut state, Some(Language::Rust), &window, elsewhere, &(0..window.len()), MID_FILE);
        assert_eq!(names, gate(Some(Language::Rust), &window, elsewhere, &(0..window.len())));
        assert_eq!(state.item_counts().0, 41 + 3, "the module the cursor left, edited, is the only new item");
        // Python reads lines, not a tree: nothing to do when its file is opened.
        let mut python = GateSyntax::default();
        crate::lexical::read_opened_document(&mut python, Some(Language::Python), "import os\n");
        assert_eq!(python.item_counts(), (0, 0));
    }

    #[test]
    fn a_construct_read_when_the_document_was_opened_starts_from_its_tree_even_when_edited() {
        let text: String = (0..6).map(long_module).collect();
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Rust), &text);
        let cursor = text.find("fn f3_12").unwrap() + 3;
        let names =
            foreign_names_again(&mut state, Some(Language::Rust), &text, cursor, &(0..text.len()), Surrounding::WHOLE);
        assert_eq!(names, gate(Some(Language::Rust), &text, cursor, &(0..text.len())));
        assert!(names.contains(&"helpers::parse_3".to_owned()), "{names:?}");
        assert_eq!(state.head.reparser.fresh, 0, "the cursor's module was parsed from the tree read when opened");
        // An edited module starts from the tree it had when opened too: no parse from scratch.
        let mut edited = text.clone();
        edited.insert_str(text.find("fn f4_12").unwrap(), "fn extra() {}\n    ");
        let cursor = edited.find("fn f4_12").unwrap() + 3;
        again_as_from_scratch(&mut state, Language::Rust, &edited, cursor);
        assert_eq!(state.head.reparser.fresh, 0);
    }

    #[test]
    fn an_item_edited_and_left_is_read_from_its_tree_when_seen_around_another_construct() {
        let mut text: String = (0..6).map(long_module).collect();
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Rust), &text);
        let opened = state.item_counts().0;
        // A function typed into module 2 (its construct), then a move to module 4: module 2,
        // edited, is an item around the new construct, new to the memo.
        let typed = "fn extra(limit: usize) -> usize {\n        helpers::parse_2(limit)\n    }\n\n    ";
        text.insert_str(text.find("fn f2_12").unwrap(), typed);
        let in_module_2 = text.find("fn extra").unwrap() + 3;
        again_as_from_scratch(&mut state, Language::Rust, &text, in_module_2);
        let in_module_4 = text.find("fn f4_20").unwrap() + 3;
        again_as_from_scratch(&mut state, Language::Rust, &text, in_module_4);
        assert_eq!(state.item_counts().0, opened + 1, "one item was new: module 2 as edited");
        assert_eq!(state.items_parsed_from_kept(), 1, "it was parsed from the tree read when the file was opened");
        // A module that shares no header with a kept one is parsed afresh.
        text.insert_str(
            text.find("use crate::config::Config;\n\nmod m5").unwrap(),
            &long_module(9).replace("use crate::config::Config;", "use crate::other::Thing;"),
        );
        let in_module_4 = text.find("fn f4_21").unwrap() + 3;
        again_as_from_scratch(&mut state, Language::Rust, &text, in_module_4);
        assert_eq!(state.items_parsed_from_kept(), 1);
    }

    /// A long test module: its `use` and a helper at the top, then `n` tests.
    fn test_module(n: usize) -> String {
        let tests: String = (0..n)
            .map(|i| {
                format!(
                    "    #[test]\n    fn case_{i}() {{\n        let limit = budget({i});\n        \
                     assert!(limit > {i});\n    }}\n\n"
                )
            })
            .collect();
        format!(
            "fn budget(n: usize) -> usize {{\n    n + 1\n}}\n\n#[cfg(test)]\nmod tests {{\n    use super::*;\n    \
             use crate::fixtures::Sample;\n\n    fn sample(limit: usize) -> Sample {{\n        Sample::new(limit)\n    }}\n\n\
             {tests}}}\n\nfn after() -> usize {{\n    budget(2)\n}}\n"
        )
    }

    #[test]
    fn a_window_that_cuts_the_cursors_construct_reads_it_from_its_first_line() {
        let document = test_module(90);
        // A window from the middle of the module (below its `use` lines and its helper) to the
        // middle of a later test, the cursor in a test that uses both.
        let cursor_at = document.find("fn case_40").unwrap();
        let mut document = document.clone();
        document.insert_str(
            cursor_at,
            "fn uses() {\n        let s = sample(3);\n        s.check(Sample::DEFAULT);\n    }\n\n    ",
        );
        let cursor = document.find("s.check(").unwrap() + 2;
        let (start, end) = (document.find("fn case_20").unwrap() - 4, document.find("fn case_50").unwrap() + 30);
        let window = &document[start..end];
        let around = Surrounding { mid_file: true, above: &document[..start], below: &document[end..] };
        let in_window = cursor - start;
        let read = |around| {
            foreign_names_again(
                &mut GateSyntax::default(),
                Some(Language::Rust),
                window,
                in_window,
                &(0..window.len()),
                around,
            )
        };
        let names = read(around);
        // `Sample` comes from another file (its `use` lies above the window), and so does
        // `budget` for the gate (through `use super::*`, whose names it cannot see); `sample`,
        // the module's own helper above the window, does not.
        assert_eq!(names, ["budget", "Sample::DEFAULT"]);
        // Without the document above, the window alone cannot tell: the helper looks foreign
        // too, and the import of `Sample` is not seen.
        let alone = read(MID_FILE);
        assert!(alone.contains(&"sample".to_owned()), "{alone:?}");
        // The answer is the reading of the construct from its first line to the window's end.
        let construct = document[..end].rfind("\n}\n\n#[cfg(test)]").unwrap() + 3;
        let joined = &document[construct..end];
        assert_eq!(names, gate(Some(Language::Rust), joined, cursor - construct, &(0..joined.len())));
        // Read when the document was opened, the module's tree is at hand: cut at the window's
        // end, not parsed from scratch.
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Rust), &document);
        let again =
            foreign_names_again(&mut state, Some(Language::Rust), window, in_window, &(0..window.len()), around);
        assert_eq!(again, names);
        assert_eq!((state.head.reparser.fresh, state.head.reparser.cut_short), (0, 1));
    }

    #[test]
    fn a_macro_left_open_in_a_long_module_hides_nothing_it_defines_below() {
        let mut document = test_module(90);
        // A helper the tests use, defined at the module's end.
        let end = document.find("}\n\nfn after()").unwrap();
        document.insert_str(end, "\n    fn later_helper(n: usize) -> usize {\n        n * 2\n    }\n");
        // An assertion typed up to the cursor in test 40, its `)` not yet.
        let finished = "assert!(limit > 40);";
        let line = document.find(finished).unwrap();
        let typed = "assert!(later_helper(limit) > ";
        document.replace_range(line..line + finished.len(), typed);
        let mut cursor = line + typed.len();
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Rust), &document);
        let read = |state: &mut GateSyntax, document: &str, cursor: usize| {
            foreign_names_again(state, Some(Language::Rust), document, cursor, &(0..document.len()), Surrounding::WHOLE)
        };
        let names = read(&mut state, &document, cursor);
        // The helper is the module's own, as it is once the line is finished.
        assert!(!names.contains(&"later_helper".to_owned()), "{names:?}");
        let mut done = document.clone();
        done.insert_str(cursor, "1);");
        assert_eq!(names, gate(Some(Language::Rust), &done, cursor, &(0..done.len())));
        // Read whole, the module's rest after the open `assert!(` is one token tree, and the
        // helper looks foreign.
        let whole = gate(Some(Language::Rust), &document, cursor, &(0..document.len()));
        assert!(whole.contains(&"later_helper".to_owned()), "{whole:?}");
        // Only the tests around the cursor were parsed from scratch, in the module's header;
        // the rest of the module started from its tree when the document was opened, and the
        // module was not parsed whole.
        assert_eq!((state.item.reparser.fresh, state.rest.reparser.fresh), (1, 0));
        assert!(state.head.reparser.last_tree(Language::Rust, &document).is_none());
        // Keys typed after it: the rest of the module is the same text, not parsed again.
        let rest_tree = |state: &GateSyntax| state.rest.reparser.parses;
        let parsed = rest_tree(&state);
        for key in "10".chars() {
            document.insert(cursor, key);
            cursor += 1;
            assert_eq!(read(&mut state, &document, cursor), names);
        }
        assert_eq!(rest_tree(&state), parsed);
    }

    #[test]
    fn an_item_that_the_windows_end_cuts_is_read_whole_from_the_document() {
        let text = modules(40);
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Rust), &text);
        let opened = state.item_counts().0;
        // A window from a module's start into the middle of a later one, the cursor in the
        // first: the last module is cut by the window's end.
        let (start, end) = (text.find("mod m12 ").unwrap(), text.find("mod m30 ").unwrap() + 40);
        let window = &text[start..end];
        let cursor = window.find("checked + Config").unwrap();
        let around = Surrounding { mid_file: true, above: &text[..start], below: &text[end..] };
        let names = foreign_names_again(&mut state, Some(Language::Rust), window, cursor, &(0..window.len()), around);
        assert_eq!(names, ["helpers::parse_12", "Config::default"]);
        // The module the window's end cuts was read whole, as when the document was opened: no
        // item was parsed. Without the document below, that cut module is parsed.
        assert_eq!(state.item_counts().0, opened);
        let mut without = GateSyntax::default();
        crate::lexical::read_opened_document(&mut without, Some(Language::Rust), &text);
        let cut = foreign_names_again(&mut without, Some(Language::Rust), window, cursor, &(0..window.len()), MID_FILE);
        assert_eq!(cut, names);
        assert_eq!(without.item_counts().0, opened + 1);
        let mut whole = text[start..].to_owned();
        whole.truncate(end - start + text[end..].find("\n}\n").unwrap() + 3);
        assert_eq!(names, gate(Some(Language::Rust), &whole, cursor, &(0..whole.len())));
    }

    /// [`foreign_names_again`] over all of `text` (no document around it), checked against the
    /// reading from scratch.
    fn again_as_from_scratch(state: &mut GateSyntax, language: Language, text: &str, cursor: usize) -> Vec<String> {
        let names = foreign_names_again(state, Some(language), text, cursor, &(0..text.len()), Surrounding::WHOLE);
        assert_eq!(names, gate(Some(language), text, cursor, &(0..text.len())));
        names
    }

    /// A C++ class whose `public:` lines begin at column 0, with `methods` methods after the
    /// second one, a file-local helper and an unknown `remote::twice` among them.
    fn class_with_sections(methods: usize) -> String {
        let more: String = (0..methods)
            .map(|i| {
                format!("    int more_{i}(int y) {{\n        return remote::twice(y) + local_helper({i});\n    }}\n")
            })
            .collect();
        format!(
            "#include \"other.hpp\"\n\nstatic int local_helper(int v) {{\n    return v;\n}}\n\nclass Widget {{\n\
             public:\n    int run(int x) {{\n        int doubled = x * 2;\n        return helper_one(doubled);\n    }}\n\
             public:\n{more}}};\n"
        )
    }

    #[test]
    fn a_tree_is_read_from_a_byte_on_as_the_nodes_that_begin_there_or_later() {
        let source = "fn a(x: u32) {}\nmod m {\n    fn b() {}\n    fn c(y: u8) { let z = y; }\n}\nfn d() {}\n";
        let tree = Language::Rust.parser().unwrap().parse(source, None).unwrap();
        let defined = |from: usize| {
            let part = super::read_tree(Language::Rust, &tree, source, from, &mut super::ScopeMemo::default());
            let mut names = Vec::new();
            part.each(0, &mut |part, _| names.extend(part.defined.iter().cloned()));
            names.sort();
            names
        };
        // Inside `mod m`, which begins before: only what `c` and `d` bind.
        assert_eq!(defined(source.find("    fn c").unwrap()), ["c", "d", "y", "z"]);
        assert_eq!(defined(0), defined(source.find("fn a").unwrap()));
        assert!(defined(0).contains(&"m".to_owned()) && defined(0).contains(&"x".to_owned()));
        assert!(defined(source.len()).is_empty());
    }

    #[test]
    fn the_rest_of_a_class_after_a_column_zero_label_is_read_from_its_tree_at_open() {
        let text = class_with_sections(24);
        let cursor = text.find("helper_one(doubled);").unwrap() + "helper_one(doubled);".len();
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Cpp), &text);
        let (parsed, _) = state.item_counts();
        let names = again_as_from_scratch(&mut state, Language::Cpp, &text, cursor);
        assert_eq!(names, ["helper_one"]);
        // The cursor's construct ends before the second `public:`; the rest of the class is the
        // end of the item read at open: read from that item's tree, not parsed.
        assert_eq!(state.item_counts().0, parsed);
        // Without the reading at open, that rest is parsed, to the same answer.
        let mut fresh = GateSyntax::default();
        assert_eq!(again_as_from_scratch(&mut fresh, Language::Cpp, &text, cursor), names);
        assert!(fresh.item_counts().0 > 0);
        // A name that only the rest of the class defines counts as defined either way.
        let uses_more = text.replacen("helper_one(doubled)", "more_3(doubled) + helper_one(1)", 1);
        let cursor = uses_more.find("helper_one(1);").unwrap() + "helper_one(1);".len();
        let mut state = GateSyntax::default();
        crate::lexical::read_opened_document(&mut state, Some(Language::Cpp), &uses_more);
        let names = again_as_from_scratch(&mut state, Language::Cpp, &uses_more, cursor);
        assert!(!names.contains(&"more_3".to_owned()), "{names:?}");
        // A prompt window that ends in that rest of the class: the rest is completed from the
        // document below the window and read from the tree at open too.
        let (parsed, _) = state.item_counts();
        let end = uses_more.find("more_20").unwrap();
        let window = &uses_more[..end];
        let below = Surrounding { below: &uses_more[end..], ..Surrounding::WHOLE };
        let in_window = foreign_names_again(&mut state, Some(Language::Cpp), window, cursor, &(0..end), below);
        assert_eq!(in_window, names);
        assert_eq!(state.item_counts().0, parsed);
    }

    #[test]
    fn odd_input_and_cursors_never_panic() {
        let deep = "(".repeat(20_000);
        let inputs =
            ["", "┃", "é\u{10ffff}\r\n", "use ::{{{;", "import { from", "#include", "a.b::c->d?.", deep.as_str()];
        for spec in crate::language::LANGUAGES {
            for input in inputs {
                for cursor in [0, 1, 2, input.len() / 2, input.len(), input.len() + 5] {
                    let _ = gate(Some(spec.language), input, cursor, &(0..input.len()));
                    let _ = gate(Some(spec.language), input, cursor, &(input.len()..0));
                }
            }
        }
    }
}
