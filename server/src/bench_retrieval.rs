//! `splice bench retrieval`: does repository context make line completions better, and does the
//! `auto` gate retrieve only when it helps?
//!
//! Tasks are cut from real repositories (PyPI sdists fetched by `scripts/corpus.sh`; see
//! `bench_retrieval_tasks.rs`). Each task runs under `--retrieval never`, `always` and `auto`,
//! and the first suggested line is compared with the removed text: exact match
//! (whitespace-trimmed) and edit similarity (1 − Levenshtein / longer length, RepoCoder's ES).
//! Printed per mode: accuracy, how often the prompt carried retrieved snippets, and latency.
//!
//! By default the tasks are asked through `splice serve` over LSP (`bench_retrieval_lsp.rs`),
//! with the repository as the workspace folder and the file watcher running, because that is
//! the path an editor exercises: the index's life in a session (opening, syncing, watching,
//! re-reading a closed file) is part of what is measured. `--through process` calls the
//! completion path in this process over one shared index, which also shows the retrieval gate's
//! own decision per task (`gateOfferedRate`, `--json`). Both modes score the same tasks the same
//! way.

use crate::bench_retrieval_tasks::{tasks, Task};
use crate::cli::{BenchRetrievalArgs, Through};
use crate::completion::{self, At};
use crate::config::{cache_dir, Options, Retrieval, Settings};
use crate::report::round;
use crate::workspace::Workspace;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use splice_model::{CancelToken, Engine};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default repositories, fetched by `scripts/corpus.sh`: package folders of their sdists.
pub const DEFAULT_REPOSITORIES: [&str; 3] = [
    "corpus/requests-2.32.3/src/requests",
    "corpus/click-8.1.7/src/click",
    "corpus/itsdangerous-2.2.0/src/itsdangerous",
];

/// What one task's request produced, however it was asked.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The suggestion, if any.
    pub suggestion: Option<String>,
    /// Whether the prompt carried retrieved snippets.
    pub retrieved: bool,
    /// Whether the retriever offered snippets (known in process only).
    pub offered: Option<bool>,
    /// The engine's time for the request.
    pub total_ms: f64,
    /// The engine's time to the first generated token.
    pub first_token_ms: f64,
    /// Prompt tokens of the retrieved block.
    pub context_tokens: usize,
    /// Request to response as the client saw it (over LSP only).
    pub round_trip_ms: Option<f64>,
    /// The retrieval details for `--json`.
    pub retrieval: Value,
    /// What the syntax check did (`report::check_json`), `null` without one.
    pub check: Value,
}

/// One mode's results.
#[derive(Debug, Default)]
struct Tally {
    exact: usize,
    similarity: f64,
    retrieved: usize,
    offered: Option<usize>,
    total_ms: f64,
    first_token_ms: f64,
    round_trip_ms: Option<f64>,
    context_tokens: usize,
    count: usize,
}

/// How a suggestion's first line compares with the removed text.
#[derive(Debug, Clone, PartialEq)]
struct Score {
    first_line: String,
    exact: bool,
    similarity: f64,
}

impl Score {
    fn of(suggestion: Option<&str>, expected: &str) -> Score {
        let first_line = suggestion.unwrap_or_default().lines().next().unwrap_or_default().to_owned();
        let exact = first_line.trim() == expected.trim();
        let similarity = edit_similarity(first_line.trim(), expected.trim());
        Score { first_line, exact, similarity }
    }
}

impl Tally {
    fn add(&mut self, answer: &Answer, score: &Score) {
        self.count += 1;
        self.exact += usize::from(score.exact);
        self.similarity += score.similarity;
        self.retrieved += usize::from(answer.retrieved);
        if let Some(offered) = answer.offered {
            *self.offered.get_or_insert(0) += usize::from(offered);
        }
        self.total_ms += answer.total_ms;
        self.first_token_ms += answer.first_token_ms;
        if let Some(ms) = answer.round_trip_ms {
            *self.round_trip_ms.get_or_insert(0.0) += ms;
        }
        self.context_tokens += answer.context_tokens;
    }
}

