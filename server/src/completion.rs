//! From "this document, this cursor" to a suggestion: the path the LSP handlers, the headless
//! CLI and the benchmarks share.
//!
//! [`prepare`] cuts the prompt window out of the document (so a 50 MB file never reaches the
//! tokenizer), decides the suggestion's shape (its blocks ending as the file's language ends
//! them, [`block_syntax`]) and refuses binary-looking text; the engine runs the request;
//! [`finish`] trims the raw output into what the editor shows.

use crate::block_syntax::block_syntax;
use crate::config::Settings;
use crate::workspace::Workspace;
use splice_model::shape::{finish_suggestion, written_part, CursorContext, ShapeLimits, SuggestionShape};
use splice_model::{CancelToken, Completion, CompletionRequest};
use splice_retrieval::language::Language;
use splice_retrieval::{RetrievalDecision, RetrievalQuery};
use std::path::Path;

/// Bytes of document text per context token given to the tokenizer. Code averages 3–4 bytes a
/// token; 8 leaves room so the token-exact fit, not this cut, decides what is kept.
const BYTES_PER_TOKEN_CAP: usize = 8;

/// Why no request was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    /// NUL bytes near the cursor: the file is binary, not code.
    #[error("the text around the cursor contains NUL bytes; binary files are not completed")]
    Binary,
}

/// A cursor in a document: what a completion is asked for.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    /// The document's key for the engine's per-document cache (its URI or path).
    pub document: &'a str,
    /// The document text: the whole of it, or a part around the cursor that starts at
    /// `text_offset` and reaches [`Reach`] bytes either side of it.
    pub text: &'a str,
    /// Byte offset of the cursor in `text`.
    pub cursor: usize,
    /// Where `text` starts in the document (0: `text` is the whole document). The window's start
    /// is chosen on a grid of document offsets, so a part that reaches far enough gives the same
    /// window as the whole document.
    pub text_offset: usize,
    /// The file on disk, when there is one (for retrieval).
    pub path: Option<&'a Path>,
    /// The cursor's line as LSP counts lines, when the caller knows it (the LSP server does,
    /// from the position); otherwise it is counted in `text` (which must then be the whole
    /// document), at O(document) cost.
    pub cursor_line: Option<u32>,
    /// A prefetch's text: the document as it may become, not as the editor has it; retrieval
    /// reads it apart from the document's own requests ([`RetrievalQuery::ahead`]).
    pub ahead: bool,
}

impl<'a> At<'a> {
    /// A request at byte `cursor` of the whole document `text` (the headless CLI's and the
    /// benchmarks'): its line counted in `text`, not a prefetch.
    pub fn whole(document: &'a str, text: &'a str, cursor: usize, path: Option<&'a Path>) -> Self {
        At { document, text, cursor, text_offset: 0, path, cursor_line: None, ahead: false }
    }
}

/// Prepares, runs (blocking) and finishes one request: the headless CLI's and the benchmarks'
/// path. Returns the request, the engine's result and the suggestion.
pub fn complete_blocking(
    engine: &splice_model::Engine,
    workspace: &Workspace,
    settings: &Settings,
    at: At<'_>,
) -> anyhow::Result<(Prepared, Completion, Option<String>)> {
    let prepared = prepare(at, workspace, settings, engine.info().context_tokens, CancelToken::new())?;
    let done = engine.complete_blocking(prepared.request.clone())?;
    let suggestion = finish(&prepared, &done);
    Ok((prepared, done, suggestion))
}

/// A request ready for the engine; its prefix and suffix are all [`finish`] needs afterwards.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The engine request.
    pub request: CompletionRequest,
    /// Whether the retriever offered repository context for it, and why (not); the engine's
    /// [`ContextVerdict`](splice_model::ContextVerdict) says whether the prompt used it.
    pub retrieval: RetrievalDecision,
    /// Milliseconds the retrieval decision took, of the whole preparation.
    pub decision_ms: f64,
}

