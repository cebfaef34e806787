//! `splice bench soak`: a long editor session against the real server, to see leaks, hangs,
//! crashes and drift that short tests cannot.
//!
//! It starts `splice serve` over pipes with a workspace folder of ten Python documents (written
//! to a temporary folder, so indexing, the file watcher and re-indexing run), opens them all and,
//! for `--minutes`, does what a busy user's editor does, chosen by a seeded generator: random
//! edits (see `bench_soak_edits.rs`), typing with a request per keystroke, inline completion
//! requests, `$/cancelRequest`s, edits that supersede a request in flight, saves, didClose and
//! re-didOpen, `splice/status`, pauses that let the idle repair run. Every request is awaited
//! under a hang guard. Every position sent is valid in the client's reference copy, so any
//! "out of sync" or position error, or a "rejected an edit" warning, means the server's copy
//! drifted. Each minute, and at the end, it prints requests sent and answered, errors by kind,
//! hangs, session deaths (a dead server is restarted and the documents reopened) and the
//! server's RSS. It fails only when the server died.

use crate::bench_client::{LspSession, SessionError, HANG_GUARD};
use crate::bench_rng::SplitMix;
use crate::bench_soak_edits::ReferenceDocument;
use crate::cli::BenchSoakArgs;
use crate::config::Options;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the server's RSS is read.
const RSS_EVERY: Duration = Duration::from_secs(10);

/// Characters typed one at a time, with a request after each.
const TYPED: [&str; 12] = ["a", "e", "_", ".", "(", " ", "1", "é", "中", "😀", "\n", "\r\n"];

/// What happened, counted from the client's side.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Requests sent (inline completions and `splice/status`).
    sent: u64,
    /// Responses received.
    answered: u64,
    /// Completion answers with a suggestion.
    suggested: u64,
    /// Completion answers without one (nothing to suggest, or superseded).
    empty: u64,
    /// Requests answered with -32800 after this client cancelled them.
    cancelled: u64,
    /// `didChange` notifications sent.
    edits: u64,
    /// Error answers and disagreement warnings, by kind.
    errors: BTreeMap<String, u64>,
    /// Requests without an answer within the hang guard.
    hangs: u64,
    /// Times the server process ended on its own.
    deaths: u64,
    /// `textDocument/completion` items whose word before the cursor matched the reference copy.
    agreed: u64,
    /// Completion checks answered without an item (nothing to compare).
    unchecked: u64,
}

impl Tally {
    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }
}

/// The RSS samples of the current server process: (seconds since the soak started, KiB).
#[derive(Debug, Default)]
struct RssSeries(Vec<(f64, u64)>);

/// The running soak: the server, the reference documents and the counters.
struct Soak {
    session: LspSession,
    documents: Vec<ReferenceDocument>,
    /// Which documents are open in the server.
    open: Vec<bool>,
    workspace: PathBuf,
    options: Value,
    logs: PathBuf,
    rng: SplitMix,
    active: usize,
    tally: Tally,
    rss: RssSeries,
    started: Instant,
    sessions: u32,
}

/// Runs `splice bench soak`.
pub fn run(args: BenchSoakArgs) -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("splice-bench-soak-{}", std::process::id()));
    let workspace = root.join("workspace");
    std::fs::create_dir_all(&workspace).with_context(|| format!("cannot create {}", workspace.display()))?;
    let options = Options {
        max_tokens: args.options.max_tokens.or(Some(16)),
        index_dir: args.options.index_dir.clone().or_else(|| Some(root.join("index"))),
        ..args.options.clone()
    };
    let options = crate::bench_client::initialization_options(&options);
    let mut rng = SplitMix(args.seed);
    let documents = write_documents(&workspace, args.documents.max(1), &mut rng)?;
    println!(
        "splice bench soak: {} min, {} documents, seed {}, options {}",
        args.minutes, args.documents, args.seed, options
    );
    let started = Instant::now();
    let session = start_session(&root, 1, &workspace, &options)?;
    let mut soak = Soak {
        session,
        open: vec![false; documents.len()],
        documents,
        workspace,
        options,
        logs: root.clone(),
        rng,
        active: 0,
        tally: Tally::default(),
        rss: RssSeries::default(),
        started,
        sessions: 1,
    };
    let index_start = soak.index_files();
    soak.open_all()?;
    soak.sample_rss();
    print_minute_header();
    let end = started + Duration::from_secs(args.minutes * 60);
    let mut next_minute = started + Duration::from_secs(60);
    let mut next_rss = Instant::now() + RSS_EVERY;
    let mut previous = Tally::default();
    let mut minute = 0;
    while Instant::now() < end {
        soak.step()?;
        if Instant::now() >= next_rss {
            soak.sample_rss();
            next_rss += RSS_EVERY;
        }
        if Instant::now() >= next_minute {
            minute += 1;
            soak.sample_rss();
            print_minute(minute, &soak.tally, &previous, soak.rss.last());
            previous = soak.tally.clone();
            next_minute += Duration::from_secs(60);
        }
    }
    soak.sample_rss();
    let final_status = soak.session.status().ok();
    let index_end = soak.index_files();
    let Soak { session, tally, rss, workspace, .. } = soak;
    let exit = shut_down(session);
    print_summary(&tally, &rss, args.minutes, final_status.as_ref(), (index_start, index_end), &exit);
    let _ = std::fs::remove_dir_all(&workspace);
    let _ = std::fs::remove_dir_all(root.join("index"));
    println!("server logs: {}", root.display());
    if tally.deaths > 0 {
        bail!("the server died {} time(s) during the soak", tally.deaths);
    }
    Ok(())
}