/// Runs `splice bench retrieval`.
pub fn run(args: BenchRetrievalArgs) -> anyhow::Result<()> {
    let repositories: Vec<PathBuf> = if args.repo.is_empty() {
        DEFAULT_REPOSITORIES.iter().map(|r| cache_dir().join(r)).collect()
    } else {
        args.repo.clone()
    };
    let scratch = std::env::temp_dir().join(format!("splice-bench-retrieval-{}", std::process::id()));
    let options = Options {
        ctx: args.options.ctx.or(Some(2048)),
        max_tokens: args.options.max_tokens.or(Some(48)),
        index_dir: args.options.index_dir.clone().or_else(|| Some(scratch.join("index"))),
        // Quality with whole prompts and suggestions: a budget would cut each task's cold prompt.
        latency_budget: args.options.latency_budget.or(Some(0)),
        ..args.options.clone()
    };
    let modes = match options.retrieval {
        Some(mode) => vec![mode],
        None => vec![Retrieval::Never, Retrieval::Always, Retrieval::Auto],
    };
    let engine = match args.through {
        Through::Process => Some(Engine::start(Settings::resolve(options.clone()).engine)?),
        Through::Lsp => None,
    };
    let mut tallies: Vec<(Retrieval, Tally)> = modes.iter().map(|m| (*m, Tally::default())).collect();
    let mut rows = Vec::new();
    let mut index_counts = Vec::new();
    for repository in &repositories {
        if !repository.is_dir() {
            bail!("{} is not a folder (run `make corpus`)", repository.display());
        }
        let tasks = tasks(repository, args.files, args.tasks_per_file, args.seed)?;
        eprintln!("{}: {} tasks", repository.display(), tasks.len());
        let answers = match &engine {
            Some(engine) => in_process(engine, repository, &tasks, &modes, &options)?,
            None => {
                let mut answers = Vec::new();
                for &mode in &modes {
                    let run = crate::bench_retrieval_lsp::answers(repository, &tasks, mode, &options, &scratch)?;
                    index_counts.push(json!({
                        "repository": repository,
                        "mode": mode_name(mode),
                        "indexFilesAtStart": run.index_files_at_start,
                        "indexFilesAtEnd": run.index_files_at_end,
                    }));
                    answers.push(run.answers);
                }
                answers
            }
        };
        for ((mode, tally), answers) in tallies.iter_mut().zip(answers) {
            for (i, (task, answer)) in tasks.iter().zip(&answers).enumerate() {
                let score = Score::of(answer.suggestion.as_deref(), &task.expected);
                tally.add(answer, &score);
                if args.json {
                    rows.push(json!({
                        "mode": mode_name(*mode),
                        "task": i,
                        "file": task.path,
                        "expected": task.expected,
                        "suggestion": score.first_line,
                        "exact": score.exact,
                        "similarity": round(score.similarity * 100.0) / 100.0,
                        "retrieval": answer.retrieval,
                        "totalMs": round(answer.total_ms),
                        "roundTripMs": answer.round_trip_ms.map(round),
                    }));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    print(&tallies, &rows, &index_counts, args.through, args.json);
    Ok(())
}

/// Asks every task in this process, one mode after the other, over one index of `repository`.
fn in_process(
    engine: &Engine,
    repository: &Path,
    tasks: &[Task],
    modes: &[Retrieval],
    options: &Options,
) -> anyhow::Result<Vec<Vec<Answer>>> {
    let index_settings = Settings::resolve(Options { retrieval: Some(Retrieval::Always), ..options.clone() });
    let indexer = Workspace::new(vec![repository.to_path_buf()], index_settings.retrieval.clone());
    let started = std::time::Instant::now();
    indexer.open_and_sync(&mut |_| {}).context("cannot index the repository")?;
    let index = indexer.index().cloned().context("the index did not open")?;
    eprintln!("  indexed in {:.1} s", started.elapsed().as_secs_f64());
    let mut all = Vec::new();
    for mode in modes {
        let settings = Settings::resolve(Options { retrieval: Some(*mode), ..options.clone() });
        let workspace =
            Workspace::with_index(vec![repository.to_path_buf()], settings.retrieval.clone(), Arc::clone(&index));
        let mut answers = Vec::new();
        for task in tasks {
            let document = format!("{mode:?}:{}", task.path.display());
            let at = At {
                document: &document,
                text: &task.text,
                cursor: task.cursor,
                text_offset: 0,
                path: Some(&task.path),
                cursor_line: None,
            };
            let prepared =
                completion::prepare(at, &workspace, &settings, engine.info().context_tokens, CancelToken::new())?;
            let done = engine.complete_blocking(prepared.request.clone())?;
            answers.push(Answer {
                suggestion: completion::finish(&prepared, &done),
                retrieved: done.stats.context.as_ref().is_some_and(|v| v.used),
                offered: Some(matches!(prepared.retrieval, splice_retrieval::RetrievalDecision::Retrieve { .. })),
                total_ms: done.stats.total_ms,
                first_token_ms: done.stats.first_token_ms,
                context_tokens: done.stats.context_tokens,
                round_trip_ms: None,
                retrieval: crate::report::retrieval_json(&prepared.retrieval, &done.stats),
                check: done.stats.check.as_ref().map_or(Value::Null, crate::report::check_json),
            });
        }
        all.push(answers);
    }
    Ok(all)
}

/// The lowercase name of a retrieval mode, as the flag spells it.
pub fn mode_name(mode: Retrieval) -> String {
    format!("{mode:?}").to_lowercase()
}

fn print(tallies: &[(Retrieval, Tally)], rows: &[Value], index_counts: &[Value], through: Through, as_json: bool) {
    let summary: Vec<_> = tallies
        .iter()
        .map(|(mode, t)| {
            let n = t.count.max(1) as f64;
            json!({
                "mode": mode_name(*mode),
                "tasks": t.count,
                "exactMatch": round(100.0 * t.exact as f64 / n),
                "editSimilarity": round(100.0 * t.similarity / n),
                "retrievalRate": round(100.0 * t.retrieved as f64 / n),
                "gateOfferedRate": t.offered.map(|o| round(100.0 * o as f64 / n)),
                "meanContextTokens": round(t.context_tokens as f64 / n),
                "meanFirstTokenMs": round(t.first_token_ms / n),
                "meanTotalMs": round(t.total_ms / n),
                "meanRoundTripMs": t.round_trip_ms.map(|ms| round(ms / n)),
            })
        })
        .collect();
    let through = format!("{through:?}").to_lowercase();
    if as_json {
        println!("{}", json!({ "through": through, "summary": summary, "index": index_counts, "tasks": rows }));
        return;
    }
    println!("splice bench retrieval (through {through})");
    println!("| mode | tasks | exact match % | edit similarity % | retrieved % | mean context tokens | mean first-token ms | mean total ms | mean round trip ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let cell = |v: &Value| if v.is_null() { "-".to_owned() } else { v.to_string() };
    for s in &summary {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s["mode"].as_str().unwrap_or_default(),
            s["tasks"],
            s["exactMatch"],
            s["editSimilarity"],
            s["retrievalRate"],
            s["meanContextTokens"],
            s["meanFirstTokenMs"],
            s["meanTotalMs"],
            cell(&s["meanRoundTripMs"])
        );
    }
    for c in index_counts.iter().filter(|c| !c["indexFilesAtStart"].is_null() || !c["indexFilesAtEnd"].is_null()) {
        println!(
            "index of {} ({}): {} files at the start, {} at the end",
            c["repository"].as_str().unwrap_or_default(),
            c["mode"].as_str().unwrap_or_default(),
            cell(&c["indexFilesAtStart"]),
            cell(&c["indexFilesAtEnd"])
        );
    }
}

/// 1 − Levenshtein distance / longer length, over characters (1 for two empty strings).
fn edit_similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != cb)).min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    1.0 - previous[b.len()] as f64 / longer as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_similarity_is_one_minus_normalised_levenshtein() {
        assert_eq!(edit_similarity("abc", "abc"), 1.0);
        assert_eq!(edit_similarity("", ""), 1.0);
        assert!((edit_similarity("kitten", "sitting") - (1.0 - 3.0 / 7.0)).abs() < 1e-9);
        assert_eq!(edit_similarity("", "ab"), 0.0);
    }

    #[test]
    fn only_the_first_suggested_line_is_scored() {
        let score = Score::of(Some("compute(a, b)\n    return x"), "  compute(a, b)");
        assert!(score.exact);
        assert_eq!(score.first_line, "compute(a, b)");
        assert_eq!(Score::of(None, "x").similarity, 0.0);
    }
}