/// Builds the engine request for the cursor at byte offset `cursor` of `text`.
/// Costs O(window), not O(document), when `at.cursor_line` is given: the shape, the retrieval
/// query and its gate see only the prompt's window.
pub fn prepare(
    at: At<'_>,
    workspace: &Workspace,
    settings: &Settings,
    context_tokens: u32,
    cancel: CancelToken,
) -> Result<Prepared, Skip> {
    let At { document, text, cursor, text_offset, path, cursor_line, ahead } = at;
    let (start, end) = window_bounds(text, cursor, context_tokens, text_offset);
    let prefix = &text[start..cursor];
    let suffix = &text[cursor..end];
    if looks_binary(prefix, suffix) {
        return Err(Skip::Binary);
    }
    let window = &text[start..end];
    let language = crate::syntax_check::language_of(path, document);
    let limits = limits(settings, language);
    let shape = match SuggestionShape::for_cursor(&CursorContext::from_text(window, cursor - start), limits) {
        shape if shape.is_multi_line() && !settings.multi_line => SuggestionShape::SingleLine,
        shape => shape,
    };
    let cursor_line = cursor_line.unwrap_or_else(|| lines_ended(&text[..cursor]));
    let first_line = cursor_line.saturating_sub(lines_ended(prefix));
    let (above, below) = (&text[..start], &text[end..]);
    let query = RetrievalQuery {
        path,
        text: window,
        cursor: cursor - start,
        window: 0..window.len(),
        first_line,
        above,
        below,
        ahead,
    };
    let decided = std::time::Instant::now();
    let retrieval = workspace.retrieve(&query);
    let decision_ms = decided.elapsed().as_secs_f64() * 1000.0;
    match &retrieval {
        RetrievalDecision::Skip { reason } => tracing::debug!("no retrieval: {reason}"),
        RetrievalDecision::Retrieve { snippets, reason, .. } => {
            tracing::debug!(snippets = snippets.len(), "retrieval: {reason}")
        }
    }
    let check = settings
        .syntax_check
        .and_then(|alternatives| crate::syntax_check::check_for(language, prefix, suffix, &shape, alternatives))
        .map(|check| check.with_code_below(settings.below_tokens));
    let request = CompletionRequest {
        document: document.to_owned(),
        prefix: prefix.to_owned(),
        suffix: suffix.to_owned(),
        shape,
        max_tokens: settings.engine.max_tokens,
        sampling: settings.sampling,
        cancel,
        context: workspace.context_for(&retrieval, path),
        check,
    };
    Ok(Prepared { request, retrieval, decision_ms })
}

/// The suggestion to show for `completion`, or `None` when there is nothing worth showing.
/// Works on the request's own window, so the document may have changed meanwhile.
pub fn finish(prepared: &Prepared, completion: &Completion) -> Option<String> {
    let window = format!("{}{}", prepared.request.prefix, prepared.request.suffix);
    let ctx = CursorContext::from_text(&window, prepared.request.prefix.len());
    finish_suggestion(&prepared.request.shape, &ctx, &completion.text)
}

/// The suggestion to show of a run still going, from what it has `written` so far: its part that
/// may be shown ([`written_part`]), trimmed as [`finish`] trims a finished one; `None` when
/// nothing of it is worth showing yet.
pub fn finish_partial(prepared: &Prepared, written: &str) -> Option<String> {
    let window = format!("{}{}", prepared.request.prefix, prepared.request.suffix);
    let ctx = CursorContext::from_text(&window, prepared.request.prefix.len());
    finish_suggestion(&prepared.request.shape, &ctx, written_part(written))
}

/// Where the prompt window of a request at `cursor` in `text` (which starts at document offset
/// `text_offset`) starts and ends, in bytes of `text`: [`prepare`] cuts its prefix and suffix
/// there, and the typed-ahead cache is looked up by them before anything else runs.
pub fn window_bounds(text: &str, cursor: usize, context_tokens: u32, text_offset: usize) -> (usize, usize) {
    let cap = window_cap(context_tokens);
    let start = window_start(text, cursor, cap, text_offset);
    let end = floor_char_boundary(text, cursor.saturating_add(cap / 4).min(text.len()));
    (start, end)
}

