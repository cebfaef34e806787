//! `splice bench edits`: what each keystroke costs under PIE, prefix-only reuse and full
//! re-encoding, on a real ~7500-token Python file.
//!
//! One completion request per keystroke, back to back, for four workloads: (a) type a new line
//! a character at a time mid-file; (b) jump more than 150 lines down and type there; (c) paste a
//! 30-line block, delete a function above the cursor, move the cursor 200 lines up and back; (d) edits
//! 150 or more lines above a cursor that stays put (a rename, an added import, a deleted line,
//! as refactorings and other cursors make). Each mode gets a fresh engine, warmed with one
//! untimed request on the unedited file, and the same document states. Prompt-side time (request → first generated
//! token) is reported apart from the total, since generation is the same work in every mode.

use crate::cli::BenchEditsArgs;
use crate::completion;
use crate::config::{cache_dir, Reuse, Settings};
use crate::report::round;
use crate::workspace::Workspace;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use splice_model::{CompletionStats, Engine};

/// The default file: `requests/sessions.py` from the cached `requests` sdist (`make corpus`).
pub const DEFAULT_EDITS_FILE: &str = "corpus/requests-2.32.3/src/requests/sessions.py";

/// Context size used when `--ctx` is not given: the file's prefix must fit.
const BENCH_CONTEXT_TOKENS: u32 = 8192;

/// One document state to complete at.
struct Keystroke {
    workload: &'static str,
    text: String,
    cursor: usize,
}

/// The untimed first request: the unedited file at the first workload's cursor.
struct Warmup {
    text: String,
    cursor: usize,
}

/// One timed request.
struct Sample {
    workload: &'static str,
    stats: CompletionStats,
    first_line: String,
}

