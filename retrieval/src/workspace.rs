//! [`WorkspaceIndex`]: the persisted indexes of every workspace root, kept up to date.
//!
//! Opening is fast (no walk); [`WorkspaceIndex::sync`] walks the roots on the caller's thread
//! and re-chunks only files whose (mtime, size) changed; the editor's buffers come in through
//! [`WorkspaceIndex::update_text`], and files changed outside the editor through the watcher,
//! whose every event re-examines the disk at its path ([`crate::reconcile`]). Searches read the
//! last committed state and never wait for indexing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::chunk::kept::KeptChunkers;
use crate::query::{line_span, QueryTerms};
use crate::reconcile::{look_at, outermost};
use crate::rules::{relative, Excluded, FileRules};
use crate::select::{rank, select, snippet_path, SearchLimits};
use crate::store::{lock, Hit, RootStore, Stamp};
use crate::watch::{Batch, Watcher};
use crate::{IndexError, RetrievalQuery, Snippet};

/// Files re-chunked between commits during a sync (so searches see progress).
const SYNC_COMMIT_EVERY: usize = 256;
/// Progress is reported at most every this many files (and at the start and end).
const PROGRESS_EVERY: u64 = 32;

/// How to open a workspace index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexOptions {
    /// Where per-root indexes live; default `$XDG_CACHE_HOME/splice/index` (else
    /// `$HOME/.cache/splice/index`). Tests point it at a temporary directory.
    pub cache_dir: Option<PathBuf>,
    /// Files bigger than this are not indexed.
    pub max_file_bytes: u64,
    /// Index files that look like secrets (`*.pem`, `*.key`, `id_rsa`…). Hidden files (`.env`,
    /// `.git/`) are never indexed.
    pub include_secrets: bool,
    /// Watch the roots for changes made outside the editor (started by [`WorkspaceIndex::sync`]).
    pub watch: bool,
}

impl Default for IndexOptions {
    /// Default cache directory, 1 MiB file limit, no secrets, watching.
    fn default() -> Self {
        Self { cache_dir: None, max_file_bytes: 1024 * 1024, include_secrets: false, watch: true }
    }
}

/// Where indexing stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// A sync is running (searches use what was committed so far).
    Indexing,
    /// Up to date with the last sync and every update since.
    Ready,
    /// The last sync failed; searches use what was committed before.
    Failed(String),
}

/// [`WorkspaceIndex::status`]: the state and what the index holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStatus {
    /// Indexing, ready or failed.
    pub state: IndexState,
    /// Files indexed.
    pub files: u64,
    /// Chunks indexed.
    pub chunks: u64,
}

/// Progress of a sync, for `$/progress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexProgress {
    /// Files checked so far, over all roots.
    pub done: u64,
    /// Files to check, over all roots (known after the walk).
    pub total: u64,
    /// The root being indexed.
    pub root: PathBuf,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Files the walk found (after the name rules).
    pub files_seen: u64,
    /// Files read and re-chunked because they were new or changed.
    pub files_indexed: u64,
    /// Files left alone because their (mtime, size) had not changed.
    pub files_unchanged: u64,
    /// Files dropped because they disappeared (or became excluded).
    pub files_removed: u64,
    /// Files skipped on reading (too large, binary, not UTF-8, unreadable, link).
    pub files_skipped: u64,
    /// Chunks written.
    pub chunks_written: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// One workspace root and its index.
#[derive(Debug)]
pub(crate) struct Root {
    /// As the caller gave it (absolute).
    pub path: PathBuf,
    /// Resolved.
    pub canonical: PathBuf,
    pub store: RootStore,
    pub rules: FileRules,
    /// Files whose text the editor sent in this session (until it closed them): the editor's
    /// text is their input, so syncs and watcher events leave them alone.
    pub editor: Mutex<HashSet<String>>,
    /// The last trees of the editor's documents, so a change re-parses only what it touched.
    pub chunkers: KeptChunkers,
}

/// The state shared with the watcher thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub roots: Vec<Root>,
    state: Mutex<IndexState>,
}

/// The persisted, incrementally updated index of a workspace's roots. `Send + Sync`; share it
/// through an `Arc`.
#[derive(Debug)]
pub struct WorkspaceIndex {
    shared: Arc<Shared>,
    watcher: Mutex<Option<Watcher>>,
    watch: bool,
}

/// What a search found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchResult {
    /// The query's distinct sub-word terms (the score gate divides by their count).
    pub terms: Vec<String>,
    /// Selected snippets, best first.
    pub hits: Vec<Snippet>,
}

