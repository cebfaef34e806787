//! `splice bench retrieval --through lsp` (the default): the tasks asked of `splice serve` as an
//! editor asks them.
//!
//! One server per repository and mode: `initialize` names the repository as the workspace folder
//! (so the server indexes it and starts its file watcher) and sends the options as
//! `initializationOptions`; the bench waits for indexing to end (the `$/progress` end), then for
//! each task opens the file with the line cut, asks `textDocument/inlineCompletion` at the hole
//! and reads the request's stats from `splice/status` (`last`); a file's first request comes
//! [`OPEN_PAUSE`] after it is opened, as a person's first key does. Consecutive tasks of one file
//! (they come in document order) replace the open file's text with a full-text `didChange`, so
//! later tasks are edits of a cached document, as in the in-process mode; moving to the next
//! file closes the previous one, which makes the server re-read it from disk into the index, as
//! after an editor closes an unsaved file. The index's file count is read at the start and at
//! the end, so an index that empties itself during a session shows.

use crate::bench_client::{file_uri, initialization_options, LspSession, HANG_GUARD};
use crate::bench_retrieval::{mode_name, Answer};
use crate::bench_retrieval_tasks::Task;
use crate::config::{Options, Retrieval};
use crate::document::{Document, PositionEncoding};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// The pause between opening a file and its first request: a person's reaction from a file
/// appearing to the first key (the server reads the file's syntax when it is opened, off the
/// request path, and a first request sent at once would race that read).
const OPEN_PAUSE: Duration = Duration::from_millis(300);

/// How long indexing one repository may take before the bench gives up.
const INDEXING_GUARD: Duration = Duration::from_secs(600);

/// One server session's answers and its index's size at both ends.
#[derive(Debug)]
pub struct LspRun {
    /// One answer per task, in task order.
    pub answers: Vec<Answer>,
    /// Files in the index once indexing ended (`None` when retrieval is off).
    pub index_files_at_start: Option<u64>,
    /// Files in the index after the last task.
    pub index_files_at_end: Option<u64>,
    /// What `splice/status` said of the loaded model (`model`).
    pub model: Value,
}

/// Starts a server over `repository` with retrieval `mode` and asks it every task.
pub fn answers(
    repository: &Path,
    tasks: &[Task],
    mode: Retrieval,
    options: &Options,
    scratch: &Path,
) -> anyhow::Result<LspRun> {
    std::fs::create_dir_all(scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let log = scratch.join(format!("serve-{}-{}.log", log_name(repository), mode_name(mode)));
    let mut session = LspSession::spawn(&log)?;
    let init = initialization_options(&Options { retrieval: Some(mode), ..options.clone() });
    session.initialize(&[repository.to_path_buf()], init).context("initialize failed")?;
    let status = session.wait_for_engine()?;
    if status["state"] != "ready" {
        bail!("the model failed to load: {} (log: {})", status["error"], log.display());
    }
    let model = status["model"].clone();
    let status = match mode {
        Retrieval::Never => status,
        _ => session.wait_for_indexing(INDEXING_GUARD).context("indexing did not end")?,
    };
    let index_files_at_start = index_files(&status);
    match index_files_at_start {
        Some(files) => eprintln!(
            "  {} over LSP: index {} with {files} files",
            mode_name(mode),
            status["index"]["state"].as_str().unwrap_or("?")
        ),
        None => eprintln!("  {} over LSP: no index", mode_name(mode)),
    }
    let mut answers = Vec::with_capacity(tasks.len());
    let mut open: Option<(&Path, i32)> = None;
    for task in tasks {
        let uri = file_uri(&task.path);
        match &mut open {
            Some((path, version)) if *path == task.path.as_path() => {
                *version += 1;
                let params = json!({
                    "textDocument": { "uri": uri, "version": *version },
                    "contentChanges": [{ "text": task.text }],
                });
                session.notify("textDocument/didChange", params)?;
            }
            _ => {
                if let Some((path, _)) = open {
                    session.close(&file_uri(path))?;
                }
                session.open(&uri, &task.text, 1)?;
                open = Some((&task.path, 1));
                // Nobody types the instant a file opens: the server reads its syntax meanwhile.
                std::thread::sleep(OPEN_PAUSE);
            }
        }
        answers.push(ask(&mut session, &uri, task).with_context(|| format!("log: {}", log.display()))?);
    }
    if let Some((path, _)) = open {
        session.close(&file_uri(path))?;
    }
    let index_files_at_end = index_files(&session.status()?);
    if let Some(files) = index_files_at_end {
        eprintln!("  {}: index {files} files at the end", mode_name(mode));
    }
    let exit = session.shutdown()?;
    if !exit.success() {
        eprintln!("  the server exited with {exit} (log: {})", log.display());
    }
    Ok(LspRun { answers, index_files_at_start, index_files_at_end, model })
}

/// Asks at the task's hole in the open document `uri` and reads the request's stats (`last`).
fn ask(session: &mut LspSession, uri: &str, task: &Task) -> anyhow::Result<Answer> {
    let at = Document::new(task.text.clone(), 1).position_at(task.cursor, PositionEncoding::Utf16)?;
    let sent = Instant::now();
    let id = session.inline_completion(uri, at.line, at.character)?;
    let response = session.response_by(id, sent + HANG_GUARD)?;
    let round_trip_ms = sent.elapsed().as_secs_f64() * 1000.0;
    if let Some(error) = response.get("error") {
        bail!("inline completion failed: {error}");
    }
    let last = session.status()?["last"].take();
    let suggestion = response["result"]["items"][0]["insertText"].as_str().map(str::to_owned);
    let context_tokens = last["contextTokens"].as_u64().unwrap_or(0) as usize;
    Ok(Answer {
        suggestion,
        retrieved: context_tokens > 0,
        offered: None,
        total_ms: last["totalMs"].as_f64().unwrap_or(0.0),
        first_token_ms: last["firstTokenMs"].as_f64().unwrap_or(0.0),
        context_tokens,
        round_trip_ms: Some(round_trip_ms),
        prepare_ms: last["prepareMs"].as_f64().unwrap_or(0.0),
        decision_ms: last["decisionMs"].as_f64().unwrap_or(0.0),
        retrieval: json!({
            "retrieved": context_tokens > 0,
            "contextTokens": context_tokens,
            "contextFiles": last["contextFiles"],
        }),
        check: last["check"].clone(),
    })
}

/// The repository's last two folder names (`semver-1.0.28-src`): many package folders are
/// called `src` or `lib`, and each server needs a log of its own.
fn log_name(repository: &Path) -> String {
    let mut parts: Vec<String> =
        repository.iter().rev().take(2).map(|part| part.to_string_lossy().into_owned()).collect();
    parts.reverse();
    parts.join("-")
}

fn index_files(status: &Value) -> Option<u64> {
    status["index"]["files"].as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_of_folders_with_the_same_name_log_apart() {
        assert_eq!(log_name(Path::new("/c/semver-1.0.28/src")), "semver-1.0.28-src");
        assert_ne!(log_name(Path::new("/c/a/src")), log_name(Path::new("/c/b/src")));
    }
}
