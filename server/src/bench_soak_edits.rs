//! The soak benchmark's documents: a reference copy of each, and seeded random edits that are
//! valid against it, in the LSP terms an editor sends (`didChange` ranges in UTF-16).
//!
//! Edits are insertions, deletions and replacements, single- and multi-line, with accented
//! letters, CJK, emoji (two UTF-16 units), tabs, CRLF and lone CR line ends. Most land at the
//! document's cursor, as typing does; the rest anywhere. Offsets never split a character or a
//! CRLF. The reference is a [`Document`], the server's own text model, so positions have one
//! home; the generator's unit test checks it against plain string splicing.

use crate::bench_client::lsp_range;
use crate::bench_rng::SplitMix;
use crate::document::{Document, PositionEncoding, TextChange, TextPosition, TextRange};
use serde_json::{json, Value};
use splice_retrieval::tokenize::word_start;

/// Text typed or pasted by the edits: code, unicode, odd line ends.
const SNIPPETS: [&str; 16] = [
    "x",
    "value",
    " = ",
    "(",
    ")",
    "\n",
    "\n    ",
    "    result = compute(a, b)\n",
    "def helper(items):\n    total = 0\n    for item in items:\n        total += item\n    return total\n",
    "naïve café ",
    "# 中文注释 ",
    "emoji = \"😀🚀\"\n",
    "line = 1\r\n",
    "old_mac = 2\r",
    "\t",
    "if value is None:\r\n    return []\r\n",
];

/// A document grows towards this size and shrinks back from it.
const TARGET_BYTES: usize = 24 * 1024;

/// One open document's reference copy, version and cursor.
#[derive(Debug, Clone)]
pub struct ReferenceDocument {
    /// The document's URI.
    pub uri: String,
    document: Document,
    /// Byte offset of the cursor: on a character boundary, never inside a CRLF.
    cursor: usize,
}

/// One change in bytes, as it was applied to the reference: `start..end` replaced by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteChange {
    /// First replaced byte.
    pub start: usize,
    /// End of the replaced bytes.
    pub end: usize,
    /// The replacement.
    pub text: String,
}

impl ReferenceDocument {
    /// A document opened at version 1 with the cursor at the end.
    pub fn new(uri: String, text: String) -> Self {
        let cursor = text.len();
        Self { uri, document: Document::new(text, 1), cursor }
    }

    /// The text.
    pub fn text(&self) -> &str {
        self.document.text()
    }

    /// The version of the last change.
    pub fn version(&self) -> i32 {
        self.document.version()
    }

    /// Reopening starts the version count again.
    pub fn reopen(&mut self) {
        self.document = Document::new(self.document.text().to_owned(), 1);
    }

    /// The cursor as an LSP position (UTF-16).
    pub fn cursor_position(&self) -> TextPosition {
        self.position(self.cursor)
    }

    /// The identifier that ends at the cursor and the position where it starts, from the
    /// reference copy: what the server's `textDocument/completion` item must replace if its copy
    /// agrees.
    pub fn word_at_cursor(&self) -> (TextPosition, &str) {
        let start = word_start(self.text(), self.cursor);
        (self.position(start), &self.text()[start..self.cursor])
    }

    /// Makes 1–3 random changes, applies them to the reference and returns the `didChange`
    /// params that make the same changes, with the byte view of each change.
    pub fn edit(&mut self, rng: &mut SplitMix) -> (Value, Vec<ByteChange>) {
        let count = 1 + rng.below(3);
        let mut changes = Vec::with_capacity(count);
        let mut bytes = Vec::with_capacity(count);
        let version = self.version() + 1;
        for _ in 0..count {
            let change = self.random_change(rng);
            let range = TextRange::new(self.position(change.start), self.position(change.end));
            let text_change = TextChange { range: Some(range), text: change.text.clone() };
            if let Err(err) =
                self.document.apply_changes(std::slice::from_ref(&text_change), version, PositionEncoding::Utf16)
            {
                unreachable!("the generator made an invalid edit: {err}");
            }
            self.cursor = self.valid_offset(self.cursor_after(&change));
            changes.push(json!({ "range": lsp_range(range), "text": change.text }));
            bytes.push(change);
        }
        let params = json!({
            "textDocument": { "uri": self.uri, "version": version },
            "contentChanges": changes,
        });
        (params, bytes)
    }