/// Writes the documents' first text into `workspace` (varied sizes, 1–32 KiB) and returns their
/// reference copies.
fn write_documents(workspace: &Path, count: usize, rng: &mut SplitMix) -> anyhow::Result<Vec<ReferenceDocument>> {
    const KIB: [usize; 10] = [1, 2, 4, 8, 16, 32, 3, 6, 12, 24];
    let mut documents = Vec::with_capacity(count);
    for i in 0..count {
        let path = workspace.join(format!("module_{i}.py"));
        let text = python_source(i, KIB[i % KIB.len()] * 1024);
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        let mut document = ReferenceDocument::new(crate::bench_client::file_uri(&path), text);
        document.jump(rng);
        documents.push(document);
    }
    Ok(documents)
}

/// Plausible Python of about `bytes` bytes: functions and classes with some unicode.
fn python_source(seed: usize, bytes: usize) -> String {
    let mut text = format!(
        "\"\"\"Module {seed}: generated for the soak benchmark. Café ☕, 中文.\"\"\"\nimport os\nimport json\n\n"
    );
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(&format!(
            "\ndef compute_{seed}_{i}(items, factor={i}):\n    \"\"\"Scales the items (😀 {i}).\"\"\"\n    total = 0\n    for item in items:\n        total += item * factor\n    return total\n\n\nclass Record{i}:\n    def __init__(self, name, value):\n        self.name = name\n        self.value = value\n\n    def describe(self):\n        return f\"{{self.name}}: {{self.value}}\"\n",
        ));
        i += 1;
    }
    text
}

fn start_session(root: &Path, n: u32, workspace: &Path, options: &Value) -> anyhow::Result<LspSession> {
    let mut session = LspSession::spawn(&root.join(format!("serve-{n}.log")))?;
    session.initialize(&[workspace.to_path_buf()], options.clone()).context("initialize failed")?;
    let status = session.wait_for_engine().context("the model did not load")?;
    if status["state"] != "ready" {
        bail!("the model failed to load: {}", status["error"]);
    }
    if status["index"]["state"] != "disabled" {
        session.wait_for_indexing(HANG_GUARD).context("indexing did not end")?;
    }
    Ok(session)
}

impl Soak {
    /// One user action, chosen at random.
    fn step(&mut self) -> anyhow::Result<()> {
        // Users stay in one file for a while; a switch to a file whose cells were evicted is a
        // cold prompt.
        if self.rng.percent(2) {
            self.active = self.rng.below(self.documents.len());
        }
        let result = match self.rng.below(100) {
            0..=34 => self.edit(),
            35..=59 => self.complete(),
            60..=74 => self.type_and_complete(),
            75..=77 => self.status(),
            78..=79 => self.check_agreement(),
            80..=82 => self.close_and_reopen(),
            83..=85 => self.save(),
            86..=88 => {
                self.documents[self.active].jump(&mut self.rng);
                Ok(())
            }
            89..=91 => {
                std::thread::sleep(Duration::from_millis(300 + self.rng.below(500) as u64));
                Ok(())
            }
            _ => {
                std::thread::sleep(Duration::from_millis(self.rng.below(40) as u64));
                Ok(())
            }
        };
        self.read_warnings();
        match result {
            Ok(()) => Ok(()),
            Err(SessionError::Died { status }) => self.restart(status),
            Err(other) => {
                // Hangs are counted where they happen; nothing else reaches here.
                self.tally.error(format!("client: {other}"));
                Ok(())
            }
        }
    }

