//! `splice bench overhead`: does a request cost more in a bigger document when the model sees
//! the same prompt?
//!
//! The same ~2.5 KB of code around the cursor is the whole of the smallest document and the end
//! of documents of ~1, 10 and 50 MB, padded far above the cursor. With a small context (default
//! `--ctx 256`) the prompt window is the same ~2 KB in every one of them, beyond which the padding
//! lies, so the model sees exactly the same prompt and does the same work (`--max-tokens 1`);
//! what grows with the document is server overhead. Each document is opened over LSP in a real
//! `splice serve`, then, `--requests` times: one character typed at the cursor or deleted again
//! (`didChange`), timed until the next request (`splice/status`) is answered, and an inline
//! completion at the cursor, timed as a round trip. Printed per size: p50/p90 of both, their
//! ratio to the smallest document, the server's own `prepareMs` when `splice/status` reports it,
//! the prompt tokens (equal across sizes when the prompts are) and the server's RSS. Row sets:
//! `--retrieval never` without a workspace, and `auto` with the cached `requests` package as the
//! workspace folder.

use crate::bench_client::{file_uri, initialization_options, lsp_range, LspSession, SessionError, HANG_GUARD};
use crate::bench_retrieval::mode_name;
use crate::bench_stats::quantile;
use crate::cli::BenchOverheadArgs;
use crate::config::{cache_dir, Options, Retrieval};
use crate::document::{Document, PositionEncoding, TextChange, TextPosition, TextRange};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The code around the cursor (`┃`), the same in every document.
const NEIGHBOURHOOD: &str = include_str!("bench_overhead_neighbourhood.py");

/// The workspace of the `auto` rows, fetched by `scripts/corpus.sh`.
const DEFAULT_WORKSPACE: &str = "corpus/requests-2.32.3/src/requests";

/// One document size's measurements.
#[derive(Debug, Default)]
struct SizeRow {
    label: String,
    bytes: usize,
    open_ms: f64,
    edit_ack_ms: Vec<f64>,
    round_trip_ms: Vec<f64>,
    prepare_ms: Vec<f64>,
    prompt_tokens: Vec<f64>,
    encoded_tokens: Vec<f64>,
    rss_kib: Option<u64>,
}

/// Runs `splice bench overhead`.
pub fn run(args: BenchOverheadArgs) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("splice-bench-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let options = Options {
        ctx: args.options.ctx.or(Some(256)),
        max_tokens: args.options.max_tokens.or(Some(1)),
        index_dir: args.options.index_dir.clone().or_else(|| Some(scratch.join("index"))),
        ..args.options.clone()
    };
    let workspace = args.workspace.clone().unwrap_or_else(|| cache_dir().join(DEFAULT_WORKSPACE));
    let modes = match options.retrieval {
        Some(mode) => vec![mode],
        None if workspace.is_dir() => vec![Retrieval::Never, Retrieval::Auto],
        None => {
            eprintln!("{} is missing (`make corpus`): only --retrieval never runs", workspace.display());
            vec![Retrieval::Never]
        }
    };
    let mut sizes = vec![("2 KB".to_owned(), 0)];
    sizes.extend(args.sizes_mb.iter().map(|mb| (format!("{mb} MB"), (mb * 1_000_000.0) as usize)));
    println!(
        "splice bench overhead: the same prompt window in documents of {}; {} requests each; options {}",
        sizes.iter().map(|(label, _)| label.as_str()).collect::<Vec<_>>().join(", "),
        args.requests,
        initialization_options(&options)
    );
    let mut tables = Vec::new();
    for mode in modes {
        let folder = (mode != Retrieval::Never).then(|| workspace.clone());
        let rows = measure(mode, folder.as_deref(), &sizes, args.requests, &options, &scratch)?;
        tables.push((mode, rows));
    }
    let _ = std::fs::remove_dir_all(scratch.join("index"));
    print(&tables);
    println!("server logs: {}", scratch.display());
    Ok(())
}

