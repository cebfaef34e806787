//! What a suggestion may look like at this cursor.
//!
//! The model streams tokens one at a time and knows nothing about the editor: left alone it
//! happily writes past the end of the line, into the next function, or re-types code that is
//! already in the document. This module looks at the text around the cursor and decides the
//! *shape* of the suggestion ([`SuggestionShape`]): a single line when the cursor is in the
//! middle or at the end of code, several lines of the cursor's block when the cursor is on an
//! empty line or right after a block opener. Where that block ends depends on the language
//! ([`BlockSyntax`], chosen by the caller): at the first line indented less than it (Python, and
//! languages Splice does not know), or at the bracket that closes it (brace languages; brackets
//! are counted outside strings and comments: `braces`, `lexer`). While tokens arrive,
//! [`SuggestionShape::verdict`] says when generation can stop early (every token not generated
//! is latency saved), and [`finish_suggestion`] trims the raw generated text into the ghost text
//! actually shown: cut at the stop point, without text that duplicates what is right of the
//! cursor or on the lines below it.
//!
//! Indentation is measured in columns of leading whitespace: a space counts 1, a tab counts 4.
//! Line terminators are `\n`, `\r\n` and a lone `\r` (as in LSP); multi-line suggestions are
//! returned with `\n` line endings. Nothing here panics on any input: every slice is taken on
//! a char boundary.

mod braces;
mod lexer;
mod syntax;

pub use syntax::{Apostrophe, Backticks, BlockSyntax, Literals};

use crate::engine::StopReason;

/// The cursor's surroundings that decide a suggestion's shape. Built from the document text,
/// e.g. with [`CursorContext::from_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CursorContext<'a> {
    /// Text of the cursor's line left of the cursor.
    pub line_prefix: &'a str,
    /// Text of the cursor's line right of the cursor (without the line terminator).
    pub line_suffix: &'a str,
    /// The document text after the cursor's line (starting after its line terminator), may be empty.
    pub following_text: &'a str,
    /// The nearest non-blank line above the cursor's line, if any. It matters for block openers:
    /// on an empty line right below `def f(x):` the cursor is in the block being opened.
    pub previous_nonblank_line: Option<&'a str>,
}

impl<'a> CursorContext<'a> {
    /// Splits `text` at the byte offset `cursor` into the cursor's surroundings.
    ///
    /// An offset past the end is clamped to the end, an offset inside a UTF-8 sequence is moved
    /// back to the start of that character, and an offset between the `\r` and `\n` of a CRLF is
    /// moved before the `\r` (the end of that line).
    #[must_use]
    pub fn from_text(text: &'a str, cursor: usize) -> Self {
        let mut cursor = cursor.min(text.len());
        while !text.is_char_boundary(cursor) {
            cursor -= 1;
        }
        if text[..cursor].ends_with('\r') && text[cursor..].starts_with('\n') {
            cursor -= 1;
        }
        let before = &text[..cursor];
        let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let after = &text[cursor..];
        let (line_suffix, following_text) = match after.find(['\n', '\r']) {
            Some(i) => {
                let terminator = if after[i..].starts_with("\r\n") { 2 } else { 1 };
                (&after[..i], &after[i + terminator..])
            }
            None => (after, ""),
        };
        // Splitting on `\r` and `\n` separately only adds empty pieces for CRLF, and those are
        // blank, so they are skipped like any other blank line.
        let previous_nonblank_line = text[..line_start].rsplit(['\n', '\r']).find(|line| !line.trim().is_empty());
        CursorContext { line_prefix: &text[line_start..cursor], line_suffix, following_text, previous_nonblank_line }
    }
}

/// What the caller decides about a suggestion's shape beyond the text at the cursor: the line
/// limit from configuration and how the document's language delimits blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeLimits {
    /// The most lines a multi-line suggestion may have, its first line (the rest of the cursor's
    /// line) included. Default 8; 0 is treated as 1.
    pub max_lines: usize,
    /// Where a block ends in the document's language. Default [`BlockSyntax::Indentation`].
    pub block_syntax: BlockSyntax,
}

impl Default for ShapeLimits {
    /// `max_lines: 8`, blocks by indentation.
    fn default() -> Self {
        ShapeLimits { max_lines: 8, block_syntax: BlockSyntax::Indentation }
    }
}

/// Single line or multi-line, and where a multi-line suggestion ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuggestionShape {
    /// Mid-line cursor (non-whitespace text right of the cursor) or the cursor after code on its
    /// line: the suggestion ends at the end of the current line.
    SingleLine,
    /// Cursor on an empty/whitespace-only line, or right after a block opener (the line prefix
    /// ends with `:`, `{`, `(` or `[`; a path separator `::` is not an opener): several lines.
    /// Generation stops at a blank line, at a line (after the first) indented less than
    /// `min_indent` (llama.cpp server's `n_indent` idea: the suggestion stays in the cursor's
    /// block), and after `max_lines` lines.
    MultiLine {
        /// Lines after the first that are non-blank and indented less than this (in columns, a
        /// tab counting 4) end the suggestion.
        min_indent: usize,
        /// The most lines the suggestion may have, the first included (0 is treated as 1).
        max_lines: usize,
    },
    /// [`BlockSyntax::Braces`]: the cursor on an empty/whitespace-only line, or right after an
    /// opening bracket in code (`{`, `(` or `[`; not `:`): the lines of the cursor's block, up
    /// to the bracket that closes it. Generation stops before a line after the first that closes
    /// the block the cursor is in (the suggestion never closes more than it opened; the `}`
    /// already below the cursor stays the editor's), at a blank line between the block's
    /// statements (not inside a block the suggestion opened), and after `max_lines` lines. The
    /// first line may close the brackets its own line opened (`foo(┃` + `a, b);`), and the
    /// suggestion ends with it. Brackets in strings, characters and comments do not count.
    BraceBlock {
        /// The language's strings, characters and comments.
        literals: Literals,
        /// How many brackets the cursor's line leaves open before the cursor, which the first
        /// line may close (0 on an empty line).
        closable: usize,
        /// The most lines the suggestion may have, the first included (0 is treated as 1).
        max_lines: usize,
    },
}

