//! `splice bench retrieval`: does repository context make line completions better, and does the
//! `auto` gate retrieve only when it helps?
//!
//! Tasks are cut from real repositories (PyPI sdists fetched by `scripts/corpus.sh`): a line of a
//! source file is chosen (seeded, deterministic), the cursor goes at its start (after the
//! indentation), mid-line (after a `.`, `(` or `= `) or three characters into a name (the editor
//! asks while names are typed), and the rest of that line is removed; the lines below stay as
//! the suffix. Each task runs under `--retrieval never`, `always` and `auto`
//! over the same index, and the first suggested line is compared with the removed text: exact
//! match (whitespace-trimmed) and edit similarity (1 − Levenshtein / longer length, RepoCoder's
//! ES). Printed per mode: accuracy, how often the prompt carried retrieved snippets, and latency.

use crate::bench_rng::SplitMix;
use crate::cli::BenchRetrievalArgs;
use crate::completion::{self, At};
use crate::config::{cache_dir, Options, Retrieval, Settings};
use crate::report::round;
use crate::workspace::Workspace;
use anyhow::{bail, Context};
use serde_json::json;
use splice_model::{CancelToken, Engine};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default repositories, fetched by `scripts/corpus.sh`: package folders of their sdists.
pub const DEFAULT_REPOSITORIES: [&str; 3] = [
    "corpus/requests-2.32.3/src/requests",
    "corpus/click-8.1.7/src/click",
    "corpus/itsdangerous-2.2.0/src/itsdangerous",
];

/// One line-completion task.
#[derive(Debug, Clone)]
struct Task {
    /// The file, absolute.
    path: PathBuf,
    /// The file with the rest of the line removed.
    text: String,
    /// Byte offset of the cursor in `text`.
    cursor: usize,
    /// The removed rest of the line.
    expected: String,
}

/// One mode's results.
#[derive(Debug, Default)]
struct Tally {
    exact: usize,
    similarity: f64,
    retrieved: usize,
    offered: usize,
    total_ms: f64,
    first_token_ms: f64,
    context_tokens: usize,
    count: usize,
}