/// One server session with retrieval `mode`, every size measured in turn.
fn measure(
    mode: Retrieval,
    folder: Option<&Path>,
    sizes: &[(String, usize)],
    requests: usize,
    options: &Options,
    scratch: &Path,
) -> anyhow::Result<Vec<SizeRow>> {
    let log = scratch.join(format!("serve-{}.log", mode_name(mode)));
    let mut session = LspSession::spawn(&log)?;
    let init = initialization_options(&Options { retrieval: Some(mode), ..options.clone() });
    let folders: Vec<PathBuf> = folder.iter().map(|f| f.to_path_buf()).collect();
    session.initialize(&folders, init)?;
    let status = session.wait_for_engine()?;
    if status["state"] != "ready" {
        bail!("the model failed to load: {} (log: {})", status["error"], log.display());
    }
    if status["index"]["state"] != "disabled" {
        session.wait_for_indexing(Duration::from_secs(600))?;
    }
    let documents_dir = folder.map_or_else(|| scratch.to_path_buf(), Path::to_path_buf);
    let mut rows = Vec::new();
    for (label, bytes) in sizes {
        eprintln!("  {} {label}", mode_name(mode));
        // Not written to disk: an unsaved buffer the editor holds.
        let path = documents_dir.join(format!("splice_overhead_{}.py", label.replace([' ', '.'], "_")));
        let row = measure_size(&mut session, &file_uri(&path), label, *bytes, requests)
            .with_context(|| format!("log: {}", log.display()))?;
        rows.push(row);
    }
    let exit = session.shutdown()?;
    if !exit.success() {
        eprintln!("the server exited with {exit} (log: {})", log.display());
    }
    Ok(rows)
}

fn measure_size(
    session: &mut LspSession,
    uri: &str,
    label: &str,
    bytes: usize,
    requests: usize,
) -> Result<SizeRow, SessionError> {
    let (text, cursor) = document(bytes);
    let mut row = SizeRow { label: label.to_owned(), bytes: text.len(), ..SizeRow::default() };
    let started = Instant::now();
    session.open(uri, &text, 1)?;
    session.status()?;
    row.open_ms = ms_since(started);
    row.rss_kib = session.rss_kib();
    let mut document = Document::new(text, 1);
    let at = position(&document, cursor);
    for _ in 0..2 {
        complete(session, uri, at)?;
    }
    for i in 0..requests {
        let typed = i % 2 == 0;
        let (params, at) = type_or_delete(&mut document, uri, cursor, typed);
        let started = Instant::now();
        session.notify("textDocument/didChange", params)?;
        session.status()?;
        row.edit_ack_ms.push(ms_since(started));
        row.round_trip_ms.push(complete(session, uri, at)?);
        let last = session.status()?["last"].take();
        if let Some(ms) = last["prepareMs"].as_f64() {
            row.prepare_ms.push(ms);
        }
        if let Some(tokens) = last["promptTokens"].as_f64() {
            row.prompt_tokens.push(tokens);
        }
        if let Some(tokens) = last["encodedTokens"].as_f64() {
            row.encoded_tokens.push(tokens);
        }
    }
    session.close(uri)?;
    Ok(row)
}

/// An inline completion at `at`; returns the round trip in milliseconds.
fn complete(session: &mut LspSession, uri: &str, at: TextPosition) -> Result<f64, SessionError> {
    let started = Instant::now();
    let id = session.inline_completion(uri, at.line, at.character)?;
    let response = session.response_by(id, started + HANG_GUARD)?;
    if let Some(error) = response.get("error") {
        return Err(SessionError::Refused { method: "textDocument/inlineCompletion".to_owned(), error: error.clone() });
    }
    Ok(ms_since(started))
}

/// Types `x` at the cursor or deletes it again; returns the `didChange` params and the cursor
/// after the change.
fn type_or_delete(document: &mut Document, uri: &str, cursor: usize, typed: bool) -> (Value, TextPosition) {
    let at = position(document, cursor);
    let next = TextPosition::new(at.line, at.character + 1);
    let (range, text, after) =
        if typed { (TextRange::new(at, at), "x", next) } else { (TextRange::new(at, next), "", at) };
    let version = document.version() + 1;
    let change = TextChange { range: Some(range), text: text.to_owned() };
    if let Err(err) = document.apply_changes(&[change], version, PositionEncoding::Utf16) {
        unreachable!("typing at the cursor failed: {err}");
    }
    let params = json!({
        "textDocument": { "uri": uri, "version": version },
        "contentChanges": [{ "range": lsp_range(range), "text": text }],
    });
    (params, after)
}

fn position(document: &Document, offset: usize) -> TextPosition {
    match document.position_at(offset, PositionEncoding::Utf16) {
        Ok(at) => at,
        Err(err) => unreachable!("the cursor is a valid offset: {err}"),
    }
}

