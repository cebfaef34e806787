//! `splice-retrieval`: what the rest of the workspace can tell a completion, and when to ask.
//!
//! The seam the server calls through: a [`Retriever`] answers a [`RetrievalQuery`] with a
//! [`RetrievalDecision`] (retrieve these snippets, or skip and say why). [`Disabled`] always
//! declines; [`SelectiveRetriever`] answers from a [`WorkspaceIndex`]:
//!
//! - [`rules`]: which files may be read (ignore files, hidden files, secrets, links, size,
//!   binary, UTF-8) and the walk;
//! - [`language`]: the table of languages with a grammar (Python, Rust, JavaScript,
//!   TypeScript, TSX, Go, Java, C, C++): ids, extensions, grammar, keywords, builtins, imports,
//!   which nodes make chunks and which define names;
//! - [`chunk`]: tree-sitter chunks for the table's languages, RepoCoder windows for other text;
//! - [`tokenize`]: identifiers split into lowercased sub-words, plus whole names;
//! - [`store`]: one persisted tantivy index per root (format marker, rebuild, commits);
//! - [`workspace`]: [`WorkspaceIndex`]: open, sync, per-file updates, search; [`reconcile`]:
//!   bringing the index of a path in line with the disk; [`watch`]: the file watcher;
//! - [`query`], [`select`]: the terms around the cursor, and from hits to snippets;
//! - [`lexical`], [`near_copy`], [`gate`]: the selective-retrieval gate;
//! - [`syntax`]: tree-sitter error counts, for checking a suggestion before it is shown.
//!
//! **Architecture invariant:** this crate knows nothing of llama.cpp or LSP. It deals in paths,
//! text and scores; turning snippets into prompt tokens is the model crate's job.

mod beside;
pub mod chunk;
mod error;
pub mod gate;
pub mod keywords;
pub mod language;
pub mod lexical;
mod names;
pub mod near_copy;
pub mod query;
mod recent;
mod reconcile;
pub mod rules;
mod search_memo;
pub mod select;
pub mod store;
pub mod syntax;
pub mod tokenize;
mod watch;
pub mod workspace;

pub use error::IndexError;
pub use gate::{DocumentSyntax, GateConfig, SelectiveRetriever, DEFAULT_SCORE_THRESHOLD};
pub use select::SearchLimits;
pub use workspace::{IndexOptions, IndexProgress, IndexState, IndexStatus, SearchResult, SyncReport, WorkspaceIndex};

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A piece of another workspace file worth showing the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Snippet {
    /// Path relative to the workspace root, with `/` separators.
    pub path: PathBuf,
    /// Zero-based, end-exclusive line range in that file.
    pub lines: Range<u32>,
    /// The text (whole lines).
    pub text: String,
    /// Relevance (BM25); larger is better. Comparable only within one query.
    pub score: f32,
}

/// `--retrieval`: when to add repository context to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetrievalMode {
    /// Decide per request (lexical gate, score gate, then the model's own uncertainty).
    #[default]
    Auto,
    /// Retrieve for every request that finds anything.
    Always,
    /// Never retrieve.
    Never,
}

/// What the retriever sees of a completion request.
#[derive(Debug, Clone)]
pub struct RetrievalQuery<'a> {
    /// The file being edited (absolute), when it is a file on disk.
    pub path: Option<&'a Path>,
    /// The document text the gate looks at: the whole document, or (the server's choice, so
    /// that a keystroke's cost does not grow with the file) the prompt's window of it.
    pub text: &'a str,
    /// Byte offset of the cursor in `text`.
    pub cursor: usize,
    /// Byte range of `text` the prompt shows the model; chunks of this file overlapping it are
    /// never retrieved (the model already sees them).
    pub window: Range<usize>,
    /// The file's line number of `text`'s first line (0 when `text` is the whole document), so
    /// that line ranges of `text` compare with the index's line ranges of the file.
    pub first_line: u32,
    /// The document's text above `text` when `text` is a window that begins mid-file (as much
    /// of it as the caller has; empty otherwise). The gate reads from it only the start of a
    /// construct that the window cuts (a long function, class or module the cursor is in).
    pub above: &'a str,
    /// The document's text below `text` when `text` is a window that ends before the
    /// document does (as much of it as the caller has; empty otherwise). The gate reads from
    /// it only the rest of an item that the window's end cuts.
    pub below: &'a str,
    /// The query is a prefetch's: `text` is the document as it may become (a suggestion shown
    /// and taken as accepted), not as the editor has it. The gate reads such a text with
    /// syntax kept apart from the document's own ([`DocumentSyntax`]), so that the next real
    /// request finds the document's syntax where its last request left it.
    pub ahead: bool,
}

impl<'a> RetrievalQuery<'a> {
    /// A request about the whole of `text` (the prompt shows all of it), the cursor at its end.
    pub fn at_end(path: Option<&'a Path>, text: &'a str) -> Self {
        RetrievalQuery {
            path,
            text,
            cursor: text.len(),
            window: 0..text.len(),
            first_line: 0,
            above: "",
            below: "",
            ahead: false,
        }
    }
}

/// Whether to add repository context to this request, and what.
#[derive(Debug, Clone, PartialEq)]
pub enum RetrievalDecision {
    /// No retrieval for this request; the reason is logged and shown in `--json` output.
    Skip {
        /// Why, in words.
        reason: String,
    },
    /// Retrieve these snippets, best first.
    Retrieve {
        /// The snippets, best first, within the retriever's budget.
        snippets: Vec<Snippet>,
        /// Why, in words (which gates passed, with their values).
        reason: String,
        /// `auto` mode: use the snippets only if the model is unsure without them (the last
        /// gate, which only the engine can evaluate).
        check_model: bool,
    },
}

impl RetrievalDecision {
    /// The decision when retrieval is turned off (`--retrieval never`).
    pub fn off() -> Self {
        RetrievalDecision::Skip { reason: "retrieval is off (--retrieval never)".to_owned() }
    }
}

/// Decides per request whether to retrieve, and retrieves. Must be cheap when it declines:
/// it runs on every keystroke.
pub trait Retriever: Send + Sync {
    /// Answers one query.
    fn retrieve(&self, query: &RetrievalQuery<'_>) -> RetrievalDecision;
}

/// The retriever used when there is no workspace index: always declines.
#[derive(Debug, Default, Clone, Copy)]
pub struct Disabled;

impl Retriever for Disabled {
    fn retrieve(&self, _query: &RetrievalQuery<'_>) -> RetrievalDecision {
        RetrievalDecision::Skip { reason: "no workspace index".to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disabled_retriever_says_why_it_declines() {
        let text = "import os\nos.";
        let query = RetrievalQuery::at_end(None, text);
        match Disabled.retrieve(&query) {
            RetrievalDecision::Skip { reason } => assert!(reason.contains("no workspace index")),
            other => panic!("expected Skip, got {other:?}"),
        }
    }
}