impl WorkspaceIndex {
    /// Opens (or creates, or rebuilds if corrupt or old) the persisted indexes of these roots.
    /// Fast: no walk here.
    pub fn open(roots: &[PathBuf], options: IndexOptions) -> Result<Self, IndexError> {
        let cache = match &options.cache_dir {
            Some(dir) => dir.clone(),
            None => default_cache_dir().ok_or(IndexError::NoCacheDir)?,
        };
        let canonical: Vec<PathBuf> = roots
            .iter()
            .map(|r| std::fs::canonicalize(r).map_err(|e| IndexError::io("opening the workspace root", r, e)))
            .collect::<Result<_, _>>()?;
        let mut opened = Vec::new();
        for (path, canon) in roots.iter().zip(&canonical) {
            let mut skip_dirs = vec![cache.clone()];
            if let Ok(c) = std::fs::canonicalize(&cache) {
                skip_dirs.push(c);
            }
            skip_dirs.extend(canonical.iter().filter(|o| *o != canon && o.starts_with(canon)).cloned());
            let rules = FileRules {
                max_file_bytes: options.max_file_bytes,
                include_secrets: options.include_secrets,
                skip_dirs,
            };
            let store = RootStore::open(&cache.join(root_key(canon)))?;
            opened.push(Root {
                path: path.clone(),
                canonical: canon.clone(),
                store,
                rules,
                editor: Mutex::default(),
                chunkers: KeptChunkers::default(),
            });
        }
        // Longest root first, so a file in a nested root belongs to that root.
        opened.sort_by_key(|r| std::cmp::Reverse(r.canonical.as_os_str().len()));
        let shared = Arc::new(Shared { roots: opened, state: Mutex::new(IndexState::Ready) });
        Ok(Self { shared, watcher: Mutex::new(None), watch: options.watch })
    }

    /// Walks every root and brings the index up to date (only changed files are re-chunked),
    /// reporting progress. Blocking: the server runs it on a background thread. Starts the
    /// watcher at the end when [`IndexOptions::watch`], before the state turns
    /// [`IndexState::Ready`], so that every change after a ready state is seen.
    pub fn sync(&self, progress: &mut dyn FnMut(IndexProgress)) -> Result<SyncReport, IndexError> {
        *lock(&self.shared.state) = IndexState::Indexing;
        let result = self.sync_roots(progress);
        if result.is_ok() && self.watch {
            self.start_watching();
        }
        *lock(&self.shared.state) = match &result {
            Ok(_) => IndexState::Ready,
            Err(err) => IndexState::Failed(err.to_string()),
        };
        result
    }

    fn start_watching(&self) {
        let mut watcher = lock(&self.watcher);
        if watcher.is_some() {
            return;
        }
        let roots: Vec<PathBuf> = self.shared.roots.iter().map(|r| r.canonical.clone()).collect();
        let shared = Arc::downgrade(&self.shared);
        let on_batch = move |batch: Batch| match shared.upgrade() {
            Some(shared) => {
                shared.apply(batch);
                true
            }
            None => false, // the index is gone: stop
        };
        match Watcher::start(&roots, on_batch) {
            Ok(w) => *watcher = Some(w),
            Err(err) => tracing::warn!(%err, "not watching the workspace for changes"),
        }
    }

    fn sync_roots(&self, progress: &mut dyn FnMut(IndexProgress)) -> Result<SyncReport, IndexError> {
        let started = Instant::now();
        let walks: Vec<_> = self.shared.roots.iter().map(|r| r.rules.walk(&r.canonical)).collect();
        let total: u64 = walks.iter().map(|w| w.len() as u64).sum();
        let mut report = SyncReport::default();
        let mut done = 0;
        for (root, files) in self.shared.roots.iter().zip(walks) {
            progress(IndexProgress { done, total, root: root.path.clone() });
            let mut each_file = |pending: &mut usize| {
                if *pending >= SYNC_COMMIT_EVERY {
                    root.store.commit()?;
                    *pending = 0;
                }
                done += 1;
                if done % PROGRESS_EVERY == 0 {
                    progress(IndexProgress { done, total, root: root.path.clone() });
                }
                Ok(())
            };
            root.sync_walked(None, files, &mut report, &mut each_file)?;
            root.store.commit()?;
        }
        report.elapsed = started.elapsed();
        progress(IndexProgress {
            done,
            total,
            root: self.shared.roots.first().map(|r| r.path.clone()).unwrap_or_default(),
        });
        tracing::info!(?report, "workspace index synced");
        Ok(report)
    }

    /// Re-chunks one file from the editor's text (`didChange`/`didSave`; the caller debounces).
    /// `path` is absolute; a path outside every root or excluded by the rules is ignored (Ok).
    /// The text is stamped as the editor's, and the file is the editor's until
    /// [`WorkspaceIndex::refresh_from_disk`] or [`WorkspaceIndex::remove`]: syncs and watcher
    /// events leave it alone, and a later session re-reads it from disk.
    pub fn update_text(&self, path: &Path, text: &str) -> Result<(), IndexError> {
        self.shared.update_text(path, text)
    }

