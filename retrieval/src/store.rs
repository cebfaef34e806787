//! One workspace root's persisted tantivy index: schema, open-or-rebuild, writes, BM25 search.
//!
//! Each root has its own directory under the cache (see [`crate::IndexOptions::cache_dir`]). It
//! holds one document per chunk and one per file (path, [`Stamp`], chunk count), so the next
//! session knows which files changed without re-reading them. Text that came from the editor is
//! stamped [`Stamp::Editor`], which no file on disk matches: whoever next compares it with the
//! disk re-reads the file. A format marker guards the schema:
//! a missing, old or unreadable index is deleted and rebuilt (derived state, always
//! re-derivable from the workspace), with a warning saying why.
//!
//! One writer is kept open per root; every change is committed and the reader reloaded
//! explicitly, so searches use the last committed state and never wait for a writer.

use std::collections::HashMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::indexer::LogMergePolicy;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::chunk::Chunk;
use crate::query::QueryTerms;
use crate::search_memo::{SearchKey, SearchMemo};
use crate::tokenize::{CodeTokenizer, TokenKind};
use crate::IndexError;

/// Bump when the schema, the tokenizers or the chunking change: older indexes are rebuilt.
/// Version 2 stamps the editor's text as such (version 1 gave it the disk file's stamp, so unsaved
/// text could outlive its session: rebuilding drops it). Version 3 chunks Rust, JavaScript,
/// TypeScript, Go, Java, C and C++ by syntax (version 2 cut them into windows).
pub const FORMAT_VERSION: &str = "splice-index 3";
/// The marker file holding [`FORMAT_VERSION`] in each index directory.
pub const FORMAT_FILE: &str = "splice-format";
/// Writer memory per root (tantivy's minimum is 15 MB).
const WRITER_MEMORY_BYTES: usize = 20_000_000;

/// The file record's `origin`: read from disk, or the editor's text.
const ORIGIN_DISK: &str = "disk";
const ORIGIN_EDITOR: &str = "editor";

/// How many of the last searches a commit runs again on the new index (the gate's searches at
/// one spot: its near-copy search, the definitions of the word typed, and a prefetch's).
const SEARCHED_AGAIN: usize = 4;

/// Field boosts: sub-words 1, whole identifiers 1.5, defined symbols 3.
const BOOST_WORDS: f32 = 1.0;
const BOOST_IDENTS: f32 = 1.5;
const BOOST_SYMBOLS: f32 = 3.0;

/// Where a file's indexed text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Read from disk: the file's modification time (ns since the epoch) and size then.
    Disk {
        /// Modification time, nanoseconds since the epoch (0 if unknown).
        mtime: u64,
        /// Size in bytes.
        size: u64,
    },
    /// The editor's text, maybe never saved: it matches no disk stamp, so a refresh from disk or
    /// the next session's sync re-reads the file.
    Editor,
}

/// What the index remembers of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    /// Where the indexed text came from.
    pub stamp: Stamp,
    /// How many chunks it produced.
    pub chunks: u64,
}

impl FileState {
    /// Whether the indexed text is the file on disk with this modification time and size, so
    /// that reading it again would change nothing. Never for the editor's text.
    pub fn is_disk(&self, mtime: u64, size: u64) -> bool {
        self.stamp == Stamp::Disk { mtime, size }
    }
}

/// A chunk found by a search, before selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Path relative to the root.
    pub rel: String,
    /// Line range.
    pub lines: Range<u32>,
    /// Chunk text.
    pub text: String,
    /// BM25 score.
    pub score: f32,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    path: Field,
    kind: Field,
    start: Field,
    end: Field,
    text: Field,
    words: Field,
    idents: Field,
    symbols: Field,
    mtime: Field,
    size: Field,
    origin: Field,
    chunks: Field,
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let indexed = |kind: TokenKind| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(CodeTokenizer(kind).name())
                    .set_index_option(IndexRecordOption::WithFreqs),
            )
        };
        let fields = Fields {
            path: b.add_text_field("path", STRING | STORED),
            kind: b.add_text_field("kind", STRING),
            start: b.add_u64_field("start", STORED),
            end: b.add_u64_field("end", STORED),
            text: b.add_text_field("text", STORED),
            words: b.add_text_field("words", indexed(TokenKind::Subwords)),
            idents: b.add_text_field("idents", indexed(TokenKind::Whole)),
            symbols: b.add_text_field("symbols", indexed(TokenKind::Whole)),
            mtime: b.add_u64_field("mtime", STORED),
            size: b.add_u64_field("size", STORED),
            origin: b.add_text_field("origin", STORED),
            chunks: b.add_u64_field("chunks", STORED),
        };
        (b.build(), fields)
    }
}

