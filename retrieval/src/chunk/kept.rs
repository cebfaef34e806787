//! Chunking the documents the editor is changing, again after every edit, from their last
//! syntax tree.
//!
//! The index cuts an editor document anew after each (debounced) change. Parsing a 5,000-line
//! file from scratch takes tens of milliseconds of a core the model's decode wants too; parsed
//! incrementally from the tree of its previous text (found by comparing the two texts, as the
//! gate does: [`crate::lexical::reparse`]), an edit costs what it touched. The tree tree-sitter
//! returns equals a fresh parse, so the chunks equal [`super::chunk_file`]'s.

use super::{chunk_file, syntax, windows_unless_chunked, Chunk, SourceKind};
use crate::lexical::reparse::Reparser;
use crate::recent::Recent;

/// Documents whose last tree is kept; an older one is parsed from scratch on its next change.
pub const DOCUMENTS_KEPT: usize = 4;

/// One document's chunker: its last text and tree.
#[derive(Default)]
pub struct Rechunker {
    reparser: Reparser,
}

impl Rechunker {
    /// The chunks of `text`, as [`chunk_file`] cuts them, parsed from the tree of the text this
    /// rechunker chunked last.
    pub fn chunk(&mut self, kind: SourceKind, text: &str) -> Vec<Chunk> {
        let SourceKind::Syntax(language) = kind else { return chunk_file(kind, text) };
        let chunks = self.reparser.parse(language, text).map(|tree| syntax::chunks_of_tree(language, text, tree));
        windows_unless_chunked(chunks, text)
    }
}

/// The rechunkers of the last [`DOCUMENTS_KEPT`] documents chunked, by a key (the document's
/// path), most recent first.
#[derive(Debug, Default)]
pub struct KeptChunkers {
    kept: Recent<String, Rechunker, DOCUMENTS_KEPT>,
}

impl KeptChunkers {
    /// The chunks of the document `key` with text `text`, from its last tree when it is kept.
    /// While another thread chunks the same document, this one parses from scratch.
    pub fn chunk(&self, key: &str, kind: SourceKind, text: &str) -> Vec<Chunk> {
        let rechunker = self.kept.state_of(key);
        let chunks = match rechunker.try_lock() {
            Ok(mut rechunker) => rechunker.chunk(kind, text),
            Err(_) => chunk_file(kind, text),
        };
        chunks
    }

    /// Forgets the trees of the documents whose keys `gone` accepts (closed, deleted, too big).
    pub fn forget(&self, gone: impl Fn(&str) -> bool) {
        self.kept.forget(|key| gone(key));
    }

    /// The keys kept, most recent first.
    #[cfg(test)]
    pub fn keys(&self) -> Vec<String> {
        self.kept.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Language;

    /// A Rust file long enough that its containers and functions are cut further.
    fn document() -> String {
        let methods: String = (0..30)
            .map(|i| {
                format!(
                    "    /// Method {i}.\n    pub fn method_{i}(&self, x: u32) -> u32 {{\n        x + {i}\n    }}\n\n"
                )
            })
            .collect();
        let functions: String =
            (0..20).map(|i| format!("fn free_{i}() -> u32 {{\n    let y = {i};\n    y * 2\n}}\n\n")).collect();
        format!("use std::fmt;\n\nconst LIMIT: u32 = 3;\n\npub struct S {{ a: u32 }}\n\nimpl S {{\n{methods}}}\n\n{functions}")
    }

    #[test]
    fn chunks_after_every_edit_equal_chunking_from_scratch() {
        let kind = SourceKind::Syntax(Language::Rust);
        let mut text = document();
        let mut rechunker = Rechunker::default();
        assert_eq!(rechunker.chunk(kind, &text), chunk_file(kind, &text));
        // A key typed in a method, a new function, a brace that opens a block to the end of
        // the file, then closed again, a function removed, and text that is no syntax at all.
        let edits: &[(&str, &str)] = &[
            ("x + 7\n", "x + 7 +\n"),
            ("fn free_3()", "fn inserted(a: u8) -> u8 {\n    a\n}\n\nfn free_3()"),
            ("let y = 9;", "let y = {"),
            ("let y = {", "let y = 9;"),
            ("fn free_5() -> u32 {\n    let y = 5;\n    y * 2\n}\n", ""),
            ("pub struct S", "}}} ))) struct S"),
        ];
        for (from, to) in edits {
            assert!(text.contains(from), "{from:?}");
            text = text.replacen(from, to, 1);
            assert_eq!(rechunker.chunk(kind, &text), chunk_file(kind, &text), "after {from:?} → {to:?}");
        }
        // Another language, and text without a grammar, start over.
        let python = "def f(x):\n    return x\n";
        let python_kind = SourceKind::Syntax(Language::Python);
        assert_eq!(rechunker.chunk(python_kind, python), chunk_file(python_kind, python));
        assert_eq!(rechunker.chunk(SourceKind::Text, "a\nb\n"), chunk_file(SourceKind::Text, "a\nb\n"));
    }

    #[test]
    fn the_last_documents_are_kept_and_forgotten_on_demand() {
        let kept = KeptChunkers::default();
        let kind = SourceKind::Syntax(Language::Rust);
        for i in 0..DOCUMENTS_KEPT + 2 {
            let text = format!("fn f{i}() {{}}\n");
            assert_eq!(kept.chunk(&format!("src/f{i}.rs"), kind, &text), chunk_file(kind, &text));
        }
        assert_eq!(kept.keys(), ["src/f5.rs", "src/f4.rs", "src/f3.rs", "src/f2.rs"]);
        // Chunking a kept document again makes it the most recent.
        kept.chunk("src/f2.rs", kind, "fn f2() { g(); }\n");
        assert_eq!(kept.keys()[0], "src/f2.rs");
        kept.forget(|key| key.starts_with("src/f4") || key == "src/f2.rs");
        assert_eq!(kept.keys(), ["src/f5.rs", "src/f3.rs"]);
    }
}