    /// Drops one file (or every file under a directory) from the index.
    pub fn remove(&self, path: &Path) -> Result<(), IndexError> {
        self.shared.remove(path)
    }

    /// Hands one file back to the disk (the editor closed it): re-reads it, or drops it if it
    /// is gone or excluded; unsaved text the editor sent for it is gone either way. For a
    /// directory, does the same for everything under it.
    pub fn refresh_from_disk(&self, path: &Path) -> Result<(), IndexError> {
        self.shared.refresh_from_disk(path)
    }

    /// State and counts, for `splice/status`.
    pub fn status(&self) -> IndexStatus {
        let (files, chunks) =
            self.shared.roots.iter().map(|r| r.store.counts()).fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
        IndexStatus { state: lock(&self.shared.state).clone(), files, chunks }
    }

    /// Whether the watcher is running.
    pub fn is_watching(&self) -> bool {
        lock(&self.watcher).is_some()
    }

    /// Searches with the terms around the query's cursor, excluding chunks of the current file
    /// that overlap its prompt window; best first within `limits`. Never fails: a broken index
    /// logs and finds nothing.
    pub fn search(&self, query: &RetrievalQuery<'_>, limits: &SearchLimits) -> SearchResult {
        let language = crate::lexical::gate_language(query.path);
        let terms = QueryTerms::for_language(language, query.text, query.cursor);
        self.search_terms(&terms, query, limits)
    }

    pub(crate) fn search_terms(
        &self,
        terms: &QueryTerms,
        query: &RetrievalQuery<'_>,
        limits: &SearchLimits,
    ) -> SearchResult {
        let mut result = SearchResult { terms: terms.subwords.clone(), hits: Vec::new() };
        if terms.is_empty() || limits.max_snippets == 0 {
            return result;
        }
        result.hits = select(self.ranked(terms, query, limits.candidates()), limits);
        result
    }

    /// Whether [`WorkspaceIndex::search_terms`] for `terms` would be answered from every root's
    /// memo of recent searches (a key typed inside a word asks what the key before it asked),
    /// so costs next to nothing.
    pub(crate) fn remembers_search(&self, terms: &QueryTerms, limits: &SearchLimits) -> bool {
        let wanted = limits.candidates();
        terms.is_empty()
            || limits.max_snippets == 0
            || self.shared.roots.iter().all(|root| root.store.remembers_search(terms, wanted))
    }

    /// The best `wanted` chunks (per root) for `terms`, ranked best first, none from the
    /// prompt's window of the current file: what [`select`] picks snippets from.
    pub(crate) fn ranked(&self, terms: &QueryTerms, query: &RetrievalQuery<'_>, wanted: usize) -> Vec<Snippet> {
        let mut candidates = self.outside_window(query, |store| store.search(terms, wanted));
        rank(&mut candidates);
        candidates
    }

    /// Chunks that define a name starting with the word being typed (`prefix`, as typed), in
    /// index order, none from the prompt's window of the current file.
    pub(crate) fn definitions(&self, prefix: &str, query: &RetrievalQuery<'_>) -> Vec<Snippet> {
        let Some(prefix) = crate::tokenize::whole(prefix) else { return Vec::new() };
        self.outside_window(query, |store| store.definitions_starting_with(&prefix, 16))
    }

    /// Hits of `search` over every root as snippets, leaving out chunks of the current file that
    /// overlap the prompt's window (the model already sees them).
    fn outside_window(&self, query: &RetrievalQuery<'_>, search: impl Fn(&RootStore) -> Vec<Hit>) -> Vec<Snippet> {
        let current = query.path.and_then(|p| self.shared.locate(p));
        let window = line_span(query.text, &query.window);
        let window = window.start + query.first_line..window.end + query.first_line;
        let mut out = Vec::new();
        for (i, root) in self.shared.roots.iter().enumerate() {
            for hit in search(&root.store) {
                let in_window = current.as_ref().is_some_and(|(ri, rel)| {
                    *ri == i && *rel == hit.rel && hit.lines.start < window.end && window.start < hit.lines.end
                });
                if !in_window {
                    out.push(Snippet {
                        path: snippet_path(&hit.rel),
                        lines: hit.lines,
                        text: hit.text,
                        score: hit.score,
                    });
                }
            }
        }
        out
    }
}

impl Shared {
    /// The root holding `path` and the path relative to it.
    pub(crate) fn locate(&self, path: &Path) -> Option<(usize, String)> {
        self.roots
            .iter()
            .enumerate()
            .find_map(|(i, r)| relative(&r.canonical, path).or_else(|| relative(&r.path, path)).map(|rel| (i, rel)))
    }

