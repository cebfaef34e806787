//! The benchmark corpus's files: what `scripts/corpus.sh` fetches, listed the same way by every
//! benchmark that cuts tasks from it.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Every `.py` file under `root`, in no set order (callers sort or pick by seed).
pub fn python_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "py") {
                out.push(path);
            }
        }
    }
    Ok(out)
}