/// Result of checking the text generated so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamVerdict {
    /// The suggestion may still grow: keep generating.
    Continue,
    /// Nothing generated from now on can change the suggestion: stop generating.
    Stop,
}

impl SuggestionShape {
    /// Decides the shape from the context and the language's block syntax (`limits.block_syntax`).
    ///
    /// With [`BlockSyntax::Indentation`]:
    /// - Non-whitespace text right of the cursor: [`SuggestionShape::SingleLine`].
    /// - Whitespace-only line prefix: [`SuggestionShape::MultiLine`]. If the previous non-blank
    ///   line ends with a block opener, the cursor is in the block it opens and `min_indent` is
    ///   that line's indentation + 1 (anything at or left of the opener's indentation ends the
    ///   body); otherwise `min_indent` is the width of the line prefix (`"    "` → 4).
    /// - Line prefix ending with a block opener: [`SuggestionShape::MultiLine`] with
    ///   `min_indent` = the line's indentation + 1.
    /// - Otherwise (cursor after code at the end of its line): [`SuggestionShape::SingleLine`].
    ///
    /// With [`BlockSyntax::Braces`], the same with [`SuggestionShape::BraceBlock`] for
    /// multi-line, and only an opening bracket in code (`{`, `(`, `[`, not in a comment or
    /// string) as a block opener: `case 1:` is not one.
    #[must_use]
    pub fn for_cursor(ctx: &CursorContext, limits: ShapeLimits) -> Self {
        match limits.block_syntax {
            BlockSyntax::Indentation => Self::indentation_block(ctx, limits),
            BlockSyntax::Braces(literals) => Self::brace_block(ctx, literals, limits),
        }
    }

    /// Whether the suggestion may have more than one line.
    #[must_use]
    pub fn is_multi_line(&self) -> bool {
        !matches!(self, SuggestionShape::SingleLine)
    }

    /// [`SuggestionShape::for_cursor`] for blocks that end by indentation.
    fn indentation_block(ctx: &CursorContext, limits: ShapeLimits) -> Self {
        if !ctx.line_suffix.trim().is_empty() {
            return SuggestionShape::SingleLine;
        }
        let max_lines = limits.max_lines.max(1);
        let min_indent = if ctx.line_prefix.trim().is_empty() {
            match ctx.previous_nonblank_line {
                Some(line) if opens_block(line) => indent_width(line) + 1,
                _ => indent_width(ctx.line_prefix),
            }
        } else if opens_block(ctx.line_prefix) {
            indent_width(ctx.line_prefix) + 1
        } else {
            return SuggestionShape::SingleLine;
        };
        SuggestionShape::MultiLine { min_indent, max_lines }
    }

    /// [`SuggestionShape::for_cursor`] for blocks that end at their closing bracket.
    fn brace_block(ctx: &CursorContext, literals: Literals, limits: ShapeLimits) -> Self {
        if !ctx.line_suffix.trim().is_empty() {
            return SuggestionShape::SingleLine;
        }
        let max_lines = limits.max_lines.max(1);
        let closable = if ctx.line_prefix.trim().is_empty() {
            0
        } else {
            match braces::open_at_end(ctx.line_prefix, literals) {
                Some(open) => open,
                None => return SuggestionShape::SingleLine,
            }
        };
        SuggestionShape::BraceBlock { literals, closable, max_lines }
    }

    /// Called after every generated token with the whole generated text so far; says whether
    /// generation can stop now.
    ///
    /// - `SingleLine`: a line terminator was generated.
    /// - `MultiLine`: a complete blank line after the first line; a line after the first whose
    ///   first non-whitespace character shows it is indented less than `min_indent` (that line
    ///   is dropped by [`finish_suggestion`] whatever its end, so there is no need to wait for
    ///   it); or `max_lines` complete lines.
    /// - `BraceBlock`: the bracket that closes the cursor's block on a line after the first, or
    ///   closes more than the cursor's line opened on the first (that line is dropped whatever
    ///   follows); the first line's end when it closed what its line opened; a complete blank
    ///   line at the cursor's depth; or `max_lines` complete lines.
    ///
    /// Once this says `Stop` for some text, it says `Stop` for every continuation of it, and
    /// [`finish_suggestion`] gives the same result for the text and any continuation.
    #[must_use]
    pub fn verdict(&self, generated: &str) -> StreamVerdict {
        let stop = match *self {
            SuggestionShape::SingleLine => generated.contains(['\n', '\r']),
            SuggestionShape::MultiLine { min_indent, max_lines } => {
                multiline_cut(&split_lines(generated), min_indent, max_lines, false).1
            }
            SuggestionShape::BraceBlock { literals, closable, max_lines } => {
                braces::cut(&split_lines(generated), literals, closable, max_lines, false).settled
            }
        };
        if stop {
            StreamVerdict::Stop
        } else {
            StreamVerdict::Continue
        }
    }
}