/// Runs `splice bench edits`.
pub fn run(args: BenchEditsArgs) -> anyhow::Result<()> {
    let path = args.file.clone().unwrap_or_else(|| cache_dir().join(DEFAULT_EDITS_FILE));
    let original = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the benchmark file {} (run `make corpus`)", path.display()))?;
    let (warmup, keystrokes) = script(&original)?;
    if let Some(dump) = &args.dump {
        write_dump(dump, &warmup, &keystrokes)?;
    }
    let mut options = args.options.clone();
    options.ctx = options.ctx.or(Some(BENCH_CONTEXT_TOKENS));
    options.max_tokens = options.max_tokens.or(Some(16));
    // Each mode's own cost of following the edits: a budget would cut the cold warm-up prompt.
    options.latency_budget = options.latency_budget.or(Some(0));
    let modes = match options.reuse {
        Some(one) => vec![one],
        None => vec![Reuse::Pie, Reuse::Prefix, Reuse::None],
    };
    let mut runs = Vec::new();
    for reuse in modes {
        let mut options = options.clone();
        options.reuse = Some(reuse);
        let settings = Settings::resolve(options);
        eprintln!("splice bench edits: {} keystrokes with --reuse {reuse:?}", keystrokes.len());
        runs.push((reuse, replay(&settings, &warmup, &keystrokes)?));
    }
    let report = report(&path, &runs);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// The warm-up request and the document states of the workloads, in order.
fn script(original: &str) -> anyhow::Result<(Warmup, Vec<Keystroke>)> {
    let mut text = original.to_owned();
    let mut out = Vec::new();
    // (a) open a line after a statement at ~35% and type into it.
    let mut cursor = open_line_after(&mut text, original.len() * 35 / 100)?;
    let warmup = Warmup { text: text.clone(), cursor };
    for c in "result = self.prepare".chars().take(12) {
        text.insert(cursor, c);
        cursor += c.len_utf8();
        out.push(Keystroke { workload: "a: type mid-file", text: text.clone(), cursor });
    }
    // (b) jump at least 150 lines down, open a line and type.
    let below = nth_line_start(&text, line_of(&text, cursor) + 170).context("the file is too short for (b)")?;
    cursor = open_line_after(&mut text, below)?;
    out.push(Keystroke { workload: "b: jump 170 lines, type", text: text.clone(), cursor });
    for c in "return s".chars() {
        text.insert(cursor, c);
        cursor += c.len_utf8();
        out.push(Keystroke { workload: "b: jump 170 lines, type", text: text.clone(), cursor });
    }
    // (c) paste 30 lines at the cursor, delete a function above, move 200 lines up.
    let block_start = nth_line_start(&text, 40).context("short file")?;
    let block_end = nth_line_start(&text, 70).context("short file")?;
    let block = format!("\n{}", &text[block_start..block_end].trim_end_matches('\n'));
    text.insert_str(cursor, &block);
    cursor += block.len();
    out.push(Keystroke { workload: "c: paste, delete, move", text: text.clone(), cursor });
    let function = function_before(&text, cursor / 2).context("no function to delete in the first half")?;
    cursor -= function.len();
    text.replace_range(function, "");
    out.push(Keystroke { workload: "c: paste, delete, move", text: text.clone(), cursor });
    let up = line_of(&text, cursor).saturating_sub(200);
    let end_of_up = nth_line_start(&text, up + 1).map_or(text.len(), |s| s - 1);
    out.push(Keystroke { workload: "c: paste, delete, move", text: text.clone(), cursor: end_of_up });
    out.push(Keystroke { workload: "c: paste, delete, move", text: text.clone(), cursor });
    // (d) back at the end of the typed line; edits 150+ lines above it, the cursor stays.
    let far_above = |text: &str, cursor: usize| nth_line_start(text, line_of(text, cursor).saturating_sub(150 + 30));
    let at = far_above(&text, cursor).context("short file")?;
    let import = "import functools\n";
    text.insert_str(at, import);
    cursor += import.len();
    out.push(Keystroke { workload: "d: edit 150+ lines above", text: text.clone(), cursor });
    let at = far_above(&text, cursor).context("short file")?;
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let renamed = text[at..line_end].replace("self", "this");
    cursor = cursor + renamed.len() - (line_end - at);
    text.replace_range(at..line_end, &renamed);
    out.push(Keystroke { workload: "d: edit 150+ lines above", text: text.clone(), cursor });
    let at = far_above(&text, cursor).context("short file")?;
    let next = nth_line_start(&text, line_of(&text, at) + 1).context("short file")?;
    cursor -= next - at;
    text.replace_range(at..next, "");
    out.push(Keystroke { workload: "d: edit 150+ lines above", text: text.clone(), cursor });
    Ok((warmup, out))
}

/// Writes each request's prompt window as a JSON line: `{"workload", "prefix", "suffix"}`; the
/// warm-up request first, with workload `warmup`.
fn write_dump(path: &std::path::Path, warmup: &Warmup, keystrokes: &[Keystroke]) -> anyhow::Result<()> {
    let settings = Settings::resolve(crate::config::Options { ctx: Some(BENCH_CONTEXT_TOKENS), ..Default::default() });
    let states = std::iter::once(("warmup", &warmup.text, warmup.cursor))
        .chain(keystrokes.iter().map(|k| (k.workload, &k.text, k.cursor)));
    let mut out = String::new();
    for (workload, text, cursor) in states {
        let at = completion::At::whole("bench.py", text, cursor, None);
        let prepared = completion::prepare(
            at,
            &Workspace::none(settings.retrieval.clone()),
            &settings,
            BENCH_CONTEXT_TOKENS,
            splice_model::CancelToken::new(),
        )?;
        let line =
            json!({ "workload": workload, "prefix": prepared.request.prefix, "suffix": prepared.request.suffix });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// Inserts a new line after the first complete statement line at or after byte `from`, indented
/// like it; returns the cursor at the end of the indentation.
fn open_line_after(text: &mut String, from: usize) -> anyhow::Result<usize> {
    let mut offset = text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
    while offset < text.len() {
        let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let line = &text[offset..end];
        let code = line.trim();
        let indent = &line[..line.len() - line.trim_start().len()];
        if !indent.is_empty()
            && code.len() > 8
            && !code.ends_with([':', ',', '(', '[', '{', '\\'])
            && !code.starts_with('#')
        {
            let opened = format!("\n{indent}");
            text.insert_str(end, &opened);
            return Ok(end + opened.len());
        }
        offset = end + 1;
    }
    bail!("no statement line to open a new line after")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count()
}

fn nth_line_start(text: &str, line: usize) -> Option<usize> {
    if line == 0 {
        return Some(0);
    }
    text.match_indices('\n').nth(line - 1).map(|(i, _)| i + 1)
}

/// The byte range of the last method (`    def ` up to the next `    def `) starting before `before`.
fn function_before(text: &str, before: usize) -> Option<std::ops::Range<usize>> {
    let start = text[..before].rfind("\n    def ")? + 1;
    let end = text[start + 1..].find("\n    def ").map(|i| start + 1 + i + 1)?;
    Some(start..end)
}

fn replay(settings: &Settings, warmup: &Warmup, keystrokes: &[Keystroke]) -> anyhow::Result<Vec<Sample>> {
    let engine = Engine::start(settings.engine.clone())?;
    request(&engine, settings, &warmup.text, warmup.cursor)?;
    let mut samples = Vec::with_capacity(keystrokes.len());
    for key in keystrokes {
        let (stats, first_line) = request(&engine, settings, &key.text, key.cursor)?;
        samples.push(Sample { workload: key.workload, stats, first_line });
    }
    Ok(samples)
}

/// One completion request; its stats and the first line of the suggestion.
fn request(
    engine: &Engine,
    settings: &Settings,
    text: &str,
    cursor: usize,
) -> anyhow::Result<(CompletionStats, String)> {
    let at = completion::At::whole("bench.py", text, cursor, None);
    let (_, done, suggestion) =
        completion::complete_blocking(engine, &Workspace::none(settings.retrieval.clone()), settings, at)?;
    Ok((done.stats, suggestion.unwrap_or_default().lines().next().unwrap_or("").to_owned()))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(path: &std::path::Path, runs: &[(Reuse, Vec<Sample>)]) -> Value {
    let workloads: Vec<&str> = {
        let mut names: Vec<&str> = runs[0].1.iter().map(|s| s.workload).collect();
        names.dedup();
        names
    };
    let mut rows = Vec::new();
    let mean_ms = |samples: &[Sample], workload: &str| {
        let of: Vec<f64> = samples.iter().filter(|s| s.workload == workload).map(|s| s.stats.total_ms).collect();
        of.iter().sum::<f64>() / of.len().max(1) as f64
    };
    for workload in &workloads {
        let pie_mean = runs.iter().find(|(r, _)| *r == Reuse::Pie).map(|(_, samples)| mean_ms(samples, workload));
        for (reuse, samples) in runs {
            let of: Vec<&Sample> = samples.iter().filter(|s| s.workload == *workload).collect();
            let mut totals: Vec<f64> = of.iter().map(|s| s.stats.total_ms).collect();
            totals.sort_by(f64::total_cmp);
            let n = of.len().max(1) as f64;
            rows.push(json!({
                "workload": workload,
                "reuse": format!("{reuse:?}").to_lowercase(),
                "requests": of.len(),
                "p50Ms": round(percentile(&totals, 0.5)),
                "p90Ms": round(percentile(&totals, 0.9)),
                "meanMs": round(totals.iter().sum::<f64>() / n),
                "meanPromptSideMs": round(of.iter().map(|s| s.stats.first_token_ms).sum::<f64>() / n),
                "meanEncodedTokens": round(of.iter().map(|s| s.stats.encoded_tokens as f64).sum::<f64>() / n),
                "meanPromptTokens": round(of.iter().map(|s| s.stats.prompt_tokens as f64).sum::<f64>() / n),
                "meanMsOverPie": pie_mean.filter(|p| *p > 0.0).map(|p| round(mean_ms(samples, workload) / p)),
            }));
        }
    }
    let samples_of = |mode| runs.iter().find(|(r, _)| *r == mode).map(|(_, samples)| samples);
    let agreement = match (samples_of(Reuse::Pie), samples_of(Reuse::None)) {
        (Some(pie), Some(none)) => {
            let agree = pie.iter().zip(none).filter(|(a, b)| a.first_line == b.first_line).count();
            json!({ "agree": agree, "of": pie.len() })
        }
        _ => Value::Null,
    };
    json!({
        "file": path,
        "reuseModes": runs.iter().map(|(r, _)| format!("{r:?}").to_lowercase()).collect::<Vec<_>>(),
        "rows": rows,
        "pieAgreesWithNoneOnFirstLine": agreement,
        "note": "requests back to back (no idle repair between keystrokes); max 16 generated tokens",
    })
}

fn print_table(report: &Value) {
    println!("splice bench edits: {}", report["file"].as_str().unwrap_or("?"));
    println!(
        "{:<26} {:<7} {:>4} {:>9} {:>9} {:>9} {:>7} {:>14} {:>9} {:>8}",
        "workload", "reuse", "n", "p50 ms", "p90 ms", "mean ms", "× pie", "prompt-side ms", "encoded", "prompt"
    );
    for row in report["rows"].as_array().into_iter().flatten() {
        println!(
            "{:<26} {:<7} {:>4} {:>9} {:>9} {:>9} {:>7} {:>14} {:>9} {:>8}",
            row["workload"].as_str().unwrap_or(""),
            row["reuse"].as_str().unwrap_or(""),
            row["requests"],
            row["p50Ms"],
            row["p90Ms"],
            row["meanMs"],
            row["meanMsOverPie"],
            row["meanPromptSideMs"],
            row["meanEncodedTokens"],
            row["meanPromptTokens"]
        );
    }
    let agreement = &report["pieAgreesWithNoneOnFirstLine"];
    if agreement.is_null() {
        return;
    }
    println!(
        "PIE's first suggested line equals the full re-encode's in {} of {} requests",
        agreement["agree"], agreement["of"]
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_covers_three_workloads_on_a_real_shape_of_file() {
        let file: String = (0..600)
            .map(|i| {
                if i % 20 == 0 {
                    format!("    def method_{i}(self):\n")
                } else {
                    format!("        value_{i} = compute({i})\n")
                }
            })
            .collect();
        let (_, keys) = script(&file).unwrap();
        let names: std::collections::BTreeSet<_> = keys.iter().map(|k| k.workload).collect();
        assert_eq!(names.len(), 4);
        assert!(keys.iter().all(|k| k.cursor <= k.text.len() && k.text.is_char_boundary(k.cursor)));
        assert!(keys[0].text[..keys[0].cursor].ends_with("        r"), "typing starts on a new indented line");
    }
}
