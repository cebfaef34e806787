//! Errors of the workspace index, in the user's words.

use std::path::{Path, PathBuf};

/// Why the workspace index could not be opened or updated.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Neither `$XDG_CACHE_HOME` nor `$HOME` is set and no cache directory was given.
    #[error("no cache directory for the workspace index: set XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// A file system operation failed.
    #[error("{action} ({path}): {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// tantivy failed.
    #[error("workspace index at {path}: {action}: {source}")]
    Tantivy {
        /// What was being done.
        action: &'static str,
        /// The index directory.
        path: PathBuf,
        /// The error.
        source: tantivy::TantivyError,
    },
}

impl IndexError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io { action, path: path.to_path_buf(), source }
    }

    pub(crate) fn tantivy(action: &'static str, path: &Path, source: tantivy::TantivyError) -> Self {
        Self::Tantivy { action, path: path.to_path_buf(), source }
    }
}
