//! How long chunking a 5,000-line file takes in each language of `splice bench retrieval`: the
//! index cuts every file it reads (and every edited document again), so a long file of real
//! code must chunk quickly in every language.
//!
//! The file is the task set's own code: its files of the set's first language, in path order,
//! joined until 5,000 lines (repeated if the set has fewer), cut at exactly 5,000 lines. The
//! chunker runs once to warm up, then [`RUNS`] times; the median is reported.

use crate::bench_retrieval_sets::TaskSet;
use crate::bench_stats::quantile;
use serde_json::{json, Value};
use splice_retrieval::chunk::{chunk_file, SourceKind};
use std::path::PathBuf;
use std::time::Instant;

/// Lines of the chunked file.
pub const LINES: usize = 5_000;

/// Timed runs after the warm-up.
pub const RUNS: usize = 7;

/// What chunking the long file measured.
#[derive(Debug, Clone)]
pub struct Chunking {
    /// The language's name.
    pub language: &'static str,
    /// Lines of the file (5,000).
    pub lines: usize,
    /// Its size in bytes.
    pub bytes: usize,
    /// Chunks cut from it.
    pub chunks: usize,
    /// Median milliseconds of [`RUNS`] runs.
    pub median_ms: f64,
    /// The slowest run.
    pub max_ms: f64,
}

impl Chunking {
    /// The measurement as JSON.
    pub fn json(&self) -> Value {
        json!({
            "language": self.language,
            "lines": self.lines,
            "bytes": self.bytes,
            "chunks": self.chunks,
            "medianMs": (self.median_ms * 100.0).round() / 100.0,
            "maxMs": (self.max_ms * 100.0).round() / 100.0,
        })
    }

    /// The measurement as one line under the language's table.
    pub fn line(&self) -> String {
        format!(
            "chunking a {}-line {} file ({} KB, {} chunks): {:.1} ms median of {RUNS}, {:.1} ms max",
            self.lines,
            self.language,
            self.bytes / 1024,
            self.chunks,
            self.median_ms,
            self.max_ms
        )
    }
}

/// Times chunking a [`LINES`]-line file made of the set's code in `repositories`; `None` when
/// they hold no file of the set's first language.
pub fn chunking(set: &TaskSet, repositories: &[PathBuf]) -> anyhow::Result<Option<Chunking>> {
    let language = set.languages[0];
    let mut paths = Vec::new();
    for repository in repositories {
        paths.extend(crate::bench_corpus::language_files(repository, &[language])?);
    }
    paths.sort();
    let mut texts = Vec::new();
    for path in &paths {
        // A file that is not UTF-8 is not indexed either.
        if let Ok(text) = std::fs::read_to_string(path) {
            texts.push(text);
        }
    }
    let Some(text) = long_file(&texts, LINES) else { return Ok(None) };
    let kind = SourceKind::Syntax(language);
    let chunks = chunk_file(kind, &text).len();
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        std::hint::black_box(chunk_file(kind, std::hint::black_box(&text)));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Some(Chunking {
        language: set.name,
        lines: LINES,
        bytes: text.len(),
        chunks,
        median_ms: quantile(&times, 0.5).unwrap_or(0.0),
        max_ms: times.iter().copied().fold(0.0, f64::max),
    }))
}

/// `texts` joined (each ending in a newline), repeated as needed, cut after `lines` lines;
/// `None` when they hold no line at all.
pub fn long_file(texts: &[String], lines: usize) -> Option<String> {
    let all: Vec<&str> = texts.iter().flat_map(|t| t.lines()).collect();
    if all.is_empty() {
        return None;
    }
    let mut out = String::new();
    for line in all.iter().cycle().take(lines) {
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_file_is_the_texts_in_order_repeated_to_the_line_count() {
        let texts = vec!["a\nb\n".to_owned(), "c".to_owned()];
        assert_eq!(long_file(&texts, 5).unwrap(), "a\nb\nc\na\nb\n");
        assert_eq!(long_file(&texts, 2).unwrap(), "a\nb\n");
        assert_eq!(long_file(&[], 5), None);
    }
}
