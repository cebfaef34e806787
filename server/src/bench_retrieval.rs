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
//!
//! `--lang` picks the task sets (`bench_retrieval_sets.rs`: Python, Rust, JavaScript, TypeScript,
//! C, C++); each gets its own table, with the time each request's preparation (the retrieval
//! decision, window and shape) took and the time chunking a 5,000-line file of that language
//! takes (`bench_retrieval_chunking.rs`).

use crate::bench_retrieval_chunking::{chunking, Chunking};
use crate::bench_retrieval_gate::{GateTimes, GateVariant};
use crate::bench_retrieval_sets::TaskSet;
use crate::bench_retrieval_tasks::{tasks, Task};
use crate::bench_stats::quantile;
use crate::cli::{BenchRetrievalArgs, Through};
use crate::completion::{self, At};
use crate::config::{cache_dir, Options, Retrieval, Settings};
use crate::report::round;
use crate::workspace::Workspace;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use splice_model::{CancelToken, Engine};
use splice_retrieval::WorkspaceIndex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The Python task set's repositories (the default ones), fetched by `scripts/corpus.sh`.
pub const DEFAULT_REPOSITORIES: [&str; 3] = crate::bench_retrieval_sets::PYTHON_REPOSITORIES;

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
    /// The request's preparation before the model: prompt window, retrieval decision, shape.
    pub prepare_ms: f64,
    /// The retrieval decision's part of `prepare_ms`: the gate's syntax reading and search.
    pub decision_ms: f64,
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
    prepare_ms: Vec<f64>,
    decision_ms: Vec<f64>,
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
        self.prepare_ms.push(answer.prepare_ms);
        self.decision_ms.push(answer.decision_ms);
    }
}

/// One language's results: a table's worth.
struct LanguageRun {
    set: &'static TaskSet,
    tallies: Vec<(Retrieval, Tally)>,
    rows: Vec<Value>,
    index_counts: Vec<Value>,
    chunking: Option<Chunking>,
    /// `--through gate`: each mode's preparation times (no model, no accuracy).
    gate: Vec<(GateVariant, GateTimes)>,
}

/// Runs `splice bench retrieval`: every `--lang` task set in turn, one table each.
pub fn run(args: BenchRetrievalArgs) -> anyhow::Result<()> {
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
        Through::Lsp | Through::Gate => None,
    };
    let mut runs = Vec::new();
    for lang in &args.lang {
        let set = lang.task_set();
        let repositories: Vec<PathBuf> = if args.repo.is_empty() {
            set.repositories.iter().map(|r| cache_dir().join(r)).collect()
        } else {
            args.repo.clone()
        };
        eprintln!("{}:", set.name);
        let run = run_set(set, &repositories, &args, &options, &modes, engine.as_ref(), &scratch)?;
        runs.push(run);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    print(&runs, args.through, args.json);
    Ok(())
}

/// Cuts one task set's tasks from `repositories` and asks them in every mode.
fn run_set(
    set: &'static TaskSet,
    repositories: &[PathBuf],
    args: &BenchRetrievalArgs,
    options: &Options,
    modes: &[Retrieval],
    engine: Option<&Engine>,
    scratch: &Path,
) -> anyhow::Result<LanguageRun> {
    let mut tallies: Vec<(Retrieval, Tally)> = modes.iter().map(|m| (*m, Tally::default())).collect();
    let mut rows = Vec::new();
    let mut index_counts = Vec::new();
    let mut gate = Vec::new();
    for repository in repositories {
        if !repository.is_dir() {
            bail!("{} is not a folder (run `make corpus`)", repository.display());
        }
    }
    let chunking = chunking(set, repositories)?;
    for repository in repositories {
        let files = args.files.unwrap_or(set.files);
        let per_file = args.tasks_per_file.unwrap_or(set.tasks_per_file);
        let tasks = tasks(repository, set, files, per_file, args.seed)?;
        eprintln!("{}: {} tasks", repository.display(), tasks.len());
        if args.through == Through::Gate {
            let index = open_index(repository, options)?;
            let variants = GateVariant::for_modes(modes);
            let times = crate::bench_retrieval_gate::decision_times(repository, &index, &tasks, &variants, options)?;
            if gate.is_empty() {
                gate = variants.iter().map(|v| (*v, GateTimes::default())).collect();
            }
            for ((_, all), times) in gate.iter_mut().zip(times) {
                all.extend(times);
            }
            continue;
        }
        let answers = match engine {
            Some(engine) => in_process(engine, repository, &tasks, modes, options)?,
            None => {
                let mut answers = Vec::new();
                for &mode in modes {
                    let run = crate::bench_retrieval_lsp::answers(repository, &tasks, mode, options, scratch)?;
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
                        "prepareMs": answer.prepare_ms,
                        "decisionMs": answer.decision_ms,
                        "roundTripMs": answer.round_trip_ms.map(round),
                    }));
                }
            }
        }
    }
    Ok(LanguageRun { set, tallies, rows, index_counts, chunking, gate })
}

