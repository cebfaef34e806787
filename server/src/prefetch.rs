//! The document as if a suggestion had been accepted: where the next request will most likely be.
//!
//! After a suggestion is shown, the likeliest next edit is its acceptance: the editor inserts
//! exactly its text at the cursor and asks again right after it. The LSP server computes that
//! next suggestion ahead, while the engine is idle, through the ordinary completion path; this
//! module builds what that path needs: the text around the cursor of the document with the
//! suggestion inserted, the cursor after it, and the cursor's line. The prefetched suggestion is
//! then remembered for the prompt window [`completion::prepare`] cuts from it, so the request
//! after an acceptance finds it by its window ([`crate::typed_ahead`]); a request whose window
//! differs in any way (another edit, other repository context) misses and runs the model.
//!
//! Costs: O(window + suggestion) bytes copied, never O(document): only the text that
//! [`completion::prepare`] can read ([`Reach`]) is copied, and the window's start is chosen on
//! a grid of document offsets ([`At::text_offset`](completion::At::text_offset)), so the part
//! gives the same window as the whole accepted document would.

use crate::completion::{self, floor_char_boundary, At, Reach};
use std::path::Path;

/// The part of the document around the cursor with a suggestion inserted at the cursor: what
/// [`completion::prepare`] needs to cut the window of the request that follows an acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedText {
    /// The accepted document's text from `text_offset` to [`Reach::after`] bytes past the cursor.
    pub text: String,
    /// Where `text` starts in the accepted document (and in the document: the insertion is after it).
    pub text_offset: usize,
    /// Byte offset in `text` of the cursor after the inserted suggestion.
    pub cursor: usize,
    /// That cursor's line, as LSP counts lines.
    pub cursor_line: u32,
}

impl AcceptedText {
    /// The accepted document around the cursor: `suggestion` inserted into `document` at byte
    /// offset `cursor` (on line `cursor_line`), with `reach` bytes kept either side. `cursor` must
    /// be a char boundary of `document`.
    pub fn new(document: &str, cursor: usize, cursor_line: u32, suggestion: &str, reach: Reach) -> AcceptedText {
        let start = floor_char_boundary(document, cursor.saturating_sub(reach.before));
        let end = ceil_char_boundary(document, cursor.saturating_add(reach.after).min(document.len()));
        let mut text = String::with_capacity(end - start + suggestion.len());
        text.push_str(&document[start..cursor]);
        text.push_str(suggestion);
        text.push_str(&document[cursor..end]);
        let (before, after) = (cursor - start, cursor - start + suggestion.len());
        // Counted as a difference, so that a `\r` before the cursor and a `\n` that the suggestion
        // starts with become one line break, as LSP counts them.
        let lines_inserted = completion::lines_ended(&text[..after]) - completion::lines_ended(&text[..before]);
        AcceptedText {
            text,
            text_offset: start,
            cursor: after,
            cursor_line: cursor_line.saturating_add(lines_inserted),
        }
    }

    /// Where to complete next in the accepted document `document` (the engine's key, the real
    /// document's, so that its cache follows the acceptance and back by PIE) at `path`.
    pub fn at<'a>(&'a self, document: &'a str, path: Option<&'a Path>) -> At<'a> {
        At {
            document,
            text: &self.text,
            cursor: self.cursor,
            text_offset: self.text_offset,
            path,
            cursor_line: Some(self.cursor_line),
            ahead: true,
        }
    }
}

/// The smallest char boundary of `text` at or after `index` (at most `text.len()`).
fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    while index < text.len() && !text.is_char_boundary(index) {
        index += 1;
    }
    index.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::prepare;
    use crate::config::{Options, Settings};
    use crate::workspace::Workspace;
    use splice_model::shape::SuggestionShape;
    use splice_model::CancelToken;

    const CONTEXT_TOKENS: u32 = 64;

    fn settings() -> Settings {
        Settings::resolve(Options::default())
    }

    type Cut = (String, String, SuggestionShape);

    /// The window `prepare` cuts for `at`: prefix, suffix and shape.
    fn window(at: At<'_>) -> Cut {
        let workspace = Workspace::none(settings().retrieval);
        let request = prepare(at, &workspace, &settings(), CONTEXT_TOKENS, CancelToken::new()).unwrap().request;
        (request.prefix, request.suffix, request.shape)
    }

    /// The window of a request after accepting `suggestion` at `cursor`, computed from the part
    /// [`AcceptedText`] copies, and from the whole accepted document as a request would see it.
    fn both_windows(document: &str, cursor: usize, suggestion: &str) -> [Cut; 2] {
        let line = completion::lines_ended(&document[..cursor]);
        let accepted = AcceptedText::new(document, cursor, line, suggestion, Reach::for_context(CONTEXT_TOKENS));
        let whole = format!("{}{suggestion}{}", &document[..cursor], &document[cursor..]);
        let whole_cursor = cursor + suggestion.len();
        assert_eq!(accepted.cursor_line, completion::lines_ended(&whole[..whole_cursor]), "the cursor's line");
        assert!(accepted.text.len() < 2 * 64 * 8 + suggestion.len() + 8, "only the reach is copied");
        let part = window(accepted.at("t.py", None));
        let all = window(At::whole("t.py", &whole, whole_cursor, None));
        [part, all]
    }

    #[test]
    fn the_part_copied_gives_the_window_of_the_whole_accepted_document() {
        // 64 tokens × 8 bytes = a 512-byte prefix window: these documents are many windows long.
        let body: String = (0..200).map(|i| format!("value_{i} = compute(value, {i})  # é😀\n")).collect();
        let suggestions = ["(x)", "total = price * quantity", "\n    return total\n", "😀é", ""];
        for cursor in (0..body.len()).step_by(97).filter(|&c| body.is_char_boundary(c)) {
            for suggestion in suggestions {
                let [part, all] = both_windows(&body, cursor, suggestion);
                assert_eq!(part, all, "cursor {cursor}, suggestion {suggestion:?}");
            }
        }
    }

    #[test]
    fn a_short_document_is_copied_whole() {
        let text = "def f(x):\n    return ";
        let accepted = AcceptedText::new(text, text.len(), 1, "x + 1", Reach::for_context(4096));
        assert_eq!(accepted.text, "def f(x):\n    return x + 1");
        assert_eq!((accepted.text_offset, accepted.cursor, accepted.cursor_line), (0, accepted.text.len(), 1));
        assert!(accepted.at("t.py", None).ahead, "retrieval reads it apart from the document's requests");
        let [part, all] = both_windows(text, text.len(), "x + 1");
        assert_eq!(part, all);
    }

    #[test]
    fn the_cursor_line_counts_line_breaks_as_lsp_does() {
        let reach = Reach::for_context(4096);
        assert_eq!(AcceptedText::new("a\nb", 3, 1, "c\r\nd\re\n", reach).cursor_line, 4);
        // A lone `\r` before the cursor and a `\n` that begins the suggestion are one break.
        assert_eq!(AcceptedText::new("a\rb", 2, 1, "\nc", reach).cursor_line, 1);
        assert_eq!(AcceptedText::new("a\rb", 2, 1, "\n\nc", reach).cursor_line, 2);
    }

    #[test]
    fn the_reach_is_cut_on_char_boundaries() {
        let text = "😀".repeat(1000);
        let cursor = 2000;
        let accepted = AcceptedText::new(&text, cursor, 0, "x", Reach { before: 5, after: 5 });
        assert_eq!(accepted.text, "😀😀x😀😀");
        assert_eq!((accepted.text_offset, accepted.cursor), (cursor - 8, 9));
    }
}
