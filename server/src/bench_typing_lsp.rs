//! `splice bench typing` through `splice serve`: the person of `bench_typing_script.rs` types at
//! each spot while an editor sends what VS Code sends.
//!
//! Per spot: `didOpen` of the file with the block cut; one request at the cursor, awaited (the
//! editor asked when the line was opened; a cold prompt, timed apart as the warm-up); then per
//! key, at the person's pace and never waiting for the server: `$/cancelRequest` of the previous
//! request if it is still unanswered (it is late), a `didChange` inserting the key's text, and
//! `textDocument/inlineCompletion` at the new cursor. When an answer comes, its suggestion is
//! what the screen shows, and a `splice/status` probe (cheap, off the engine) tells from the
//! server's counters who answered it (`cached`, `prefetched`) and, through `last`, the decode
//! speed and draft counts of any model run that finished. While the person types along the
//! shown suggestion, the screen keeps its rest, as editors do. `didClose` ends the spot.

use crate::bench_client::{file_uri, LspSession, SessionError, HANG_GUARD};
use crate::bench_rng::SplitMix;
use crate::bench_typing_record::{Along, Counters, KeyKind, KeyOutcome, RecordedKey, Run, Source, Speculation};
use crate::bench_typing_script::{accepted_part, gap, next_key, Buffer, Spot, READ_MS};
use anyhow::Context;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The suggestion on screen and since when (typed-along rests keep their first appearance).
#[derive(Debug, Clone)]
struct Shown {
    text: String,
    since: Instant,
}

/// The request of the last key, while unanswered.
#[derive(Debug, Clone, Copy)]
struct Pending {
    id: i64,
    sent: Instant,
    key: usize,
}

/// The replay over one server session.
struct Replay<'a> {
    session: &'a mut LspSession,
    run: Run,
    rng: SplitMix,
    shown: Option<Shown>,
    pending: Option<Pending>,
    /// `splice/status` probes in flight: request id → the key whose answer they follow.
    probes: HashMap<i64, usize>,
    /// The counters and `last` of the latest status read.
    seen: Counters,
    last: Value,
    /// Draft counts summed from `last`, for a server that reports no cumulative `speculation`.
    last_speculation: Option<Speculation>,
}

/// Replays `spots` on a session that has loaded the model and indexed its workspace; the run's
/// keys, counters and recording are filled in.
pub fn replay(session: &mut LspSession, spots: &[Spot], seed: u64, name: &str) -> anyhow::Result<Run> {
    let mut replay = Replay {
        session,
        run: Run { name: name.to_owned(), counters: Some(Counters::default()), ..Run::default() },
        rng: SplitMix(seed),
        shown: None,
        pending: None,
        probes: HashMap::new(),
        seen: Counters::default(),
        last: Value::Null,
        last_speculation: None,
    };
    for spot in spots {
        replay.spot(spot).with_context(|| format!("typing at {}:{}", spot.path.display(), spot.line + 1))?;
    }
    let status = replay.session.status()?;
    replay.run.server_decode_tps = status["rates"]["decodeTokensPerSecond"].as_f64();
    if replay.run.speculation.is_none() {
        replay.run.speculation = replay.last_speculation;
    }
    Ok(replay.run)
}

