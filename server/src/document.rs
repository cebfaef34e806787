//! The editor's text, held byte-identical to the client's copy, with strict conversions
//! between LSP positions and byte offsets.
//!
//! Every completion request names its cursor as an LSP `Position` (a line plus a character
//! counted in UTF-16 code units, or in UTF-8 bytes when negotiated), and every `didChange`
//! describes its edits in the same terms, while the model layers underneath work on bytes.
//! If our copy of the text drifts from the editor's by a single byte, every later completion
//! is computed against the wrong prefix, and nothing says so. This module is the one place
//! that owns that translation. It is strict: a position the document cannot contain is an
//! error to report back to the client, never clamped into something plausible. It applies a
//! notification atomically, and it hands back the byte-level edits it applied so that the
//! layers above (KV-cache sessions, for instance) can follow the text without diffing it.
//!
//! Line terminators are `\n`, `\r\n` and a lone `\r`, as the LSP specification says.

use std::fmt;
use std::sync::Arc;

/// How LSP `Position.character` counts: UTF-16 code units (LSP default) or UTF-8 bytes (negotiated).
///
/// Chosen once per client at `initialize` time and passed to every conversion; it costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    /// `character` counts UTF-8 bytes (negotiated through `positionEncoding: "utf-8"`).
    Utf8,
    /// `character` counts UTF-16 code units: the LSP default, and what most editors speak.
    #[default]
    Utf16,
}

/// A zero-based LSP position (line, character in the negotiated encoding).
///
/// Ordered by line, then character, which is document order for positions of one document.
/// Displays as `line:character`, zero-based, as it travels in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TextPosition {
    /// Zero-based line number.
    pub line: u32,
    /// Zero-based offset within the line, in units of the negotiated [`PositionEncoding`].
    pub character: u32,
}

impl TextPosition {
    /// Builds a position from its two zero-based coordinates. Free.
    pub const fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

impl fmt::Display for TextPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.character)
    }
}

/// A half-open LSP range.
///
/// Displays as `start-end`, e.g. `3:5-4:0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRange {
    /// First position inside the range.
    pub start: TextPosition,
    /// First position past the range.
    pub end: TextPosition,
}

impl TextRange {
    /// Builds a range from its two ends. Free; the order is checked only when it is used.
    pub const fn new(start: TextPosition, end: TextPosition) -> Self {
        Self { start, end }
    }
}

impl fmt::Display for TextRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// One incremental (or full, when range is None) content change, as in didChange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChange {
    /// The text to replace, in terms of the document as it stands after the notification's
    /// earlier changes; `None` replaces the whole document.
    pub range: Option<TextRange>,
    /// The replacement text.
    pub text: String,
}

/// Why an LSP position, range or byte offset does not name a place in the document.
///
/// Messages are written for the person reading the client's log; they quote positions
/// zero-based, exactly as the client sent them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PositionError {
    /// The position's line does not exist (valid lines are `0..line_count`).
    #[error("line {line} is past the end of the document ({})", plural(.line_count, "line", "lines"))]
    LineOutOfRange {
        /// The line asked for.
        line: u32,
        /// How many lines the document has.
        line_count: u32,
    },
    /// The position's character is past the end of its line (end of line itself is fine).
    #[error(
        "position {position} is past the end of line {} ({})",
        .position.line,
        units(.line_length, .encoding)
    )]
    PastEndOfLine {
        /// The position asked for.
        position: TextPosition,
        /// The line's length in `encoding` units, without its terminator.
        line_length: u32,
        /// The encoding the position was counted in.
        encoding: PositionEncoding,
    },
    /// UTF-16 only: the position names the middle of a character that takes two code units.
    #[error(
        "position {position} falls inside a surrogate pair \
         (a character outside the Basic Multilingual Plane)"
    )]
    InsideSurrogatePair {
        /// The position asked for.
        position: TextPosition,
    },
    /// UTF-8 only: the position names the middle of a character that takes several bytes.
    #[error("position {position} falls inside a multi-byte UTF-8 character")]
    InsideUtf8Character {
        /// The position asked for.
        position: TextPosition,
    },
    /// The range's end comes before its start.
    #[error("range {range} ends before it starts")]
    RangeEndsBeforeStart {
        /// The range as sent.
        range: TextRange,
    },
    /// The byte offset is greater than the document's length.
    #[error("byte offset {offset} is past the end of the document ({})", plural(.len, "byte", "bytes"))]
    OffsetPastEnd {
        /// The offset asked for.
        offset: usize,
        /// The document's length in bytes.
        len: usize,
    },
    /// The byte offset names the middle of a multi-byte UTF-8 character.
    #[error("byte offset {offset} falls inside a multi-byte UTF-8 character")]
    OffsetInsideCharacter {
        /// The offset asked for.
        offset: usize,
    },
    /// The byte offset falls between the `\r` and the `\n` of a CRLF, which no LSP position names.
    #[error("byte offset {offset} falls between the \\r and \\n of a CRLF line break, which no LSP position can name")]
    OffsetInsideCrlf {
        /// The offset asked for.
        offset: usize,
    },
    /// The byte offset's line or column does not fit the 32-bit numbers of an LSP position.
    #[error("byte offset {offset} lies beyond what a 32-bit LSP position can express")]
    OffsetNotRepresentable {
        /// The offset asked for.
        offset: usize,
    },
}