/// Runs `splice bench retrieval`.
pub fn run(args: BenchRetrievalArgs) -> anyhow::Result<()> {
    let repositories: Vec<PathBuf> = if args.repo.is_empty() {
        DEFAULT_REPOSITORIES.iter().map(|r| cache_dir().join(r)).collect()
    } else {
        args.repo.clone()
    };
    let index_dir = std::env::temp_dir().join(format!("splice-bench-retrieval-{}", std::process::id()));
    let options = Options {
        ctx: args.options.ctx.or(Some(2048)),
        max_tokens: args.options.max_tokens.or(Some(48)),
        ..args.options.clone()
    };
    let modes = match options.retrieval {
        Some(mode) => vec![mode],
        None => vec![Retrieval::Never, Retrieval::Always, Retrieval::Auto],
    };
    let engine = Engine::start(Settings::resolve(options.clone()).engine)?;
    let mut tallies: Vec<(Retrieval, Tally)> = modes.iter().map(|m| (*m, Tally::default())).collect();
    let mut rows = Vec::new();
    for repository in &repositories {
        if !repository.is_dir() {
            bail!("{} is not a folder (run `make corpus`)", repository.display());
        }
        let tasks = tasks(repository, args.files, args.tasks_per_file, args.seed)?;
        let index_settings = Settings::resolve(Options {
            retrieval: Some(Retrieval::Always),
            index_dir: Some(index_dir.clone()),
            ..options.clone()
        });
        let indexer = Workspace::new(vec![repository.clone()], index_settings.retrieval.clone());
        let started = std::time::Instant::now();
        indexer.open_and_sync(&mut |_| {}).context("cannot index the repository")?;
        let index = indexer.index().cloned().context("the index did not open")?;
        eprintln!(
            "{}: {} tasks, indexed in {:.1} s",
            repository.display(),
            tasks.len(),
            started.elapsed().as_secs_f64()
        );
        for (mode, tally) in &mut tallies {
            let settings = Settings::resolve(Options { retrieval: Some(*mode), ..options.clone() });
            let workspace =
                Workspace::with_index(vec![repository.clone()], settings.retrieval.clone(), Arc::clone(&index));
            for (i, task) in tasks.iter().enumerate() {
                let document = format!("{mode:?}:{}", task.path.display());
                let at = At { document: &document, text: &task.text, cursor: task.cursor, path: Some(&task.path) };
                let prepared =
                    completion::prepare(at, &workspace, &settings, engine.info().context_tokens, CancelToken::new())?;
                let offered = matches!(prepared.retrieval, splice_retrieval::RetrievalDecision::Retrieve { .. });
                let done = engine.complete_blocking(prepared.request.clone())?;
                let suggestion = completion::finish(&prepared, &done).unwrap_or_default();
                let first_line = suggestion.lines().next().unwrap_or_default();
                let exact = first_line.trim() == task.expected.trim();
                let similarity = edit_similarity(first_line.trim(), task.expected.trim());
                let retrieved = done.stats.context.as_ref().is_some_and(|v| v.used);
                tally.count += 1;
                tally.exact += usize::from(exact);
                tally.similarity += similarity;
                tally.retrieved += usize::from(retrieved);
                tally.offered += usize::from(offered);
                tally.total_ms += done.stats.total_ms;
                tally.first_token_ms += done.stats.first_token_ms;
                tally.context_tokens += done.stats.context_tokens;
                if args.json {
                    rows.push(json!({
                        "mode": format!("{mode:?}").to_lowercase(),
                        "task": i,
                        "file": task.path,
                        "expected": task.expected,
                        "suggestion": first_line,
                        "exact": exact,
                        "similarity": round(similarity * 100.0) / 100.0,
                        "retrieval": crate::report::retrieval_json(&prepared.retrieval, &done.stats),
                        "totalMs": round(done.stats.total_ms),
                    }));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&index_dir);
    print(&tallies, &rows, args.json);
    Ok(())
}

fn print(tallies: &[(Retrieval, Tally)], rows: &[serde_json::Value], as_json: bool) {
    let summary: Vec<_> = tallies
        .iter()
        .map(|(mode, t)| {
            let n = t.count.max(1) as f64;
            json!({
                "mode": format!("{mode:?}").to_lowercase(),
                "tasks": t.count,
                "exactMatch": round(100.0 * t.exact as f64 / n),
                "editSimilarity": round(100.0 * t.similarity / n),
                "retrievalRate": round(100.0 * t.retrieved as f64 / n),
                "gateOfferedRate": round(100.0 * t.offered as f64 / n),
                "meanContextTokens": round(t.context_tokens as f64 / n),
                "meanFirstTokenMs": round(t.first_token_ms / n),
                "meanTotalMs": round(t.total_ms / n),
            })
        })
        .collect();
    if as_json {
        println!("{}", json!({ "summary": summary, "tasks": rows }));
        return;
    }
    println!("| mode | tasks | exact match % | edit similarity % | retrieved % | mean context tokens | mean first-token ms | mean total ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for s in &summary {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s["mode"].as_str().unwrap_or_default(),
            s["tasks"],
            s["exactMatch"],
            s["editSimilarity"],
            s["retrievalRate"],
            s["meanContextTokens"],
            s["meanFirstTokenMs"],
            s["meanTotalMs"]
        );
    }
}

/// Cuts `per_file` tasks from each of `files` Python files of `root` (largest first among the
/// files that have enough candidate lines, then seeded choice of lines and cursor kinds).
fn tasks(root: &Path, files: usize, per_file: usize, seed: u64) -> anyhow::Result<Vec<Task>> {
    let mut paths = python_files(root)?;
    paths.sort();
    let mut rng = SplitMix(seed);
    let mut chosen = Vec::new();
    // Spread over the repository: a seeded shuffle, then the first files with enough lines.
    for i in (1..paths.len()).rev() {
        paths.swap(i, rng.below(i + 1));
    }
    for path in paths {
        if chosen.len() >= files * per_file {
            break;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut candidates = candidate_lines(&text);
        if candidates.len() < per_file * 3 {
            continue;
        }
        let mut picked = Vec::new();
        while picked.len() < per_file && !candidates.is_empty() {
            let line = candidates.swap_remove(rng.below(candidates.len()));
            picked.push(line);
        }
        // Document order, so that consecutive tasks of a file are nearby edits of one document.
        picked.sort_by_key(|(start, _)| *start);
        for (start, end) in picked {
            let line = &text[start..end];
            let cut = match rng.below(3) {
                0 => line_start_cut(line),
                1 => mid_line_cut(line, &mut rng),
                _ => mid_word_cut(line, &mut rng),
            };
            let Some(cut) = cut else { continue };
            let expected = line[cut..].to_owned();
            let mut cut_text = text.clone();
            cut_text.replace_range(start + cut..end, "");
            chosen.push(Task { path: path.clone(), text: cut_text, cursor: start + cut, expected });
        }
    }
    Ok(chosen)
}

fn python_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "py") {
                out.push(path.canonicalize().unwrap_or(path));
            }
        }
    }
    Ok(out)
}