/// The index of one root.
pub struct RootStore {
    dir: PathBuf,
    fields: Fields,
    reader: IndexReader,
    /// `None` when another process holds the index's writer lock: this one only reads.
    writer: Mutex<Option<IndexWriter>>,
    files: Mutex<HashMap<String, FileState>>,
    /// The last searches' hits, valid while the index does not change.
    searches: Mutex<SearchMemo>,
}

impl std::fmt::Debug for RootStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl RootStore {
    /// Opens the index in `dir`, creating it if absent and rebuilding it (with a warning) if it
    /// is corrupt or of another format.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let marker = dir.join(FORMAT_FILE);
        if marker.exists() {
            match std::panic::catch_unwind(|| Self::open_existing(dir)) {
                Ok(Ok(Ok(store))) => return Ok(store),
                Ok(Ok(Err(err))) => return Err(err),
                Ok(Err(reason)) => tracing::warn!(dir = %dir.display(), %reason, "rebuilding the workspace index"),
                Err(_) => tracing::warn!(dir = %dir.display(), "rebuilding the workspace index: reading it panicked"),
            }
        } else if dir.exists() && fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
            tracing::warn!(dir = %dir.display(), "rebuilding the workspace index: it has no format marker");
        }
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(|e| IndexError::io("removing the old index", dir, e))?;
        }
        Self::create(dir)
    }

    fn create(dir: &Path) -> Result<Self, IndexError> {
        fs::create_dir_all(dir).map_err(|e| IndexError::io("creating the index directory", dir, e))?;
        let (schema, fields) = Fields::schema();
        let index = Index::create_in_dir(dir, schema).map_err(|e| IndexError::tantivy("creating the index", dir, e))?;
        fs::write(dir.join(FORMAT_FILE), FORMAT_VERSION)
            .map_err(|e| IndexError::io("writing the index format marker", dir, e))?;
        Self::finish(dir, index, fields, HashMap::new())
    }

    /// Outer error: the index is unusable and must be rebuilt; inner: it is fine but could not
    /// be opened (never a reason to delete it).
    fn open_existing(dir: &Path) -> Result<Result<Self, IndexError>, String> {
        let marker = fs::read_to_string(dir.join(FORMAT_FILE)).map_err(|e| format!("format marker unreadable: {e}"))?;
        if marker.trim() != FORMAT_VERSION {
            return Err(format!("format {:?} is not the current {FORMAT_VERSION:?}", marker.trim()));
        }
        let index = Index::open_in_dir(dir).map_err(|e| format!("cannot open: {e}"))?;
        let (schema, fields) = Fields::schema();
        if index.schema() != schema {
            return Err("its schema differs from this version's".to_owned());
        }
        register_tokenizers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| format!("cannot read: {e}"))?;
        let files = load_files(&reader, &fields).map_err(|e| format!("cannot read its file table: {e}"))?;
        drop(reader);
        Ok(Self::finish(dir, index, fields, files))
    }

    fn finish(dir: &Path, index: Index, fields: Fields, files: HashMap<String, FileState>) -> Result<Self, IndexError> {
        register_tokenizers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| IndexError::tantivy("opening a reader", dir, e))?;
        let writer = match index.writer_with_num_threads(1, WRITER_MEMORY_BYTES) {
            Ok(writer) => {
                writer.set_merge_policy(Box::new(compact_while_edited()));
                Some(writer)
            }
            Err(err) => {
                tracing::warn!(dir = %dir.display(), %err, "workspace index in use by another process: read-only");
                None
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            fields,
            reader,
            writer: Mutex::new(writer),
            files: Mutex::new(files),
            searches: Mutex::default(),
        })
    }

    /// The files the index holds, with their recorded state.
    pub fn files(&self) -> HashMap<String, FileState> {
        lock(&self.files).clone()
    }

    /// The recorded state of one file.
    pub fn file(&self, rel: &str) -> Option<FileState> {
        lock(&self.files).get(rel).copied()
    }

    /// (files, chunks) held.
    pub fn counts(&self) -> (u64, u64) {
        let files = lock(&self.files);
        (files.len() as u64, files.values().map(|f| f.chunks).sum())
    }

    /// Replaces a file's chunks (not visible to searches until [`RootStore::commit`]).
    pub fn put_file(&self, rel: &str, chunks: &[Chunk], stamp: Stamp) -> Result<(), IndexError> {
        let f = self.fields;
        let guard = lock(&self.writer);
        let Some(writer) = guard.as_ref() else { return Ok(()) };
        writer.delete_term(Term::from_field_text(f.path, rel));
        for chunk in chunks {
            let symbols = chunk.symbols.join(" ");
            writer
                .add_document(doc!(
                    f.path => rel, f.kind => "chunk",
                    f.start => u64::from(chunk.lines.start), f.end => u64::from(chunk.lines.end),
                    f.text => chunk.text.as_str(), f.words => chunk.text.as_str(),
                    f.idents => chunk.text.as_str(), f.symbols => symbols,
                ))
                .map_err(|e| IndexError::tantivy("adding a chunk", &self.dir, e))?;
        }
        let count = chunks.len() as u64;
        let (origin, mtime, size) = match stamp {
            Stamp::Disk { mtime, size } => (ORIGIN_DISK, mtime, size),
            Stamp::Editor => (ORIGIN_EDITOR, 0, 0),
        };
        writer
            .add_document(doc!(
                f.path => rel, f.kind => "file", f.origin => origin,
                f.mtime => mtime, f.size => size, f.chunks => count,
            ))
            .map_err(|e| IndexError::tantivy("adding a file record", &self.dir, e))?;
        lock(&self.files).insert(rel.to_owned(), FileState { stamp, chunks: count });
        Ok(())
    }

    /// The files indexed at `rel` or under it (every file when `rel` is `None`).
    pub fn files_under(&self, rel: Option<&str>) -> Vec<String> {
        let files = lock(&self.files);
        match rel {
            None => files.keys().cloned().collect(),
            Some(rel) => files.keys().filter(|k| is_at_or_under(k, rel)).cloned().collect(),
        }
    }

    /// Deletes one file's chunks (not visible to searches until [`RootStore::commit`]); returns
    /// whether the index held it.
    pub fn delete_file(&self, rel: &str) -> bool {
        let guard = lock(&self.writer);
        let Some(writer) = guard.as_ref() else { return false };
        let held = lock(&self.files).remove(rel).is_some();
        if held {
            writer.delete_term(Term::from_field_text(self.fields.path, rel));
        }
        held
    }

    /// Makes the changes so far visible to searches, then searches the last few searches again
    /// on them ([`RootStore::search_again`]).
    pub fn commit(&self) -> Result<(), IndexError> {
        if let Some(writer) = lock(&self.writer).as_mut() {
            writer.commit().map_err(|e| IndexError::tantivy("committing", &self.dir, e))?;
        }
        self.reader.reload().map_err(|e| IndexError::tantivy("reloading the reader", &self.dir, e))?;
        self.search_again();
        Ok(())
    }

    /// Runs the [`SEARCHED_AGAIN`] most recent searches on the reader's new generation and
    /// remembers their hits for it, in the thread that committed (off every request's path).
    ///
    /// The server re-indexes an edited file after a second's pause, and each commit made a new
    /// generation that forgot the memo: the person who resumed typing at the same spot paid for
    /// the same searches again on the request's path (0.3–2 ms each over LSP, on segment readers
    /// that the reload had just opened). They are now remembered; a search of other words at
    /// least finds the new readers opened and read once. Measured over LSP
    /// (`splice bench retrieval --lang rust`): 1.4 ms per commit at the median, 10 ms at most.
    fn search_again(&self) {
        let keys = lock(&self.searches).recent_keys(SEARCHED_AGAIN);
        if keys.is_empty() {
            return;
        }
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        // Oldest first, so that the most recent search stays the most recent.
        for key in keys.into_iter().rev() {
            match self.run_search(&searcher, &key) {
                Ok(hits) => lock(&self.searches).put(generation, key, hits),
                Err(err) => tracing::debug!(dir = %self.dir.display(), %err, "searching again after a commit failed"),
            }
        }
    }

    /// The best `limit` chunks for these terms (BM25 over sub-words, whole identifiers and
    /// defined symbols, boosted). Errors are logged and give no hits.
    pub fn search(&self, terms: &QueryTerms, limit: usize) -> Vec<Hit> {
        self.remembered(SearchKey::terms(terms, limit)).unwrap_or_else(|err| {
            tracing::warn!(dir = %self.dir.display(), %err, "workspace index search failed");
            Vec::new()
        })
    }

    /// Whether [`RootStore::search`] for `terms` and `limit` would be answered from the memo of
    /// recent searches, without a search.
    pub fn remembers_search(&self, terms: &QueryTerms, limit: usize) -> bool {
        let generation = self.reader.searcher().generation().generation_id();
        lock(&self.searches).holds(generation, &SearchKey::terms(terms, limit))
    }

    /// The hits of the search `key` with the reader's current searcher: remembered from an
    /// earlier search with the same `key` while the index has not changed since.
    fn remembered(&self, key: SearchKey) -> tantivy::Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        if let Some(hits) = lock(&self.searches).get(generation, &key) {
            return Ok(hits);
        }
        let hits = self.run_search(&searcher, &key)?;
        lock(&self.searches).put(generation, key, hits.clone());
        Ok(hits)
    }

    /// Runs the search `key` describes with `searcher`: the one place a key becomes a query,
    /// for a request's search and for a commit's [`RootStore::search_again`] alike.
    fn run_search(&self, searcher: &Searcher, key: &SearchKey) -> tantivy::Result<Vec<Hit>> {
        match key {
            SearchKey::Terms { subwords, wholes, limit } => self.try_search(searcher, subwords, wholes, *limit),
            SearchKey::Definitions { prefix, limit } => match self.definitions_query(prefix) {
                Some(query) => self.collect(searcher, &query, *limit),
                None => Ok(Vec::new()),
            },
        }
    }

    fn try_search(
        &self,
        searcher: &Searcher,
        subwords: &[String],
        wholes: &[String],
        limit: usize,
    ) -> tantivy::Result<Vec<Hit>> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut add = |field: Field, word: &str, boost: f32| {
            let term = TermQuery::new(Term::from_field_text(field, word), IndexRecordOption::WithFreqs);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(term), boost))));
        };
        for word in subwords {
            add(f.words, word, BOOST_WORDS);
        }
        for word in wholes {
            add(f.idents, word, BOOST_IDENTS);
            add(f.symbols, word, BOOST_SYMBOLS);
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        self.collect(searcher, &BooleanQuery::new(clauses), limit)
    }

    /// Chunks that define a name starting with `prefix` (a lowercased whole identifier), at most
    /// `limit`, in index order. Errors are logged and give no hits.
    pub fn definitions_starting_with(&self, prefix: &str, limit: usize) -> Vec<Hit> {
        match self.remembered(SearchKey::Definitions { prefix: prefix.to_owned(), limit }) {
            Ok(hits) => hits,
            Err(err) => {
                tracing::warn!(dir = %self.dir.display(), %err, "symbol prefix search failed");
                Vec::new()
            }
        }
    }

    /// The query for symbols starting with `prefix`; `None` (logged) when it cannot be built.
    fn definitions_query(&self, prefix: &str) -> Option<RegexQuery> {
        let escaped: String = prefix
            .chars()
            .flat_map(|c| (!c.is_alphanumeric() && c != '_').then_some('\\').into_iter().chain([c]))
            .collect();
        match RegexQuery::from_pattern(&format!("{escaped}.*"), self.fields.symbols) {
            Ok(query) => Some(query),
            Err(err) => {
                tracing::warn!(prefix, %err, "cannot build a symbol prefix query");
                None
            }
        }
    }

    /// The best `limit` hits of `query`.
    fn collect(&self, searcher: &Searcher, query: &dyn Query, limit: usize) -> tantivy::Result<Vec<Hit>> {
        let f = self.fields;
        let top = searcher.search(query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let num = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or_default() as u32;
            hits.push(Hit { rel: text(f.path), lines: num(f.start)..num(f.end), text: text(f.text), score });
        }
        Ok(hits)
    }
}