    /// Types `text` at the cursor (one `didChange`, the cursor after it), as a keystroke does.
    pub fn type_at_cursor(&mut self, text: &str) -> Value {
        let at = self.position(self.cursor);
        let range = TextRange::new(at, at);
        let version = self.version() + 1;
        let change = TextChange { range: Some(range), text: text.to_owned() };
        if let Err(err) = self.document.apply_changes(std::slice::from_ref(&change), version, PositionEncoding::Utf16) {
            unreachable!("typing at a valid cursor failed: {err}");
        }
        self.cursor = self.valid_offset(self.cursor + text.len());
        json!({
            "textDocument": { "uri": self.uri, "version": version },
            "contentChanges": [{ "range": lsp_range(range), "text": text }],
        })
    }

    /// Moves the cursor somewhere else (the user clicked).
    pub fn jump(&mut self, rng: &mut SplitMix) {
        self.cursor = self.random_offset(rng);
    }

    fn random_change(&self, rng: &mut SplitMix) -> ByteChange {
        let len = self.text().len();
        let grow = if len < TARGET_BYTES / 4 {
            85
        } else if len > TARGET_BYTES * 2 {
            15
        } else {
            50
        };
        let start = if rng.percent(70) { self.cursor } else { self.random_offset(rng) };
        let inserts = rng.percent(grow);
        let longest = if rng.percent(20) { 400 } else { 24 };
        let replaced = if inserts && rng.percent(70) { 0 } else { 1 + rng.below(longest) };
        let end = self.valid_offset((start + replaced).min(len));
        let text = if inserts || rng.percent(50) { (*rng.pick(&SNIPPETS)).to_owned() } else { String::new() };
        ByteChange { start, end, text }
    }

    fn cursor_after(&self, change: &ByteChange) -> usize {
        let inserted_end = change.start + change.text.len();
        if self.cursor == change.start || (change.start..change.end).contains(&self.cursor) {
            inserted_end
        } else if self.cursor >= change.end {
            self.cursor - (change.end - change.start) + change.text.len()
        } else {
            self.cursor
        }
    }

    fn random_offset(&self, rng: &mut SplitMix) -> usize {
        self.valid_offset(rng.below(self.text().len() + 1))
    }

    /// The nearest offset at or before `offset` that an LSP position can name.
    fn valid_offset(&self, offset: usize) -> usize {
        let text = self.text();
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        if offset > 0 && text.as_bytes()[offset - 1] == b'\r' && text.as_bytes().get(offset) == Some(&b'\n') {
            offset -= 1;
        }
        offset
    }

    fn position(&self, offset: usize) -> TextPosition {
        match self.document.position_at(offset, PositionEncoding::Utf16) {
            Ok(position) => position,
            Err(err) => unreachable!("offset {offset} was made valid first: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_edits_are_valid_and_match_plain_string_splicing() {
        let mut rng = SplitMix(11);
        let start = "import os\r\n\ndef f(x):\n    return x  # 😀 中文\r\n".repeat(20);
        let mut doc = ReferenceDocument::new("file:///t.py".to_owned(), start.clone());
        let mut plain = start;
        let mut seen_multi_line = false;
        for i in 0..3000 {
            if i % 97 == 0 {
                doc.jump(&mut rng);
            }
            let (params, bytes) = doc.edit(&mut rng);
            for change in &bytes {
                assert!(plain.is_char_boundary(change.start) && plain.is_char_boundary(change.end));
                seen_multi_line |= change.text.matches('\n').count() > 1;
                plain.replace_range(change.start..change.end, &change.text);
            }
            assert_eq!(doc.text(), plain, "edit {i}: {params}");
            assert_eq!(params["textDocument"]["version"], doc.version());
            let cursor = doc.cursor_position();
            let line = doc.document.line(cursor.line).expect("the cursor's line exists");
            assert!(cursor.character as usize <= line.encode_utf16().count());
        }
        assert!(seen_multi_line);
        assert!(plain.contains('😀') && plain.contains("\r\n"), "unicode and CRLF survive the edits");
        assert!(plain.len() < TARGET_BYTES * 4, "the document stays near its target size");
    }

    #[test]
    fn cursors_never_land_inside_a_crlf_or_a_character() {
        let doc = ReferenceDocument::new("file:///t.py".to_owned(), "a\r\n😀".to_owned());
        assert_eq!(doc.valid_offset(2), 1);
        assert_eq!(doc.valid_offset(5), 3);
    }
}
