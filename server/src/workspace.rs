//! The workspace as completions see it: its folders, their index, and the retriever over it.
//!
//! Shared by the LSP server (folders from `initialize`, indexed in the background) and the
//! headless CLI and benchmarks (one folder, indexed before the first request). The index opens
//! and syncs off the request path; until it is ready, requests retrieve from what it already
//! holds (a persisted index from an earlier session) or skip with the reason.

use crate::config::RetrievalSettings;
use splice_model::{ContextFile, ContextUse, RepoContext};
use splice_retrieval::language::Language;
use splice_retrieval::{
    Disabled, DocumentSyntax, GateConfig, IndexError, IndexOptions, IndexProgress, IndexState, IndexStatus,
    RetrievalDecision, RetrievalMode, RetrievalQuery, Retriever, SelectiveRetriever, SyncReport, WorkspaceIndex,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Bytes of code per prompt token, for turning the token budget of retrieved snippets into the
/// retriever's byte budget (code averages 3–4 bytes a token).
const SNIPPET_BYTES_PER_TOKEN: usize = 3;

/// The workspace folders and, once opened, their index.
pub struct Workspace {
    roots: Vec<PathBuf>,
    settings: RetrievalSettings,
    retriever: OnceLock<(Arc<WorkspaceIndex>, SelectiveRetriever)>,
    /// The gate's syntax of the documents asked about or opened last, kept here so that a
    /// document opened before the index is ready is read ahead all the same.
    syntax: Arc<DocumentSyntax>,
    /// Why opening the index failed, if it did.
    failure: Mutex<Option<String>>,
}

impl Workspace {
    /// A workspace of these folders (canonicalized when they exist). Nothing is read yet.
    pub fn new(roots: Vec<PathBuf>, settings: RetrievalSettings) -> Self {
        let roots = roots.into_iter().map(|root| root.canonicalize().unwrap_or(root)).collect();
        Self { roots, settings, retriever: OnceLock::new(), syntax: Arc::default(), failure: Mutex::new(None) }
    }

    /// A workspace over an index that is already open (the benchmarks compare modes on one).
    pub fn with_index(roots: Vec<PathBuf>, settings: RetrievalSettings, index: Arc<WorkspaceIndex>) -> Self {
        Self::with_index_and_gate(roots, settings, index, |_| {})
    }

    /// [`Workspace::with_index`] with the gate's configuration changed by `adjust` (the
    /// benchmarks compare gate settings).
    pub fn with_index_and_gate(
        roots: Vec<PathBuf>,
        settings: RetrievalSettings,
        index: Arc<WorkspaceIndex>,
        adjust: impl FnOnce(&mut GateConfig),
    ) -> Self {
        let workspace = Self::new(roots, settings);
        let mut gate = workspace.gate();
        adjust(&mut gate);
        let retriever =
            SelectiveRetriever::new(index.clone(), workspace.settings.mode, gate).with_syntax(workspace.syntax.clone());
        let _ = workspace.retriever.set((index, retriever));
        workspace
    }

    fn gate(&self) -> GateConfig {
        let mut gate = GateConfig::default();
        // The retriever trims snippets to whole lines within a byte budget; match it to the token
        // budget so the engine rarely has to drop a snippet whole.
        gate.limits.budget_bytes = self.settings.max_tokens * SNIPPET_BYTES_PER_TOKEN;
        if let Some(min_score) = self.settings.min_score {
            gate.score_threshold = min_score;
        }
        gate
    }

    /// A workspace without folders: never retrieves.
    pub fn none(settings: RetrievalSettings) -> Self {
        Self::new(Vec::new(), settings)
    }

    /// The folders.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Whether there is anything to index: folders, and retrieval not turned off.
    pub fn wants_index(&self) -> bool {
        !self.roots.is_empty() && self.settings.mode != RetrievalMode::Never
    }

    /// Opens the persisted index (rebuilding it if it is damaged) and brings it up to date,
    /// reporting progress. Blocking: run it off the request path. Requests may already retrieve
    /// from the opened index while it syncs.
    pub fn open_and_sync(&self, progress: &mut dyn FnMut(IndexProgress)) -> Result<SyncReport, IndexError> {
        let index = match self.retriever.get() {
            Some((index, _)) => index.clone(),
            None => {
                let options = IndexOptions {
                    cache_dir: Some(self.settings.index_dir.clone()),
                    watch: true,
                    ..IndexOptions::default()
                };
                let index = match WorkspaceIndex::open(&self.roots, options) {
                    Ok(index) => Arc::new(index),
                    Err(err) => {
                        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.to_string());
                        return Err(err);
                    }
                };
                let retriever = SelectiveRetriever::new(index.clone(), self.settings.mode, self.gate())
                    .with_syntax(self.syntax.clone());
                let _ = self.retriever.set((index.clone(), retriever));
                index
            }
        };
        index.sync(progress)
    }

    /// The index, once opened.
    pub fn index(&self) -> Option<&Arc<WorkspaceIndex>> {
        self.retriever.get().map(|(index, _)| index)
    }

    /// The index's state for `splice/status`, `None` when the workspace is not indexed.
    pub fn status(&self) -> Option<IndexStatus> {
        if !self.wants_index() {
            return None;
        }
        if let Some(reason) = self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Some(IndexStatus { state: IndexState::Failed(reason), files: 0, chunks: 0 });
        }
        Some(self.index().map_or(IndexStatus { state: IndexState::Indexing, files: 0, chunks: 0 }, |i| i.status()))
    }

    /// Re-chunks one file from the editor's text (after an edit or a save).
    pub fn update_text(&self, path: &Path, text: &str) {
        if let Some(index) = self.index() {
            if let Err(err) = index.update_text(path, text) {
                tracing::warn!(path = %path.display(), "index update failed: {err}");
            }
        }
    }

    /// Re-reads one file from disk (the editor closed it: unsaved text must not stay indexed).
    pub fn refresh_from_disk(&self, path: &Path) {
        if let Some(index) = self.index() {
            if let Err(err) = index.refresh_from_disk(path) {
                tracing::warn!(path = %path.display(), "index refresh failed: {err}");
            }
        }
    }

    /// Reads a document the editor has just opened into the gate's syntax, so that a request
    /// anywhere in it parses only the construct at its cursor (see
    /// [`DocumentSyntax::document_opened`]); only `auto` reads syntax. Blocking, one parse of
    /// the file: run it off the request path.
    pub fn document_opened(&self, path: &Path, text: &str) {
        if self.settings.mode == RetrievalMode::Auto && !self.roots.is_empty() {
            self.syntax.document_opened(path, text);
        }
    }

    /// Asks the retriever about a request.
    pub fn retrieve(&self, query: &RetrievalQuery<'_>) -> RetrievalDecision {
        match (self.settings.mode, self.retriever.get()) {
            (RetrievalMode::Never, _) => RetrievalDecision::off(),
            (_, Some((_, retriever))) => retriever.retrieve(query),
            (_, None) if self.roots.is_empty() => {
                RetrievalDecision::Skip { reason: "no workspace folder to retrieve from".to_owned() }
            }
            (_, None) => Disabled.retrieve(query),
        }
    }

    /// The repository context for a retrieval decision about the file at `path`, `None` when
    /// nothing was retrieved.
    pub fn context_for(&self, decision: &RetrievalDecision, path: Option<&Path>) -> Option<RepoContext> {
        let RetrievalDecision::Retrieve { snippets, check_model, .. } = decision else { return None };
        let (root, current_path) = match path.and_then(|path| self.relative(path)) {
            Some((root, relative)) => (Some(root), Some(relative)),
            None => (self.roots.first().map(PathBuf::as_path), path.map(|p| p.display().to_string())),
        };
        Some(RepoContext {
            repo_name: root.and_then(Path::file_name).map(|name| name.to_string_lossy().into_owned()),
            files: snippets
                .iter()
                .map(|s| ContextFile { path: s.path.to_string_lossy().replace('\\', "/"), text: s.text.clone() })
                .collect(),
            current_path,
            comment: line_comment(path).to_owned(),
            max_tokens: self.settings.max_tokens,
            usage: if *check_model {
                ContextUse::IfUncertain {
                    min_probability: self.settings.min_probability,
                    watch_tokens: self.settings.watch_tokens,
                }
            } else if self.settings.mode == RetrievalMode::Auto {
                ContextUse::Decided
            } else {
                ContextUse::Always
            },
        })
    }

    /// The folder holding `path` and `path` relative to it, `/`-separated.
    fn relative(&self, path: &Path) -> Option<(&Path, String)> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.roots.iter().find_map(|root| {
            let relative = path.strip_prefix(root).ok()?;
            Some((root.as_path(), relative.to_string_lossy().replace('\\', "/")))
        })
    }
}

/// The line-comment marker of `path`'s language: the language table's for the languages Splice
/// parses, else what the extension suggests (`#` when unknown: most scripting languages, config
/// formats and Python use it).
pub fn line_comment(path: Option<&Path>) -> &'static str {
    if let Some(language) = path.and_then(Language::from_path) {
        return language.spec().line_comment;
    }
    let extension = path.and_then(Path::extension).and_then(|e| e.to_str()).unwrap_or_default();
    match extension {
        "cs" | "kt" | "kts" | "scala" | "swift" | "dart" | "php" | "zig" => "//",
        "lua" | "sql" | "hs" => "--",
        _ => "#",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_markers_follow_the_extension() {
        assert_eq!(line_comment(Some(Path::new("a/b.py"))), "#");
        assert_eq!(line_comment(Some(Path::new("main.rs"))), "//");
        assert_eq!(line_comment(Some(Path::new("init.lua"))), "--");
        assert_eq!(line_comment(None), "#");
    }
}