    fn edit(&mut self) -> Result<(), SessionError> {
        let i = self.active;
        if !self.open[i] {
            return self.reopen(i);
        }
        let (params, _) = self.documents[i].edit(&mut self.rng);
        self.tally.edits += 1;
        self.session.notify("textDocument/didChange", params)
    }

    /// A request at the cursor; sometimes cancelled at once, sometimes superseded by an edit,
    /// sometimes joined by a request on another document; then every answer is awaited.
    fn complete(&mut self) -> Result<(), SessionError> {
        let i = self.active;
        if !self.open[i] {
            return self.reopen(i);
        }
        let mut pending = vec![(self.request_at_cursor(i)?, false, Instant::now())];
        match self.rng.below(100) {
            0..=24 => {
                self.session.cancel(pending[0].0)?;
                pending[0].1 = true;
            }
            25..=49 => {
                let (params, _) = self.documents[i].edit(&mut self.rng);
                self.tally.edits += 1;
                self.session.notify("textDocument/didChange", params)?;
            }
            50..=64 => {
                let other = self.rng.below(self.documents.len());
                if self.open[other] {
                    pending.push((self.request_at_cursor(other)?, false, Instant::now()));
                }
            }
            _ => {}
        }
        self.await_all(&pending)
    }

    /// Types 1–6 characters, a request after each without waiting (each supersedes the last).
    fn type_and_complete(&mut self) -> Result<(), SessionError> {
        let i = self.active;
        if !self.open[i] {
            return self.reopen(i);
        }
        let mut pending = Vec::new();
        for _ in 0..1 + self.rng.below(6) {
            let typed = *self.rng.pick(&TYPED);
            let params = self.documents[i].type_at_cursor(typed);
            self.tally.edits += 1;
            self.session.notify("textDocument/didChange", params)?;
            pending.push((self.request_at_cursor(i)?, false, Instant::now()));
            std::thread::sleep(Duration::from_millis(self.rng.below(60) as u64));
        }
        self.await_all(&pending)
    }

    fn status(&mut self) -> Result<(), SessionError> {
        let id = self.session.request("splice/status", json!({}))?;
        self.tally.sent += 1;
        self.await_all(&[(id, false, Instant::now())])
    }

