//! Cutting a file into the pieces the index stores and the prompt shows.
//!
//! A chunk is a span of whole lines worth retrieving on its own. Files in a language of the
//! table ([`crate::language`]: Python, Rust, JavaScript, TypeScript, Go, Java, C, C++) are cut
//! along their syntax ([`syntax`]): each function, method, class, struct, trait, interface,
//! impl block or namespace, and groups of consecutive top-level statements. Every other indexed
//! text file is cut into overlapping windows of [`window::WINDOW_LINES`] lines (RepoCoder's
//! recipe, [`window`]). A document the editor is changing is chunked again from its last tree
//! ([`kept`]).

pub mod kept;
pub mod syntax;
pub mod window;

use std::ops::Range;

use crate::language::Language;

/// Chunk texts are cut at this many bytes (at a character boundary): one minified line must not
/// blow the prompt budget or the index.
pub const MAX_CHUNK_BYTES: usize = 8 * 1024;

/// One retrievable piece of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Zero-based, end-exclusive line range in the file.
    pub lines: Range<u32>,
    /// The text: the whole lines of `lines`, preceded, for a window into a long body, by its
    /// header line(s) (`class C:` / `fn f(…) {`) so the window still says what it belongs to.
    pub text: String,
    /// Names this chunk defines (functions, classes, methods, assigned top-level names).
    pub symbols: Vec<String>,
}

/// How a file is chunked, chosen from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A language of the table: syntax-aware chunks.
    Syntax(Language),
    /// Any other indexed text file: sliding windows.
    Text,
}

/// File extensions indexed as text (sliding windows), besides the table's languages' own.
pub const TEXT_EXTENSIONS: &[&str] = &[
    "kt", "kts", "scala", "cs", "swift", "m", "mm", "rb", "php", "lua", "pl", "r", "jl", "dart", "ex", "exs", "erl",
    "hs", "ml", "mli", "fs", "clj", "zig", "nim", "sh", "bash", "zsh", "fish", "ps1", "sql", "proto", "graphql", "vue",
    "svelte", "html", "css", "scss", "md", "rst", "txt", "toml", "json", "yaml", "yml", "ini", "cfg", "xml", "gradle",
    "cmake", "tf",
];

/// File names without an indexed extension that are still worth indexing.
pub const TEXT_FILE_NAMES: &[&str] = &["Makefile", "Dockerfile", "CMakeLists.txt", "Rakefile", "Gemfile", "Justfile"];

impl SourceKind {
    /// The kind for a file name, or `None` when files like it are not indexed.
    pub fn for_file_name(name: &str) -> Option<Self> {
        if TEXT_FILE_NAMES.contains(&name) {
            return Some(Self::Text);
        }
        let (_, ext) = name.rsplit_once('.')?;
        if let Some(language) = Language::from_extension(ext) {
            return Some(Self::Syntax(language));
        }
        TEXT_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()).then_some(Self::Text)
    }
}

/// Cuts `text` into chunks as its kind prescribes. Never fails: a file tree-sitter cannot parse
/// at all, or whose syntax yields no chunk although it holds text, falls back to windows (a file
/// with syntax errors still parses, partly).
pub fn chunk_file(kind: SourceKind, text: &str) -> Vec<Chunk> {
    match kind {
        SourceKind::Syntax(language) => windows_unless_chunked(syntax::chunks(language, text), text),
        SourceKind::Text => window::chunks(text),
    }
}

/// The syntax's `chunks` of `text`, or windows when there is no tree or it yielded no chunk
/// although the file holds text.
fn windows_unless_chunked(chunks: Option<Vec<Chunk>>, text: &str) -> Vec<Chunk> {
    match chunks {
        Some(chunks) if !chunks.is_empty() || text.trim().is_empty() => chunks,
        _ => window::chunks(text),
    }
}

/// The file's lines without their terminators, so that line `i` is `lines[i]` (a final newline
/// ends the last line; it does not start an empty one).
pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() && text.len() <= 1 {
        return Vec::new();
    }
    body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect()
}

/// Joins `lines[range]` with `\n` (after an optional header), cut at [`MAX_CHUNK_BYTES`].
pub(crate) fn join_lines(header: &[&str], lines: &[&str], range: Range<usize>) -> String {
    let end = range.end.min(lines.len());
    let start = range.start.min(end);
    let mut text = String::new();
    for line in header.iter().chain(&lines[start..end]) {
        text.push_str(line);
        text.push('\n');
    }
    truncate(text)
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_CHUNK_BYTES {
        let mut cut = MAX_CHUNK_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod language_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_extensions_and_names() {
        assert_eq!(SourceKind::for_file_name("app.py"), Some(SourceKind::Syntax(Language::Python)));
        assert_eq!(SourceKind::for_file_name("lib.RS"), Some(SourceKind::Syntax(Language::Rust)));
        assert_eq!(SourceKind::for_file_name("App.tsx"), Some(SourceKind::Syntax(Language::Tsx)));
        assert_eq!(SourceKind::for_file_name("build.gradle"), Some(SourceKind::Text));
        assert_eq!(SourceKind::for_file_name("Makefile"), Some(SourceKind::Text));
        assert_eq!(SourceKind::for_file_name("logo.png"), None);
        assert_eq!(SourceKind::for_file_name("README"), None);
    }

    #[test]
    fn no_text_extension_belongs_to_a_language() {
        for ext in TEXT_EXTENSIONS {
            assert_eq!(Language::from_extension(ext), None, "{ext}");
        }
    }

    #[test]
    fn a_file_without_syntax_chunks_falls_back_to_windows() {
        assert!(chunk_file(SourceKind::Syntax(Language::Rust), "").is_empty());
        assert!(chunk_file(SourceKind::Syntax(Language::Rust), "\n\n").is_empty());
        let chunks = chunk_file(SourceKind::Syntax(Language::Go), "}}} ))) {{{\n");
        assert!(!chunks.is_empty());
    }

    #[test]
    fn long_chunks_are_cut_at_a_character_boundary() {
        let line = "ä".repeat(MAX_CHUNK_BYTES);
        let text = join_lines(&[], &[line.as_str()], 0..1);
        assert!(text.len() <= MAX_CHUNK_BYTES);
    }
}
