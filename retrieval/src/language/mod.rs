//! The languages Splice understands beyond plain text, in one table.
//!
//! Each [`LanguageSpec`] says everything the crate needs to know about one language: how editors
//! and file names call it, its tree-sitter grammar, its comment syntax, its keywords and
//! builtins (words that never need a definition), how it imports names from other files, which
//! syntax nodes make chunks ([`ChunkRules`]) and which nodes define and refer to names
//! ([`ScopeRules`]). Chunking ([`crate::chunk`]), the lexical gate ([`crate::lexical`]), the
//! query's stopwords ([`crate::keywords`]) and the syntax check ([`crate::syntax`]) all read it.
//!
//! To add a language: a variant of [`Language`], a module here with its `SPEC`, and a line in
//! [`LANGUAGES`] and in [`Language::spec`]. The tests at the bottom check that the table is
//! complete and consistent.

mod c;
mod cpp;
mod go;
mod java;
mod javascript;
mod parser_memory;
mod python;
mod rust;
mod typescript;

use std::path::Path;

/// A language with a grammar here: its chunks follow its syntax, the gate knows its imports and
/// scopes, and suggestions in it can be syntax-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Python (tree-sitter-python).
    Python,
    /// Rust (tree-sitter-rust).
    Rust,
    /// JavaScript, JSX included (tree-sitter-javascript).
    JavaScript,
    /// TypeScript without JSX (tree-sitter-typescript's `typescript`).
    TypeScript,
    /// TypeScript with JSX (tree-sitter-typescript's `tsx`).
    Tsx,
    /// Go (tree-sitter-go).
    Go,
    /// Java (tree-sitter-java).
    Java,
    /// C (tree-sitter-c).
    C,
    /// C++ (tree-sitter-cpp); also `.h` headers, which the C++ grammar reads whether they are C
    /// or C++ (the C grammar fails on every class and template).
    Cpp,
}

/// Every language of the table, in [`Language`] order.
pub const LANGUAGES: &[&LanguageSpec] = &[
    &python::SPEC,
    &rust::SPEC,
    &javascript::SPEC,
    &typescript::TYPESCRIPT,
    &typescript::TSX,
    &go::SPEC,
    &java::SPEC,
    &c::SPEC,
    &cpp::SPEC,
];

/// What the crate knows about one language.
#[derive(Debug)]
pub struct LanguageSpec {
    /// Which language this is.
    pub language: Language,
    /// Its name in messages ("TypeScript").
    pub name: &'static str,
    /// The LSP `languageId`s editors send for it.
    pub language_ids: &'static [&'static str],
    /// File extensions, lowercase, without the dot.
    pub extensions: &'static [&'static str],
    /// The tree-sitter grammar.
    pub grammar: fn() -> tree_sitter::Language,
    /// What starts a comment that runs to the end of the line.
    pub line_comment: &'static str,
    /// Its strings, and what else unfinished code runs on past.
    pub delimiters: Delimiters,
    /// Reserved words, as spelled in source (in lists, so that TypeScript can share
    /// JavaScript's and C++ C's).
    pub keywords: &'static [&'static [&'static str]],
    /// Names every file may use without defining or importing them: builtin functions, types,
    /// constants, the standard prelude (in lists, as the keywords).
    pub builtins: &'static [&'static [&'static str]],
    /// How a file brings in names from other files.
    pub imports: ImportSyntax,
    /// Which syntax nodes make chunks.
    pub chunks: ChunkRules,
    /// Which syntax nodes define names and refer to them.
    pub scope: ScopeRules,
}

/// A language's strings, and the delimiters that tree-sitter reads through to their closing
/// character whatever lies between: left open while code is typed, they run on into the code
/// after them (the gate then reads the cursor's item apart: `lexical::nested`).
#[derive(Debug, Clone, Copy)]
pub struct Delimiters {
    /// The characters that open and close string literals (a `'` not among them opens a
    /// character literal, or is a Rust lifetime).
    pub quotes: &'static str,
    /// Those of them whose strings may span lines: unterminated, such a string runs on to the
    /// next such quote.
    pub multiline_quotes: &'static str,
    /// Whether a macro call's brackets (`assert!(`, `vec![`) hold a token tree, which runs on to
    /// the end of the text when its closing bracket is missing.
    pub macro_token_trees: bool,
}

/// How a language imports names, which decides what the lexical gate counts as a name from
/// another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSyntax {
    /// `import a.b as c`, `from .m import x, y as z` (read line by line).
    Python,
    /// `use a::b::{C, d as e};`, `extern crate f;`: the last segment or the alias.
    RustUse,
    /// `import x, { a, b as c } from "m"`, `import * as ns from "m"`, `import x = require("m")`,
    /// `const { a } = require("m")`: the bound names.
    EcmaScript,
    /// `import "net/http"`, `import j "encoding/json"`: the package name (last path segment) or
    /// the alias.
    GoImport,
    /// `import java.util.List;`, `import static a.B.c;`: the last segment (`*` imports none).
    JavaImport,
    /// `#include "util.h"`: names no name; whatever the file uses without defining it may come
    /// from the header.
    CInclude,
    /// `#include` as in C, and `using a::b;`: the last segment.
    CppInclude,
}

