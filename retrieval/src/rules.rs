//! Which workspace files the index may read, and reading them.
//!
//! One set of rules serves the full walk, the editor's buffer updates and the file watcher, so a
//! file excluded by one is excluded by all:
//!
//! - `.gitignore` / `.ignore` / `.git/info/exclude` semantics (the `ignore` crate's), also outside
//!   git repositories; hidden files and directories (so `.git/` and `.env*`) are never read;
//! - secrets are never read unless [`FileRules::include_secrets`]: `.env*`, `*.pem`, `*.key`,
//!   `*.p12`, `*.pfx`, `*.jks`, SSH keys (`id_rsa`, `id_ed25519`, … and their `.pub`);
//! - only files a chunker knows ([`SourceKind::for_file_name`]);
//! - symbolic links are never followed, so nothing outside a root is read through one;
//! - files over [`FileRules::max_file_bytes`], with a NUL byte in their first 8 KiB (binary), or
//!   not valid UTF-8 are skipped.
//!
//! **Architecture invariant:** the index never reads outside the workspace roots.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use ignore::gitignore::Gitignore;
use ignore::WalkBuilder;

use crate::chunk::SourceKind;

/// How many leading bytes are checked for NUL to tell binary files.
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// SSH private/public key file names (`id_<algorithm>`), matched as prefixes.
const SSH_KEY_PREFIXES: &[&str] = &["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"];
/// Extensions of key and certificate stores.
const SECRET_EXTENSIONS: &[&str] = &["pem", "key", "p12", "pfx", "jks", "keystore"];

/// Why a file is not indexed; logged at `trace`, counted in [`crate::SyncReport`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Excluded {
    /// The path is not inside any workspace root.
    #[error("outside every workspace root")]
    OutsideRoots,
    /// A hidden file or directory (name starting with `.`), `.git/` included.
    #[error("hidden file or directory")]
    Hidden,
    /// A file that may hold credentials.
    #[error("may hold secrets (.env, key or certificate file)")]
    Secret,
    /// Matched by a `.gitignore`, `.ignore` or `.git/info/exclude` rule.
    #[error("ignored by .gitignore/.ignore")]
    Ignored,
    /// No chunker for this kind of file.
    #[error("not a source or text file splice indexes")]
    NotSource,
    /// A symbolic link, or a path resolving outside its root.
    #[error("symbolic link or resolves outside the workspace root")]
    Link,
    /// Bigger than the size limit.
    #[error("{size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A NUL byte near the start.
    #[error("binary (NUL byte in the first 8 KiB)")]
    Binary,
    /// Not valid UTF-8.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// Could not be read.
    #[error("unreadable: {0}")]
    Unreadable(String),
}

/// The rules, with the limits the caller chose.
#[derive(Debug, Clone)]
pub struct FileRules {
    /// Files bigger than this are skipped.
    pub max_file_bytes: u64,
    /// Index files that look like secrets (`.env` stays excluded as a hidden file).
    pub include_secrets: bool,
    /// Directories never walked (the index cache, when it lives inside a root).
    pub skip_dirs: Vec<PathBuf>,
}

/// A file found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedFile {
    /// Path relative to the root, `/`-separated.
    pub rel: String,
    /// How to chunk it.
    pub kind: SourceKind,
    /// Modification time, nanoseconds since the epoch (0 if unknown).
    pub mtime: u64,
    /// Size in bytes.
    pub size: u64,
}