/// How much document text around the cursor [`prepare`] may read: a caller that passes only a
/// part of the document (see [`At::text_offset`]) must pass at least this much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// Bytes before the cursor.
    pub before: usize,
    /// Bytes after the cursor.
    pub after: usize,
}

impl Reach {
    /// The reach of a request for a context of `context_tokens` tokens.
    pub fn for_context(context_tokens: u32) -> Reach {
        let cap = window_cap(context_tokens);
        // The window starts at most `cap` bytes before the cursor, moved back to a char boundary
        // (at most 3 bytes).
        Reach { before: cap + 4, after: cap / 4 }
    }

    /// The bytes before and after the cursor together: the longest window a request reads.
    pub fn span(&self) -> usize {
        self.before + self.after
    }
}

/// The longest prefix window, in bytes, for a context of `context_tokens` tokens.
fn window_cap(context_tokens: u32) -> usize {
    context_tokens as usize * BYTES_PER_TOKEN_CAP
}

/// The shape's limits for a document in `language` (from its path or URI).
fn limits(settings: &Settings, language: Option<Language>) -> ShapeLimits {
    ShapeLimits { max_lines: settings.max_lines, block_syntax: block_syntax(language) }
}

/// Start of the prefix window in `text` (which starts at document offset `offset`): the whole
/// prefix if it is shorter than `cap` bytes, else a line start chosen on a grid of `cap / 4`
/// document bytes, so typing does not move it every keystroke.
pub fn window_start(text: &str, cursor: usize, cap: usize, offset: usize) -> usize {
    let in_document = offset + cursor;
    if in_document <= cap {
        return 0;
    }
    let step = (cap / 4).max(1);
    let earliest = in_document - cap;
    let grid = (earliest.div_ceil(step) * step).saturating_sub(offset);
    let from = floor_char_boundary(text, grid.min(cursor));
    text[from..cursor].find('\n').map_or(from, |i| from + i + 1)
}

