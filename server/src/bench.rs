//! `splice bench …`: numbers, printed; never a pass/fail test.
//!
//! `bench latency` replays what an editor does on a real ~3000-token Python file: a cold first
//! request, then one completion request per one-character edit, typed at the cursor and made
//! half a file above it. It runs the same path as the LSP handlers (window, shape, engine,
//! postprocessing) without the JSON-RPC transport, and prints per-request latency, tokens
//! encoded per request, generation speed and peak RSS.

use crate::cli::{BenchCommand, BenchLatencyArgs};
use crate::completion;
use crate::config::{cache_dir, Options, Settings};
use crate::report::round;
use crate::workspace::Workspace;
use anyhow::{bail, Context};
use serde_json::json;
use splice_model::{CompletionStats, Engine};

/// The default benchmark file, fetched by `scripts/corpus.sh` from the `requests` sdist.
pub const DEFAULT_BENCH_FILE: &str = "corpus/requests-2.32.3/src/requests/auth.py";

/// Runs a `splice bench` subcommand.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Latency(args) => latency(args),
        BenchCommand::Edits(args) => crate::bench_edits::run(args),
        BenchCommand::Retrieval(args) => crate::bench_retrieval::run(args),
        BenchCommand::Soak(args) => crate::bench_soak::run(args),
        BenchCommand::Overhead(args) => crate::bench_overhead::run(args),
        BenchCommand::Decode(args) => crate::bench_decode::run(args),
        BenchCommand::Typing(args) => crate::bench_typing::run(args),
        BenchCommand::Accept(args) => crate::bench_accept::run(args),
        BenchCommand::Prefill(args) => crate::bench_prefill::run(args),
        BenchCommand::Exec(args) => crate::bench_exec::run(args),
        BenchCommand::Engine(args) => crate::bench_engine::run(args),
    }
}

/// One timed request.
#[derive(Clone)]
struct Sample {
    stats: CompletionStats,
    suggestion: Option<String>,
}

