//! `splice bench decode`: plain against speculative decoding on the same prompts, in one run.
//!
//! Spots are cut from real Python files of the corpus (`make corpus`): the cursor at the
//! indentation of a line in a function body whose code was removed, so the shape asks for a
//! block and generation runs long. Two engines with the same settings but `--draft-tokens 0`
//! and `--draft-tokens N` take turns on every spot (which goes first alternates); the report is
//! the decode speed of each (generated tokens after the first, per second of decoding), the
//! draft tokens accepted per verify step, and whether the two texts are byte-identical, which
//! greedy decoding requires.

use crate::bench_rng::SplitMix;
use crate::cli::BenchDecodeArgs;
use crate::completion;
use crate::config::{cache_dir, Settings};
use crate::report::round;
use crate::workspace::Workspace;
use anyhow::{bail, Context};
use serde_json::json;
use splice_model::{Completion, Engine};
use std::path::{Path, PathBuf};

/// The packages whose files the spots are cut from (`scripts/corpus.sh`).
const CORPUS_PACKAGES: &[&str] = &["requests-2.32.3", "click-8.1.7", "itsdangerous-2.2.0"];

/// One spot: a file's text with one line's code removed, and the cursor at its indentation.
struct Spot {
    path: PathBuf,
    line: usize,
    text: String,
    cursor: usize,
}

/// One engine's result on a spot.
struct Run {
    completion: Completion,
    suggestion: Option<String>,
}

/// Runs `splice bench decode`.
pub fn run(args: BenchDecodeArgs) -> anyhow::Result<()> {
    let mut options = args.options.clone();
    options.max_lines = options.max_lines.or(Some(16));
    options.max_tokens = options.max_tokens.or(Some(128));
    // Whole suggestions: a budget would cut them where each engine's speed happens to be.
    options.latency_budget = Some(0);
    let spec_settings = Settings::resolve(options.clone());
    let drafts = spec_settings.engine.draft_tokens;
    if drafts == 0 {
        bail!(
            "--draft-tokens 0 leaves nothing to compare; give N > 0 (default {})",
            splice_model::DEFAULT_DRAFT_TOKENS
        );
    }
    let mut plain_settings = spec_settings.clone();
    plain_settings.engine.draft_tokens = 0;
    let spots = pick_spots(&cache_dir().join("corpus"), args.spots, args.seed)?;
    println!(
        "splice bench decode: {} spots (seed {}), max {} tokens / {} lines, plain vs --draft-tokens {drafts}",
        spots.len(),
        args.seed,
        spec_settings.engine.max_tokens,
        spec_settings.max_lines
    );
    let plain = Engine::start(plain_settings.engine.clone())?;
    let speculative = Engine::start(spec_settings.engine.clone())?;
    println!(
        "{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}  same",
        "spot", "gen", "plain t/s", "spec t/s", "speedup", "acc/step"
    );
    let mut rows = Vec::new();
    for (i, spot) in spots.iter().enumerate() {
        let (p, s) = if i % 2 == 0 {
            let p = complete(&plain, &plain_settings, spot)?;
            (p, complete(&speculative, &spec_settings, spot)?)
        } else {
            let s = complete(&speculative, &spec_settings, spot)?;
            (complete(&plain, &plain_settings, spot)?, s)
        };
        let same = p.completion.text == s.completion.text;
        let (ps, ss) = (&p.completion.stats, &s.completion.stats);
        let name = format!("{}:{}", short(&spot.path), spot.line + 1);
        let speed = |c: &Completion| c.stats.generation_tokens_per_second();
        let per_step = (ss.verify_steps > 0).then(|| ss.accepted_draft_tokens as f64 / ss.verify_steps as f64);
        println!(
            "{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}  {}",
            name,
            ps.generated_tokens,
            fmt(speed(&p.completion)),
            fmt(speed(&s.completion)),
            fmt(speed(&s.completion).zip(speed(&p.completion)).map(|(s, p)| s / p)),
            fmt(per_step),
            if same { "yes" } else { "NO" }
        );
        if !same {
            println!("    plain:       {:?}", p.completion.text);
            println!("    speculative: {:?}", s.completion.text);
        }
        rows.push(json!({
            "spot": name,
            "generated": [ps.generated_tokens, ss.generated_tokens],
            "decodeMs": [decode_ms(&p.completion), decode_ms(&s.completion)],
            "verifySteps": ss.verify_steps,
            "draftTokens": ss.draft_tokens,
            "acceptedDraftTokens": ss.accepted_draft_tokens,
            "identical": same,
            "suggestionsIdentical": p.suggestion == s.suggestion,
        }));
    }
    summarize(&rows, drafts, args.json)
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
        "identicalTexts": identical,
        "rows": rows,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "decode: plain {:.1} tokens/s, speculative {:.1} tokens/s ({:.2}×); accepted per verify step {}; \
         drafts accepted {}; identical text {}/{}",
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

fn complete(engine: &Engine, settings: &Settings, spot: &Spot) -> anyhow::Result<Run> {
    // Each spot is its own document, encoded cold: as one document, every spot would be a PIE
    // edit of the last one, whose stale cells each engine's idle repair mends at its own pace,
    // and the two engines would no longer read the same prompt the same way.
    let document = format!("{}:{}", spot.path.display(), spot.line);
    let at = completion::At {
        document: &document,
        text: &spot.text,
        cursor: spot.cursor,
        text_offset: 0,
        path: None,
        cursor_line: Some(spot.line as u32),
    };
    let workspace = Workspace::none(settings.retrieval.clone());
    let (_, completion, suggestion) = completion::complete_blocking(engine, &workspace, settings, at)?;
    Ok(Run { completion, suggestion })
}

/// Milliseconds spent on the tokens after the first.
fn decode_ms(completion: &Completion) -> f64 {
    round((completion.stats.total_ms - completion.stats.first_token_ms).max(0.0))
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
