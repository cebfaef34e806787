//! `splice-retrieval`: what the rest of the workspace can tell a completion, and when to ask.
//!
//! This crate will hold the workspace walk, tree-sitter chunking, the tantivy BM25 index and the
//! selective-retrieval gate. For now it defines the seam the server calls through: a
//! [`Retriever`] answers a [`RetrievalQuery`] with a [`RetrievalDecision`], and the only
//! implementation, [`Disabled`], always declines with its reason, so every completion's log
//! already says whether retrieval ran and why not.
//!
//! **Architecture invariant:** this crate knows nothing of llama.cpp or LSP. It deals in paths,
//! text and scores; turning snippets into prompt tokens is the model crate's job.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A piece of another workspace file worth showing the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Snippet {
    /// Path relative to the workspace root.
    pub path: PathBuf,
    /// Zero-based line range in that file.
    pub lines: Range<u32>,
    /// The text.
    pub text: String,
    /// Relevance; larger is better. Comparable only within one query.
    pub score: f32,
}

/// What the retriever sees of a completion request.
#[derive(Debug, Clone, Copy)]
pub struct RetrievalQuery<'a> {
    /// The file being edited.
    pub path: Option<&'a Path>,
    /// Text before the cursor (the prompt window's prefix).
    pub before_cursor: &'a str,
    /// Text after the cursor.
    pub after_cursor: &'a str,
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
    Retrieve(Vec<Snippet>),
}

/// Decides per request whether to retrieve, and retrieves. Must be cheap when it declines:
/// it runs on every keystroke.
pub trait Retriever: Send + Sync {
    /// Answers one query.
    fn retrieve(&self, query: &RetrievalQuery<'_>) -> RetrievalDecision;
}

/// The retriever used until the workspace index exists: always declines.
#[derive(Debug, Default, Clone, Copy)]
pub struct Disabled;

impl Retriever for Disabled {
    fn retrieve(&self, _query: &RetrievalQuery<'_>) -> RetrievalDecision {
        RetrievalDecision::Skip { reason: "repository retrieval is not available in this build".to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disabled_retriever_says_why_it_declines() {
        let query = RetrievalQuery { path: None, before_cursor: "import os\nos.", after_cursor: "" };
        match Disabled.retrieve(&query) {
            RetrievalDecision::Skip { reason } => assert!(reason.contains("not available")),
            other => panic!("expected Skip, got {other:?}"),
        }
    }
}