/// Turns the raw generated text into the suggestion inserted at the cursor, or `None` for
/// "no item".
///
/// - `SingleLine`: keep up to the first line terminator. If the cursor is at the end of the
///   line, trailing whitespace is dropped. The text right of the cursor is never repeated: when
///   the suggestion (its trailing whitespace trimmed) ends with the line suffix (trimmed) or a
///   prefix of it, the longest such overlap is cut — `print(┃)` with `"hello")` gives
///   `"hello"`, `if (ok(┃)) {` with `a)` gives `a` (this covers a suffix of only closing
///   brackets/quotes: the trailing run duplicating it goes). A partial overlap is not cut where
///   it ends inside a word of the suffix (`foo(┃bar)` with `x.b` keeps `x.b`), and no overlap is
///   cut unless every bracket in it closes something opened before the cursor (`foo(┃)` with
///   `bar()` keeps `bar()`) and no quote in it closes a string the suggestion itself opened.
///   A suggestion that the line suffix already starts with (the user already has it) is `None`.
/// - `MultiLine`: cut where [`SuggestionShape::verdict`] stops (the blank or dedented line and
///   everything after it are dropped), cap at `max_lines` lines, strip trailing whitespace. Then
///   trailing lines that repeat the start of `following_text` (compared with whitespace trimmed,
///   blank lines there skipped; the first line compared together with the line prefix) are cut:
///   the model re-generated code that is already below the cursor. The first line is kept as it
///   is (on a whitespace-only line the model continues after the existing indentation). Lines
///   are joined with `\n`.
///   On a whitespace-only cursor line, leading blank lines are dropped and the next line continues
///   after the cursor's indentation (the model began with a line break the cursor does not need).
/// - `BraceBlock`: as `MultiLine`, cut where its [`SuggestionShape::verdict`] stops. Trailing
///   lines repeat the following text only if they start at the cursor's bracket depth: the `}`
///   of a block the suggestion opened is kept even when a `}` follows the cursor.
/// - Both: on a cursor line of indentation only, whitespace that starts the suggestion doubles
///   what the editor typed and goes, from every line of a block alike (so the block keeps its
///   shape), unless the line above opens a block the cursor is not yet inside.
/// - An empty or whitespace-only result is `None`.
#[must_use]
pub fn finish_suggestion(shape: &SuggestionShape, ctx: &CursorContext, generated: &str) -> Option<String> {
    match *shape {
        SuggestionShape::SingleLine => finish_single_line(ctx, generated),
        SuggestionShape::MultiLine { min_indent, max_lines } => {
            let lines = split_lines(generated);
            let (count, _) = multiline_cut(&lines, min_indent, max_lines, true);
            finish_block(ctx, &lines[..count], |_| true)
        }
        SuggestionShape::BraceBlock { literals, closable, max_lines } => {
            let lines = split_lines(generated);
            let cut = braces::cut(&lines, literals, closable, max_lines, true);
            finish_block(ctx, &lines[..cut.keep], |index| cut.at_cursor_depth(index))
        }
    }
}

/// `Some(text)` unless it is empty or whitespace-only.
fn non_blank(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        None
    } else {
        Some(text.to_string())
    }
}

fn finish_single_line(ctx: &CursorContext, generated: &str) -> Option<String> {
    let line = match generated.find(['\n', '\r']) {
        Some(i) => &generated[..i],
        None => generated,
    };
    let trimmed = line.trim_end();
    let suffix = ctx.line_suffix.trim_end();
    if suffix.is_empty() {
        return non_blank(&trimmed[doubled_indentation(ctx, trimmed).len()..]);
    }
    if trimmed.trim().is_empty() || suffix.starts_with(trimmed) {
        return None;
    }
    match overlap_with_suffix(trimmed, suffix) {
        Some(kept) => non_blank(kept),
        None => non_blank(line),
    }
}

/// The part of `text` before its longest ending that repeats a prefix of `suffix` and may be
/// cut (see [`finish_suggestion`]), or `None` when there is no such ending. `text` is longer
/// than any ending considered, so the part kept is never empty.
fn overlap_with_suffix<'t>(text: &'t str, suffix: &str) -> Option<&'t str> {
    let candidates: Vec<usize> =
        suffix.char_indices().map(|(i, c)| i + c.len_utf8()).filter(|&end| end < text.len()).collect();
    let mut analysis = None;
    for &end in candidates.iter().rev() {
        let overlap = &suffix[..end];
        let Some(kept) = text.strip_suffix(overlap) else {
            continue;
        };
        // A partial overlap must not end inside a word of the suffix (`x.b` before `bar)`).
        let last = overlap.chars().next_back();
        let next = suffix[end..].chars().next();
        if last.is_some_and(is_word_char) && next.is_some_and(is_word_char) {
            continue;
        }
        let outer = analysis.get_or_insert_with(|| outer_closers(text));
        let cut = kept.len();
        let all_outer = text[cut..]
            .char_indices()
            .filter(|&(_, c)| is_closing_bracket(c) || is_quote(c))
            .all(|(i, _)| outer.contains(&(cut + i)));
        if all_outer {
            return Some(kept);
        }
    }
    None
}

/// Byte offsets in `text` of the brackets and quotes that close something opened before the
/// cursor rather than inside `text`: closing brackets with no matching opener earlier in
/// `text`, and unescaped quotes preceded by an even number of unescaped quotes of their kind.
fn outer_closers(text: &str) -> Vec<usize> {
    let mut outer = Vec::new();
    let mut openers: Vec<char> = Vec::new();
    let mut quote_counts = [0usize; 3];
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' | '[' | '{' => openers.push(c),
            ')' | ']' | '}' => {
                let opener = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if openers.last() == Some(&opener) {
                    openers.pop();
                } else {
                    outer.push(i);
                }
            }
            '"' | '\'' | '`' => {
                let kind = match c {
                    '"' => 0,
                    '\'' => 1,
                    _ => 2,
                };
                if quote_counts[kind] % 2 == 0 {
                    outer.push(i);
                }
                quote_counts[kind] += 1;
            }
            _ => {}
        }
    }
    outer
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_closing_bracket(c: char) -> bool {
    matches!(c, ')' | ']' | '}')
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '`')
}

/// The multi-line suggestion made of `lines` (already cut where the block ends), see
/// [`finish_suggestion`]. `may_repeat_from(i)` says whether the suggestion's lines from `i` on
/// may be cut as a repetition of the following text.
fn finish_block(ctx: &CursorContext, lines: &[Line], may_repeat_from: impl Fn(usize) -> bool) -> Option<String> {
    let mut kept: Vec<&str> = lines.iter().map(|line| line.text).collect();
    // Trailing whitespace of the whole suggestion.
    while kept.len() > 1 && kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    let repeated = repeated_following_lines(ctx, &kept, may_repeat_from);
    kept.truncate(kept.len() - repeated);
    skip_leading_blank_lines(ctx, &mut kept);
    let doubled = kept.first().map_or("", |first| doubled_indentation(ctx, first));
    if !doubled.is_empty() {
        // The model wrote the block one level too deep: every line of it moves back together.
        for line in &mut kept {
            if let Some(rest) = line.strip_prefix(doubled) {
                *line = rest;
            }
        }
    }
    non_blank(kept.join("\n").trim_end())
}