    fn admitted(&self, path: &Path) -> Result<(usize, String, crate::chunk::SourceKind), Excluded> {
        let (i, rel) = self.locate(path).ok_or(Excluded::OutsideRoots)?;
        let root = &self.roots[i];
        let kind = root.rules.admit_name(&root.canonical, Path::new(&rel))?;
        Ok((i, rel, kind))
    }

    /// The root holding `path` (or being it) and the path relative to it, `None` for the root
    /// itself.
    fn place(&self, path: &Path) -> Option<(usize, Option<String>)> {
        self.roots.iter().enumerate().find_map(|(i, r)| {
            if path == r.canonical || path == r.path {
                return Some((i, None));
            }
            relative(&r.canonical, path).or_else(|| relative(&r.path, path)).map(|rel| (i, Some(rel)))
        })
    }

    pub(crate) fn update_text(&self, path: &Path, text: &str) -> Result<(), IndexError> {
        let (i, rel, kind) = match self.admitted(path) {
            Ok(found) => found,
            Err(why) => {
                tracing::trace!(path = %path.display(), %why, "buffer not indexed");
                return Ok(());
            }
        };
        let root = &self.roots[i];
        let disk = root.canonical.join(&rel);
        if disk.exists()
            && root.rules.read(&root.canonical, Path::new(&rel)).is_err_and(|e| matches!(e, Excluded::Link))
        {
            return Ok(()); // a link out of the root: never index what it points at
        }
        if text.len() as u64 > root.rules.max_file_bytes {
            root.release(Some(&rel));
            root.store.delete_file(&rel);
            return root.store.commit();
        }
        let chunks = root.chunkers.chunk(&rel, kind, text);
        root.hold(&rel);
        root.store.put_file(&rel, &chunks, Stamp::Editor)?;
        root.store.commit()?;
        tracing::debug!(path = %rel, chunks = chunks.len(), "re-indexed from the editor");
        Ok(())
    }

    pub(crate) fn remove(&self, path: &Path) -> Result<(), IndexError> {
        let Some((i, rel)) = self.place(path) else { return Ok(()) };
        let root = &self.roots[i];
        let mut dropped = 0;
        for file in root.store.files_under(rel.as_deref()) {
            dropped += usize::from(root.store.delete_file(&file));
        }
        root.release(rel.as_deref());
        if dropped == 0 {
            return Ok(());
        }
        root.store.commit()
    }

    pub(crate) fn refresh_from_disk(&self, path: &Path) -> Result<(), IndexError> {
        let Some((i, rel)) = self.place(path) else { return Ok(()) };
        let root = &self.roots[i];
        root.release(rel.as_deref());
        let mut report = SyncReport::default();
        if root.reconcile(rel.as_deref(), &mut report)? > 0 {
            root.store.commit()?;
        }
        tracing::debug!(path = %path.display(), ?report, "refreshed from disk");
        Ok(())
    }

    /// Applies one batch of watcher events: every path is re-examined on disk (a path under
    /// another of the batch is covered by it), with one commit per root that changed, so a
    /// search sees the whole batch or none of it.
    pub(crate) fn apply(&self, batch: Batch) {
        let started = Instant::now();
        let mut places: Vec<Vec<Option<String>>> = vec![Vec::new(); self.roots.len()];
        if batch.rescan {
            places.iter_mut().for_each(|p| p.push(None)); // events were lost: look at everything
        }
        for (i, rel) in batch.paths.iter().filter_map(|path| self.place(path)) {
            places[i].push(look_at(rel));
        }
        let mut report = SyncReport::default();
        for (root, places) in self.roots.iter().zip(places) {
            let mut pending = 0;
            for place in outermost(places) {
                match root.reconcile(place.as_deref(), &mut report) {
                    Ok(changes) => pending += changes,
                    Err(err) => tracing::warn!(path = ?place, %err, "could not apply a file change"),
                }
            }
            if pending > 0 {
                if let Err(err) = root.store.commit() {
                    tracing::warn!(root = %root.path.display(), %err, "could not apply file changes");
                }
            }
        }
        report.elapsed = started.elapsed();
        tracing::debug!(paths = batch.paths.len(), rescan = batch.rescan, ?report, "applied file changes");
    }
}

/// `$XDG_CACHE_HOME/splice/index`, else `$HOME/.cache/splice/index`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("splice").join("index"))
}

/// The directory name of a root's index: its folder name (for people) and a stable 64-bit
/// FNV-1a hash of the canonical path (for uniqueness).
pub fn root_key(canonical_root: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical_root.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let name: String = canonical_root
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("root")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(32)
        .collect();
    format!("{name}-{hash:016x}")
}
