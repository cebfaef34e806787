//! `splice bench decode`: plain against speculative decoding on the same prompts, in one run,
//! through the LSP server as an editor reaches it.
//!
//! Spots are cut from real Python files of the corpus (`make corpus`): the cursor at the
//! indentation of a line in a function body whose code was removed, so the shape asks for a
//! block and generation runs long. Two `splice serve` processes with the same settings but
//! `draftTokens: 0` and `draftTokens: N` take turns on every spot (which goes first
//! alternates): `didOpen` of the spot's text under a URI of its own (every spot a cold
//! document), `textDocument/inlineCompletion` at the cursor, then `splice/status` for the
//! request's counters (`last`). The report is the decode speed of each (generated tokens after
//! the first, per second of decoding), the draft tokens accepted per verify step, and whether
//! the two suggestions are byte-identical, which greedy decoding requires.
//!
//! Two processes, not two engines in this one: ggml's CPU threads are an OpenMP team per
//! engine thread, and with two teams in one process (more OpenMP threads than cores) libgomp
//! stops spinning at its barriers, so every two-thread batch (a verify batch) paid a sleep and
//! a wake-up per operation: 3-row verify batches measured 43–49 ms beside another engine against
//! 29 ms alone (the single-token decodes, on one thread, 35 ms either way). An editor's server
//! holds one engine.

use crate::bench_client::{file_uri, initialization_options, LspSession, HANG_GUARD};
use crate::bench_rng::SplitMix;
use crate::bench_typing::ready_session;
use crate::cli::BenchDecodeArgs;
use crate::config::{cache_dir, OnOff, Retrieval, Settings};
use crate::document::{Document, PositionEncoding};
use crate::report::round;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The packages whose files the spots are cut from (`scripts/corpus.sh`).
const CORPUS_PACKAGES: &[&str] = &["requests-2.32.3", "click-8.1.7", "itsdangerous-2.2.0"];

/// One spot: a file's text with one line's code removed, and the cursor at its indentation.
struct Spot {
    path: PathBuf,
    line: usize,
    text: String,
    cursor: usize,
}

/// One server's answer at a spot: its suggestion and the request's counters (`last`).
struct Run {
    suggestion: Option<String>,
    last: Value,
}

impl Run {
    /// A number of the request's counters (0 when absent).
    fn number(&self, key: &str) -> f64 {
        self.last[key].as_f64().unwrap_or(0.0)
    }

    /// Generated tokens after the first, per second of decoding them.
    fn speed(&self) -> Option<f64> {
        let decoded = self.number("generatedTokens") - 1.0;
        let ms = self.decode_ms();
        (decoded > 0.0 && ms > 0.0).then(|| decoded * 1000.0 / ms)
    }

    /// Milliseconds spent on the tokens after the first, as the server measured them (`decodeMs`:
    /// the checking of the suggestion's candidates left out, as in the engine's own rate).
    fn decode_ms(&self) -> f64 {
        self.number("decodeMs").max(0.0)
    }
}