impl Replay<'_> {
    fn spot(&mut self, spot: &Spot) -> Result<(), SessionError> {
        let uri = file_uri(&spot.path);
        let mut buffer = Buffer::new(spot.cut.opened.clone(), spot.cut.cursor);
        self.session.open(&uri, &buffer.text, 1)?;
        self.warm_up(&uri, &buffer)?;
        let start = self.session.status()?;
        (self.seen, self.last) = (Counters::from_status(&start), start["last"].clone());
        let speculation_start = Speculation::from_json(&start["speculation"]);
        let ready = Instant::now();
        let mut recording = Vec::new();
        let target = spot.cut.target.as_str();
        let (mut pos, mut version) = (0, 1);
        let mut next_at = ready + gap(&mut self.rng, next_key(target, 0));
        while pos < target.len() {
            self.pump_until(next_at)?;
            let (kind, text) = self.choose_key(&target[pos..], next_key(target, pos));
            let now = Instant::now();
            self.supersede_pending()?;
            let along = match kind {
                KeyKind::Typed => Along::of(self.shown.as_ref().map(|s| s.text.as_str()), &text),
                KeyKind::Tab => Along::No,
            };
            self.shown = self.shown.take().and_then(|s| {
                let rest = s.text.strip_prefix(text.as_str())?.to_owned();
                (!rest.is_empty()).then_some(Shown { text: rest, since: s.since })
            });
            version += 1;
            let at = buffer.position;
            buffer.insert(&text);
            self.session.notify(
                "textDocument/didChange",
                json!({
                    "textDocument": { "uri": uri, "version": version },
                    "contentChanges": [{
                        "range": { "start": { "line": at.line, "character": at.character },
                                   "end": { "line": at.line, "character": at.character } },
                        "text": text,
                    }],
                }),
            )?;
            let sent = Instant::now();
            let id = self.session.inline_completion(&uri, buffer.position.line, buffer.position.character)?;
            self.run.requests_sent += 1;
            self.pending = Some(Pending { id, sent, key: self.run.keys.len() });
            self.run.keys.push(KeyOutcome { kind, along, latency_ms: None, source: Source::Unknown, stopped: false });
            if kind == KeyKind::Tab {
                self.run.accepted_chars += text.chars().count();
            }
            pos += text.len();
            recording.push(RecordedKey { at: now.duration_since(ready), text, kind });
            next_at += gap(&mut self.rng, next_key(target, pos));
        }
        self.finish_spot()?;
        let end = self.session.status()?;
        if let Some(counters) = &mut self.run.counters {
            counters.add(&Counters::from_status(&end).since(&Counters::from_status(&start)));
        }
        if let (Some(before), Some(after)) = (speculation_start, Speculation::from_json(&end["speculation"])) {
            self.run.speculation.get_or_insert_with(Speculation::default).add(&after.since(&before));
        }
        self.run.mark_stops(&recording);
        self.run.recording.push(recording);
        self.shown = None;
        // Log messages and progress are not looked at; they need not pile up.
        let _ = self.session.take_notifications();
        self.session.close(&uri)
    }

    /// The spot's first request, awaited: its suggestion is on screen when the person starts.
    fn warm_up(&mut self, uri: &str, buffer: &Buffer) -> Result<(), SessionError> {
        let sent = Instant::now();
        let id = self.session.inline_completion(uri, buffer.position.line, buffer.position.character)?;
        self.run.requests_sent += 1;
        match self.session.response_by(id, sent + HANG_GUARD) {
            Ok(response) => {
                self.run.warmup_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                self.shown = suggestion(&response).map(|text| Shown { text, since: Instant::now() });
                Ok(())
            }
            Err(SessionError::Hang { .. }) => {
                self.run.hangs += 1;
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Tab with the accepted part when the shown suggestion has been read and matches, else the
    /// script's next key.
    fn choose_key(&self, rest: &str, typed: &str) -> (KeyKind, String) {
        let read = |s: &&Shown| s.since.elapsed() >= Duration::from_millis(READ_MS);
        match self.shown.as_ref().filter(read).and_then(|s| accepted_part(&s.text, rest)) {
            Some(accepted) => (KeyKind::Tab, accepted.to_owned()),
            None => (KeyKind::Typed, typed.to_owned()),
        }
    }

    /// The previous key's request is late: cancelled as VS Code cancels it.
    fn supersede_pending(&mut self) -> Result<(), SessionError> {
        match self.pending.take() {
            Some(pending) => self.session.cancel(pending.id),
            None => Ok(()),
        }
    }

    /// After the last key: waits for its answer and for the probes, under the hang guard, and
    /// no longer (one answer at a time: nothing else is awaited).
    fn finish_spot(&mut self) -> Result<(), SessionError> {
        let deadline = Instant::now() + HANG_GUARD;
        while self.pending.is_some() || !self.probes.is_empty() {
            if Instant::now() >= deadline {
                self.run.hangs += 1;
                self.pending = None;
                self.probes.clear();
                break;
            }
            if let Some((id, response)) = self.session.next_response_by(deadline)? {
                self.handle(id, &response)?;
            }
        }
        Ok(())
    }

    /// Handles every answer that arrives before `until`.
    fn pump_until(&mut self, until: Instant) -> Result<(), SessionError> {
        while let Some((id, response)) = self.session.next_response_by(until)? {
            self.handle(id, &response)?;
        }
        Ok(())
    }

    /// One answer: a probe's, the pending key's, or a cancelled request's.
    fn handle(&mut self, id: i64, response: &Value) -> Result<(), SessionError> {
        let now = Instant::now();
        if let Some(key) = self.probes.remove(&id) {
            self.probe_answered(key, &response["result"]);
        } else if let Some(pending) = self.pending.filter(|p| p.id == id) {
            self.key_answered(pending, response, now)?;
        } else if let Some(error) = response.get("error") {
            // A late request cancelled by us answers -32800; anything else is an error.
            if error["code"] != -32800 {
                self.run.error(error["message"].as_str().unwrap_or("?").to_owned());
            }
        }
        Ok(())
    }

    fn key_answered(&mut self, pending: Pending, response: &Value, now: Instant) -> Result<(), SessionError> {
        self.pending = None;
        self.run.keys[pending.key].latency_ms = Some(now.duration_since(pending.sent).as_secs_f64() * 1000.0);
        if let Some(error) = response.get("error") {
            self.run.error(error["message"].as_str().unwrap_or("?").to_owned());
            return Ok(());
        }
        self.shown = match suggestion(response) {
            // The rest of what is on screen again (typed-ahead reuse): it stays, read or not.
            Some(text) if self.shown.as_ref().is_some_and(|s| s.text == text) => self.shown.take(),
            Some(text) => Some(Shown { text, since: now }),
            None => None,
        };
        let probe = self.session.request("splice/status", json!({}))?;
        self.probes.insert(probe, pending.key);
        Ok(())
    }

    /// Attributes `key`'s answer by the counters that moved since the last status read, and
    /// takes the stats of a model run that finished since.
    fn probe_answered(&mut self, key: usize, status: &Value) {
        let counters = Counters::from_status(status);
        let moved = counters.since(&self.seen);
        self.run.keys[key].source = if moved.prefetched_waited.unwrap_or(0) > 0 {
            Source::PrefetchWaited
        } else if moved.prefetched.unwrap_or(0) > 0 {
            Source::Prefetch
        } else if moved.partial.unwrap_or(0) > 0 {
            Source::Partial
        } else if moved.cached > 0 {
            Source::Cache
        } else {
            Source::Model
        };
        self.seen = Counters {
            received: counters.received.max(self.seen.received),
            cached: counters.cached.max(self.seen.cached),
            prefetched: counters.prefetched.max(self.seen.prefetched),
            prefetched_waited: counters.prefetched_waited.max(self.seen.prefetched_waited),
            partial: counters.partial.max(self.seen.partial),
        };
        let last = &status["last"];
        if last.is_object() && *last != self.last {
            let number = |k: &str| last[k].as_f64().unwrap_or(0.0);
            self.run.add_decode(number("generatedTokens") as u64, number("decodeMs"));
            self.run.prompt_tokens.push(number("promptTokens") as u64);
            self.run.model_runs.push((key, last.clone()));
            if let Some(drafts) = Speculation::from_json(last) {
                self.last_speculation.get_or_insert_with(Speculation::default).add(&drafts);
            }
            self.last = last.clone();
        }
    }
}

/// The first item's text of an inline-completion answer, if it has a non-empty one.
fn suggestion(response: &Value) -> Option<String> {
    let text = response["result"]["items"][0]["insertText"].as_str()?;
    (!text.is_empty()).then(|| text.to_owned())
}
