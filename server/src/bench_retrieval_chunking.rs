//! How long chunking a 5,000-line file takes in each language of `splice bench retrieval`: the
//! index cuts every file it reads (and every edited document again), so a long file of real
//! code must chunk quickly in every language.
//!
//! The file is the task set's own code: its files of the set's first language, in path order,
//! joined until 5,000 lines (repeated if the set has fewer), cut at exactly 5,000 lines. The
//! chunker runs once to warm up, then [`RUNS`] times; the median is reported. Then the file is
//! edited as the editor sends it while a person types: one character added at the end of a
//! line of code, [`RUNS`] times at lines spread over the file, each text chunked again from the last
//! one's tree (as the index does for the editor's documents); the median of those is reported
//! too, with whether every one equalled chunking the same text from scratch.

use crate::bench_retrieval_sets::TaskSet;
use crate::bench_stats::quantile;
use serde_json::{json, Value};
use splice_retrieval::chunk::kept::Rechunker;
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
    /// Median milliseconds of chunking again after a one-character edit, from the last tree.
    pub again_median_ms: f64,
    /// Whether every chunking again equalled chunking the edited text from scratch.
    pub again_same: bool,
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
            "afterAnEditMedianMs": (self.again_median_ms * 100.0).round() / 100.0,
            "afterAnEditSameChunks": self.again_same,
        })
    }

    /// The measurement as one line under the language's table.
    pub fn line(&self) -> String {
        format!(
            "chunking a {}-line {} file ({} KB, {} chunks): {:.1} ms median of {RUNS}, {:.1} ms max; \
             again after a one-character edit, from the last tree: {:.2} ms median ({})",
            self.lines,
            self.language,
            self.bytes / 1024,
            self.chunks,
            self.median_ms,
            self.max_ms,
            self.again_median_ms,
            if self.again_same { "the same chunks as from scratch" } else { "CHUNKS DIFFER FROM SCRATCH" }
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
    let (again, again_same) = chunking_again(kind, text.clone());
    Ok(Some(Chunking {
        language: set.name,
        lines: LINES,
        bytes: text.len(),
        chunks,
        median_ms: quantile(&times, 0.5).unwrap_or(0.0),
        max_ms: times.iter().copied().fold(0.0, f64::max),
        again_median_ms: quantile(&again, 0.5).unwrap_or(0.0),
        again_same,
    }))
}

/// Times chunking `text` again from its last tree after each of [`RUNS`] one-character edits
/// (an `x` typed at the end of lines of code spread over the file); also whether every result equalled
/// chunking the same text from scratch.
fn chunking_again(kind: SourceKind, mut text: String) -> (Vec<f64>, bool) {
    let mut rechunker = Rechunker::default();
    rechunker.chunk(kind, &text);
    let mut times = Vec::with_capacity(RUNS);
    let mut same = true;
    for run in 0..RUNS {
        let from = LINES * (run + 1) / (RUNS + 1);
        // The end of the first line of code from there on (a person types after code; an
        // editor indents an empty line before a key lands on it).
        let mut start = 0;
        let mut end = None;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if i >= from && line.ends_with('\n') && !line.trim().is_empty() {
                end = Some(start + line.len() - 1);
                break;
            }
            start += line.len();
        }
        let Some(end) = end else { break };
        text.insert(end, 'x');
        let started = Instant::now();
        let chunks = rechunker.chunk(kind, std::hint::black_box(&text));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        same &= chunks == chunk_file(kind, &text);
    }
    (times, same)
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