/// The syntax nodes that make chunks, by tree-sitter node kind.
#[derive(Debug)]
pub struct ChunkRules {
    /// Functions, methods, macros, type declarations: one chunk each, a long one windowed under
    /// its signature (the lines before its body). A kind here is a definition even without a
    /// body (a trait's or interface's method signature).
    pub definitions: &'static [&'static str],
    /// Classes, structs, enums, traits, interfaces, impl blocks, namespaces, modules: one chunk
    /// when short, else each member is chunked under the container's header line. Only with a
    /// body (`struct S;` is a declaration among others).
    pub containers: &'static [&'static str],
    /// Nodes that wrap a definition (decorators, `export`, `template<…>`): the field that holds
    /// it, or `""` for its first named child that is a definition.
    pub wrappers: &'static [(&'static str, &'static str)],
    /// Nodes whose children are cut as if they stood in the node's place (include guards,
    /// `extern "C" { … }`, the declarations of a Java enum).
    pub transparent: &'static [&'static str],
    /// Comments and attributes on lines of their own that belong to the definition right below
    /// them (doc comments, `#[derive]`).
    pub leading: &'static [&'static str],
    /// Statements whose names are found below them through [`ChunkRules::names`] (a
    /// `const a = 1, b = 2;` holds two declarators).
    pub declarations: &'static [&'static str],
    /// `(kind, field)`: a node of `kind` in a declaration statement defines the names under its
    /// `field` (`("variable_declarator", "name")`).
    pub names: &'static [(&'static str, &'static str)],
    /// Name sites inside a container that also count as its symbols when it is one chunk (C++
    /// member declarations, TypeScript interface members).
    pub members: &'static [(&'static str, &'static str)],
    /// Values that make a variable a function (`const f = () => …`): such a declaration is
    /// chunked as a function.
    pub function_values: &'static [&'static str],
    /// Objects whose members a file defines by assigning them (CommonJS `exports.f = …`).
    pub exports: &'static [&'static str],
}

/// The syntax nodes that define names and refer to them, for the lexical gate.
#[derive(Debug)]
pub struct ScopeRules {
    /// `(kind, field)`: the identifiers under `field` of a `kind` node are defined by this file
    /// (declarations, parameters, patterns); `""` takes every named child.
    pub bindings: &'static [(&'static str, &'static str)],
    /// Identifier kinds that refer to a name where they stand (not a field or property name).
    pub references: &'static [&'static str],
    /// What joins a member to the name before it (`.`, `::`, `->`), longest first.
    pub separators: &'static [&'static str],
    /// Keywords that start a path into another module of the project (`crate::`, `super::`).
    pub path_roots: &'static [&'static str],
    /// Nodes whose identifiers never count (attributes, lifetimes).
    pub ignored: &'static [&'static str],
}

