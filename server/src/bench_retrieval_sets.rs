//! The task sets of `splice bench retrieval --lang`: for each language, which package folders
//! of the corpus its tasks are cut from, which files count as that language's, and how many
//! tasks a run takes.
//!
//! Every set is real, multi-file package source with pinned versions, so that a cursor may need
//! a name another file defines: Python from PyPI sdists (`scripts/corpus.sh`), the others from
//! `scripts/corpus-languages.sh`: Rust crates from crates.io, JavaScript and TypeScript npm
//! tarballs that ship their sources, C and C++ from PyPI sdists with extensions in those
//! languages.

use splice_retrieval::language::Language;

/// A language `splice bench retrieval --lang` has a task set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchLanguage {
    /// `requests`, `click` and `itsdangerous` (PyPI sdists).
    Python,
    /// The crates `semver` and `ignore`.
    Rust,
    /// The npm packages `express` and `commander` (CommonJS).
    Javascript,
    /// The npm packages `@tanstack/query-core` and `@trpc/server` (their `src/*.ts`).
    Typescript,
    /// The C extensions of the PyPI sdists `cbor2` and `bitarray`.
    C,
    /// The C++ extension of the PyPI sdist `greenlet`.
    Cpp,
}

/// One language's tasks: where they come from and how many.
#[derive(Debug)]
pub struct TaskSet {
    /// The `--lang` value.
    pub lang: BenchLanguage,
    /// The name printed over its table.
    pub name: &'static str,
    /// Package folders, relative to the cache directory; each is one workspace in the bench.
    pub repositories: &'static [&'static str],
    /// The table languages whose files tasks are cut from (the index reads every file).
    pub languages: &'static [Language],
    /// Folders (by name) whose files give no tasks, though the index reads them: tests that
    /// would outnumber the package's own code, and per-platform assembly headers.
    pub task_skip: &'static [&'static str],
    /// Files per repository, unless `--files` says otherwise.
    pub files: usize,
    /// Tasks per file, unless `--tasks-per-file` says otherwise.
    pub tasks_per_file: usize,
}

/// The Python set's repositories (also `bench typing`'s), fetched by `scripts/corpus.sh`: package
/// folders of their sdists.
pub const PYTHON_REPOSITORIES: [&str; 3] = [
    "corpus/requests-2.32.3/src/requests",
    "corpus/click-8.1.7/src/click",
    "corpus/itsdangerous-2.2.0/src/itsdangerous",
];

/// Every task set, in `--lang` order.
pub const TASK_SETS: &[TaskSet] = &[
    TaskSet {
        lang: BenchLanguage::Python,
        name: "Python",
        repositories: &PYTHON_REPOSITORIES,
        languages: &[Language::Python],
        task_skip: &[],
        files: 6,
        tasks_per_file: 5,
    },
    TaskSet {
        lang: BenchLanguage::Rust,
        name: "Rust",
        repositories: &["corpus-languages/semver-1.0.28/src", "corpus-languages/ignore-0.4.35/src"],
        languages: &[Language::Rust],
        task_skip: &[],
        files: 6,
        tasks_per_file: 4,
    },
    TaskSet {
        lang: BenchLanguage::Javascript,
        name: "JavaScript",
        repositories: &["corpus-languages/express-4.21.1/lib", "corpus-languages/commander-12.1.0/lib"],
        languages: &[Language::JavaScript],
        task_skip: &[],
        files: 6,
        tasks_per_file: 4,
    },
    TaskSet {
        lang: BenchLanguage::Typescript,
        name: "TypeScript",
        repositories: &["corpus-languages/query-core-5.59.0/src", "corpus-languages/trpc-server-10.45.2/src"],
        languages: &[Language::TypeScript, Language::Tsx],
        task_skip: &["__tests__"],
        files: 6,
        tasks_per_file: 4,
    },
    TaskSet {
        lang: BenchLanguage::C,
        name: "C",
        repositories: &["corpus-languages/cbor2-5.6.5/source", "corpus-languages/bitarray-3.0.0/bitarray"],
        languages: &[Language::C],
        task_skip: &[],
        files: 6,
        tasks_per_file: 7,
    },
    TaskSet {
        lang: BenchLanguage::Cpp,
        name: "C++",
        repositories: &["corpus-languages/greenlet-3.1.1/src/greenlet"],
        languages: &[Language::Cpp],
        task_skip: &["platform", "tests"],
        files: 8,
        tasks_per_file: 6,
    },
];

impl BenchLanguage {
    /// This language's task set.
    pub fn task_set(self) -> &'static TaskSet {
        TASK_SETS.iter().find(|set| set.lang == self).expect("every language has a task set")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_language_has_one_task_set_of_its_own_languages() {
        for lang in BenchLanguage::value_variants() {
            assert_eq!(TASK_SETS.iter().filter(|set| set.lang == *lang).count(), 1, "{lang:?}");
            let set = lang.task_set();
            assert!(!set.repositories.is_empty() && !set.languages.is_empty());
            assert!(set.repositories.iter().all(|r| r.starts_with("corpus")));
        }
    }
}