/// The whitespace a suggestion's first line `first` starts with when it only doubles the
/// indentation the editor already typed: the cursor line holds nothing but indentation, and the
/// model began with more. Empty when the line above opens a block the cursor is not yet inside
/// (indented no deeper than that line): there the model is right to go deeper.
fn doubled_indentation<'g>(ctx: &CursorContext, first: &'g str) -> &'g str {
    let typed = ctx.line_prefix;
    if typed.is_empty() || !typed.trim().is_empty() || !ctx.line_suffix.trim().is_empty() || first.trim().is_empty() {
        return "";
    }
    if let Some(above) = ctx.previous_nonblank_line {
        if opens_block(above) && indent_width(typed) <= indent_width(above) {
            return "";
        }
    }
    &first[..first.len() - first.trim_start().len()]
}

/// On a whitespace-only cursor line, a suggestion that starts with a line break would leave that
/// line blank and put the code below it. The cursor is already indented, so the code belongs on
/// the cursor's line: drop the leading blank lines and the indentation the cursor already has.
fn skip_leading_blank_lines(ctx: &CursorContext, kept: &mut Vec<&str>) {
    let cursor_line_blank = ctx.line_prefix.trim().is_empty() && ctx.line_suffix.trim().is_empty();
    let blanks = kept.iter().take_while(|line| line.trim().is_empty()).count();
    if !cursor_line_blank || blanks == 0 || blanks == kept.len() {
        return;
    }
    kept.drain(..blanks);
    let first = kept[0];
    let indent = first.len() - first.trim_start().len();
    let typed = ctx.line_prefix.len();
    kept[0] = if indent >= typed && first.starts_with(ctx.line_prefix) { &first[typed..] } else { first.trim_start() };
}

/// How many trailing lines of the suggestion `lines` repeat the first non-blank lines of the
/// following text (the largest such count whose first line `i` passes `may_repeat_from(i)`).
fn repeated_following_lines(ctx: &CursorContext, lines: &[&str], may_repeat_from: impl Fn(usize) -> bool) -> usize {
    let following: Vec<&str> = split_lines(ctx.following_text)
        .into_iter()
        .map(|line| line.text.trim())
        .filter(|line| !line.is_empty())
        .take(lines.len())
        .collect();
    let compared = |index: usize| -> String {
        if index == 0 {
            format!("{}{}", ctx.line_prefix, lines[0]).trim().to_string()
        } else {
            lines[index].trim().to_string()
        }
    };
    (1..=following.len())
        .rev()
        .find(|&k| {
            let start = lines.len() - k;
            may_repeat_from(start) && (0..k).all(|j| compared(start + j) == following[j])
        })
        .unwrap_or(0)
}

/// One line of generated text.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// The line without its terminator.
    text: &'a str,
    /// Whether a line terminator followed it (the line is complete).
    terminated: bool,
}

/// Splits on `\n`, `\r\n` and lone `\r`. Always returns at least one line; the last one is the
/// (possibly empty) unterminated rest.
fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\n', '\r']) {
        lines.push(Line { text: &rest[..i], terminated: true });
        let terminator = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + terminator..];
    }
    lines.push(Line { text: rest, terminated: false });
    lines
}

/// How many leading `lines` a multi-line suggestion keeps, and whether that is settled (nothing
/// generated later can change it). With `finished`, the last line counts as complete.
fn multiline_cut(lines: &[Line], min_indent: usize, max_lines: usize, finished: bool) -> (usize, bool) {
    let max_lines = max_lines.max(1);
    for (i, line) in lines.iter().enumerate() {
        if i >= max_lines {
            return (max_lines, true);
        }
        if i == 0 {
            // The first line continues the cursor's line: never a stop point.
            continue;
        }
        let blank = line.text.trim().is_empty();
        if blank && (line.terminated || finished) {
            return (i, true);
        }
        if !blank && indent_width(line.text) < min_indent {
            return (i, true);
        }
    }
    (lines.len(), false)
}

/// Columns of leading whitespace: a space counts 1, a tab counts 4.
fn indent_width(line: &str) -> usize {
    line.chars()
        .map_while(|c| match c {
            ' ' => Some(1),
            '\t' => Some(4),
            _ => None,
        })
        .sum()
}

/// Whether the line ends (trailing whitespace ignored) with a block opener `:`, `{`, `(` or
/// `[`. A path separator `::` is not an opener.
fn opens_block(line: &str) -> bool {
    let line = line.trim_end();
    if line.ends_with("::") {
        return false;
    }
    line.ends_with([':', '{', '(', '['])
}

#[cfg(test)]
mod brace_tests;

/// Whether `text` holds a whole line with code on it (it ends with a line break): a budget may
/// then end the suggestion there.
pub(crate) fn has_complete_line(text: &str) -> bool {
    text.rfind('\n').is_some_and(|end| !text[..end].trim().is_empty())
}

/// Drops the partial line after the last whole line of `text`, when it has a whole line: what a
/// budget (of time or tokens) that ended a block mid-line shows.
fn drop_partial_line(text: &mut String) {
    if has_complete_line(text) {
        if let Some(end) = text.rfind('\n') {
            text.truncate(end);
        }
    }
}

/// Past the latency budget, a suggestion whose open line reaches this many characters (counted
/// from the line's start in the document; see [`MIN_LONG_LINE_WRITTEN`]) ends there, whole line
/// or not. That is longer than the limits of common style guides (PEP 8's 79, black's 88, 100
/// or 120 elsewhere): such a line is nearly always the model repeating itself, and waiting for
/// its end kept a small model writing one line for its whole token budget (96 tokens, 25–32 s
/// with eight editors on one CPU engine; `splice bench engine`).
pub(crate) const LONG_LINE_CHARS: usize = 100;

/// What a suggestion writes of a line, at least, before [`LONG_LINE_CHARS`] may end it: at the
/// end of a line already that long, a budget that passed before the first token would otherwise
/// show nothing.
pub(crate) const MIN_LONG_LINE_WRITTEN: usize = 40;