/// `a` followed by `b`, for rule lists that extend another language's (`N` must be the sum of
/// their lengths: anything else fails to compile).
pub(crate) const fn concat<T: Copy, const N: usize>(a: &[T], b: &[T]) -> [T; N] {
    assert!(a.len() + b.len() == N && N > 0, "concat: N is not the sum of the lengths");
    let mut out = if a.is_empty() { [b[0]; N] } else { [a[0]; N] };
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

/// Scope rules for a language whose gate reads it line by line instead (Python).
pub(crate) const NO_SCOPE: ScopeRules =
    ScopeRules { bindings: &[], references: &[], separators: &["."], path_roots: &[], ignored: &[] };

impl Language {
    /// This language's table entry.
    pub fn spec(self) -> &'static LanguageSpec {
        match self {
            Language::Python => &python::SPEC,
            Language::Rust => &rust::SPEC,
            Language::JavaScript => &javascript::SPEC,
            Language::TypeScript => &typescript::TYPESCRIPT,
            Language::Tsx => &typescript::TSX,
            Language::Go => &go::SPEC,
            Language::Java => &java::SPEC,
            Language::C => &c::SPEC,
            Language::Cpp => &cpp::SPEC,
        }
    }

    /// The language of an LSP `languageId` (`"typescriptreact"` → [`Language::Tsx`]).
    pub fn from_language_id(id: &str) -> Option<Language> {
        LANGUAGES.iter().find(|spec| spec.language_ids.contains(&id)).map(|spec| spec.language)
    }

    /// The language of a file extension, without the dot, in any case.
    pub fn from_extension(extension: &str) -> Option<Language> {
        let extension = extension.to_ascii_lowercase();
        LANGUAGES.iter().find(|spec| spec.extensions.contains(&extension.as_str())).map(|spec| spec.language)
    }

    /// The language of a file, by its extension.
    pub fn from_path(path: &Path) -> Option<Language> {
        Self::from_extension(path.extension()?.to_str()?)
    }

    /// The tree-sitter grammar.
    pub fn grammar(self) -> tree_sitter::Language {
        (self.spec().grammar)()
    }

    /// A parser for this language; `None` if tree-sitter rejects the grammar (an ABI mismatch).
    pub fn parser(self) -> Option<tree_sitter::Parser> {
        parser_memory::use_mimalloc();
        // The one place parsers are made: tree-sitter's allocator is set above, first.
        #[allow(clippy::disallowed_methods)]
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&self.grammar()).ok()?;
        Some(parser)
    }

    /// Whether `word` (as spelled) is a keyword or builtin of this language: it needs no
    /// definition.
    pub fn knows(self, word: &str) -> bool {
        self.is_keyword(word) || self.spec().builtins.iter().any(|list| list.contains(&word))
    }

    /// Whether `word` (as spelled) is a keyword of this language.
    pub fn is_keyword(self, word: &str) -> bool {
        self.spec().keywords.iter().any(|list| list.contains(&word))
    }

    /// Every keyword and builtin of this language.
    pub fn known_words(self) -> impl Iterator<Item = &'static str> {
        let spec = self.spec();
        spec.keywords.iter().chain(spec.builtins).flat_map(|list| list.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const ALL: [Language; 9] = [
        Language::Python,
        Language::Rust,
        Language::JavaScript,
        Language::TypeScript,
        Language::Tsx,
        Language::Go,
        Language::Java,
        Language::C,
        Language::Cpp,
    ];

    #[test]
    fn the_table_lists_every_language_once_in_order() {
        assert_eq!(LANGUAGES.len(), ALL.len());
        for (spec, language) in LANGUAGES.iter().zip(ALL) {
            assert_eq!(spec.language, language);
            assert_eq!(language.spec().language, language);
        }
    }

    #[test]
    fn every_grammar_loads() {
        for language in ALL {
            let mut parser = language.parser().unwrap_or_else(|| panic!("{language:?} grammar"));
            assert!(parser.parse("", None).is_some(), "{language:?}");
        }
    }

    #[test]
    fn ids_and_extensions_name_one_language_each() {
        let mut ids = HashSet::new();
        let mut extensions = HashSet::new();
        for spec in LANGUAGES {
            assert!(!spec.language_ids.is_empty() && !spec.extensions.is_empty(), "{}", spec.name);
            for id in spec.language_ids {
                assert!(ids.insert(*id), "{id} twice");
                assert_eq!(Language::from_language_id(id), Some(spec.language));
            }
            for extension in spec.extensions {
                assert!(extensions.insert(*extension), "{extension} twice");
                assert_eq!(extension.to_ascii_lowercase(), *extension);
                assert_eq!(Language::from_extension(extension), Some(spec.language));
            }
        }
    }

    #[test]
    fn node_kinds_in_the_rules_exist_in_the_grammar() {
        for spec in LANGUAGES {
            let grammar = (spec.grammar)();
            let kinds = spec
                .chunks
                .definitions
                .iter()
                .chain(spec.chunks.containers)
                .chain(spec.chunks.transparent)
                .chain(spec.chunks.leading)
                .chain(spec.chunks.declarations)
                .chain(spec.chunks.function_values)
                .chain(spec.chunks.wrappers.iter().map(|w| &w.0))
                .chain(spec.chunks.names.iter().map(|n| &n.0))
                .chain(spec.chunks.members.iter().map(|n| &n.0))
                .chain(spec.scope.bindings.iter().map(|b| &b.0))
                .chain(spec.scope.references)
                .chain(spec.scope.ignored);
            for kind in kinds {
                assert_ne!(grammar.id_for_node_kind(kind, true), 0, "{}: no node kind {kind:?}", spec.name);
            }
            let fields = spec
                .chunks
                .wrappers
                .iter()
                .map(|w| w.1)
                .chain(spec.chunks.names.iter().map(|n| n.1))
                .chain(spec.chunks.members.iter().map(|n| n.1))
                .chain(spec.scope.bindings.iter().map(|b| b.1))
                .filter(|f| !f.is_empty());
            for field in fields {
                assert!(grammar.field_id_for_name(field).is_some(), "{}: no field {field:?}", spec.name);
            }
        }
    }

    #[test]
    fn languages_are_found_by_id_and_path() {
        assert_eq!(Language::from_language_id("typescriptreact"), Some(Language::Tsx));
        assert_eq!(Language::from_language_id("cobol"), None);
        assert_eq!(Language::from_path(Path::new("src/Main.JAVA")), Some(Language::Java));
        assert_eq!(Language::from_path(Path::new("include/util.h")), Some(Language::Cpp));
        assert_eq!(Language::from_path(Path::new("Makefile")), None);
        assert!(Language::Rust.knows("Vec") && Language::Rust.knows("fn") && !Language::Rust.knows("parse"));
    }
}