/// Why a `didChange` notification was refused as a whole.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// One change's range does not name a place in the document as it stood when that change
    /// came up; no change of the notification was kept.
    #[error("change {} of {count} (index {index}): {source}", .index + 1)]
    InvalidRange {
        /// Zero-based index of the offending change within the notification.
        index: usize,
        /// How many changes the notification carried.
        count: usize,
        /// What is wrong with its range.
        source: PositionError,
    },
}

/// A change in byte terms: `old` byte range of the text before this edit replaced by `new_len` bytes.
///
/// `start..old_end` is the replaced range in the text as it was just before this edit;
/// `start..new_end` is where the replacement lies just after it (`new_end - start` bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteEdit {
    /// First replaced byte.
    pub start: usize,
    /// End of the replaced bytes, in the text before the edit.
    pub old_end: usize,
    /// End of the inserted bytes, in the text after the edit.
    pub new_end: usize,
}

/// An open document: its exact text, its version, and an index of where each line starts.
///
/// The text is shared copy-on-write: [`Document::snapshot`] hands a request the text in O(1),
/// so the request can work without holding the document map's lock; an edit while such a
/// snapshot is still alive copies the text once (requests drop theirs before the model runs).
///
/// Memory: the text plus one `usize` per line. Finding a line costs O(1) (by number) or
/// O(log lines) (by offset); converting within a line costs O(line length) in UTF-16 and
/// O(1) in UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    text: Arc<String>,
    /// Byte offset at which each line starts; `line_starts[0] == 0`, strictly increasing.
    line_starts: Vec<usize>,
    version: i32,
}

impl Document {
    /// Opens a document (as on `didOpen`). Costs one O(length) scan to index the lines.
    pub fn new(text: String, version: i32) -> Self {
        let line_starts = compute_line_starts(text.as_bytes());
        Self { text: Arc::new(text), line_starts, version }
    }

    /// The whole text, shared: O(1), and it stays as it is while the document is edited.
    pub fn snapshot(&self) -> Arc<String> {
        Arc::clone(&self.text)
    }

    /// The whole text, byte-identical to the client's. Free.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The version of the last `didOpen`/`didChange` applied. Free.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// How many lines the document has: `"a\nb"` has 2, `"a\n"` has 2 (the last is empty),
    /// `""` has 1. Free. Saturates at `u32::MAX`, past which LSP cannot address lines anyway.
    pub fn line_count(&self) -> u32 {
        u32::try_from(self.line_starts.len()).unwrap_or(u32::MAX)
    }

    /// The text of one line without its terminator, or `None` past the last line. O(1).
    pub fn line(&self, line: u32) -> Option<&str> {
        let (start, end) = self.line_bounds(usize::try_from(line).ok()?)?;
        self.text.get(start..end)
    }

    /// Byte offset of an LSP position. Strict: no clamping.
    ///
    /// A position may sit at the end of its line but not past it, and never inside a
    /// character. Costs O(1) to find the line, then O(line length) in UTF-16, O(1) in UTF-8.
    pub fn offset_at(&self, pos: TextPosition, enc: PositionEncoding) -> Result<usize, PositionError> {
        let (start, end) = usize::try_from(pos.line)
            .ok()
            .and_then(|line| self.line_bounds(line))
            .ok_or(PositionError::LineOutOfRange { line: pos.line, line_count: self.line_count() })?;
        let line = &self.text[start..end];
        let within = match enc {
            PositionEncoding::Utf8 => utf8_column_offset(line, pos)?,
            PositionEncoding::Utf16 => utf16_column_offset(line, pos)?,
        };
        Ok(start + within)
    }

    /// LSP position of a byte offset (offset must be on a char boundary and <= len; otherwise Err).
    ///
    /// An offset between the `\r` and `\n` of a CRLF is also an error: no LSP position names it.
    /// Costs O(log lines) to find the line, then O(column) in UTF-16, O(1) in UTF-8.
    pub fn position_at(&self, offset: usize, enc: PositionEncoding) -> Result<TextPosition, PositionError> {
        self.check_offset(offset)?;
        let line = self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let (start, end) =
            self.line_bounds(line).ok_or(PositionError::OffsetPastEnd { offset, len: self.text.len() })?;
        if offset > end {
            return Err(PositionError::OffsetInsideCrlf { offset });
        }
        let column = match enc {
            PositionEncoding::Utf8 => offset - start,
            PositionEncoding::Utf16 => self.text[start..offset].encode_utf16().count(),
        };
        let not_representable = |_| PositionError::OffsetNotRepresentable { offset };
        Ok(TextPosition {
            line: u32::try_from(line).map_err(not_representable)?,
            character: u32::try_from(column).map_err(not_representable)?,
        })
    }