    /// Asks `textDocument/completion` at the cursor: its item replaces the identifier before the
    /// cursor, found in the server's copy, which must be where the reference copy has it.
    fn check_agreement(&mut self) -> Result<(), SessionError> {
        let i = self.active;
        if !self.open[i] {
            return self.reopen(i);
        }
        let at = self.documents[i].cursor_position();
        let params = json!({
            "textDocument": { "uri": self.documents[i].uri },
            "position": { "line": at.line, "character": at.character },
        });
        let sent = Instant::now();
        let id = self.session.request("textDocument/completion", params)?;
        self.tally.sent += 1;
        let response = match self.session.response_by(id, sent + HANG_GUARD) {
            Ok(response) => response,
            Err(SessionError::Hang { .. }) => {
                self.tally.hangs += 1;
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        self.tally.answered += 1;
        if let Some(error) = response.get("error") {
            let code = error["code"].as_i64().unwrap_or_default();
            self.tally.error(error_kind(code, error["message"].as_str().unwrap_or_default()));
            return Ok(());
        }
        let Some(edit) = response["result"][0].get("textEdit") else {
            self.tally.unchecked += 1;
            return Ok(());
        };
        let (start, word) = self.documents[i].word_at_cursor();
        let agrees = edit["range"]["start"] == json!({ "line": start.line, "character": start.character })
            && edit["newText"].as_str().is_some_and(|text| text.starts_with(word));
        if agrees {
            self.tally.agreed += 1;
        } else {
            self.tally.error("server's text differs from the reference at the cursor");
        }
        Ok(())
    }

    fn close_and_reopen(&mut self) -> Result<(), SessionError> {
        let i = self.rng.below(self.documents.len());
        if self.open[i] {
            self.session.close(&self.documents[i].uri.clone())?;
            self.open[i] = false;
        }
        if self.rng.percent(70) {
            self.reopen(i)?;
        }
        Ok(())
    }

    fn reopen(&mut self, i: usize) -> Result<(), SessionError> {
        self.documents[i].reopen();
        let document = &self.documents[i];
        self.session.open(&document.uri, document.text(), document.version())?;
        self.open[i] = true;
        Ok(())
    }

    /// Writes the active document to disk and sends `didSave` (the watcher sees the write too).
    fn save(&mut self) -> Result<(), SessionError> {
        let document = &self.documents[self.active];
        let path = self.workspace.join(format!("module_{}.py", self.active));
        if std::fs::write(&path, document.text()).is_err() {
            self.tally.error("client: cannot write a document");
            return Ok(());
        }
        self.session.notify("textDocument/didSave", json!({ "textDocument": { "uri": document.uri } }))
    }

    fn request_at_cursor(&mut self, i: usize) -> Result<i64, SessionError> {
        let at = self.documents[i].cursor_position();
        self.tally.sent += 1;
        self.session.inline_completion(&self.documents[i].uri.clone(), at.line, at.character)
    }

    /// Awaits each (request id, cancelled by us, sent at) under the hang guard and counts the
    /// outcome.
    fn await_all(&mut self, pending: &[(i64, bool, Instant)]) -> Result<(), SessionError> {
        for &(id, cancelled, sent) in pending {
            match self.session.response_by(id, sent + HANG_GUARD) {
                Ok(response) => self.count(&response, cancelled),
                Err(SessionError::Hang { .. }) => self.tally.hangs += 1,
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    fn count(&mut self, response: &Value, cancelled: bool) {
        self.tally.answered += 1;
        if let Some(error) = response.get("error") {
            let code = error["code"].as_i64().unwrap_or_default();
            if code == -32800 && cancelled {
                self.tally.cancelled += 1;
            } else {
                self.tally.error(error_kind(code, error["message"].as_str().unwrap_or_default()));
            }
            return;
        }
        match response["result"]["items"].as_array() {
            Some(items) if !items.is_empty() => self.tally.suggested += 1,
            Some(_) => self.tally.empty += 1,
            None => {} // splice/status
        }
    }

    /// Counts the server's warnings that mean its copy of a document drifted from ours.
    fn read_warnings(&mut self) {
        for notification in self.session.take_notifications() {
            if notification["method"] != "window/logMessage" {
                continue;
            }
            let message = notification["params"]["message"].as_str().unwrap_or_default();
            if message.contains("rejected an edit") {
                self.tally.error("server rejected a valid edit");
            } else if message.contains("not open") {
                self.tally.error("server: edit of a document it has not open");
            }
        }
    }

    fn open_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.documents.len() {
            self.reopen(i).context("cannot open the documents")?;
        }
        Ok(())
    }

    fn restart(&mut self, status: Option<std::process::ExitStatus>) -> anyhow::Result<()> {
        self.tally.deaths += 1;
        let status = status.map_or("unknown status".to_owned(), |s| s.to_string());
        eprintln!("the server died ({status}); log: {}; restarting", self.session.log_file().display());
        self.sessions += 1;
        self.session = start_session(&self.logs, self.sessions, &self.workspace, &self.options)?;
        self.rss = RssSeries::default();
        self.open.iter_mut().for_each(|o| *o = false);
        self.open_all()
    }

    fn sample_rss(&mut self) {
        if let Some(kib) = self.session.rss_kib() {
            self.rss.0.push((self.started.elapsed().as_secs_f64(), kib));
        }
    }

    fn index_files(&mut self) -> Option<u64> {
        self.session.status().ok().and_then(|s| s["index"]["files"].as_u64())
    }
}

/// Shuts the server down; returns how it went, in words.
fn shut_down(session: LspSession) -> String {
    match session.shutdown() {
        Ok(status) if status.success() => "clean exit after shutdown".to_owned(),
        Ok(status) => format!("exited with {status} after shutdown"),
        Err(err) => format!("did not shut down: {err}"),
    }
}

/// A short name for an error answer, for the errors-by-kind table.
fn error_kind(code: i64, message: &str) -> String {
    let kind = if message.contains("out of sync") {
        "out of sync"
    } else if message.contains("is not open") {
        "document not open"
    } else if message.contains("past the end") || message.contains("surrogate") || message.contains("inside") {
        "bad position"
    } else if message.contains("model failed") {
        "model failed"
    } else if code == -32800 {
        "cancelled without a cancel"
    } else {
        return format!("code {code}: {}", message.chars().take(60).collect::<String>());
    };
    kind.to_owned()
}

impl RssSeries {
    fn last(&self) -> Option<u64> {
        self.0.last().map(|(_, kib)| *kib)
    }

    /// The first sample taken at or after `seconds`.
    fn at(&self, seconds: f64) -> Option<u64> {
        self.0.iter().find(|(t, _)| *t >= seconds).map(|(_, kib)| *kib)
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn print_minute_header() {
    println!(
        "{:>6} {:>7} {:>8} {:>9} {:>6} {:>9} {:>6} {:>6} {:>6} {:>6} {:>8}  new errors by kind",
        "minute",
        "sent",
        "answered",
        "suggested",
        "empty",
        "cancelled",
        "edits",
        "errors",
        "hangs",
        "deaths",
        "RSS MiB"
    );
}

fn print_minute(minute: u32, now: &Tally, before: &Tally, rss_kib: Option<u64>) {
    let new_errors: Vec<String> = now
        .errors
        .iter()
        .filter_map(|(kind, n)| {
            let new = n - before.errors.get(kind).copied().unwrap_or(0);
            (new > 0).then(|| format!("{kind} ×{new}"))
        })
        .collect();
    println!(
        "{:>6} {:>7} {:>8} {:>9} {:>6} {:>9} {:>6} {:>6} {:>6} {:>6} {:>8}  {}",
        minute,
        now.sent - before.sent,
        now.answered - before.answered,
        now.suggested - before.suggested,
        now.empty - before.empty,
        now.cancelled - before.cancelled,
        now.edits - before.edits,
        now.error_count() - before.error_count(),
        now.hangs - before.hangs,
        now.deaths - before.deaths,
        mib(rss_kib),
        new_errors.join(", ")
    );
    let _ = std::io::stdout().flush();
}

fn print_summary(
    tally: &Tally,
    rss: &RssSeries,
    minutes: u64,
    status: Option<&Value>,
    index_files: (Option<u64>, Option<u64>),
    exit: &str,
) {
    let values: Vec<u64> = rss.0.iter().map(|(_, kib)| *kib).collect();
    let baseline_minute = if minutes >= 10 { 2.0 } else { 1.0 };
    let baseline = rss.at(baseline_minute * 60.0).or(values.first().copied());
    let last = values.last().copied();
    let growth = match (baseline, last) {
        (Some(b), Some(l)) if b > 0 => format!("{:+.1} %", (l as f64 - b as f64) * 100.0 / b as f64),
        _ => "-".to_owned(),
    };
    println!();
    println!("| soak total | value |");
    println!("|---|---|");
    println!("| requests sent | {} |", tally.sent);
    println!("| answered | {} |", tally.answered);
    println!(
        "| with a suggestion / empty / cancelled by us | {} / {} / {} |",
        tally.suggested, tally.empty, tally.cancelled
    );
    println!("| didChange sent | {} |", tally.edits);
    println!("| errors | {} |", tally.error_count());
    for (kind, count) in &tally.errors {
        println!("| error: {kind} | {count} |");
    }
    println!("| hangs (no answer and no server CPU for {} s) | {} |", HANG_GUARD.as_secs(), tally.hangs);
    println!("| session deaths | {} |", tally.deaths);
    println!(
        "| agreement checks (textDocument/completion): agreed / no item to compare | {} / {} |",
        tally.agreed, tally.unchecked
    );
    println!(
        "| RSS MiB first / min / max / last | {} / {} / {} / {} |",
        mib(values.first().copied()),
        mib(values.iter().min().copied()),
        mib(values.iter().max().copied()),
        mib(last)
    );
    println!("| RSS growth from minute {baseline_minute} to the end | {growth} |");
    println!("| index files at start / end | {} / {} |", opt(index_files.0), opt(index_files.1));
    if let Some(status) = status {
        let r = &status["requests"];
        println!(
            "| server's count: received = suggested + cached + prefetched + partial + empty + cancelled + superseded + failed | {} = {} + {} + {} + {} + {} + {} + {} + {} |",
            r["received"], r["suggested"], r["cached"], r["prefetched"], r["partial"], r["empty"], r["cancelled"], r["superseded"], r["failed"]
        );
    }
    println!("| end of session | {exit} |");
}

fn opt(value: Option<u64>) -> String {
    value.map_or("-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_are_grouped_by_what_went_wrong() {
        assert_eq!(error_kind(-32602, "document file:///a is out of sync after a rejected edit"), "out of sync");
        assert_eq!(error_kind(-32602, "position 3:9 is past the end of line 3 (4 UTF-16 units)"), "bad position");
        assert_eq!(error_kind(-32800, "canceled"), "cancelled without a cancel");
        assert_eq!(error_kind(-32603, "boom"), "code -32603: boom");
    }
}