/// How many line terminators (`\n`, `\r\n`, a lone `\r`, as LSP counts them) `text` holds.
pub(crate) fn lines_ended(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let lone_cr = bytes.iter().enumerate().filter(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n')).count();
    let count = bytes.iter().filter(|&&b| b == b'\n').count() + lone_cr;
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The largest char boundary of `text` at or before `index`.
pub fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// NUL bytes within 4 KiB of the cursor mean a binary file.
fn looks_binary(prefix: &str, suffix: &str) -> bool {
    const NEAR: usize = 4096;
    let near_prefix = &prefix.as_bytes()[prefix.len().saturating_sub(NEAR)..];
    let near_suffix = &suffix.as_bytes()[..suffix.len().min(NEAR)];
    near_prefix.contains(&0) || near_suffix.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Options, Settings};

    fn none() -> Workspace {
        Workspace::none(settings().retrieval)
    }

    fn at(text: &str, cursor: usize) -> At<'_> {
        At::whole("t.py", text, cursor, None)
    }

    fn settings() -> Settings {
        Settings::resolve(Options::default())
    }

    /// The shape `prepare` gives the cursor (`┃`) of `fixture` in `document` at `path`.
    fn shape_in(document: &str, path: Option<&Path>, fixture: &str, settings: &Settings) -> SuggestionShape {
        let cursor = fixture.find('┃').unwrap();
        let text = fixture.replacen('┃', "", 1);
        let at = At { document, path, ..at(&text, cursor) };
        prepare(at, &none(), settings, 4096, CancelToken::new()).unwrap().request.shape
    }

    #[test]
    fn the_shape_ends_blocks_as_the_files_language_does() {
        let fixture = "fn main() {\n    let a = 1;\n    ┃\n}\n";
        let settings = settings();
        let rust = shape_in("file:///src/main.rs", Some(Path::new("/src/main.rs")), fixture, &settings);
        let expected = SuggestionShape::BraceBlock {
            literals: match block_syntax(Some(Language::Rust)) {
                splice_model::shape::BlockSyntax::Braces(literals) => literals,
                other => panic!("Rust has braces, not {other:?}"),
            },
            closable: 0,
            max_lines: settings.max_lines,
        };
        assert_eq!(rust, expected);
        let python = shape_in("file:///src/app.py", Some(Path::new("/src/app.py")), fixture, &settings);
        assert_eq!(python, SuggestionShape::MultiLine { min_indent: 4, max_lines: settings.max_lines });
        // Without a path, the URI's extension says; a language without a table entry keeps
        // indentation.
        assert!(matches!(shape_in("file:///a/main.go", None, fixture, &settings), SuggestionShape::BraceBlock { .. }));
        assert!(matches!(shape_in("untitled:notes.txt", None, fixture, &settings), SuggestionShape::MultiLine { .. }));
        // `--multi-line off` holds for brace blocks too.
        let single = Settings { multi_line: false, ..settings.clone() };
        let path = Some(Path::new("/src/main.rs"));
        assert_eq!(shape_in("file:///src/main.rs", path, fixture, &single), SuggestionShape::SingleLine);
    }

    #[test]
    fn a_small_document_is_sent_whole() {
        let text = "def f(x):\n    return x\n\nprint(f(1))\n";
        let cursor = text.find("return").unwrap();
        let p = prepare(at(text, cursor), &none(), &settings(), 4096, CancelToken::new()).unwrap();
        assert_eq!(p.request.prefix, "def f(x):\n    ");
        assert_eq!(p.request.suffix, "return x\n\nprint(f(1))\n");
    }

    #[test]
    fn a_huge_document_is_windowed_at_a_stable_line_start() {
        let text = "x = 1  # 😀 padding\n".repeat(100_000);
        let cursor = text.len() / 2;
        let cursor = floor_char_boundary(&text, cursor);
        let a = prepare(at(&text, cursor), &none(), &settings(), 512, CancelToken::new()).unwrap();
        assert!(a.request.prefix.len() <= 512 * BYTES_PER_TOKEN_CAP);
        assert!(a.request.prefix.starts_with("x = 1"), "the window starts at a line start");
        let b =
            prepare(at(&text, floor_char_boundary(&text, cursor + 3)), &none(), &settings(), 512, CancelToken::new())
                .unwrap();
        let start_a = cursor - a.request.prefix.len();
        let start_b = floor_char_boundary(&text, cursor + 3) - b.request.prefix.len();
        assert_eq!(start_a, start_b, "typing a few characters keeps the window start");
    }

    #[test]
    fn the_text_within_reach_of_the_cursor_gives_the_window_of_the_whole_document() {
        let text = "x = 1  # 😀 padding\n".repeat(2_000);
        let reach = Reach::for_context(64);
        for cursor in (0..text.len()).step_by(331).filter(|&c| text.is_char_boundary(c)) {
            let start = floor_char_boundary(&text, cursor.saturating_sub(reach.before));
            let mut end = (cursor + reach.after).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            let line = lines_ended(&text[..cursor]);
            let part = At { text: &text[start..end], cursor: cursor - start, text_offset: start, ..at(&text, cursor) };
            let part = prepare(At { cursor_line: Some(line), ..part }, &none(), &settings(), 64, CancelToken::new());
            let whole = prepare(at(&text, cursor), &none(), &settings(), 64, CancelToken::new()).unwrap();
            let part = part.unwrap();
            assert_eq!((part.request.prefix, part.request.suffix), (whole.request.prefix, whole.request.suffix));
        }
    }

    #[test]
    fn lines_are_counted_as_lsp_counts_them() {
        assert_eq!(lines_ended(""), 0);
        assert_eq!(lines_ended("a\nb\r\nc\rd\r"), 4);
    }

    #[test]
    fn nul_bytes_near_the_cursor_skip_the_request() {
        let text = "abc\0\0\0def";
        assert_eq!(prepare(at(text, 5), &none(), &settings(), 4096, CancelToken::new()).unwrap_err(), Skip::Binary);
    }
}
