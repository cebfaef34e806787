//! `splice bench exec`: do the suggested lines run? Functional correctness against the peer.
//!
//! Holes are cut from real Python packages that ship fast pure-Python test suites (the pinned
//! sdists of `make corpus`, `bench_exec_tests.rs`): one line per function, a line that the
//! package's own tests run, pass with, and fail without. The line's text is removed and its
//! indentation left, the cursor after it, as an editor's auto-indent leaves an empty line. Each
//! system is asked at every hole; the first line of its suggestion is put back after the
//! indentation and the tests that run that line are run (pytest, a time limit per run; a line
//! identical to the original passes without running them). Reported per system: pass@1, exact
//! match (the whole line, indentation included), empty answers, lines that do not parse
//! (tree-sitter finds more errors in the file than before) and lines that change the
//! indentation (they start with whitespace).
//!
//! Splice is asked over LSP (`bench_retrieval_lsp.rs`: one server per package and variant, the
//! package as the workspace, the holes of a file as edits of one open document); llama-server,
//! with `--peer`, as `bench_exec_peer.rs` says. The latency budget is off unless given: it cuts
//! the cold prompt of each file's first hole, and this bench measures quality.

use crate::bench_exec_peer::{self, PeerEndpoint};
use crate::bench_exec_tests::{self, Hole, Job, Package, Verdict, PACKAGES};
use crate::bench_retrieval_tasks::Task;
use crate::bench_typing_peer::LlamaServer;
use crate::cli::{BenchExecArgs, ExecVariant};
use crate::config::Options;
use crate::report::round;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use splice_retrieval::syntax::{SyntaxChecker, SyntaxLanguage};
use std::collections::HashMap;
use std::path::Path;

/// One system's answer at one hole, judged.
#[derive(Debug, Clone, Default)]
struct Outcome {
    /// The first line of the suggestion.
    first_line: String,
    /// The hole's line with it put back.
    line: String,
    passed: bool,
    timed_out: bool,
    exact: bool,
    empty: bool,
    unparsable: bool,
    indentation_changed: bool,
    total_ms: f64,
    /// The syntax check ran for it.
    checked: bool,
    /// The syntax check showed another candidate than the greedy one.
    replaced: bool,
    /// Milliseconds the check spent judging, generating alternatives and scoring them against
    /// the code below.
    check_ms: f64,
    /// The candidates' first lines with their log-probability with the code below (null: not
    /// scored), greedy first.
    candidates: Vec<Value>,
    /// The engine's time for the request.
    engine_ms: f64,
}

/// What one system answered at one hole, before judging.
#[derive(Debug, Clone, Default)]
struct Asked {
    first_line: String,
    /// Round trip of the request.
    total_ms: f64,
    /// The engine's time (Splice only).
    engine_ms: f64,
    /// `report::check_json` of the request (Splice only).
    check: Value,
}