impl FileRules {
    /// Whether a file name looks like it holds credentials.
    pub fn is_secret_name(name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e);
        lower.starts_with(".env")
            || ext.is_some_and(|e| SECRET_EXTENSIONS.contains(&e))
            || SSH_KEY_PREFIXES.iter().any(|p| lower.starts_with(p))
    }

    /// Checks a path relative to `root` against the name rules (hidden, secret, kind, ignore
    /// files), without touching the file itself. Used for single files (editor, watcher); the walk
    /// applies the same rules through `ignore`.
    pub fn admit_name(&self, root: &Path, rel: &Path) -> Result<SourceKind, Excluded> {
        let mut names = Vec::new();
        for component in rel.components() {
            match component {
                Component::Normal(name) => names.push(name.to_str().ok_or(Excluded::NotUtf8)?),
                _ => return Err(Excluded::OutsideRoots),
            }
        }
        let file_name = names.last().ok_or(Excluded::NotSource)?;
        if names.iter().any(|n| n.starts_with('.')) {
            return Err(Excluded::Hidden);
        }
        if !self.include_secrets && Self::is_secret_name(file_name) {
            return Err(Excluded::Secret);
        }
        let kind = SourceKind::for_file_name(file_name).ok_or(Excluded::NotSource)?;
        if self.skip_dirs.iter().any(|d| root.join(rel).starts_with(d)) || is_ignored(root, rel, false) {
            return Err(Excluded::Ignored);
        }
        Ok(kind)
    }

    /// Checks a directory relative to `root` against the rules that exclude whole directories
    /// (hidden, the index's own folder, ignore files), as the walk would on its way down.
    /// [`FileRules::walk_under`] does not check the directory it starts from: call this first.
    pub fn admit_dir(&self, root: &Path, rel: &Path) -> Result<(), Excluded> {
        for component in rel.components() {
            match component {
                Component::Normal(name) if name.to_str().is_some_and(|n| n.starts_with('.')) => {
                    return Err(Excluded::Hidden)
                }
                Component::Normal(_) => {}
                _ => return Err(Excluded::OutsideRoots),
            }
        }
        if self.skip_dirs.iter().any(|d| root.join(rel).starts_with(d)) || is_ignored(root, rel, true) {
            return Err(Excluded::Ignored);
        }
        Ok(())
    }

    /// Reads a file that passed the name rules: not through a link, within the size limit, not
    /// binary, valid UTF-8. Returns the text with its mtime and size.
    pub fn read(&self, root: &Path, rel: &Path) -> Result<(String, u64, u64), Excluded> {
        let path = root.join(rel);
        let meta = fs::symlink_metadata(&path).map_err(|e| Excluded::Unreadable(e.to_string()))?;
        if !meta.file_type().is_file() || !resolves_inside(root, &path) {
            return Err(Excluded::Link);
        }
        if meta.len() > self.max_file_bytes {
            return Err(Excluded::TooLarge { size: meta.len(), limit: self.max_file_bytes });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        let file = fs::File::open(&path).map_err(|e| Excluded::Unreadable(e.to_string()))?;
        file.take(self.max_file_bytes + 1).read_to_end(&mut bytes).map_err(|e| Excluded::Unreadable(e.to_string()))?;
        if bytes.len() as u64 > self.max_file_bytes {
            return Err(Excluded::TooLarge { size: bytes.len() as u64, limit: self.max_file_bytes });
        }
        check_text(&bytes)?;
        let text = String::from_utf8(bytes).map_err(|_| Excluded::NotUtf8)?;
        Ok((text, mtime_nanos(&meta), meta.len()))
    }

    /// Every file under `root` the name rules admit, in walk order (sorted by path for
    /// determinism). Unreadable directories are logged and skipped.
    pub fn walk(&self, root: &Path) -> Vec<WalkedFile> {
        self.walk_under(root, root)
    }

    /// Every file under `dir` (a directory inside `root`, or `root` itself) the name rules
    /// admit, with paths relative to `root`. Ignore files in `dir`'s parents apply; whether
    /// `dir` itself is excluded is [`FileRules::admit_dir`]'s question.
    pub fn walk_under(&self, root: &Path, dir: &Path) -> Vec<WalkedFile> {
        let skip_dirs = self.skip_dirs.clone();
        let walker = WalkBuilder::new(dir)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_path(|a, b| a.cmp(b))
            .filter_entry(move |e| !skip_dirs.iter().any(|d| e.path().starts_with(d)))
            .build();
        let mut out = Vec::new();
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    tracing::debug!(%err, "skipping an unreadable path");
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue; // directories, and symbolic links (never followed)
            }
            let Some(rel) = relative(root, entry.path()) else { continue };
            let Some(name) = entry.file_name().to_str() else { continue };
            if !self.include_secrets && Self::is_secret_name(name) {
                continue;
            }
            let Some(kind) = SourceKind::for_file_name(name) else { continue };
            let Ok(meta) = entry.metadata() else { continue };
            out.push(WalkedFile { rel, kind, mtime: mtime_nanos(&meta), size: meta.len() });
        }
        out
    }
}

/// `path` relative to `root` as a `/`-separated string, if it is inside and valid UTF-8.
pub fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let parts = parts?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Binary files have a NUL byte near the start.
fn check_text(bytes: &[u8]) -> Result<(), Excluded> {
    if bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
        return Err(Excluded::Binary);
    }
    Ok(())
}

/// Whether `path`, with every link resolved, is still inside `root` (resolved too).
fn resolves_inside(root: &Path, path: &Path) -> bool {
    match (fs::canonicalize(root), fs::canonicalize(path)) {
        (Ok(root), Ok(path)) => path.starts_with(root),
        _ => false,
    }
}

/// The ignore-file rules for one path, deepest ignore file first, as `ignore`'s walk applies
/// them: `.ignore` over `.gitignore` in the same directory, then `.git/info/exclude` at the root.
/// Costs a few `stat`s per directory level; used for single paths, not the walk.
fn is_ignored(root: &Path, rel: &Path, is_dir: bool) -> bool {
    let path = root.join(rel);
    // Like the walk (`parents(true)`), ignore files above the root apply too.
    for dir in path.ancestors().skip(1) {
        for name in [".ignore", ".gitignore"] {
            let file = dir.join(name);
            if !file.is_file() {
                continue;
            }
            let (matcher, _) = Gitignore::new(&file);
            let matched = matcher.matched_path_or_any_parents(&path, is_dir);
            if matched.is_ignore() {
                return true;
            }
            if matched.is_whitelist() {
                return false;
            }
        }
    }
    let exclude = root.join(".git/info/exclude");
    if exclude.is_file() {
        let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
        builder.add(&exclude);
        let Ok(matcher) = builder.build() else { return false };
        return matcher.matched_path_or_any_parents(&path, is_dir).is_ignore();
    }
    false
}

/// A file's modification time in nanoseconds since the epoch (0 if unknown).
pub(crate) fn mtime_nanos(meta: &fs::Metadata) -> u64 {
    meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised() {
        for name in [".env", ".env.local", "server.pem", "tls.KEY", "id_rsa", "id_ed25519.pub", "store.p12"] {
            assert!(FileRules::is_secret_name(name), "{name}");
        }
        for name in ["main.py", "keys.py", "identity.py", "environment.md"] {
            assert!(!FileRules::is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn relative_paths_use_forward_slashes() {
        let root = Path::new("/w");
        assert_eq!(relative(root, Path::new("/w/src/app.py")).as_deref(), Some("src/app.py"));
        assert_eq!(relative(root, Path::new("/elsewhere/app.py")), None);
        assert_eq!(relative(root, root), None);
    }
}
