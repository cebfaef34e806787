//! `splice bench accept`: after the editor accepts a suggestion, how soon the next one is visible,
//! with the prefetch and without, through `splice serve` as an editor reaches it.
//!
//! A session opens a document, asks at its end, then `--rounds` times accepts the suggestion
//! shown (one `didChange` inserting exactly it, as an editor's Tab does) and asks right after
//! it, timed from the `didChange` to the answer. With `--prefetch on` it first waits until the
//! prefetch of the shown suggestion ended, which is the case the prefetch is for (the user read
//! the suggestion before accepting it). Both modes see the same edits as long as their
//! suggestions agree; the table says whether they did.

use crate::bench_client::{file_uri, initialization_options, LspSession, SessionError, HANG_GUARD};
use crate::cli::BenchAcceptArgs;
use crate::config::{OnOff, Options};
use crate::document::{Document, PositionEncoding};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// The default document: code that a person completes suggestion by suggestion, the cursor at
/// its end.
const DEFAULT_DOCUMENT: &str = "\"\"\"Lookup tables for the report.\"\"\"\n\n\
MONTHS = [\"January\", \"February\", \"March\", \"April\", \"May\", \"June\"]\n\n\
SQUARES = [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]\n\n\
PRIMES = [2, 3, 5, 7, 11, 13, ";

/// One accepted suggestion and the request after it.
struct Round {
    /// From the `didChange` to the answer of the request after it.
    ms: f64,
    /// The answer (`None`: no item).
    next: Option<String>,
    /// Whether the server answered it from the prefetch.
    prefetched: bool,
}

/// Runs `splice bench accept`.
pub fn run(args: BenchAcceptArgs) -> anyhow::Result<()> {
    let text = match &args.file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => DEFAULT_DOCUMENT.to_owned(),
    };
    let scratch = std::env::temp_dir().join(format!("splice-bench-accept-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let options = Options { max_tokens: args.options.max_tokens.or(Some(16)), ..args.options.clone() };
    let modes = match options.prefetch {
        Some(mode) => vec![mode],
        None => vec![OnOff::On, OnOff::Off],
    };
    println!(
        "splice bench accept: {} accepts in a row at the end of {}; options {}",
        args.rounds,
        args.file.as_ref().map_or("the built-in document".to_owned(), |p| p.display().to_string()),
        initialization_options(&options)
    );
    let mut sessions = Vec::new();
    for mode in modes {
        let log = scratch.join(format!("serve-prefetch-{}.log", name(mode)));
        let options = Options { prefetch: Some(mode), ..options.clone() };
        let rounds = session(&text, args.rounds, &options, &scratch, &log)
            .with_context(|| format!("prefetch {} (log: {})", name(mode), log.display()))?;
        sessions.push((mode, rounds));
    }
    print(&sessions);
    println!("server logs: {}", scratch.display());
    Ok(())
}

/// One server session: the first suggestion, then `rounds` accepts.
fn session(text: &str, rounds: usize, options: &Options, scratch: &Path, log: &Path) -> anyhow::Result<Vec<Round>> {
    let mut session = LspSession::spawn(log)?;
    session.initialize(&[], initialization_options(options))?;
    let status = session.wait_for_engine()?;
    if status["state"] != "ready" {
        bail!("the model failed to load: {}", status["error"]);
    }
    let uri = file_uri(&scratch.join("accept.py"));
    session.open(&uri, text, 1)?;
    let mut document = Document::new(text.to_owned(), 1);
    let mut shown = ask(&mut session, &uri, &document)?;
    let mut done = Vec::new();
    for version in 2..rounds as i32 + 2 {
        let Some(suggestion) = shown else { break };
        if options.prefetch == Some(OnOff::On) {
            wait_for_prefetch(&mut session)?;
        }
        let prefetched_before = session.status()?["requests"]["prefetched"].as_u64();
        let at = end_position(&document)?;
        let edit = json!({ "range": { "start": at, "end": at }, "text": suggestion });
        document = Document::new(format!("{}{suggestion}", document.text()), version);
        let started = Instant::now();
        session.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [edit] }),
        )?;
        let next = ask(&mut session, &uri, &document)?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let prefetched = session.status()?["requests"]["prefetched"].as_u64() > prefetched_before;
        done.push(Round { ms, next: next.clone(), prefetched });
        shown = next;
    }
    let exit = session.shutdown()?;
    if !exit.success() {
        eprintln!("the server exited with {exit} (log: {})", log.display());
    }
    Ok(done)
}

/// Asks at the end of `document`; the suggestion's text, `None` for no item.
fn ask(session: &mut LspSession, uri: &str, document: &Document) -> anyhow::Result<Option<String>> {
    let at = document.position_at(document.text().len(), PositionEncoding::Utf16)?;
    let id = session.inline_completion(uri, at.line, at.character)?;
    let response = session.response_by(id, Instant::now() + HANG_GUARD)?;
    if let Some(error) = response.get("error") {
        bail!("inlineCompletion failed: {error}");
    }
    Ok(response["result"]["items"][0]["insertText"].as_str().map(str::to_owned))
}

fn end_position(document: &Document) -> anyhow::Result<Value> {
    let at = document.position_at(document.text().len(), PositionEncoding::Utf16)?;
    Ok(json!({ "line": at.line, "character": at.character }))
}

/// Polls `splice/status` until every prefetch started has ended.
fn wait_for_prefetch(session: &mut LspSession) -> Result<(), SessionError> {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let status = session.status()?;
        let prefetch = &status["prefetch"];
        let count = |key: &str| prefetch[key].as_u64().unwrap_or(0);
        if count("finished") + count("preempted") + count("failed") >= count("started") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(SessionError::Hang { what: "end of the prefetch".to_owned() });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn name(mode: OnOff) -> &'static str {
    match mode {
        OnOff::On => "on",
        OnOff::Off => "off",
    }
}

fn print(sessions: &[(OnOff, Vec<Round>)]) {
    println!("| prefetch | accepts | next from the prefetch | next empty | accept → next visible, ms: median / max |");
    println!("|---|---|---|---|---|");
    for (mode, rounds) in sessions {
        let mut ms: Vec<f64> = rounds.iter().map(|r| r.ms).collect();
        ms.sort_by(f64::total_cmp);
        let (median, max) = (ms.get(ms.len() / 2), ms.last());
        println!(
            "| {} | {} | {} | {} | {} / {} |",
            name(*mode),
            rounds.len(),
            rounds.iter().filter(|r| r.prefetched).count(),
            rounds.iter().filter(|r| r.next.is_none()).count(),
            median.map_or("-".to_owned(), |m| format!("{m:.1}")),
            max.map_or("-".to_owned(), |m| format!("{m:.1}")),
        );
    }
    if let [(_, a), (_, b)] = sessions {
        let differ = a.iter().zip(b).position(|(x, y)| x.next != y.next);
        match differ {
            None if a.len() == b.len() => println!("the suggestions of both sessions agree"),
            None => println!("the suggestions agree until one session had no suggestion to accept"),
            Some(i) => println!("the suggestions differ from accept {} on", i + 1),
        }
    }
}