/// Runs `splice bench decode`.
pub fn run(args: BenchDecodeArgs) -> anyhow::Result<()> {
    let mut options = args.options.clone();
    options.max_lines = options.max_lines.or(Some(16));
    options.max_tokens = options.max_tokens.or(Some(128));
    // Whole suggestions: a budget would cut them where each engine's speed happens to be.
    options.latency_budget = Some(0);
    // Nothing in the background (a prefetch would decode while the other server is timed), and
    // no workspace: the prompt is the spot's file.
    options.prefetch = Some(OnOff::Off);
    options.retrieval = Some(Retrieval::Never);
    let spec_settings = Settings::resolve(options.clone());
    let drafts = spec_settings.engine.draft_tokens;
    if drafts == 0 {
        bail!(
            "--draft-tokens 0 leaves nothing to compare; give N > 0 (default {})",
            splice_model::DEFAULT_DRAFT_TOKENS
        );
    }
    let mut spec_options = options.clone();
    spec_options.draft_tokens = Some(drafts);
    let mut plain_options = options;
    plain_options.draft_tokens = Some(0);
    let spots = pick_spots(&cache_dir().join("corpus"), args.spots, args.seed)?;
    println!(
        "splice bench decode: {} spots (seed {}), max {} tokens / {} lines, plain vs --draft-tokens {drafts}, \
         each in its own `splice serve`",
        spots.len(),
        args.seed,
        spec_settings.engine.max_tokens,
        spec_settings.max_lines
    );
    let root = std::env::temp_dir().join(format!("splice-bench-decode-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let (plain_log, spec_log) = (root.join("serve-plain.log"), root.join("serve-speculative.log"));
    let (mut plain, _) = ready_session(&[], initialization_options(&plain_options), &plain_log)?;
    let (mut speculative, _) = ready_session(&[], initialization_options(&spec_options), &spec_log)?;
    // After both models loaded: the load is not what is measured.
    let busy = args.busy.then(crate::bench_busy::BusyCore::start);
    println!(
        "{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}  same{}",
        "spot",
        "gen",
        "plain t/s",
        "spec t/s",
        "speedup",
        "acc/step",
        if busy.is_some() { "  (one core kept busy)" } else { "" }
    );
    let mut rows = Vec::new();
    for (i, spot) in spots.iter().enumerate() {
        let uri = file_uri(&root.join(format!("spot-{i}")).join(spot.path.file_name().unwrap_or_default()));
        let ask = |session: &mut LspSession, log: &Path| {
            complete(session, &uri, spot).with_context(|| format!("log: {}", log.display()))
        };
        let (p, s) = if i % 2 == 0 {
            let p = ask(&mut plain, &plain_log)?;
            (p, ask(&mut speculative, &spec_log)?)
        } else {
            let s = ask(&mut speculative, &spec_log)?;
            (ask(&mut plain, &plain_log)?, s)
        };
        let same = p.suggestion == s.suggestion;
        let name = format!("{}:{}", short(&spot.path), spot.line + 1);
        let steps = s.number("verifySteps");
        let per_step = (steps > 0.0).then(|| s.number("acceptedDraftTokens") / steps);
        println!(
            "{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}  {}",
            name,
            p.number("generatedTokens"),
            fmt(p.speed()),
            fmt(s.speed()),
            fmt(s.speed().zip(p.speed()).map(|(s, p)| s / p)),
            fmt(per_step),
            if same { "yes" } else { "NO" }
        );
        if !same {
            println!("    plain:       {:?}", p.suggestion);
            println!("    speculative: {:?}", s.suggestion);
        }
        rows.push(json!({
            "spot": name,
            "generated": [p.number("generatedTokens"), s.number("generatedTokens")],
            "decodeMs": [p.decode_ms(), s.decode_ms()],
            "verifySteps": steps,
            "draftTokens": s.number("draftTokens"),
            "acceptedDraftTokens": s.number("acceptedDraftTokens"),
            "identical": same,
        }));
    }
    drop(busy);
    for (session, log) in [(plain, &plain_log), (speculative, &spec_log)] {
        let exit = session.shutdown()?;
        if !exit.success() {
            eprintln!("  the server exited with {exit} (log: {})", log.display());
        }
    }
    summarize(&rows, drafts, args.json)?;
    eprintln!("server logs: {}", root.display());
    Ok(())
}

/// Prints (or writes as JSON) the totals over every spot.
fn summarize(rows: &[serde_json::Value], drafts: u32, as_json: bool) -> anyhow::Result<()> {
    let total = |key: &str, i: usize| rows.iter().map(|r| r[key][i].as_f64().unwrap_or(0.0)).sum::<f64>();
    let sum = |key: &str| rows.iter().map(|r| r[key].as_f64().unwrap_or(0.0)).sum::<f64>();
    // Tokens after the first of each request, over the milliseconds spent decoding them.
    let decoded =
        |i: usize| rows.iter().map(|r| (r["generated"][i].as_f64().unwrap_or(0.0) - 1.0).max(0.0)).sum::<f64>();
    let plain_speed = decoded(0) * 1000.0 / total("decodeMs", 0).max(1e-9);
    let spec_speed = decoded(1) * 1000.0 / total("decodeMs", 1).max(1e-9);
    let steps = sum("verifySteps");
    let identical = rows.iter().filter(|r| r["identical"] == true).count();
    let summary = json!({
        "spots": rows.len(),
        "draftTokens": drafts,
        "plainTokensPerSecond": round(plain_speed),
        "speculativeTokensPerSecond": round(spec_speed),
        "speedup": (spec_speed / plain_speed * 100.0).round() / 100.0,
        "acceptedPerVerifyStep": (steps > 0.0).then(|| (sum("acceptedDraftTokens") / steps * 100.0).round() / 100.0),
        "draftAcceptance": (sum("draftTokens") > 0.0).then(|| (sum("acceptedDraftTokens") / sum("draftTokens") * 100.0).round() / 100.0),
        "identicalSuggestions": identical,
        "rows": rows,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "decode: plain {:.1} tokens/s, speculative {:.1} tokens/s ({:.2}×); accepted per verify step {}; \
         drafts accepted {}; identical suggestions {}/{}",
        plain_speed,
        spec_speed,
        spec_speed / plain_speed,
        summary["acceptedPerVerifyStep"],
        summary["draftAcceptance"],
        identical,
        rows.len()
    );
    Ok(())
}

/// Opens the spot as `uri`, asks at its cursor and reads the request's counters; closes it.
fn complete(session: &mut LspSession, uri: &str, spot: &Spot) -> anyhow::Result<Run> {
    session.open(uri, &spot.text, 1)?;
    let at = Document::new(spot.text.clone(), 1).position_at(spot.cursor, PositionEncoding::Utf16)?;
    let sent = Instant::now();
    let id = session.inline_completion(uri, at.line, at.character)?;
    let response = session.response_by(id, sent + HANG_GUARD)?;
    if let Some(error) = response.get("error") {
        bail!("inline completion failed: {error}");
    }
    let last = session.status()?["last"].take();
    session.close(uri)?;
    let suggestion = response["result"]["items"][0]["insertText"].as_str().map(str::to_owned);
    Ok(Run { suggestion, last })
}

/// `count` spots from the corpus's Python files, chosen by `seed`: a line of a function body
/// (indented, at least 12 characters of code, not a comment) in the second half of a file.
fn pick_spots(corpus: &Path, count: usize, seed: u64) -> anyhow::Result<Vec<Spot>> {
    let mut files = Vec::new();
    for package in CORPUS_PACKAGES {
        let found = crate::bench_corpus::python_files(&corpus.join(package))
            .with_context(|| format!("cannot list {} (run `make corpus`)", corpus.join(package).display()))?;
        files.extend(found);
    }
    files.sort();
    let mut rng = SplitMix(seed);
    let mut spots = Vec::new();
    let mut attempts = 0;
    while spots.len() < count && attempts < count * 50 && !files.is_empty() {
        attempts += 1;
        let path = rng.pick(&files).clone();
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        if lines.len() < 40 {
            continue;
        }
        let line = lines.len() / 2 + rng.below(lines.len() / 2);
        let code = lines[line].trim();
        let indent = lines[line].len() - lines[line].trim_start().len();
        if indent < 8 || code.len() < 12 || code.starts_with('#') {
            continue;
        }
        let start: usize = lines[..line].iter().map(|l| l.len()).sum();
        let end = start + lines[line].trim_end_matches(['\n', '\r']).len();
        let mut cut = text.clone();
        cut.replace_range(start + indent..end, "");
        spots.push(Spot { path, line, text: cut, cursor: start + indent });
    }
    if spots.is_empty() {
        bail!("no spot found in {} (run `make corpus`)", corpus.display());
    }
    Ok(spots)
}

fn short(path: &Path) -> String {
    let parts: Vec<_> = path.iter().rev().take(2).collect();
    parts.iter().rev().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("-".to_owned(), |x| format!("{x:.1}"))
}