/// Byte ranges (without the newline) of lines worth completing: code, not comments, docstrings
/// or blank lines, at least 12 characters, after the first 10 lines.
fn candidate_lines(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut in_docstring = false;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches('\n');
        let trimmed = body.trim();
        let quotes = trimmed.matches("\"\"\"").count() + trimmed.matches("'''").count();
        let skip = in_docstring || quotes > 0 || trimmed.starts_with('#') || trimmed.len() < 12 || number < 10;
        if quotes % 2 == 1 {
            in_docstring = !in_docstring;
        }
        if !skip {
            out.push((offset, offset + body.len()));
        }
        offset += line.len();
    }
    out
}

/// The cursor after the indentation.
fn line_start_cut(line: &str) -> Option<usize> {
    Some(line.len() - line.trim_start().len())
}

/// The cursor after a `.`, `(` or `= ` of the line (seeded choice), leaving at least 3 bytes.
fn mid_line_cut(line: &str, rng: &mut SplitMix) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let cuts: Vec<usize> = line
        .char_indices()
        .filter(|(i, c)| *i > indent && matches!(c, '.' | '(' | ' ') && (*c != ' ' || line[..*i].ends_with('=')))
        .map(|(i, c)| i + c.len_utf8())
        .filter(|&i| line.len() - i >= 3)
        .collect();
    if cuts.is_empty() {
        return line_start_cut(line);
    }
    Some(*rng.pick(&cuts))
}

/// The cursor three characters into a name of at least six (seeded choice): the editor asks
/// while a name is being typed. Falls back to [`mid_line_cut`] on lines without such a name.
fn mid_word_cut(line: &str, rng: &mut SplitMix) -> Option<usize> {
    const TYPED: usize = 3;
    let mut names = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain(std::iter::once((line.len(), ' '))) {
        let ident = c.is_alphanumeric() || c == '_';
        match (start, ident) {
            (None, true) if !c.is_numeric() => start = Some(i),
            (Some(s), false) => {
                if line[s..i].chars().count() >= 2 * TYPED {
                    names.push(s);
                }
                start = None;
            }
            _ => {}
        }
    }
    if names.is_empty() {
        return mid_line_cut(line, rng);
    }
    let name = *rng.pick(&names);
    Some(name + line[name..].chars().take(TYPED).map(char::len_utf8).sum::<usize>())
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
    fn mid_line_cuts_follow_a_dot_a_paren_or_an_assignment() {
        let line = "    total = helpers.compute(order)";
        let mut rng = SplitMix(1);
        for _ in 0..20 {
            let cut = mid_line_cut(line, &mut rng).unwrap();
            assert!(["= ", "helpers.", "compute("].iter().any(|s| line[..cut].ends_with(s)), "{}", &line[..cut]);
        }
        assert_eq!(line_start_cut(line), Some(4));
    }

    #[test]
    fn mid_word_cuts_leave_three_typed_characters_of_a_long_name() {
        let line = "    total = helpers.compute_total(order)";
        let mut rng = SplitMix(3);
        for _ in 0..20 {
            let cut = mid_word_cut(line, &mut rng).unwrap();
            assert!(["hel", "com"].iter().any(|s| line[..cut].ends_with(s)), "{}", &line[..cut]);
        }
    }

    #[test]
    fn docstrings_comments_and_short_lines_are_not_tasks() {
        let mut text = "x = 1\n".repeat(10);
        text.push_str("def f():\n    \"\"\"Docs\n    more docs here ok\n    \"\"\"\n    # a comment line here\n    return compute(a, b)\n");
        let lines: Vec<&str> = candidate_lines(&text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(lines, vec!["    return compute(a, b)"]);
    }
}