/// Whether a latency budget that has passed may end the suggestion `text` now: it holds a whole
/// line, or its open line reaches [`LONG_LINE_CHARS`] and the suggestion wrote
/// [`MIN_LONG_LINE_WRITTEN`] characters of it. `column` is how many characters the cursor's line
/// has before the cursor (the first line of `text` continues it).
pub(crate) fn budget_may_end(text: &str, column: usize) -> bool {
    if has_complete_line(text) {
        return true;
    }
    let (before, written) = match text.rfind('\n') {
        Some(end) => (0, text[end + 1..].chars().count()),
        None => (column, text.chars().count()),
    };
    before + written >= LONG_LINE_CHARS && written >= MIN_LONG_LINE_WRITTEN
}

/// Trims what generation stopped by `stop` wrote to what the suggestion shows: a budget (of time
/// or tokens) that ended a block mid-line shows its whole lines only, and a line the latency
/// budget ended for its length ([`budget_may_end`]) is cut back to its last blank.
pub(crate) fn trim_at_stop(text: &mut String, stop: StopReason) {
    match stop {
        StopReason::LatencyBudget if !has_complete_line(text) => cut_long_line(text),
        StopReason::LatencyBudget | StopReason::TokenBudget => drop_partial_line(text),
        _ => {}
    }
}

/// The part of a suggestion still being written that may be shown before its run ends (a
/// request past its latency budget shows it while the run writes the rest): its whole lines when
/// it has one, as a budget that ends it there shows; else its open line up to the end of its last
/// whole word (the next token may still continue the word the text ends in). Then
/// [`finish_suggestion`] trims it as it trims a finished suggestion.
pub fn written_part(generated: &str) -> &str {
    if has_complete_line(generated) {
        return generated.rfind('\n').map_or(generated, |end| &generated[..end]);
    }
    generated.trim_end_matches(is_word_char)
}

/// Cuts the open line of `text`, which has no whole line, back to its last blank, so that it
/// does not end in half a word; a line without a blank (past its indentation) stays as it is.
fn cut_long_line(text: &mut String) {
    let line_start = text.rfind('\n').map_or(0, |end| end + 1);
    let line = &text[line_start..];
    let words_start = line.len() - line.trim_start().len();
    if let Some(blank) = line[words_start..].rfind(char::is_whitespace) {
        let keep = line_start + words_start + blank;
        text.truncate(keep);
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
    }
}