fn register_tokenizers(index: &Index) {
    for kind in [TokenKind::Subwords, TokenKind::Whole] {
        index.tokenizers().register(CodeTokenizer(kind).name(), CodeTokenizer(kind));
    }
}

/// The merge policy that keeps an index compact while the person edits. Each re-index of an
/// edited file is a commit that deletes the file's chunks and writes them again in a segment of
/// their own; with tantivy's default (8 segments of a size before they merge, deletes never
/// merged for their own sake), an LSP session over `ignore`'s 619 chunks searched 7 segments
/// holding 1,067 documents, 42 % of them deleted, and a request's search scored for 0.2–5 ms
/// (`splice bench retrieval --lang rust`, probed). Now 3 segments of a size merge, and so does
/// a size with a segment over a fifth deleted. Segments under 10,000 chunks are one size, so a
/// workspace that small is merged whole every few re-indexes (a background merge of a few ms
/// per thousand chunks, at most once per commit, and commits come a second apart at most); a
/// larger one merges its small, recent segments together and its large ones rarely.
fn compact_while_edited() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(3);
    policy.set_del_docs_ratio_before_merge(0.2);
    policy
}

/// Reads every file record (validating the stored documents on the way).
fn load_files(reader: &IndexReader, f: &Fields) -> tantivy::Result<HashMap<String, FileState>> {
    let searcher = reader.searcher();
    for segment in searcher.segment_readers() {
        for field in [f.words, f.idents, f.symbols, f.path, f.kind] {
            segment.inverted_index(field)?;
        }
    }
    let query = TermQuery::new(Term::from_field_text(f.kind, "file"), IndexRecordOption::Basic);
    let mut files = HashMap::new();
    for address in searcher.search(&query, &DocSetCollector)? {
        let doc: TantivyDocument = searcher.doc(address)?;
        let num = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or_default();
        let Some(path) = doc.get_first(f.path).and_then(|v| v.as_str()) else { continue };
        let stamp = match doc.get_first(f.origin).and_then(|v| v.as_str()) {
            Some(ORIGIN_DISK) => Stamp::Disk { mtime: num(f.mtime), size: num(f.size) },
            _ => Stamp::Editor, // whatever else it says, re-reading the file is always right
        };
        files.insert(path.to_owned(), FileState { stamp, chunks: num(f.chunks) });
    }
    Ok(files)
}