    /// Applies all changes of one didChange notification in order, atomically: if any change is invalid,
    /// the document is left exactly as it was and the error names the change index.
    /// On success the version becomes `new_version`. Returns the byte-level edits that were applied
    /// (in order), so later layers (KV-cache sessions) can follow them.
    ///
    /// Each change costs: resolving its range (O(line length)), splicing the text (a move of
    /// the bytes after the edit), scanning the inserted text for line breaks, and shifting the
    /// line-start index after the edit (O(lines after it)); lines before the edit are never
    /// rescanned, so no input is quadratic per change. A refused notification is rolled back
    /// by undoing the changes already made, newest first, at the same cost again.
    pub fn apply_changes(
        &mut self,
        changes: &[TextChange],
        new_version: i32,
        enc: PositionEncoding,
    ) -> Result<Vec<ByteEdit>, EditError> {
        let mut applied: Vec<(ByteEdit, String)> = Vec::with_capacity(changes.len());
        for (index, change) in changes.iter().enumerate() {
            match self.byte_range(change, enc) {
                Ok((start, end)) => applied.push(self.replace(start, end, &change.text)),
                Err(source) => {
                    self.undo(applied);
                    return Err(EditError::InvalidRange { index, count: changes.len(), source });
                }
            }
        }
        self.version = new_version;
        Ok(applied.into_iter().map(|(edit, _)| edit).collect())
    }

    /// Byte bounds of line `line`'s content (terminator excluded), or `None` past the last line.
    fn line_bounds(&self, line: usize) -> Option<(usize, usize)> {
        let start = *self.line_starts.get(line)?;
        let end = match self.line_starts.get(line + 1) {
            Some(&next) => next - terminator_len(self.text.as_bytes(), start, next),
            None => self.text.len(),
        };
        Some((start, end))
    }

    /// Checks that `offset` is inside the text and on a character boundary.
    fn check_offset(&self, offset: usize) -> Result<(), PositionError> {
        if offset > self.text.len() {
            return Err(PositionError::OffsetPastEnd { offset, len: self.text.len() });
        }
        if !self.text.is_char_boundary(offset) {
            return Err(PositionError::OffsetInsideCharacter { offset });
        }
        Ok(())
    }

    /// The byte range a change replaces, in the text as it stands now.
    fn byte_range(&self, change: &TextChange, enc: PositionEncoding) -> Result<(usize, usize), PositionError> {
        let Some(range) = change.range else {
            return Ok((0, self.text.len()));
        };
        if range.end < range.start {
            return Err(PositionError::RangeEndsBeforeStart { range });
        }
        Ok((self.offset_at(range.start, enc)?, self.offset_at(range.end, enc)?))
    }

    /// Replaces `start..old_end` (char boundaries) by `new_text`; returns the edit and the
    /// removed text (for undo).
    fn replace(&mut self, start: usize, old_end: usize, new_text: &str) -> (ByteEdit, String) {
        let removed = self.text[start..old_end].to_owned();
        Arc::make_mut(&mut self.text).replace_range(start..old_end, new_text);
        let new_end = start + new_text.len();
        self.reindex(start, old_end, new_end);
        (ByteEdit { start, old_end, new_end }, removed)
    }

    /// Reverts edits made by [`Self::replace`], newest first.
    fn undo(&mut self, applied: Vec<(ByteEdit, String)>) {
        for (edit, removed) in applied.into_iter().rev() {
            self.replace(edit.start, edit.new_end, &removed);
        }
    }

    /// Updates the line-start index after `start..old_end` became `start..new_end`.
    ///
    /// Whether a line starts at byte `t` depends only on bytes `t - 1` and `t` (see
    /// [`is_line_start`]), so starts before `start` stand, starts after `old_end` stand
    /// shifted, and only `start..=new_end` is rescanned. This also catches a `\r` before the
    /// edit meeting a `\n` that the edit brought (or took away).
    fn reindex(&mut self, start: usize, old_end: usize, new_end: usize) {
        let first = start.max(1); // line 0 always starts at 0
        let lo = self.line_starts.partition_point(|&s| s < first);
        let hi = self.line_starts.partition_point(|&s| s <= old_end);
        let bytes = self.text.as_bytes();
        let fresh: Vec<usize> = (first..=new_end).filter(|&t| is_line_start(bytes, t)).collect();
        let shifted_from = lo + fresh.len();
        self.line_starts.splice(lo..hi, fresh);
        for s in &mut self.line_starts[shifted_from..] {
            *s = *s - old_end + new_end;
        }
    }
}

/// Offset within `line` of a UTF-8 column, checked against the line's end and char boundaries.
fn utf8_column_offset(line: &str, pos: TextPosition) -> Result<usize, PositionError> {
    let column = pos.character as usize;
    if column > line.len() {
        return Err(past_end_of_line(pos, line.len(), PositionEncoding::Utf8));
    }
    if !line.is_char_boundary(column) {
        return Err(PositionError::InsideUtf8Character { position: pos });
    }
    Ok(column)
}