/// How many characters the last line of `prefix` (the text before the cursor) holds: the
/// cursor's column, as [`budget_may_end`] counts it.
pub(crate) fn cursor_column(prefix: &str) -> usize {
    prefix.rsplit('\n').next().map_or(0, |line| line.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURSOR: char = '┃';

    /// The fixture's text without the cursor marker, and the marker's byte offset.
    fn split_fixture(fixture: &str) -> (String, usize) {
        let offset = fixture.find(CURSOR).expect("fixture needs a cursor marker ┃");
        (fixture.replacen(CURSOR, "", 1), offset)
    }

    fn shape_of(fixture: &str) -> SuggestionShape {
        let (text, offset) = split_fixture(fixture);
        let ctx = CursorContext::from_text(&text, offset);
        SuggestionShape::for_cursor(&ctx, ShapeLimits::default())
    }

    /// Completing `fixture` at its cursor, the model generated `generated`: the suggestion is
    /// `expected`.
    fn suggests(fixture: &str, generated: &str, expected: Option<&str>) {
        suggests_with(fixture, ShapeLimits::default(), generated, expected);
    }

    fn suggests_with(fixture: &str, limits: ShapeLimits, generated: &str, expected: Option<&str>) {
        let (text, offset) = split_fixture(fixture);
        let ctx = CursorContext::from_text(&text, offset);
        let shape = SuggestionShape::for_cursor(&ctx, limits);
        let got = finish_suggestion(&shape, &ctx, generated);
        assert_eq!(got.as_deref(), expected, "fixture {fixture:?}, shape {shape:?}, generated {generated:?}");
    }

    /// Feeding `generated` char by char, the byte length of the text at the first `Stop`.
    fn stops_after(shape: &SuggestionShape, generated: &str) -> Option<usize> {
        generated
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .find(|&end| shape.verdict(&generated[..end]) == StreamVerdict::Stop)
    }

    fn multi(min_indent: usize, max_lines: usize) -> SuggestionShape {
        SuggestionShape::MultiLine { min_indent, max_lines }
    }

    #[test]
    fn past_the_budget_a_long_open_line_ends_at_its_last_blank() {
        // The first line of a suggestion continues the cursor's line: 20 characters before it.
        let repeated = "# pylint: disable=invalid-name, invalid-name-prefix, invalid-name-prefix-name, invalid-na";
        assert!(!budget_may_end(&repeated[..40], 20), "60 characters: the line may still end");
        assert!(budget_may_end(&repeated[..80], 20), "100 characters from the line's start");
        assert!(budget_may_end("x = 1\n", 20), "a whole line");
        assert!(!budget_may_end("\n        x = compute(", 20), "a blank first line and a short open one");
        let long_second = format!("\n{}", "x ".repeat(LONG_LINE_CHARS / 2));
        assert!(budget_may_end(&long_second, 95), "the open line counts from its own start");
        assert!(!budget_may_end("", 120), "at the end of a long line: the suggestion writes some first");
        assert!(!budget_may_end(&repeated[..39], 120));
        assert!(budget_may_end(&repeated[..40], 120), "40 characters of its own");
        assert_eq!(cursor_column("def f():\n    retur"), 9);
        assert_eq!(cursor_column("ünï"), 3, "characters, not bytes");

        let end_at_budget = |text: &mut String| trim_at_stop(text, StopReason::LatencyBudget);
        let mut text = repeated.to_owned();
        end_at_budget(&mut text);
        assert_eq!(text, "# pylint: disable=invalid-name, invalid-name-prefix, invalid-name-prefix-name,");
        let mut whole = "x = 1\ny = compute(long".to_owned();
        end_at_budget(&mut whole);
        assert_eq!(whole, "x = 1", "a whole line: the partial one is dropped");
        let mut one_word = "a".repeat(120);
        end_at_budget(&mut one_word);
        assert_eq!(one_word.len(), 120, "no blank to cut at: shown as it is");
        let mut indented = "\n        value_of_the_long_name".to_owned();
        end_at_budget(&mut indented);
        assert_eq!(indented, "\n        value_of_the_long_name", "the indentation is no word boundary");
    }

    #[test]
    fn context_is_split_at_the_cursor() {
        let (text, offset) = split_fixture("def f(x):\n\n    y = x┃ + 1\r\n    return y\n");
        let ctx = CursorContext::from_text(&text, offset);
        assert_eq!(ctx.line_prefix, "    y = x");
        assert_eq!(ctx.line_suffix, " + 1");
        assert_eq!(ctx.following_text, "    return y\n");
        assert_eq!(ctx.previous_nonblank_line, Some("def f(x):"));
    }

    #[test]
    fn context_at_document_edges() {
        let ctx = CursorContext::from_text("", 0);
        assert_eq!(ctx, CursorContext::default());
        let ctx = CursorContext::from_text("ab", 99);
        assert_eq!((ctx.line_prefix, ctx.line_suffix), ("ab", ""));
        // Inside a multi-byte character: moved to its start.
        let ctx = CursorContext::from_text("a🦀b", 2);
        assert_eq!((ctx.line_prefix, ctx.line_suffix), ("a", "🦀b"));
        // Between \r and \n: the end of the line.
        let ctx = CursorContext::from_text("ab\r\ncd", 3);
        assert_eq!((ctx.line_prefix, ctx.line_suffix, ctx.following_text), ("ab", "", "cd"));
    }

    #[test]
    fn shape_mid_line_is_single_line() {
        assert_eq!(shape_of("let x = foo(┃);"), SuggestionShape::SingleLine);
        assert_eq!(shape_of("if x {┃}"), SuggestionShape::SingleLine);
    }

    #[test]
    fn shape_after_code_is_single_line() {
        assert_eq!(shape_of("let x = ┃"), SuggestionShape::SingleLine);
        assert_eq!(shape_of("use std::┃  "), SuggestionShape::SingleLine);
    }

    #[test]
    fn shape_after_block_opener_is_the_opened_block() {
        assert_eq!(shape_of("    def f(x):┃\n"), multi(5, 8));
        assert_eq!(shape_of("fn main() {┃"), multi(1, 8));
        assert_eq!(shape_of("\tcall(┃"), multi(5, 8));
        assert_eq!(shape_of("xs = [┃ "), multi(1, 8));
    }

    #[test]
    fn shape_on_empty_line_below_opener_is_the_opened_block() {
        assert_eq!(shape_of("def f(x):\n\n┃\n"), multi(1, 8));
        assert_eq!(shape_of("def f(x):\n    ┃"), multi(1, 8));
    }

    #[test]
    fn shape_on_whitespace_line_keeps_its_indentation() {
        assert_eq!(shape_of("    x = 1\n    ┃\n"), multi(4, 8));
        assert_eq!(shape_of("x = 1\n\t\t┃"), multi(8, 8));
        assert_eq!(shape_of("┃"), multi(0, 8));
    }

    #[test]
    fn shape_takes_max_lines_from_limits() {
        let ctx = CursorContext::from_text("", 0);
        assert_eq!(
            SuggestionShape::for_cursor(&ctx, ShapeLimits { max_lines: 3, ..ShapeLimits::default() }),
            multi(0, 3)
        );
        assert_eq!(
            SuggestionShape::for_cursor(&ctx, ShapeLimits { max_lines: 0, ..ShapeLimits::default() }),
            multi(0, 1)
        );
    }

    #[test]
    fn a_suggestion_never_doubles_the_indentation_the_editor_typed() {
        // Spaces: the cursor after the auto-indent of a block's empty line.
        let in_body = "def f(a, b):\n    x = a\n    ┃\n    return x\n";
        suggests(in_body, "    if a == 0:\n            x = b\n", Some("if a == 0:\n        x = b"));
        suggests(in_body, "if a == 0:\n        x = b\n", Some("if a == 0:\n        x = b"));
        // Below an opener the cursor is already inside.
        let below_opener = "def f(a):\n    ┃";
        suggests(below_opener, "    return a\n", Some("return a"));
        suggests(below_opener, "return a\n", Some("return a"));
        // Tabs, and a tab-indented file whose model wrote one tab too many.
        let tabs = "def f(a):\n\tx = a\n\t┃\n";
        suggests(tabs, "\tif x:\n\t\t\treturn 1\n", Some("if x:\n\t\treturn 1"));
        // Mixed: spaces typed, the model went deeper with a tab: the tab goes, the rest stays.
        let mixed = "def f(a):\n    x = a\n    ┃\n";
        suggests(mixed, "\treturn x\n", Some("return x"));
        // Deeper nesting: only the doubled part goes; lines less indented than it stay as they are.
        let nested = "class A:\n    def f(self):\n        y = 1\n        ┃\n";
        suggests(nested, "    for i in y:\n                print(i)\n", Some("for i in y:\n            print(i)"));
    }

    #[test]
    fn deeper_indentation_stays_where_the_editor_did_not_indent_a_new_block() {
        // The line above opens a block and the cursor is not inside it yet: the model is right.
        let fixture = "    if ready:\n    ┃\n";
        suggests(fixture, "    go()\n", Some("    go()"));
        // At column 0 the model's indentation is all the indentation there is.
        suggests("def f(a):\n┃", "    return a\n", Some("    return a"));
    }

    #[test]
    fn a_single_line_suggestion_never_changes_indentation() {
        // Single line: the cursor line holds only indentation and text follows on it.
        suggests("def f(a):\n    x = a\n    ┃x\n", "  y = 1", Some("  y = 1"));
        let ctx = CursorContext::from_text("def f(a):\n    x = a\n    ", 24);
        assert_eq!(ctx.line_prefix, "    ");
        assert_eq!(finish_suggestion(&SuggestionShape::SingleLine, &ctx, "    y = 2\n"), Some("y = 2".to_owned()));
        assert_eq!(finish_suggestion(&SuggestionShape::SingleLine, &ctx, "y = 2\n"), Some("y = 2".to_owned()));
    }

    #[test]
    fn a_leading_line_break_on_an_indented_blank_line_is_dropped() {
        let fixture = "class A:\n    def f(self):\n        ┃\n";
        suggests(fixture, "\n        return self.items[0]\n\n", Some("return self.items[0]"));
        suggests(fixture, "\n        x = 1\n        return x\n", Some("x = 1\n        return x"));
        // A blank line ends a multi-line suggestion, even right at its start.
        suggests(fixture, "\n\n        x = 1\n", None);
        // Less indented than the cursor: the code still starts at the cursor.
        suggests(fixture, "\n    pass\n", None);
    }

    #[test]
    fn single_line_keeps_the_first_line() {
        suggests("let total = ┃", "a + b;\nlet other = 2;", Some("a + b;"));
        suggests("let total = ┃", "a + b;   ", Some("a + b;"));
    }

    #[test]
    fn mid_line_single_line() {
        suggests("foo(a, ┃c)", "b, ", Some("b, "));
        suggests("foo(a, ┃c)", "b, c)", Some("b, "));
    }

    #[test]
    fn duplicate_closer_is_cut() {
        suggests("print(┃)", "\"hello\")", Some("\"hello\""));
        suggests("print(┃)", "x)", Some("x"));
        suggests("print(┃)  ", "x)  ", Some("x"));
        suggests("print(\"┃\")", "hello\")", Some("hello"));
        suggests("print(\"┃\")", "hello\"", Some("hello"));
        suggests("x = \"┃\"", "a\" + \"b\"", Some("a\" + \"b"));
        suggests("if (ok(┃)) {", "a)) {", Some("a"));
        suggests("if (ok(┃)) {", "a)", Some("a"));
    }

    #[test]
    fn closer_matched_inside_the_suggestion_is_kept() {
        suggests("foo(┃)", "bar()", Some("bar()"));
        suggests("foo(┃))", "g(x))", Some("g(x)"));
        suggests("xs[┃]", "ys[0]", Some("ys[0]"));
    }

    #[test]
    fn overlap_does_not_split_words() {
        suggests("foo(┃bar)", "x.b", Some("x.b"));
        suggests("f(a, ┃b)", "c, b)", Some("c, "));
        // The whole suffix repeated: the model meant `foo(xbar)`.
        suggests("foo(┃bar)", "xbar)", Some("x"));
    }

    #[test]
    fn suggestion_already_in_suffix_is_none() {
        suggests("print(┃)", ")", None);
        suggests("foo(┃bar, baz)", "bar", None);
        suggests("foo(┃bar, baz)", "bar, baz)  ", None);
    }

    #[test]
    fn multi_line_body_after_def_stops_at_dedent() {
        let fixture = "def f(x):┃\n";
        let generated = "\n    y = x * 2\n    return y\ndef g():\n    pass\n";
        suggests(fixture, generated, Some("\n    y = x * 2\n    return y"));
    }

    #[test]
    fn multi_line_on_empty_line_below_def_stops_at_dedent() {
        let fixture = "def f(x):\n    ┃\n";
        suggests(fixture, "y = x * 2\n    return y\nprint(f(1))\n", Some("y = x * 2\n    return y"));
    }

    #[test]
    fn first_line_is_kept_as_is() {
        // The cursor is at column 0 of an empty line: the model supplies the indentation.
        suggests("def f(x):\n┃\n", "    return x\n", Some("    return x"));
    }

    #[test]
    fn multi_line_stops_at_blank_line() {
        suggests("    a = 1\n    ┃", "b = 2\n    c = 3\n\n    d = 4\n", Some("b = 2\n    c = 3"));
        suggests("    ┃", "b = 2\n   \t \n    d = 4", Some("b = 2"));
    }

    #[test]
    fn multi_line_is_capped_at_max_lines() {
        let generated = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n";
        let limits = ShapeLimits { max_lines: 3, ..ShapeLimits::default() };
        suggests_with("┃", limits, generated, Some("a = 1\nb = 2\nc = 3"));
        let limits = ShapeLimits { max_lines: 1, ..ShapeLimits::default() };
        suggests_with("┃", limits, generated, Some("a = 1"));
    }

    #[test]
    fn trailing_lines_repeating_the_following_text_are_cut() {
        let fixture = "def f(x):\n    ┃\n    return x\n";
        suggests(fixture, "x += 1\n    return x\n", Some("x += 1"));
        let fixture = "fn f() {\n    ┃\n\n    let b = 2;\n    b\n}\n";
        suggests(fixture, "let a = 1;\n    let b = 2;\n    b", Some("let a = 1;"));
        // Only a repetition of the *start* of the following text counts.
        let fixture = "def f(x):\n    ┃\n    y = 1\n    return x\n";
        suggests(fixture, "x += 1\n    return x", Some("x += 1\n    return x"));
    }

    #[test]
    fn suggestion_that_only_repeats_the_next_line_is_none() {
        suggests("def f(x):\n    ┃\n    return x\n", "return x", None);
    }

    #[test]
    fn whitespace_only_is_none() {
        suggests("let x = ┃", "   \t", None);
        suggests("let x = ┃", "\nfoo", None);
        suggests("foo(┃)", "  ", None);
        suggests("    ┃", "  \n\n", None);
        suggests("def f():┃", "\n\n    pass", None);
        suggests("┃", "", None);
    }

    #[test]
    fn crlf_in_generated_text_is_a_newline() {
        suggests("let x = ┃", "1;\r\nlet y = 2;", Some("1;"));
        suggests("    ┃", "a\r\n    b\r\n\r\n    c", Some("a\n    b"));
        suggests("    ┃", "a\r    b\r\rc", Some("a\n    b"));
        let shape = multi(4, 8);
        // The CR of a CRLF completes the line; the LF adds nothing.
        assert_eq!(stops_after(&shape, "a\r\n    b\r\n\r\nc"), Some(11));
        assert_eq!(stops_after(&SuggestionShape::SingleLine, "ab\r\ncd"), Some(3));
    }

    #[test]
    fn single_line_verdict_stops_at_the_newline() {
        let shape = SuggestionShape::SingleLine;
        assert_eq!(stops_after(&shape, "abc\ndef"), Some(4));
        assert_eq!(stops_after(&shape, "abc def"), None);
        assert_eq!(shape.verdict(""), StreamVerdict::Continue);
    }

    #[test]
    fn multi_line_verdict_stops_at_blank_line() {
        let shape = multi(1, 8);
        let generated = "\n    return x\n\ndef g():";
        // Not at the first newline (the rest of the opener's line), nor at "return x\n":
        // at the newline completing the blank line.
        assert_eq!(stops_after(&shape, generated), Some("\n    return x\n\n".len()));
        // A whitespace-only line is only blank once it is complete.
        assert_eq!(shape.verdict("\n    return x\n    "), StreamVerdict::Continue);
    }

    #[test]
    fn multi_line_verdict_stops_at_dedent() {
        let shape = multi(1, 8);
        // As soon as the dedented line shows its first character.
        let generated = "\n    return x\ndef g():";
        assert_eq!(stops_after(&shape, generated), Some("\n    return x\nd".len()));
        // Indentation alone is not yet a dedent.
        assert_eq!(shape.verdict("\n    return x\n  "), StreamVerdict::Continue);
        // A dedent on the first line (it continues the cursor's line) is not a stop point.
        assert_eq!(multi(4, 8).verdict("x"), StreamVerdict::Continue);
    }

    #[test]
    fn multi_line_verdict_stops_after_max_lines() {
        let shape = multi(0, 3);
        let generated = "a\nb\nc\nd\n";
        assert_eq!(stops_after(&shape, generated), Some("a\nb\nc\n".len()));
    }

    #[test]
    fn unicode_text_never_panics() {
        suggests("let s = \"日本┃語\";", "語\";", None);
        suggests("let s = \"日本┃語\";", "本語\";", Some("本"));
        suggests("let s = \"日本┃\";", "語🦀\";", Some("語🦀"));
        suggests("emoji(┃🦀)", "🦀🦀)", Some("🦀"));
        suggests("    ┃", "名前 = 1\n    🦀 = 2\n中", Some("名前 = 1\n    🦀 = 2"));
        suggests("x = ┃", "é\u{301}\u{3000}", Some("é\u{301}"));
        assert_eq!(stops_after(&multi(2, 8), "名\n 前"), Some("名\n 前".len()));
    }

    /// A deterministic linear congruential generator: no dependencies, reproducible failures.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn string(&mut self, max_pieces: usize) -> String {
            const PIECES: &[&str] = &[
                "a",
                "x",
                "_",
                "1",
                " ",
                "  ",
                "    ",
                "\t",
                "\n",
                "\r",
                "\r\n",
                "(",
                ")",
                "[",
                "]",
                "{",
                "}",
                ":",
                "::",
                "\"",
                "'",
                "`",
                "\\",
                ",",
                ";",
                "=",
                "é",
                "🦀",
                "中",
                "語",
                "\u{301}",
                "\u{3000}",
                "\u{a0}",
                "def f(x):",
                "return x",
                "┃",
            ];
            let pieces = self.below(max_pieces + 1);
            (0..pieces).map(|_| PIECES[self.below(PIECES.len())]).collect()
        }
    }

    #[test]
    fn random_inputs_never_panic_and_keep_invariants() {
        const FUZZ_ROUNDS: usize = 3000;
        let mut rng = Lcg(0x5eed);
        for _ in 0..FUZZ_ROUNDS {
            let document = rng.string(30);
            let offset = rng.below(document.len() + 2);
            let from_doc = CursorContext::from_text(&document, offset);
            let (prefix, suffix, following, previous) = (rng.string(6), rng.string(6), rng.string(12), rng.string(4));
            let arbitrary = CursorContext {
                line_prefix: &prefix,
                line_suffix: &suffix,
                following_text: &following,
                previous_nonblank_line: if previous.is_empty() { None } else { Some(&previous) },
            };
            let limits = ShapeLimits { max_lines: rng.below(6), ..ShapeLimits::default() };
            let generated = rng.string(25);
            for ctx in [from_doc, arbitrary] {
                let shapes = [
                    SuggestionShape::for_cursor(&ctx, limits),
                    SuggestionShape::SingleLine,
                    multi(rng.below(10), rng.below(5)),
                ];
                for shape in &shapes {
                    check_invariants(shape, &ctx, &generated);
                }
            }
        }
    }

    /// What holds for every shape, context and generated text (also used by `brace_tests`).
    pub(super) fn check_invariants(shape: &SuggestionShape, ctx: &CursorContext, generated: &str) {
        let full = finish_suggestion(shape, ctx, generated);
        if let Some(text) = &full {
            assert!(!text.trim().is_empty());
            match *shape {
                SuggestionShape::SingleLine => assert!(!text.contains(['\n', '\r'])),
                SuggestionShape::MultiLine { max_lines, .. } | SuggestionShape::BraceBlock { max_lines, .. } => {
                    assert!(!text.contains('\r'));
                    assert!(text.lines().count() <= max_lines.max(1));
                }
            }
        }
        let mut stopped = false;
        for end in generated.char_indices().map(|(i, c)| i + c.len_utf8()) {
            let partial = &generated[..end];
            let verdict = shape.verdict(partial);
            if stopped {
                // Once stopped, every continuation is stopped too.
                assert_eq!(verdict, StreamVerdict::Stop, "{shape:?} {partial:?}");
            } else if verdict == StreamVerdict::Stop {
                stopped = true;
                // Stopping early never changes the suggestion.
                assert_eq!(
                    finish_suggestion(shape, ctx, partial),
                    full,
                    "shape {shape:?}, ctx {ctx:?}, generated {generated:?}, stopped at {partial:?}"
                );
            }
        }
    }
    #[test]
    fn a_suggestion_still_being_written_shows_its_whole_lines_or_its_whole_words() {
        assert_eq!(written_part("return self._seri"), "return self.", "half a word waits");
        assert_eq!(written_part("total = compute(a, b)"), "total = compute(a, b)");
        assert_eq!(written_part("return "), "return ");
        assert_eq!(written_part("retu"), "", "nothing whole yet");
        assert_eq!(written_part("x = 1\n    y = compu"), "x = 1", "whole lines only");
        assert_eq!(written_part("\n    y = compu"), "\n    y = ", "a blank first line is not a whole one");
        assert_eq!(written_part("naïve_ü"), "", "words of any script");
    }
}