/// Padding comes in multiples of this, so the cursor's offset modulo the prompt window's grid
/// (`completion::window_start`, a quarter of 8 bytes per context token) is the same in every
/// document up to `--ctx 32768`, and so is the window.
const PADDING_ALIGN: usize = 1 << 16;

/// A document of about `bytes` bytes (at least) ending with [`NEIGHBOURHOOD`], and the
/// cursor's offset. `0`: the neighbourhood alone.
fn document(bytes: usize) -> (String, usize) {
    let marker = NEIGHBOURHOOD.find('┃').unwrap_or(NEIGHBOURHOOD.len());
    let neighbourhood = NEIGHBOURHOOD.replacen('┃', "", 1);
    let padding = match bytes.saturating_sub(neighbourhood.len()) {
        0 => 0,
        n => n.next_multiple_of(PADDING_ALIGN),
    };
    let mut text = String::with_capacity(padding + neighbourhood.len());
    let mut i = 0;
    while padding - text.len() > 200 {
        text.push_str(&format!("PADDING_{i} = compute_padding({i})  # far above the cursor\n"));
        i += 1;
    }
    if padding > text.len() {
        let rest = padding - text.len();
        text.push_str(&format!("#{}\n", " ".repeat(rest - 2)));
    }
    let cursor = text.len() + marker;
    text.push_str(&neighbourhood);
    (text, cursor)
}

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn print(tables: &[(Retrieval, Vec<SizeRow>)]) {
    println!(
        "{:<9} {:>8} {:>9} {:>17} {:>6} {:>19} {:>6} {:>12} {:>7} {:>8} {:>8}",
        "retrieval",
        "size",
        "open ms",
        "edit ack p50/p90",
        "×2KB",
        "completion p50/p90",
        "×2KB",
        "prepare p50",
        "prompt",
        "encoded",
        "RSS MiB"
    );
    for (mode, rows) in tables {
        let base = rows.first();
        let base_edit = base.and_then(|r| quantile(&r.edit_ack_ms, 0.5));
        let base_rt = base.and_then(|r| quantile(&r.round_trip_ms, 0.5));
        for row in rows {
            let edit = quantile(&row.edit_ack_ms, 0.5);
            let rt = quantile(&row.round_trip_ms, 0.5);
            println!(
                "{:<9} {:>8} {:>9.1} {:>17} {:>6} {:>19} {:>6} {:>12} {:>7} {:>8} {:>8}",
                mode_name(*mode),
                row.label,
                row.open_ms,
                pair(edit, quantile(&row.edit_ack_ms, 0.9)),
                ratio(edit, base_edit),
                pair(rt, quantile(&row.round_trip_ms, 0.9)),
                ratio(rt, base_rt),
                quantile(&row.prepare_ms, 0.5).map_or("-".to_owned(), |ms| format!("{ms:.1}")),
                quantile(&row.prompt_tokens, 0.5).map_or("-".to_owned(), |t| format!("{t:.0}")),
                quantile(&row.encoded_tokens, 0.5).map_or("-".to_owned(), |t| format!("{t:.0}")),
                row.rss_kib.map_or("-".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0)),
            );
        }
    }
    let sizes: Vec<String> = tables
        .first()
        .map(|(_, rows)| rows.iter().map(|r| format!("{} = {} bytes", r.label, r.bytes)).collect())
        .unwrap_or_default();
    println!("documents: {}", sizes.join(", "));
    println!("edit ack: didChange of one character until the next request (splice/status) is answered");
}

fn pair(p50: Option<f64>, p90: Option<f64>) -> String {
    match (p50, p90) {
        (Some(a), Some(b)) => format!("{a:.1} / {b:.1}"),
        _ => "-".to_owned(),
    }
}

fn ratio(value: Option<f64>, base: Option<f64>) -> String {
    match (value, base) {
        (Some(v), Some(b)) if b > 0.0 => format!("{:.2}", v / b),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_ends_with_the_same_neighbourhood_around_the_cursor() {
        let (small, small_cursor) = document(0);
        let (big, big_cursor) = document(200_000);
        assert!(big.len() >= 200_000);
        assert_eq!(&small[..small_cursor], &big[big_cursor - small_cursor..big_cursor]);
        assert_eq!(&small[small_cursor..], &big[big_cursor..]);
        assert!(small_cursor > 2048, "the window above the cursor is all neighbourhood");
        assert_eq!(big_cursor % PADDING_ALIGN, small_cursor % PADDING_ALIGN, "the window's grid agrees");
    }
}