/// Asks every task in this process, one mode after the other, over one index of `repository`.
fn in_process(
    engine: &Engine,
    repository: &Path,
    tasks: &[Task],
    modes: &[Retrieval],
    options: &Options,
) -> anyhow::Result<Vec<Vec<Answer>>> {
    let index = open_index(repository, options)?;
    let mut all = Vec::new();
    for mode in modes {
        let settings = Settings::resolve(Options { retrieval: Some(*mode), ..options.clone() });
        let workspace =
            Workspace::with_index(vec![repository.to_path_buf()], settings.retrieval.clone(), Arc::clone(&index));
        let mut answers = Vec::new();
        for task in tasks {
            let document = format!("{mode:?}:{}", task.path.display());
            let at = At::whole(&document, &task.text, task.cursor, Some(&task.path));
            let started = std::time::Instant::now();
            let prepared =
                completion::prepare(at, &workspace, &settings, engine.info().context_tokens, CancelToken::new())?;
            let prepare_ms = started.elapsed().as_secs_f64() * 1000.0;
            let done = engine.complete_blocking(prepared.request.clone())?;
            answers.push(Answer {
                suggestion: completion::finish(&prepared, &done),
                retrieved: done.stats.context.as_ref().is_some_and(|v| v.used),
                offered: Some(matches!(prepared.retrieval, splice_retrieval::RetrievalDecision::Retrieve { .. })),
                total_ms: done.stats.total_ms,
                first_token_ms: done.stats.first_token_ms,
                context_tokens: done.stats.context_tokens,
                round_trip_ms: None,
                prepare_ms,
                decision_ms: prepared.decision_ms,
                retrieval: crate::report::retrieval_json(&prepared.retrieval, &done.stats),
                check: done.stats.check.as_ref().map_or(Value::Null, crate::report::check_json),
            });
        }
        all.push(answers);
    }
    Ok(all)
}