/// A system's outcomes over all holes, package by package.
struct SystemRun {
    name: String,
    outcomes: Vec<(&'static str, Outcome)>,
}

/// Runs `splice bench exec`.
pub fn run(args: BenchExecArgs) -> anyhow::Result<()> {
    let packages: Vec<Package> = if args.packages.is_empty() {
        PACKAGES.to_vec()
    } else {
        let mut chosen = Vec::new();
        for name in &args.packages {
            match PACKAGES.iter().find(|p| p.name == name) {
                Some(package) => chosen.push(*package),
                None => bail!(
                    "unknown package {name} (known: {})",
                    PACKAGES.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        chosen
    };
    let scratch = std::env::temp_dir().join(format!("splice-bench-exec-{}", std::process::id()));
    let options = Options {
        index_dir: args.options.index_dir.clone().or_else(|| Some(scratch.join("index"))),
        // Quality with whole prompts: a budget would cut the cold prompt of each file's first hole.
        latency_budget: args.options.latency_budget.or(Some(0)),
        ..args.options.clone()
    };
    let mut systems: Vec<SystemRun> =
        args.variants.iter().map(|v| SystemRun { name: variant_name(*v), outcomes: Vec::new() }).collect();
    let mut peer_run = args.peer.as_ref().map(|_| SystemRun { name: "llama-server".to_owned(), outcomes: Vec::new() });
    let mut peer: Option<(LlamaServer, crate::bench_typing_peer::PeerSettings, PeerEndpoint)> = None;
    let mut rows = Vec::new();
    for package in &packages {
        let holes = bench_exec_tests::holes(package, args.holes, args.seed, args.test_timeout)?;
        let tasks = holes.iter().map(|hole| task(package, hole)).collect::<anyhow::Result<Vec<_>>>()?;
        eprintln!("{}: {} holes", package.name, tasks.len());
        let workspace = package.root().join(package.source);
        let mut lines: Vec<Vec<Asked>> = Vec::new();
        let mut model = Value::Null;
        for variant in &args.variants {
            let variant_options = variant_options(*variant, &options);
            let mode = variant_options.retrieval.unwrap_or(crate::config::Retrieval::Auto);
            let run = crate::bench_retrieval_lsp::answers(&workspace, &tasks, mode, &variant_options, &scratch)?;
            model = run.model.clone();
            lines.push(
                run.answers
                    .iter()
                    .map(|a| Asked {
                        first_line: first_line(a.suggestion.as_deref().unwrap_or_default()),
                        total_ms: a.round_trip_ms.unwrap_or(a.total_ms),
                        engine_ms: a.total_ms,
                        check: a.check.clone(),
                    })
                    .collect(),
            );
        }
        if let Some(binary) = &args.peer {
            if peer.is_none() {
                let settings = crate::bench_typing::peer_settings(&options, &json!({ "model": model }));
                let log = scratch.join("llama-server.log");
                std::fs::create_dir_all(&scratch)?;
                let server = LlamaServer::start(binary, &settings, &log)?;
                let endpoint = bench_exec_peer::endpoint(&server);
                eprintln!("llama-server: asked through {endpoint:?}");
                peer = Some((server, settings, endpoint));
            }
            let (server, settings, endpoint) = peer.as_ref().context("the peer is running")?;
            let answers = bench_exec_peer::answers(server, settings, *endpoint, &tasks)?;
            lines.push(
                answers
                    .into_iter()
                    .map(|a| Asked { first_line: a.first_line, total_ms: a.total_ms, ..Asked::default() })
                    .collect(),
            );
        }
        let outcomes = judge(package, &holes, &lines, args.test_timeout, &scratch)?;
        let mut per_system = outcomes.into_iter();
        for system in systems.iter_mut().chain(peer_run.as_mut()) {
            let judged = per_system.next().context("one judged list per system")?;
            for (hole, outcome) in holes.iter().zip(&judged) {
                if args.json {
                    rows.push(json!({
                        "system": system.name,
                        "package": package.name,
                        "file": hole.file,
                        "line": hole.line,
                        "expected": hole.text.trim(),
                        "firstLine": outcome.first_line,
                        "passed": outcome.passed,
                        "timedOut": outcome.timed_out,
                        "exact": outcome.exact,
                        "unparsable": outcome.unparsable,
                        "indentationChanged": outcome.indentation_changed,
                        "checkReplaced": outcome.replaced,
                        "candidates": outcome.candidates,
                        "ms": round(outcome.total_ms),
                    }));
                }
            }
            system.outcomes.extend(judged.into_iter().map(|o| (package.name, o)));
        }
    }
    drop(peer);
    let _ = std::fs::remove_dir_all(&scratch);
    let all: Vec<&SystemRun> = systems.iter().chain(peer_run.as_ref()).collect();
    print(&all, &packages, &rows, args.json);
    Ok(())
}

/// The first line of each candidate of a request's check and its score with the code below.
fn candidate_lines(check: &Value) -> Vec<Value> {
    let Some(candidates) = check["candidates"].as_array() else { return Vec::new() };
    candidates.iter().map(|c| json!([first_line(c["text"].as_str().unwrap_or_default()), c["belowLogprob"]])).collect()
}

/// The name a variant goes by in the table.
fn variant_name(variant: ExecVariant) -> String {
    match variant {
        ExecVariant::Never => "splice, retrieval never",
        ExecVariant::Auto => "splice, defaults (retrieval auto)",
        ExecVariant::NoCheck => "splice, syntax check off",
        ExecVariant::NoHealing => "splice, token healing off",
        ExecVariant::SingleLine => "splice, multi-line off",
        ExecVariant::NoBelow => "splice, code below does not judge",
    }
    .to_owned()
}

/// The options a variant runs with.
fn variant_options(variant: ExecVariant, options: &Options) -> Options {
    use crate::config::{OnOff, Retrieval};
    let options = options.clone();
    match variant {
        ExecVariant::Never => Options { retrieval: Some(Retrieval::Never), ..options },
        ExecVariant::Auto => options,
        ExecVariant::NoCheck => Options { syntax_check: Some(OnOff::Off), ..options },
        ExecVariant::NoHealing => Options { token_healing: Some(OnOff::Off), ..options },
        ExecVariant::SingleLine => Options { multi_line: Some(OnOff::Off), ..options },
        ExecVariant::NoBelow => Options { below_tokens: Some(0), ..options },
    }
}

/// The hole as a completion task: its line emptied after the indentation, the cursor there.
fn task(package: &Package, hole: &Hole) -> anyhow::Result<Task> {
    let path = package.root().join(&hole.file);
    let path = path.canonicalize().unwrap_or(path);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let range =
        line_range(&text, hole.line).with_context(|| format!("{} has no line {}", path.display(), hole.line))?;
    if text[range.clone()] != hole.text {
        bail!(
            "{}:{} changed since its hole was chosen (delete the cache in ~/.cache/splice/exec)",
            path.display(),
            hole.line
        );
    }
    let cursor = range.start + hole.indent.len();
    let mut cut = text;
    cut.replace_range(range, &hole.indent);
    Ok(Task { path, text: cut, cursor, expected: hole.text[hole.indent.len()..].to_owned() })
}

/// Byte offset of the start of 1-based line `line`.
fn line_start(text: &str, line: usize) -> Option<usize> {
    if line == 1 {
        return Some(0);
    }
    text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)
}

/// Byte range of 1-based line `line`, without its line break.
fn line_range(text: &str, line: usize) -> Option<std::ops::Range<usize>> {
    let start = line_start(text, line)?;
    Some(start..text[start..].find('\n').map_or(text.len(), |i| start + i))
}

fn first_line(suggestion: &str) -> String {
    suggestion.split('\n').next().unwrap_or_default().trim_end_matches('\r').to_owned()
}

/// Puts each system's first line back into its hole, runs the tests (once per distinct line)
/// and checks the syntax; one list of outcomes per system.
fn judge(
    package: &Package,
    holes: &[Hole],
    lines: &[Vec<Asked>],
    timeout_s: u64,
    scratch: &Path,
) -> anyhow::Result<Vec<Vec<Outcome>>> {
    let mut jobs: Vec<Job> = Vec::new();
    let mut job_of: HashMap<(usize, String), usize> = HashMap::new();
    let mut outcomes: Vec<Vec<Outcome>> = Vec::new();
    let mut checker = SyntaxChecker::new(SyntaxLanguage::Python).context("the Python grammar did not load")?;
    // Each file once, with its own error count; each distinct put-back line parsed once.
    let mut files: HashMap<&str, (String, usize)> = HashMap::new();
    for hole in holes {
        if !files.contains_key(hole.file.as_str()) {
            let text = std::fs::read_to_string(package.root().join(&hole.file))?;
            let errors = checker.error_count(&text).unwrap_or(0);
            files.insert(&hole.file, (text, errors));
        }
    }
    let mut unparsable: HashMap<(usize, String), bool> = HashMap::new();
    for system in lines {
        let mut judged = Vec::new();
        for (h, (hole, asked)) in holes.iter().zip(system).enumerate() {
            let first = &asked.first_line;
            let line = format!("{}{first}", hole.indent);
            let worse = match unparsable.get(&(h, line.clone())) {
                Some(&worse) => worse,
                None => {
                    let (original, errors_before) = &files[hole.file.as_str()];
                    let range = line_range(original, hole.line).context("the hole's line exists")?;
                    let mut put_back = original.clone();
                    put_back.replace_range(range, &line);
                    let worse = checker.error_count(&put_back).unwrap_or(0) > *errors_before;
                    unparsable.insert((h, line.clone()), worse);
                    worse
                }
            };
            let exact = line == hole.text;
            if !exact {
                let next = jobs.len();
                job_of.entry((h, line.clone())).or_insert_with(|| {
                    jobs.push(Job {
                        file: hole.file.clone(),
                        line: hole.line,
                        text: line.clone(),
                        tests: hole.tests.clone(),
                    });
                    next
                });
            }
            judged.push(Outcome {
                empty: first.trim().is_empty(),
                indentation_changed: !first.trim().is_empty() && first.starts_with(char::is_whitespace),
                unparsable: worse,
                exact,
                passed: exact,
                first_line: first.clone(),
                line,
                timed_out: false,
                total_ms: asked.total_ms,
                checked: !asked.check.is_null(),
                replaced: asked.check["chosen"].as_u64().is_some_and(|c| c > 0),
                check_ms: ["judgeMs", "alternativesMs", "belowMs"]
                    .iter()
                    .map(|key| asked.check[*key].as_f64().unwrap_or(0.0))
                    .sum(),
                candidates: candidate_lines(&asked.check),
                engine_ms: asked.engine_ms,
            });
        }
        outcomes.push(judged);
    }
    eprintln!("{}: running the tests for {} distinct put-back lines", package.name, jobs.len());
    let verdicts = bench_exec_tests::check(package, &jobs, timeout_s, scratch)?;
    for judged in &mut outcomes {
        for (h, outcome) in judged.iter_mut().enumerate() {
            if outcome.exact {
                continue;
            }
            let verdict = verdicts[job_of[&(h, outcome.line.clone())]];
            outcome.passed = verdict == Verdict::Pass;
            outcome.timed_out = verdict == Verdict::Timeout;
        }
    }
    Ok(outcomes)
}

/// The syntax check's milliseconds as a percentage of the engine's, over the checked requests
/// (`null` when none was checked).
fn check_share(outcomes: &[&Outcome]) -> Value {
    let checked: Vec<&&Outcome> = outcomes.iter().filter(|o| o.checked).collect();
    let engine: f64 = checked.iter().map(|o| o.engine_ms).sum();
    if checked.is_empty() || engine <= 0.0 {
        return Value::Null;
    }
    json!(round(100.0 * checked.iter().map(|o| o.check_ms).sum::<f64>() / engine))
}

fn percent(count: usize, of: usize) -> f64 {
    round(100.0 * count as f64 / of.max(1) as f64)
}

fn print(systems: &[&SystemRun], packages: &[Package], rows: &[Value], as_json: bool) {
    let summary: Vec<Value> = systems
        .iter()
        .map(|system| {
            let all: Vec<&Outcome> = system.outcomes.iter().map(|(_, o)| o).collect();
            let n = all.len();
            let count = |f: fn(&Outcome) -> bool| all.iter().filter(|o| f(o)).count();
            let by_package: Vec<Value> = packages
                .iter()
                .map(|p| {
                    let of: Vec<&Outcome> =
                        system.outcomes.iter().filter(|(name, _)| *name == p.name).map(|(_, o)| o).collect();
                    json!({
                        "package": p.name,
                        "holes": of.len(),
                        "passAt1": percent(of.iter().filter(|o| o.passed).count(), of.len()),
                    })
                })
                .collect();
            json!({
                "system": system.name,
                "holes": n,
                "passAt1": percent(count(|o| o.passed), n),
                "exactMatch": percent(count(|o| o.exact), n),
                "empty": percent(count(|o| o.empty), n),
                "unparsable": percent(count(|o| o.unparsable), n),
                "indentationChanged": percent(count(|o| o.indentation_changed), n),
                "timedOut": count(|o| o.timed_out),
                "checkReplaced": percent(count(|o| o.replaced), n),
                "checkShareOfEngineTime": check_share(&all),
                "meanMs": round(all.iter().map(|o| o.total_ms).sum::<f64>() / n.max(1) as f64),
                "byPackage": by_package,
            })
        })
        .collect();
    if as_json {
        println!("{}", json!({ "summary": summary, "holes": rows }));
        return;
    }
    println!("splice bench exec: the first suggested line put back, the package's tests run");
    println!("| system | holes | pass@1 % | exact % | empty % | does not parse % | indentation changed % | check replaced % | check % of engine time | mean ms |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let cell = |v: &Value| if v.is_null() { "-".to_owned() } else { v.to_string() };
    for s in &summary {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s["system"].as_str().unwrap_or_default(),
            s["holes"],
            s["passAt1"],
            s["exactMatch"],
            s["empty"],
            s["unparsable"],
            s["indentationChanged"],
            s["checkReplaced"],
            cell(&s["checkShareOfEngineTime"]),
            s["meanMs"]
        );
    }
    println!();
    let names: Vec<&str> = packages.iter().map(|p| p.name).collect();
    println!("| pass@1 % by package | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for s in &summary {
        let cells: Vec<String> = s["byPackage"]
            .as_array()
            .map(|ps| ps.iter().map(|p| format!("{} ({})", p["passAt1"], p["holes"])).collect())
            .unwrap_or_default();
        println!("| {} | {} |", s["system"].as_str().unwrap_or_default(), cells.join(" | "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_starts_are_found_by_number() {
        let text = "a\nbb\n\nccc";
        assert_eq!(line_start(text, 1), Some(0));
        assert_eq!(line_start(text, 2), Some(2));
        assert_eq!(line_start(text, 3), Some(5));
        assert_eq!(line_start(text, 4), Some(6));
        assert_eq!(line_start(text, 5), None);
    }

    #[test]
    fn only_the_first_line_is_put_back() {
        assert_eq!(first_line("return x\n    y = 2"), "return x");
        assert_eq!(first_line(""), "");
        assert_eq!(first_line("\nfoo"), "");
    }
}