/// Whether the `/`-separated relative path `path` is `dir` itself or inside it.
pub(crate) fn is_at_or_under(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Locks a mutex, recovering the data if a panic poisoned it (the index stays usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-line chunk defining `symbol`.
    fn chunk(text: &str, symbol: &str) -> Chunk {
        Chunk { lines: 0..1, text: text.to_owned(), symbols: vec![symbol.to_owned()] }
    }

    /// A store in a fresh directory holding `rel` as one committed chunk defining `symbol`.
    fn store_holding(rel: &str, text: &str, symbol: &str) -> (tempfile::TempDir, RootStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RootStore::open(dir.path()).unwrap();
        store.put_file(rel, &[chunk(text, symbol)], Stamp::Editor).unwrap();
        store.commit().unwrap();
        (dir, store)
    }

    #[test]
    fn the_merge_policy_merges_a_session_of_edits_that_the_default_leaves_alone() {
        use tantivy::index::{SegmentId, SegmentMeta};
        use tantivy::indexer::MergePolicy;
        let index = Index::create_in_ram(Schema::builder().build());
        let segment = |docs: u32, deleted: u32| {
            index.new_segment_meta(SegmentId::generate_random(), docs).with_delete_meta(deleted, 0)
        };
        let merged = |segments: &[SegmentMeta]| -> Vec<usize> {
            compact_while_edited().compute_merge_candidates(segments).iter().map(|merge| merge.0.len()).collect()
        };
        // The probed session: the first sync's segment, 42 % deleted since, and six re-indexes
        // of the edited file.
        let session: Vec<SegmentMeta> = [segment(619, 260)].into_iter().chain((0..6).map(|_| segment(72, 0))).collect();
        assert!(LogMergePolicy::default().compute_merge_candidates(&session).is_empty());
        assert_eq!(merged(&session), [7], "merged whole");
        assert!(merged(&[segment(619, 0), segment(72, 0)]).is_empty(), "two segments, nothing deleted");
        assert_eq!(merged(&[segment(619, 130)]), [1], "over a fifth deleted");
        // A large workspace: its recent small segments merge, its large one stays.
        let large = [segment(200_000, 2_000), segment(72, 0), segment(72, 10), segment(60, 0)];
        assert_eq!(merged(&large), [3]);
    }

    #[test]
    fn a_file_re_indexed_again_and_again_is_found_once_in_a_compact_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = RootStore::open(dir.path()).unwrap();
        let file = |version: usize| -> Vec<Chunk> {
            (0..40).map(|i| chunk(&format!("fn step_{i}() {{ let v = {version}; }}\n"), &format!("step_{i}"))).collect()
        };
        for other in 0..4 {
            store.put_file(&format!("other_{other}.rs"), &file(0), Stamp::Editor).unwrap();
        }
        store.commit().unwrap();
        // The person edits one file: each pause re-indexes it, a commit of its own.
        for version in 1..=12 {
            store.put_file("edited.rs", &file(version), Stamp::Editor).unwrap();
            store.commit().unwrap();
        }
        // Merges run in the background and show at the next commit: look until they have.
        let compact = |store: &RootStore| {
            let searcher = store.reader.searcher();
            let segments = searcher.segment_readers();
            let (docs, alive): (u32, u32) =
                segments.iter().map(|s| (s.max_doc(), s.num_docs())).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            (segments.len(), docs, alive)
        };
        let compact_enough = |(segments, docs, alive): (usize, u32, u32)| segments <= 3 && docs * 4 <= alive * 5;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let mut seen = compact(&store);
        while !compact_enough(seen) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            store.commit().unwrap();
            seen = compact(&store);
        }
        let (segments, docs, alive) = seen;
        assert_eq!(alive, 5 * 40 + 5, "every file's chunks and its record, once");
        assert!(segments <= 3, "{segments} segments");
        assert!(docs * 4 <= alive * 5, "{docs} documents for {alive} chunks: deleted ones kept");
        // Searches find the last version only.
        let terms = QueryTerms::around_cursor("step_3();\n", 9);
        let hits = store.search(&terms, 64);
        assert!(hits.iter().any(|hit| hit.rel == "edited.rs" && hit.text.contains("= 12;")), "{hits:?}");
        assert!(!hits.iter().any(|hit| hit.rel == "edited.rs" && !hit.text.contains("= 12;")));
    }

    #[test]
    fn a_search_is_known_to_be_remembered_until_the_index_changes() {
        let (_dir, store) = store_holding("a.rs", "fn parse_config() {}\n", "parse_config");
        let terms = QueryTerms::around_cursor("let c = parse_config();\n", 24);
        assert!(!terms.is_empty());
        assert!(!store.remembers_search(&terms, 8), "never searched");
        let hits = store.search(&terms, 8);
        assert_eq!(hits.len(), 1);
        assert!(store.remembers_search(&terms, 8));
        assert!(!store.remembers_search(&terms, 9), "another limit is another search");
        // A commit makes a new reader generation: what the old one found is never answered.
        // The commit searched the last searches again, on the new index.
        store.put_file("b.rs", &[chunk("fn parse_other() {}\n", "parse_other")], Stamp::Editor).unwrap();
        store.commit().unwrap();
        assert!(store.remembers_search(&terms, 8), "searched again as the index committed");
        let again = store.search(&terms, 8);
        assert_eq!(again.len(), 2, "the new file's `parse` is found: {again:?}");
        assert_ne!(again, hits);
        assert_eq!(again, store.run_search(&store.reader.searcher(), &SearchKey::terms(&terms, 8)).unwrap());
    }

    #[test]
    fn a_commit_searches_the_last_searches_again_and_only_those() {
        let (_dir, store) = store_holding("a.rs", "fn load_table() {}\n", "load_table");
        let searches: Vec<QueryTerms> = (0..SEARCHED_AGAIN + 1)
            .map(|i| QueryTerms::around_cursor(&format!("let t = load_table(word{i});\n"), 30))
            .collect();
        for terms in &searches {
            store.search(terms, 8);
        }
        assert_eq!(store.definitions_starting_with("load", 16).len(), 1);
        // Removing the file changes every answer: the ones searched again say so at once.
        assert!(store.delete_file("a.rs"));
        store.commit().unwrap();
        assert!(store.definitions_starting_with("load", 16).is_empty(), "the definitions, searched again");
        let newest = &searches[SEARCHED_AGAIN];
        assert!(store.remembers_search(newest, 8));
        assert!(store.search(newest, 8).is_empty());
        assert!(!store.remembers_search(&searches[0], 8), "older than the last {SEARCHED_AGAIN}");
        assert!(store.search(&searches[0], 8).is_empty());
    }
}