/// Indexes `repository` (in the bench's scratch index folder) and returns the open index.
fn open_index(repository: &Path, options: &Options) -> anyhow::Result<Arc<WorkspaceIndex>> {
    let index_settings = Settings::resolve(Options { retrieval: Some(Retrieval::Always), ..options.clone() });
    let indexer = Workspace::new(vec![repository.to_path_buf()], index_settings.retrieval.clone());
    let started = std::time::Instant::now();
    indexer.open_and_sync(&mut |_| {}).context("cannot index the repository")?;
    let index = indexer.index().cloned().context("the index did not open")?;
    eprintln!("  indexed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(index)
}

/// The lowercase name of a retrieval mode, as the flag spells it.
pub fn mode_name(mode: Retrieval) -> String {
    format!("{mode:?}").to_lowercase()
}

/// One mode's summary line, as JSON.
fn summary(mode: Retrieval, t: &Tally) -> Value {
    let n = t.count.max(1) as f64;
    let ms = |times: &[f64], q| quantile(times, q).map(|ms| (ms * 100.0).round() / 100.0);
    json!({
        "mode": mode_name(mode),
        "tasks": t.count,
        "exactMatch": round(100.0 * t.exact as f64 / n),
        "editSimilarity": round(100.0 * t.similarity / n),
        "retrievalRate": round(100.0 * t.retrieved as f64 / n),
        "gateOfferedRate": t.offered.map(|o| round(100.0 * o as f64 / n)),
        "meanContextTokens": round(t.context_tokens as f64 / n),
        "meanFirstTokenMs": round(t.first_token_ms / n),
        "meanTotalMs": round(t.total_ms / n),
        "meanRoundTripMs": t.round_trip_ms.map(|ms| round(ms / n)),
        "prepareMsMedian": ms(&t.prepare_ms, 0.5),
        "prepareMsP95": ms(&t.prepare_ms, 0.95),
        "decisionMsMedian": ms(&t.decision_ms, 0.5),
        "decisionMsP95": ms(&t.decision_ms, 0.95),
    })
}

fn print(runs: &[LanguageRun], through: Through, as_json: bool) {
    let through = format!("{through:?}").to_lowercase();
    let languages: Vec<Value> = runs
        .iter()
        .map(|run| {
            json!({
                "language": run.set.name,
                "summary": run.tallies.iter().map(|(mode, t)| summary(*mode, t)).collect::<Vec<_>>(),
                "chunking": run.chunking.as_ref().map(Chunking::json),
                "preparation": preparation_json(&run.gate),
                "index": run.index_counts,
                "tasks": run.rows,
            })
        })
        .collect();
    if as_json {
        println!("{}", json!({ "through": through, "languages": languages }));
        return;
    }
    for (run, language) in runs.iter().zip(&languages) {
        println!("splice bench retrieval: {} (through {through})", run.set.name);
        if !run.gate.is_empty() {
            print_gate(language, run.chunking.as_ref());
            continue;
        }
        println!("| mode | tasks | exact match % | edit similarity % | retrieved % | mean context tokens | mean first-token ms | mean total ms | mean round trip ms | prepare ms p50 / p95 | of which the decision: ms p50 / p95 |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        for s in language["summary"].as_array().into_iter().flatten() {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} |",
                s["mode"].as_str().unwrap_or_default(),
                s["tasks"],
                s["exactMatch"],
                s["editSimilarity"],
                s["retrievalRate"],
                s["meanContextTokens"],
                s["meanFirstTokenMs"],
                s["meanTotalMs"],
                cell(&s["meanRoundTripMs"]),
                cell(&s["prepareMsMedian"]),
                cell(&s["prepareMsP95"]),
                cell(&s["decisionMsMedian"]),
                cell(&s["decisionMsP95"]),
            );
        }
        if let Some(chunking) = &run.chunking {
            println!("{}", chunking.line());
        }
        for c in
            run.index_counts.iter().filter(|c| !c["indexFilesAtStart"].is_null() || !c["indexFilesAtEnd"].is_null())
        {
            println!(
                "index of {} ({}): {} files at the start, {} at the end",
                c["repository"].as_str().unwrap_or_default(),
                c["mode"].as_str().unwrap_or_default(),
                cell(&c["indexFilesAtStart"]),
                cell(&c["indexFilesAtEnd"])
            );
        }
        println!();
    }
}

/// `--through gate`'s variants as JSON, each with the share of its decisions that equal those of
/// the same mode parsed from scratch (the reference the kept syntax must not change).
fn preparation_json(gate: &[(GateVariant, GateTimes)]) -> Vec<Value> {
    let scratch = |mode| gate.iter().find(|(v, _)| v.mode == mode && !v.keep_syntax).map(|(_, t)| t);
    gate.iter()
        .map(|(variant, times)| {
            let mut json = times.json(&variant.name());
            json["sameDecisionsAsScratchRate"] =
                json!(scratch(variant.mode).and_then(|reference| times.same_decisions_rate(reference)));
            json
        })
        .collect()
}

/// `--through gate`'s table: preparation times per mode, first requests and typed keys.
fn print_gate(language: &Value, chunking: Option<&Chunking>) {
    println!("| mode | tasks | keys typed | files read when opened: ms p50 / p95 | first request: prepare ms p50 / p95 | typing: prepare ms p50 / p95 / max | retrieving %: first requests / all | decided as parsed from scratch % |");
    println!("|---|---|---|---|---|---|---|---|");
    for g in language["preparation"].as_array().into_iter().flatten() {
        println!(
            "| {} | {} | {} | {} / {} | {} / {} | {} / {} / {} | {} / {} | {} |",
            g["mode"].as_str().unwrap_or_default(),
            g["tasks"],
            g["keys"],
            cell(&g["openMsMedian"]),
            cell(&g["openMsP95"]),
            cell(&g["firstMsMedian"]),
            cell(&g["firstMsP95"]),
            cell(&g["typingMsMedian"]),
            cell(&g["typingMsP95"]),
            cell(&g["typingMsMax"]),
            g["firstRetrievedRate"],
            g["retrievedRate"],
            cell(&g["sameDecisionsAsScratchRate"]),
        );
    }
    if let Some(chunking) = chunking {
        println!("{}", chunking.line());
    }
    println!();
}

/// A table cell: the value, or `-` where there is none.
fn cell(v: &Value) -> String {
    if v.is_null() {
        "-".to_owned()
    } else {
        v.to_string()
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
