//! Sliding windows for files without a syntax-aware chunker.
//!
//! RepoCoder's recipe: windows of [`WINDOW_LINES`] lines every [`WINDOW_STRIDE`] lines, so every
//! line sits in two windows and a definition near a window edge is still whole in one of them.
//! Symbols come from a cheap scan for `keyword Name` pairs (`fn`, `class`, `struct`, …).

use super::{join_lines, split_lines, Chunk};
use crate::tokenize::identifiers;

/// Lines per window.
pub const WINDOW_LINES: usize = 20;
/// Lines between the starts of consecutive windows.
pub const WINDOW_STRIDE: usize = 10;

/// Keywords after which the next identifier is a definition, across common languages.
const DEFINING_KEYWORDS: &[&str] = &[
    "fn",
    "def",
    "class",
    "struct",
    "enum",
    "trait",
    "impl",
    "interface",
    "type",
    "function",
    "func",
    "mod",
    "module",
    "const",
    "static",
    "let",
    "var",
    "val",
    "macro_rules",
    "union",
    "namespace",
    "record",
    "object",
];

/// Windows over `text`; windows holding only blank lines are dropped.
pub fn chunks(text: &str) -> Vec<Chunk> {
    let lines = split_lines(text);
    let count = lines.len();
    let mut out = Vec::new();
    let mut start = 0;
    while start < count {
        let end = (start + WINDOW_LINES).min(count);
        if lines[start..end].iter().any(|l| !l.trim().is_empty()) {
            let text = join_lines(&[], &lines, start..end);
            let symbols = scan_symbols(&text);
            out.push(Chunk { lines: start as u32..end as u32, text, symbols });
        }
        if end == count {
            break;
        }
        start += WINDOW_STRIDE;
    }
    out
}

/// Identifiers that follow a defining keyword (`fn parse` → `parse`), deduplicated in order.
pub fn scan_symbols(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut after_keyword = false;
    for (_, word) in identifiers(text) {
        if after_keyword && !DEFINING_KEYWORDS.contains(&word) && !out.iter().any(|s| s == word) {
            out.push(word.to_owned());
        }
        after_keyword = DEFINING_KEYWORDS.contains(&word) && word != "impl";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_twenty_lines_every_ten() {
        let text: String = (0..45).map(|i| format!("line {i}\n")).collect();
        let ranges: Vec<_> = chunks(&text).into_iter().map(|c| c.lines).collect();
        assert_eq!(ranges, [0..20, 10..30, 20..40, 30..45]);
    }

    #[test]
    fn a_short_file_is_one_window() {
        let chunks = chunks("fn main() {}\n");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].lines, 0..1);
        assert_eq!(chunks[0].symbols, ["main"]);
    }

    #[test]
    fn symbols_follow_defining_keywords() {
        let text = "pub struct Config {}\nimpl Config {\n    pub fn load() {}\n}\nconst MAX: u32 = 3;";
        assert_eq!(scan_symbols(text), ["Config", "load", "MAX"]);
    }
}
