//! What the index tests share: a workspace and a cache in a temporary directory, writing files,
//! searching, and waiting for the watcher.
//!
//! Each test file uses part of it.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use splice_retrieval::workspace::root_key;
use splice_retrieval::{IndexOptions, RetrievalQuery, SearchLimits, SyncReport, WorkspaceIndex};

/// How long a wait for the watcher may take before the test calls it a hang. The watcher
/// normally reacts within a second; the generous bound is for a busy machine, never a measure.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// A workspace root and an index cache beside it (not inside it), in one temporary directory.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub cache: PathBuf,
}

impl Fixture {
    /// A workspace holding `files` (relative path, text).
    pub fn new(files: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join("ws");
        let cache = tmp.path().join("cache");
        for (path, text) in files {
            write(&root.join(path), text);
        }
        fs::create_dir_all(&root).expect("root");
        let root = fs::canonicalize(&root).expect("canonical root");
        Self { tmp, root, cache }
    }

    /// Options with this fixture's cache.
    pub fn options(&self, watch: bool) -> IndexOptions {
        IndexOptions { cache_dir: Some(self.cache.clone()), watch, ..IndexOptions::default() }
    }

    /// The index, opened without a watcher and not synced.
    pub fn open(&self) -> WorkspaceIndex {
        WorkspaceIndex::open(std::slice::from_ref(&self.root), self.options(false)).expect("open")
    }

    /// The index, opened without a watcher and synced.
    pub fn synced(&self) -> (WorkspaceIndex, SyncReport) {
        let index = self.open();
        let report = index.sync(&mut |_| {}).expect("sync");
        (index, report)
    }

    /// The index with `options`, synced; its watcher runs when `options.watch`.
    pub fn synced_with(&self, options: IndexOptions) -> WorkspaceIndex {
        let index = WorkspaceIndex::open(std::slice::from_ref(&self.root), options).expect("open");
        index.sync(&mut |_| {}).expect("sync");
        index
    }

    /// The index, synced, with its watcher running.
    pub fn watching(&self) -> WorkspaceIndex {
        let index = self.synced_with(self.options(true));
        assert!(index.is_watching());
        index
    }

    /// The root's index directory in the cache.
    pub fn index_dir(&self) -> PathBuf {
        self.cache.join(root_key(&self.root))
    }
}

/// Writes `text` to `path`, creating its folders.
pub fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    fs::write(path, text).expect("write");
}

/// Paths of the snippets a query over `text` (cursor at the end) finds, best first.
pub fn found(index: &WorkspaceIndex, text: &str) -> Vec<String> {
    let query = RetrievalQuery { window: text.len()..text.len(), ..RetrievalQuery::at_end(None, text) };
    index.search(&query, &SearchLimits::default()).hits.iter().map(|s| s.path.display().to_string()).collect()
}

/// Where the index says the function `name` is defined: the paths of the snippets a search for
/// it finds whose text holds `def name(` (or, in Rust, `fn name(` or `struct name `), each once. (A search also finds snippets that share a
/// mere sub-word with the name; those do not count.)
pub fn defined_in(index: &WorkspaceIndex, name: &str) -> Vec<String> {
    let text = format!("{name}()\n");
    let query = RetrievalQuery { window: text.len()..text.len(), ..RetrievalQuery::at_end(None, &text) };
    let mut paths: Vec<String> = index
        .search(&query, &SearchLimits::default())
        .hits
        .iter()
        .filter(|s| {
            [format!("def {name}("), format!("fn {name}("), format!("struct {name} ")]
                .iter()
                .any(|d| s.text.contains(d))
        })
        .map(|s| s.path.display().to_string())
        .collect();
    paths.dedup();
    paths
}

/// Polls `done` until it holds; panics with `what` after [`HANG_GUARD`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sets a directory's modification time to now, as `touch DIR` does.
pub fn touch(dir: &Path) {
    fs::File::open(dir).and_then(|d| d.set_modified(SystemTime::now())).expect("touch");
}

/// Lists every folder under `dir` and reads every file, as an editor's file tree or a `grep -r`
/// does (each open is a file-system event for a watcher).
pub fn read_everything(dir: &Path) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            read_everything(&path);
        } else {
            fs::read(&path).expect("read");
        }
    }
}

/// A Python package in nested folders: `src/pkg/{alpha,beta,gamma}/mod{i}.py` (8 each, each
/// defining `helper_<folder>_<i>`), `src/pkg/__init__.py` and `setup.py` at the root.
pub fn nested_package() -> Vec<(String, String)> {
    let mut files = vec![
        ("setup.py".to_owned(), "def setup_package():\n    pass\n".to_owned()),
        ("src/pkg/__init__.py".to_owned(), "def package_version():\n    return '1.0'\n".to_owned()),
    ];
    for folder in ["alpha", "beta", "gamma"] {
        for i in 0..8 {
            let text = format!("def helper_{folder}_{i}(value):\n    return value + {i}\n");
            files.push((format!("src/pkg/{folder}/mod{i}.py"), text));
        }
    }
    files
}

/// `files` as the `&str` pairs [`Fixture::new`] takes.
pub fn as_refs(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect()
}