/// Offset within `line` of a UTF-16 column, walking the line's characters.
fn utf16_column_offset(line: &str, pos: TextPosition) -> Result<usize, PositionError> {
    let target = pos.character as usize;
    let mut units = 0usize;
    for (byte, ch) in line.char_indices() {
        if units == target {
            return Ok(byte);
        }
        units += ch.len_utf16();
        if units > target {
            return Err(PositionError::InsideSurrogatePair { position: pos });
        }
    }
    if units == target {
        Ok(line.len())
    } else {
        Err(past_end_of_line(pos, units, PositionEncoding::Utf16))
    }
}

fn past_end_of_line(position: TextPosition, length: usize, encoding: PositionEncoding) -> PositionError {
    PositionError::PastEndOfLine { position, line_length: u32::try_from(length).unwrap_or(u32::MAX), encoding }
}

/// Does a line start at byte `t`? True after a `\n`, and after a `\r` not followed by `\n`.
/// Byte 0 is handled by the callers (line 0 always starts there).
fn is_line_start(bytes: &[u8], t: usize) -> bool {
    match t.checked_sub(1).and_then(|i| bytes.get(i)) {
        Some(b'\n') => true,
        Some(b'\r') => bytes.get(t) != Some(&b'\n'),
        _ => false,
    }
}

/// Line-start index of a whole text. O(length).
fn compute_line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0).chain((1..=bytes.len()).filter(|&t| is_line_start(bytes, t))).collect()
}

/// Length of the terminator that ends at `next`, for the line that starts at `start`.
fn terminator_len(bytes: &[u8], start: usize, next: usize) -> usize {
    let crlf = next >= start + 2 && bytes.get(next - 2..next) == Some(b"\r\n".as_slice());
    if crlf {
        2
    } else {
        1
    }
}

/// `"1 line"`, `"40 lines"`.
fn plural<N: fmt::Display + PartialEq + From<u8>>(count: &N, one: &str, many: &str) -> String {
    let word = if *count == N::from(1) { one } else { many };
    format!("{count} {word}")
}