fn latency(args: BenchLatencyArgs) -> anyhow::Result<()> {
    let path = args.file.clone().unwrap_or_else(|| cache_dir().join(DEFAULT_BENCH_FILE));
    let original = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the benchmark file {} (run `make corpus`)", path.display()))?;
    // The whole cold prompt, as the table's first row reports it; `--latency-budget` to see the cut.
    let settings =
        Settings::resolve(Options { latency_budget: args.options.latency_budget.or(Some(0)), ..args.options.clone() });
    let (mut text, mut cursor, typed) = open_line(&original)?;
    let load_start = std::time::Instant::now();
    let engine = Engine::start(settings.engine.clone())?;
    let load_ms = load_start.elapsed().as_secs_f64() * 1000.0;

    let cold = request(&engine, &settings, &text, cursor)?;
    let warm = request(&engine, &settings, &text, cursor)?;
    let mut at_cursor = Vec::new();
    for c in typed.chars().take(args.edits) {
        text.insert(cursor, c);
        cursor += c.len_utf8();
        at_cursor.push(request(&engine, &settings, &text, cursor)?);
    }
    let mut above = Vec::new();
    for _ in 0..args.edits {
        let at = mid_file_edit_offset(&text, cursor);
        text.insert(at, ' ');
        cursor += 1;
        above.push(request(&engine, &settings, &text, cursor)?);
    }
    let peak_rss_mib = peak_rss_kib().map(|kib| kib as f64 / 1024.0);
    let report = json!({
        "file": path,
        "fileTokens": cold.stats.prompt_tokens,
        "model": engine.info().path,
        "template": engine.info().template.describe(),
        "threads": { "batch": engine.info().threads.0, "decode": engine.info().threads.1 },
        "loadMs": round(load_ms),
        "cold": summary(std::slice::from_ref(&cold)),
        "warmRepeat": summary(std::slice::from_ref(&warm)),
        "typeAtCursor": summary(&at_cursor),
        "editHalfAFileAbove": summary(&above),
        "generationTokensPerSecond": generation_speed(&[&[cold, warm][..], &at_cursor, &above].concat()).map(round),
        "peakRssMiB": peak_rss_mib.map(round),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Finds a non-blank indented line at about 90% of the file, empties it after its indentation and
/// returns (text, cursor at the indentation, the removed code to type back).
fn open_line(original: &str) -> anyhow::Result<(String, usize, String)> {
    let from = original.len() * 9 / 10;
    let mut offset = original[from..].find('\n').map_or(original.len(), |i| from + i + 1);
    while offset < original.len() {
        let end = original[offset..].find('\n').map_or(original.len(), |i| offset + i);
        let line = &original[offset..end];
        let indent = line.len() - line.trim_start().len();
        let code = line.trim();
        if indent > 0 && code.len() >= 12 && !code.starts_with('#') && !code.ends_with(':') {
            let mut text = original.to_owned();
            text.replace_range(offset + indent..end, "");
            return Ok((text, offset + indent, code.to_owned()));
        }
        offset = end + 1;
    }
    bail!("the benchmark file has no indented code line in its last tenth")
}

/// Offset of the end of the line halfway between the file start and the cursor.
fn mid_file_edit_offset(text: &str, cursor: usize) -> usize {
    let half = completion::floor_char_boundary(text, cursor / 2);
    text[half..].find('\n').map_or(half, |i| half + i)
}

fn request(engine: &Engine, settings: &Settings, text: &str, cursor: usize) -> anyhow::Result<Sample> {
    let at = completion::At::whole("bench.py", text, cursor, None);
    let (_, done, suggestion) =
        completion::complete_blocking(engine, &Workspace::none(settings.retrieval.clone()), settings, at)?;
    Ok(Sample { stats: done.stats, suggestion })
}

fn summary(samples: &[Sample]) -> serde_json::Value {
    let mean = |f: &dyn Fn(&CompletionStats) -> f64| {
        samples.iter().map(|s| f(&s.stats)).sum::<f64>() / samples.len().max(1) as f64
    };
    let mut totals: Vec<f64> = samples.iter().map(|s| s.stats.total_ms).collect();
    totals.sort_by(f64::total_cmp);
    json!({
        "requests": samples.len(),
        "medianMs": totals.get(totals.len() / 2).copied().map(round),
        "meanMs": round(mean(&|s| s.total_ms)),
        "meanPromptMs": round(mean(&|s| s.prompt_ms)),
        "meanFirstTokenMs": round(mean(&|s| s.first_token_ms)),
        "meanEncodedTokens": round(mean(&|s| s.encoded_tokens as f64)),
        "meanGeneratedTokens": round(mean(&|s| s.generated_tokens as f64)),
        "lastSuggestion": samples.last().and_then(|s| s.suggestion.clone()),
    })
}

fn generation_speed(samples: &[Sample]) -> Option<f64> {
    let (tokens, ms) = samples.iter().fold((0usize, 0.0f64), |(t, ms), s| {
        if s.stats.generated_tokens > 1 {
            (t + s.stats.generated_tokens - 1, ms + s.stats.decode_ms())
        } else {
            (t, ms)
        }
    });
    (ms > 0.0).then(|| tokens as f64 * 1000.0 / ms)
}

fn print_table(report: &serde_json::Value) {
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    println!("splice bench latency: {} ({} prompt tokens)", cell(&report["file"]), report["fileTokens"]);
    println!(
        "model {}  template {}  threads {}  load {} ms",
        cell(&report["model"]),
        cell(&report["template"]),
        report["threads"],
        report["loadMs"]
    );
    println!(
        "{:<22} {:>3} {:>10} {:>10} {:>10} {:>13} {:>8} {:>10}",
        "request", "n", "median ms", "mean ms", "prompt ms", "first tok ms", "encoded", "generated"
    );
    for (name, key) in [
        ("cold prompt", "cold"),
        ("warm repeat", "warmRepeat"),
        ("type at cursor", "typeAtCursor"),
        ("edit 1/2 file above", "editHalfAFileAbove"),
    ] {
        let s = &report[key];
        println!(
            "{:<22} {:>3} {:>10} {:>10} {:>10} {:>13} {:>8} {:>10}",
            name,
            cell(&s["requests"]),
            cell(&s["medianMs"]),
            cell(&s["meanMs"]),
            cell(&s["meanPromptMs"]),
            cell(&s["meanFirstTokenMs"]),
            cell(&s["meanEncodedTokens"]),
            cell(&s["meanGeneratedTokens"])
        );
    }
    println!(
        "generation: {} tokens/s   peak RSS: {} MiB",
        cell(&report["generationTokensPerSecond"]),
        cell(&report["peakRssMiB"])
    );
}

/// Peak resident set size of this process (VmHWM), Linux only.
fn peak_rss_kib() -> Option<u64> {
    crate::memory::proc_status_kib("self", "VmHWM")
}
