//! The benchmark corpus's files: what `scripts/corpus.sh` (Python sdists, under `corpus/`) and
//! `scripts/corpus-languages.sh` (crates, npm tarballs and C/C++ sdists, under
//! `corpus-languages/`) fetch, listed the same way by every benchmark that cuts tasks from it.

use anyhow::Context;
use splice_retrieval::language::Language;
use std::path::{Path, PathBuf};

/// Every `.py` file under `root`, in no set order (callers sort or pick by seed).
pub fn python_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    files_where(root, |path| path.extension().is_some_and(|e| e == "py"))
}

/// Every source file under `root` whose language (by extension, from the language table) is one
/// of `languages`, in no set order. TypeScript declaration files (`.d.ts`) are left out: they
/// declare what another file implements, so they are not code anyone types.
pub fn language_files(root: &Path, languages: &[Language]) -> anyhow::Result<Vec<PathBuf>> {
    files_where(root, |path| {
        let declarations = path.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".d.ts"));
        !declarations && Language::from_path(path).is_some_and(|l| languages.contains(&l))
    })
}

/// Every file under `root` (symlinks not followed) that `keep` accepts.
fn files_where(root: &Path, keep: impl Fn(&Path) -> bool) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && keep(&path) {
                out.push(path);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(mut paths: Vec<PathBuf>, root: &Path) -> Vec<String> {
        paths.sort();
        paths.iter().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn language_files_are_listed_by_the_tables_extensions_without_declarations() {
        let root = std::env::temp_dir().join(format!("splice-bench-corpus-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("src/core")).unwrap();
        for file in
            ["src/a.ts", "src/b.tsx", "src/types.d.ts", "src/core/c.ts", "src/d.js", "e.c", "f.h", "g.py", "README.md"]
        {
            std::fs::write(root.join(file), "x\n").unwrap();
        }
        let ts = language_files(&root, &[Language::TypeScript, Language::Tsx]).unwrap();
        assert_eq!(names(ts, &root), ["src/a.ts", "src/b.tsx", "src/core/c.ts"]);
        // `.h` is C++ in the table, so a C set holds only `.c` files.
        assert_eq!(names(language_files(&root, &[Language::C]).unwrap(), &root), ["e.c"]);
        assert_eq!(names(language_files(&root, &[Language::Cpp]).unwrap(), &root), ["f.h"]);
        assert_eq!(names(python_files(&root).unwrap(), &root), ["g.py"]);
        let _ = std::fs::remove_dir_all(&root);
    }
}