/// A line length in the unit of `encoding`: `"31 UTF-16 units"`, `"1 byte"`.
fn units(count: &u32, encoding: &PositionEncoding) -> String {
    match encoding {
        PositionEncoding::Utf16 => plural(count, "UTF-16 unit", "UTF-16 units"),
        PositionEncoding::Utf8 => plural(count, "byte", "bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PositionEncoding::{Utf16, Utf8};

    fn pos(line: u32, character: u32) -> TextPosition {
        TextPosition::new(line, character)
    }

    fn change(start: (u32, u32), end: (u32, u32), text: &str) -> TextChange {
        TextChange { range: Some(TextRange::new(pos(start.0, start.1), pos(end.0, end.1))), text: text.to_owned() }
    }

    fn lines(doc: &Document) -> Vec<&str> {
        (0..doc.line_count()).filter_map(|l| doc.line(l)).collect()
    }

    /// The index after incremental updates equals the one a fresh scan builds.
    fn assert_index_fresh(doc: &Document) {
        assert_eq!(doc.line_starts, compute_line_starts(doc.text.as_bytes()));
    }

    // ---- lines -------------------------------------------------------------------------

    #[test]
    fn ascii_lines_and_positions() {
        let doc = Document::new("hello\nworld".to_owned(), 1);
        assert_eq!(doc.line_count(), 2);
        assert_eq!(lines(&doc), ["hello", "world"]);
        assert_eq!(doc.line(2), None);
        for enc in [Utf8, Utf16] {
            assert_eq!(doc.offset_at(pos(0, 0), enc), Ok(0));
            assert_eq!(doc.offset_at(pos(0, 5), enc), Ok(5), "end of line 0");
            assert_eq!(doc.offset_at(pos(1, 0), enc), Ok(6));
            assert_eq!(doc.offset_at(pos(1, 5), enc), Ok(11), "end of document");
            assert_eq!(doc.position_at(9, enc), Ok(pos(1, 3)));
            assert_eq!(doc.position_at(5, enc), Ok(pos(0, 5)), "the \\n itself is end of line");
            assert_eq!(doc.position_at(11, enc), Ok(pos(1, 5)));
        }
    }

    #[test]
    fn trailing_newline_makes_an_empty_last_line() {
        let doc = Document::new("a\n".to_owned(), 0);
        assert_eq!(doc.line_count(), 2);
        assert_eq!(lines(&doc), ["a", ""]);
        assert_eq!(doc.offset_at(pos(1, 0), Utf16), Ok(2));
    }

    #[test]
    fn crlf_is_one_terminator() {
        let doc = Document::new("ab\r\ncd\r\n".to_owned(), 0);
        assert_eq!(lines(&doc), ["ab", "cd", ""]);
        assert_eq!(doc.offset_at(pos(0, 2), Utf16), Ok(2));
        assert_eq!(doc.offset_at(pos(1, 0), Utf16), Ok(4));
        assert_eq!(doc.offset_at(pos(2, 0), Utf16), Ok(8));
        assert_eq!(doc.position_at(2, Utf16), Ok(pos(0, 2)));
        assert_eq!(doc.position_at(4, Utf16), Ok(pos(1, 0)));
    }

    #[test]
    fn between_cr_and_lf_is_not_addressable() {
        let doc = Document::new("ab\r\ncd".to_owned(), 0);
        assert_eq!(
            doc.offset_at(pos(0, 3), Utf16).unwrap_err().to_string(),
            "position 0:3 is past the end of line 0 (2 UTF-16 units)"
        );
        let err = doc.position_at(3, Utf16).unwrap_err();
        assert_eq!(err, PositionError::OffsetInsideCrlf { offset: 3 });
        assert_eq!(
            err.to_string(),
            "byte offset 3 falls between the \\r and \\n of a CRLF line break, which no LSP position can name"
        );
    }

    #[test]
    fn lone_cr_is_a_terminator() {
        let doc = Document::new("a\rb\r\rc\n\r".to_owned(), 0);
        assert_eq!(lines(&doc), ["a", "b", "", "c", "", ""]);
        assert_eq!(doc.offset_at(pos(1, 0), Utf16), Ok(2));
        assert_eq!(doc.offset_at(pos(3, 1), Utf16), Ok(6));
        assert_eq!(doc.position_at(4, Utf16), Ok(pos(2, 0)));
    }

    #[test]
    fn cr_then_crlf() {
        let doc = Document::new("\r\r\nx".to_owned(), 0);
        assert_eq!(lines(&doc), ["", "", "x"]);
        assert_eq!(doc.offset_at(pos(2, 0), Utf16), Ok(3));
    }

    // ---- encodings ---------------------------------------------------------------------

    #[test]
    fn emoji_is_two_utf16_units_and_four_bytes() {
        let doc = Document::new("x😀y".to_owned(), 0);
        assert_eq!(doc.offset_at(pos(0, 1), Utf16), Ok(1));
        assert_eq!(doc.offset_at(pos(0, 3), Utf16), Ok(5), "after the emoji");
        assert_eq!(doc.offset_at(pos(0, 4), Utf16), Ok(6));
        assert_eq!(doc.offset_at(pos(0, 5), Utf8), Ok(5), "after the emoji");
        assert_eq!(doc.offset_at(pos(0, 6), Utf8), Ok(6));
        assert_eq!(doc.position_at(5, Utf16), Ok(pos(0, 3)));
        assert_eq!(doc.position_at(5, Utf8), Ok(pos(0, 5)));
    }

    #[test]
    fn inside_surrogate_pair_is_an_error() {
        let doc = Document::new("ok\nx😀y".to_owned(), 0);
        let err = doc.offset_at(pos(1, 2), Utf16).unwrap_err();
        assert_eq!(err, PositionError::InsideSurrogatePair { position: pos(1, 2) });
        assert_eq!(
            err.to_string(),
            "position 1:2 falls inside a surrogate pair (a character outside the Basic Multilingual Plane)"
        );
    }

    #[test]
    fn inside_multibyte_utf8_character_is_an_error() {
        let doc = Document::new("x😀y".to_owned(), 0);
        for character in 2..=4 {
            let err = doc.offset_at(pos(0, character), Utf8).unwrap_err();
            assert_eq!(err, PositionError::InsideUtf8Character { position: pos(0, character) });
        }
        assert_eq!(
            doc.offset_at(pos(0, 3), Utf8).unwrap_err().to_string(),
            "position 0:3 falls inside a multi-byte UTF-8 character"
        );
        assert_eq!(
            doc.position_at(3, Utf16).unwrap_err().to_string(),
            "byte offset 3 falls inside a multi-byte UTF-8 character"
        );
    }

    #[test]
    fn cjk_is_one_utf16_unit_and_three_bytes() {
        let doc = Document::new("中文x".to_owned(), 0);
        assert_eq!(doc.offset_at(pos(0, 1), Utf16), Ok(3));
        assert_eq!(doc.offset_at(pos(0, 2), Utf16), Ok(6));
        assert_eq!(doc.offset_at(pos(0, 3), Utf8), Ok(3));
        assert_eq!(doc.offset_at(pos(0, 1), Utf8), Err(PositionError::InsideUtf8Character { position: pos(0, 1) }));
        assert_eq!(doc.position_at(6, Utf16), Ok(pos(0, 2)));
        assert_eq!(doc.position_at(6, Utf8), Ok(pos(0, 6)));
        assert_eq!(
            doc.offset_at(pos(0, 4), Utf16).unwrap_err().to_string(),
            "position 0:4 is past the end of line 0 (3 UTF-16 units)"
        );
        assert_eq!(
            doc.offset_at(pos(0, 8), Utf8).unwrap_err().to_string(),
            "position 0:8 is past the end of line 0 (7 bytes)"
        );
    }

    // ---- errors ------------------------------------------------------------------------

    #[test]
    fn empty_document_has_one_empty_line() {
        let doc = Document::new(String::new(), 0);
        assert_eq!(doc.line_count(), 1);
        assert_eq!(doc.line(0), Some(""));
        assert_eq!(doc.offset_at(pos(0, 0), Utf16), Ok(0));
        assert_eq!(doc.position_at(0, Utf16), Ok(pos(0, 0)));
        assert_eq!(
            doc.offset_at(pos(0, 1), Utf16).unwrap_err().to_string(),
            "position 0:1 is past the end of line 0 (0 UTF-16 units)"
        );
        assert_eq!(
            doc.offset_at(pos(1, 0), Utf16).unwrap_err().to_string(),
            "line 1 is past the end of the document (1 line)"
        );
        assert_eq!(
            doc.position_at(1, Utf8).unwrap_err().to_string(),
            "byte offset 1 is past the end of the document (0 bytes)"
        );
    }

    #[test]
    fn error_messages_read_as_in_the_spec() {
        let text: String = (0..40).map(|i| format!("{}\n", "x".repeat(i % 32))).collect::<String>();
        let doc = Document::new(text.trim_end_matches('\n').to_owned(), 0);
        assert_eq!(doc.line_count(), 40);
        assert_eq!(doc.line(12).map(str::len), Some(12));
        assert_eq!(
            doc.offset_at(pos(31, 40), Utf16).unwrap_err().to_string(),
            "position 31:40 is past the end of line 31 (31 UTF-16 units)"
        );
        assert_eq!(
            doc.offset_at(pos(99, 0), Utf16).unwrap_err().to_string(),
            "line 99 is past the end of the document (40 lines)"
        );
        assert_eq!(
            doc.offset_at(pos(1, 2), Utf8).unwrap_err().to_string(),
            "position 1:2 is past the end of line 1 (1 byte)"
        );
        let backwards = TextChange { range: Some(TextRange::new(pos(3, 5), pos(2, 0))), text: String::new() };
        let mut doc = doc;
        let err = doc.apply_changes(&[backwards], 1, Utf16).unwrap_err();
        assert_eq!(err.to_string(), "change 1 of 1 (index 0): range 3:5-2:0 ends before it starts");
    }

    // ---- changes -----------------------------------------------------------------------

    #[test]
    fn insertion_at_end_of_document() {
        let mut doc = Document::new("fn main() {\n".to_owned(), 1);
        let edits = doc.apply_changes(&[change((1, 0), (1, 0), "}\n")], 2, Utf16).unwrap();
        assert_eq!(doc.text(), "fn main() {\n}\n");
        assert_eq!(doc.version(), 2);
        assert_eq!(edits, [ByteEdit { start: 12, old_end: 12, new_end: 14 }]);
        assert_eq!(lines(&doc), ["fn main() {", "}", ""]);
        assert_index_fresh(&doc);
    }

    #[test]
    fn deletion_across_lines() {
        let mut doc = Document::new("one\r\ntwo\nthree 😀\nfour".to_owned(), 1);
        let edits = doc.apply_changes(&[change((0, 1), (2, 8), "")], 2, Utf16).unwrap();
        assert_eq!(doc.text(), "o\nfour");
        assert_eq!(edits, [ByteEdit { start: 1, old_end: 19, new_end: 1 }]);
        assert_eq!(lines(&doc), ["o", "four"]);
        assert_index_fresh(&doc);
    }

    #[test]
    fn full_replacement() {
        let mut doc = Document::new("old\ntext".to_owned(), 1);
        let full = TextChange { range: None, text: "new\r\n".to_owned() };
        let edits = doc.apply_changes(&[full], 5, Utf8).unwrap();
        assert_eq!(doc.text(), "new\r\n");
        assert_eq!(doc.version(), 5);
        assert_eq!(edits, [ByteEdit { start: 0, old_end: 8, new_end: 5 }]);
        assert_eq!(lines(&doc), ["new", ""]);
        assert_index_fresh(&doc);
    }

    #[test]
    fn later_changes_see_earlier_ones() {
        let mut doc = Document::new("ab".to_owned(), 1);
        let changes = [change((0, 1), (0, 1), "\n"), change((1, 1), (1, 1), "c")];
        let edits = doc.apply_changes(&changes, 2, Utf16).unwrap();
        assert_eq!(doc.text(), "a\nbc");
        assert_eq!(
            edits,
            [ByteEdit { start: 1, old_end: 1, new_end: 2 }, ByteEdit { start: 3, old_end: 3, new_end: 4 }]
        );
    }

    #[test]
    fn an_edit_can_join_a_cr_and_an_lf() {
        // Deleting the "b" turns "\r" + "\n" into one CRLF: 3 lines become 2.
        let mut doc = Document::new("a\rb\nc".to_owned(), 1);
        doc.apply_changes(&[change((1, 0), (1, 1), "")], 2, Utf16).unwrap();
        assert_eq!(lines(&doc), ["a", "c"]);
        assert_index_fresh(&doc);
        // Typing "\n" right after a lone "\r" does not add a line.
        let mut doc = Document::new("a\r".to_owned(), 1);
        doc.apply_changes(&[change((1, 0), (1, 0), "\n")], 2, Utf16).unwrap();
        assert_eq!(lines(&doc), ["a", ""]);
        assert_index_fresh(&doc);
    }

    #[test]
    fn an_edit_can_split_a_crlf_apart() {
        // Replacing a CRLF by "\rx\n" leaves a lone CR and an LF: 2 lines become 3.
        let mut doc = Document::new("a\r\nb".to_owned(), 1);
        doc.apply_changes(&[change((0, 1), (1, 0), "\rx\n")], 2, Utf16).unwrap();
        assert_eq!(lines(&doc), ["a", "x", "b"]);
        assert_index_fresh(&doc);
    }

    #[test]
    fn invalid_second_change_leaves_document_untouched() {
        let mut doc = Document::new("let x = 1;\nlet y = 😀;\n".to_owned(), 7);
        let before = doc.clone();
        let changes = [
            change((0, 4), (0, 5), "renamed\n\r"),
            change((1, 9), (1, 9), "oops"), // line 1 is now "\r"-terminated and empty
            change((0, 0), (0, 0), "never applied"),
        ];
        let err = doc.apply_changes(&changes, 8, Utf16).unwrap_err();
        assert_eq!(
            err,
            EditError::InvalidRange {
                index: 1,
                count: 3,
                source: PositionError::PastEndOfLine { position: pos(1, 9), line_length: 0, encoding: Utf16 },
            }
        );
        assert_eq!(err.to_string(), "change 2 of 3 (index 1): position 1:9 is past the end of line 1 (0 UTF-16 units)");
        assert_eq!(doc, before);
        assert_eq!(doc.version(), 7);
    }

    #[test]
    fn many_edits_on_a_large_document() {
        let text = "fn f() { let 中 = \"😀\"; }\r\n".repeat(20_000);
        let mut doc = Document::new(text, 0);
        for version in 1..=200u32 {
            let line = (version * 97) % (doc.line_count() - 2);
            let edit = change((line, 3), (line + 1, 3), "g() {}\r\n\rfn ");
            doc.apply_changes(&[edit], version as i32, Utf16).unwrap();
        }
        assert_index_fresh(&doc);
    }

    // ---- property tests against a reference model -------------------------------------

    mod model {
        //! An obviously-correct reference: the text is a `Vec<char>`, lines are found by
        //! scanning, positions by walking characters.
        use super::super::{PositionEncoding, TextChange, TextPosition, TextRange};

        /// `(first char, end char)` of each line's content.
        pub fn lines(chars: &[char]) -> Vec<(usize, usize)> {
            let mut out = Vec::new();
            let (mut start, mut i) = (0, 0);
            while i < chars.len() {
                let terminator = match chars[i] {
                    '\r' if chars.get(i + 1) == Some(&'\n') => 2,
                    '\r' | '\n' => 1,
                    _ => 0,
                };
                if terminator == 0 {
                    i += 1;
                } else {
                    out.push((start, i));
                    i += terminator;
                    start = i;
                }
            }
            out.push((start, chars.len()));
            out
        }

        pub fn width(ch: char, enc: PositionEncoding) -> u32 {
            match enc {
                PositionEncoding::Utf8 => ch.len_utf8() as u32,
                PositionEncoding::Utf16 => ch.len_utf16() as u32,
            }
        }

        pub fn column(chars: &[char], line_start: usize, at: usize, enc: PositionEncoding) -> u32 {
            chars[line_start..at].iter().map(|&c| width(c, enc)).sum()
        }

        pub fn byte_offset(chars: &[char], at: usize) -> usize {
            chars[..at].iter().map(|c| c.len_utf8()).sum()
        }

        /// A change described by random numbers, made valid against the model's current text.
        #[derive(Debug, Clone)]
        pub struct Seed {
            pub a: (u32, u32),
            pub b: (u32, u32),
            pub text: String,
            pub full: bool,
        }

        impl Seed {
            /// The change, and the char range it replaces in the model.
            pub fn realise(&self, chars: &[char], enc: PositionEncoding) -> (TextChange, usize, usize) {
                if self.full {
                    let change = TextChange { range: None, text: self.text.clone() };
                    return (change, 0, chars.len());
                }
                let lines = lines(chars);
                let p = pick(chars, &lines, self.a, enc);
                let q = pick(chars, &lines, self.b, enc);
                let (p, q) = if q.0 < p.0 { (q, p) } else { (p, q) };
                let change = TextChange { range: Some(TextRange::new(p.1, q.1)), text: self.text.clone() };
                (change, p.0, q.0)
            }
        }

        fn pick(
            chars: &[char],
            lines: &[(usize, usize)],
            (l, c): (u32, u32),
            enc: PositionEncoding,
        ) -> (usize, TextPosition) {
            let line = l as usize % lines.len();
            let (start, end) = lines[line];
            let at = start + c as usize % (end - start + 1);
            (at, TextPosition::new(line as u32, column(chars, start, at, enc)))
        }
    }

    mod properties {
        use super::super::*;
        use super::model::{self, Seed};
        use proptest::prelude::*;
        use proptest::test_runner::TestCaseError;

        const ALPHABET: &[&str] = &["a", "b", " ", "x", "\n", "\r\n", "\r", "😀", "中", "\u{301}", "é"];

        fn text(max: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(prop::sample::select(ALPHABET), 0..max).prop_map(|v| v.concat())
        }

        fn seed() -> impl Strategy<Value = Seed> {
            (any::<(u32, u32)>(), any::<(u32, u32)>(), text(6), 0..25u8).prop_map(|(a, b, text, f)| Seed {
                a,
                b,
                text,
                full: f == 0,
            })
        }

        fn steps() -> impl Strategy<Value = Vec<Vec<Seed>>> {
            prop::collection::vec(prop::collection::vec(seed(), 1..4), 1..12)
        }

        /// The document agrees with the model: text, lines, index, and every position both ways.
        fn check_agrees(doc: &Document, chars: &[char], enc: PositionEncoding) -> Result<(), TestCaseError> {
            prop_assert_eq!(doc.text(), chars.iter().collect::<String>());
            prop_assert_eq!(&doc.line_starts, &compute_line_starts(doc.text().as_bytes()));
            let lines = model::lines(chars);
            prop_assert_eq!(doc.line_count() as usize, lines.len());
            for (l, &(start, end)) in lines.iter().enumerate() {
                let line = l as u32;
                let expected: String = chars[start..end].iter().collect();
                prop_assert_eq!(doc.line(line), Some(expected.as_str()));
                for at in start..=end {
                    let p = TextPosition::new(line, model::column(chars, start, at, enc));
                    let offset = model::byte_offset(chars, at);
                    prop_assert_eq!(doc.offset_at(p, enc), Ok(offset));
                    prop_assert_eq!(doc.position_at(offset, enc), Ok(p));
                    check_inside_char(doc, chars, p, at, end, enc)?;
                }
                let len = model::column(chars, start, end, enc);
                let past = TextPosition::new(line, len + 1);
                let is_past_end = matches!(doc.offset_at(past, enc), Err(PositionError::PastEndOfLine { .. }));
                prop_assert!(is_past_end);
            }
            let beyond = TextPosition::new(lines.len() as u32, 0);
            let is_out = matches!(doc.offset_at(beyond, enc), Err(PositionError::LineOutOfRange { .. }));
            prop_assert!(is_out);
            Ok(())
        }

        /// Columns inside the character at `at` are refused with the encoding's error.
        fn check_inside_char(
            doc: &Document,
            chars: &[char],
            p: TextPosition,
            at: usize,
            end: usize,
            enc: PositionEncoding,
        ) -> Result<(), TestCaseError> {
            if at == end {
                return Ok(());
            }
            for k in 1..model::width(chars[at], enc) {
                let inside = TextPosition::new(p.line, p.character + k);
                let expected = match enc {
                    PositionEncoding::Utf16 => PositionError::InsideSurrogatePair { position: inside },
                    PositionEncoding::Utf8 => PositionError::InsideUtf8Character { position: inside },
                };
                prop_assert_eq!(doc.offset_at(inside, enc), Err(expected));
            }
            Ok(())
        }

        fn run_model(initial: String, steps: Vec<Vec<Seed>>, enc: PositionEncoding) -> Result<(), TestCaseError> {
            let mut doc = Document::new(initial.clone(), 0);
            let mut chars: Vec<char> = initial.chars().collect();
            check_agrees(&doc, &chars, enc)?;
            for (n, step) in steps.iter().enumerate() {
                let before = doc.text().to_owned();
                let mut changes = Vec::new();
                for seed in step {
                    let (change, from, to) = seed.realise(&chars, enc);
                    chars.splice(from..to, change.text.chars());
                    changes.push(change);
                }
                let version = n as i32 + 1;
                let edits =
                    doc.apply_changes(&changes, version, enc).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(doc.version(), version);
                prop_assert_eq!(edits.len(), changes.len());
                let mut replay = before;
                for (edit, change) in edits.iter().zip(&changes) {
                    prop_assert_eq!(edit.new_end - edit.start, change.text.len());
                    replay.replace_range(edit.start..edit.old_end, &change.text);
                }
                prop_assert_eq!(replay.as_str(), doc.text());
                check_agrees(&doc, &chars, enc)?;
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn utf16_edits_match_the_model(initial in text(40), steps in steps()) {
                run_model(initial, steps, PositionEncoding::Utf16)?;
            }

            #[test]
            fn utf8_edits_match_the_model(initial in text(40), steps in steps()) {
                run_model(initial, steps, PositionEncoding::Utf8)?;
            }

            #[test]
            fn a_refused_notification_changes_nothing(
                initial in text(40),
                valid in prop::collection::vec(seed(), 0..4),
                bad_line_past in 0..3u32,
            ) {
                let enc = PositionEncoding::Utf16;
                let mut doc = Document::new(initial.clone(), 3);
                let before = doc.clone();
                let mut chars: Vec<char> = initial.chars().collect();
                let mut changes = Vec::new();
                for seed in &valid {
                    let (change, from, to) = seed.realise(&chars, enc);
                    chars.splice(from..to, change.text.chars());
                    changes.push(change);
                }
                let line = model::lines(&chars).len() as u32 + bad_line_past;
                let bad = TextPosition::new(line, 0);
                changes.push(TextChange { range: Some(TextRange::new(bad, bad)), text: "zz\r".to_owned() });
                let err = doc.apply_changes(&changes, 4, enc);
                let is_expected = matches!(err, Err(EditError::InvalidRange { index, .. }) if index == valid.len());
                prop_assert!(is_expected);
                prop_assert_eq!(&doc, &before);
            }
        }
    }
}
