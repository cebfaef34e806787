//! Prefetch as if accepted, end to end: after a suggestion is shown, the server computes the next
//! one for the document with it inserted; accepting it is then answered without the model,
//! anything else typed runs the model as if there had been no prefetch, and a request stops a
//! running prefetch and is answered as usual.
//!
//! Waits are on `splice/status`'s prefetch counters, never on the clock.

use serde_json::{json, Value};
use splice_e2e::{gemma, smollm2, LspClient};
use std::path::Path;
use std::time::Duration;

const URI: &str = "file:///workspace/numbers.py";

/// The cursor at the end of the only line: each suggestion continues the list.
const NUMBERS: &str = "NUMBERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ";

fn start(name: &str, model: &Path, options: Value) -> LspClient {
    LspClient::ready(name, model, options)
}

fn status_of(client: &mut LspClient) -> Value {
    client.call_ok("splice/status", json!({}))
}

/// The one suggestion's text (`None`: no item).
fn suggestion(client: &mut LspClient, line: u32, character: u32) -> Option<String> {
    let response = client.inline_completion(URI, line, character);
    assert!(response.get("error").is_none(), "error response: {response}");
    let items = response["result"]["items"].as_array().cloned().unwrap_or_default();
    items.first().map(|item| item["insertText"].as_str().expect("insertText is a string").to_owned())
}

/// Inserts `text` at (`line`, `character`), as an editor accepting a suggestion does.
fn insert(client: &mut LspClient, version: i32, line: u32, character: u32, text: &str) {
    client.insert(URI, version, line, character, text);
}

fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
}

/// Polls `splice/status` until `finished` prefetches have finished; returns that status.
fn wait_for_prefetches(client: &mut LspClient, finished: u64) -> Value {
    client.poll("the prefetch did not finish", Duration::from_millis(20), |client| {
        let status = status_of(client);
        (status["prefetch"]["finished"].as_u64().unwrap() >= finished).then_some(status)
    })
}

/// The requests' outcomes add up to what was received.
fn assert_outcomes_add_up(status: &Value) {
    let requests = &status["requests"];
    let outcomes: u64 = ["suggested", "cached", "prefetched", "partial", "empty", "cancelled", "superseded", "failed"]
        .iter()
        .map(|key| requests[key].as_u64().unwrap())
        .sum();
    assert_eq!(requests["received"].as_u64().unwrap(), outcomes, "{status}");
}

/// Opens [`NUMBERS`], asks at its end, then accepts the suggestion `accepts` times, asking right
/// after it each time (waiting for the prefetch first when `wait` is set). Returns the answers.
fn accept_along(client: &mut LspClient, accepts: usize, wait: bool) -> Vec<String> {
    client.open(URI, "python", NUMBERS);
    let mut column = utf16_len(NUMBERS);
    let mut answers = vec![suggestion(client, 0, column).expect("a suggestion at the end of the list")];
    for round in 1..=accepts {
        if wait {
            wait_for_prefetches(client, round as u64);
        }
        let shown = answers.last().unwrap().clone();
        insert(client, round as i32 + 1, 0, column, &shown);
        column += utf16_len(&shown);
        answers.push(suggestion(client, 0, column).expect("a suggestion after the accepted one"));
    }
    answers
}

#[test]
fn accepting_a_suggestion_is_answered_from_the_prefetch() {
    let mut client = start("prefetch-accept", &gemma(), json!({ "maxTokens": 4 }));
    let answers = accept_along(&mut client, 2, true);
    let status = status_of(&mut client);
    let requests = &status["requests"];
    assert_eq!(requests["suggested"], 1, "only the first request ran the model: {status}");
    assert_eq!(requests["prefetched"], 2, "each acceptance was answered from the prefetch: {status}");
    assert_eq!(requests["prefetchedWaited"], 0, "each prefetch had finished before its acceptance: {status}");
    assert_eq!(status["prefetch"]["used"], 2, "{status}");
    assert_eq!(status["prefetch"]["preempted"], 0, "nothing stopped a prefetch: {status}");
    assert_eq!(status["generatedTokens"], status["last"]["generatedTokens"], "no request generated since: {status}");
    assert_outcomes_add_up(&status);
    assert!(client.shutdown().success());

    // The same edits without prefetching: the model, asked after each acceptance, says the same.
    let mut reference = start("prefetch-accept-off", &gemma(), json!({ "maxTokens": 4, "prefetch": "off" }));
    assert_eq!(accept_along(&mut reference, 2, false), answers);
    let status = status_of(&mut reference);
    assert_eq!(status["requests"]["suggested"], 3, "{status}");
    assert_eq!(status["prefetch"]["started"], 0, "prefetch off: {status}");
    assert!(reference.shutdown().success());
}

#[test]
fn accepting_part_of_a_suggestion_then_typing_the_rest_is_answered_from_the_prefetch() {
    let mut client = start("prefetch-partial", &gemma(), json!({ "maxTokens": 4 }));
    client.open(URI, "python", NUMBERS);
    let column = utf16_len(NUMBERS);
    let first = suggestion(&mut client, 0, column).expect("a suggestion at the end of the list");
    let split = first.char_indices().nth(1).map(|(i, _)| i).expect("a suggestion of two characters or more");
    let (head, tail) = first.split_at(split);
    // Its first character accepted at once (this edit may stop the prefetch): the rest comes from
    // the suggestion shown, and the document accepted is the same, so its prefetch runs (again).
    insert(&mut client, 2, 0, column, head);
    assert_eq!(suggestion(&mut client, 0, column + utf16_len(head)).as_deref(), Some(tail));
    wait_for_prefetches(&mut client, 1);
    insert(&mut client, 3, 0, column + utf16_len(head), tail);
    assert!(suggestion(&mut client, 0, column + utf16_len(&first)).is_some(), "the prefetched suggestion");
    let status = status_of(&mut client);
    let requests = &status["requests"];
    assert_eq!(
        (&requests["suggested"], &requests["cached"], &requests["prefetched"]),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_outcomes_add_up(&status);
    assert!(client.shutdown().success());
}

/// Opens [`NUMBERS`], asks at its end, types `typed` there instead of the suggestion, and asks
/// again (waiting for the prefetch first when `wait` is set).
fn type_something_else(client: &mut LspClient, typed: &str, wait: bool) -> Option<String> {
    client.open(URI, "python", NUMBERS);
    let column = utf16_len(NUMBERS);
    let first = suggestion(client, 0, column).expect("a suggestion at the end of the list");
    assert!(!first.starts_with(typed), "{typed:?} must not be typing along {first:?}");
    if wait {
        wait_for_prefetches(client, 1);
    }
    insert(client, 2, 0, column, typed);
    suggestion(client, 0, column + utf16_len(typed))
}

#[test]
fn typing_something_else_runs_the_model_as_without_a_prefetch() {
    let mut client = start("prefetch-miss", &gemma(), json!({ "maxTokens": 4 }));
    let answer = type_something_else(&mut client, "99", true);
    let status = status_of(&mut client);
    assert_eq!(status["requests"]["prefetched"], 0, "{status}");
    assert_eq!(status["prefetch"]["used"], 0, "{status}");
    assert_eq!(status["requests"]["suggested"].as_u64().unwrap() + status["requests"]["empty"].as_u64().unwrap(), 2);
    assert_outcomes_add_up(&status);
    assert!(client.shutdown().success());

    let mut reference = start("prefetch-miss-off", &gemma(), json!({ "maxTokens": 4, "prefetch": "off" }));
    assert_eq!(type_something_else(&mut reference, "99", false), answer, "the same answer as without prefetching");
    assert!(reference.shutdown().success());
}

#[test]
fn a_request_preempts_a_running_prefetch_and_is_answered_as_usual() {
    // The first suggestion opens a list ("["); the prefetch, after it, writes the list's lines
    // up to the token budget: it runs for seconds, while the request below is sent one
    // `splice/status` round trip after the prefetch was seen running.
    let mut client = start("prefetch-preempt", &smollm2(), json!({ "maxTokens": 512, "maxLines": 1000 }));
    let squares: String = (1..30).map(|i| format!("    {},\n", i * i)).collect();
    let text = format!("SQUARES = [\n{squares}]\n\nCUBES = ");
    let last_line = text.matches('\n').count() as u32;
    client.open(URI, "python", &text);
    let first = suggestion(&mut client, last_line, 8).expect("a suggestion after `CUBES = `");
    assert!(first.ends_with('['), "the list is opened: {first:?}");
    client.poll("the prefetch did not start", Duration::from_millis(5), |client| {
        let status = status_of(client);
        let prefetch = &status["prefetch"];
        assert_eq!(prefetch["finished"], 0, "the prefetch writes 512 tokens: {status}");
        (prefetch["started"] == 1).then_some(())
    });

    // A request in another document, with a short answer: opening it does not stop the
    // prefetch, the request does.
    let other = "file:///workspace/add.py";
    client.open(other, "python", "def add(a, b):\n    return a");
    let answer = client.inline_completion(other, 1, 12);
    assert!(answer.get("error").is_none(), "{answer}");
    let status = client.poll("the prefetch was not counted", Duration::from_millis(20), |client| {
        let status = status_of(client);
        let prefetch = &status["prefetch"];
        let ended = ["finished", "preempted", "failed"].iter().map(|k| prefetch[k].as_u64().unwrap()).sum::<u64>();
        (ended == prefetch["started"].as_u64().unwrap()).then_some(status)
    });
    let requests = &status["requests"];
    // A prefetch after the request's own suggestion may have run (and finished) since.
    assert_eq!(status["prefetch"]["preempted"], 1, "{status}");
    assert_eq!(requests["received"], 2, "{status}");
    assert_eq!(requests["suggested"].as_u64().unwrap() + requests["empty"].as_u64().unwrap(), 2, "{status}");
    assert_outcomes_add_up(&status);
    assert!(client.shutdown().success());
}

#[test]
fn typing_a_suggestion_out_key_by_key_keeps_its_prefetch_for_the_request_after_it() {
    let mut client = start("prefetch-typed-out", &gemma(), json!({ "maxTokens": 6 }));
    client.open(URI, "python", NUMBERS);
    let start_column = utf16_len(NUMBERS);
    let first = suggestion(&mut client, 0, start_column).expect("a suggestion at the end of the list");
    // Key by key, a request after each, never waiting for the prefetch: each is answered with
    // the rest of the suggestion, and none stops the prefetch. (Where only blanks would be left,
    // the rest is inserted at once, as Tab would: a blank rest is not shown.)
    let (mut column, mut version, mut typed) = (start_column, 1, 0);
    for (at, len) in first.char_indices().map(|(i, c)| (i, c.len_utf8())) {
        let rest = &first[at + len..];
        let key = if rest.trim().is_empty() { &first[at..] } else { &first[at..at + len] };
        version += 1;
        insert(&mut client, version, 0, column, key);
        column += utf16_len(key);
        typed += key.len();
        let answer = suggestion(&mut client, 0, column);
        if typed == first.len() {
            assert!(answer.is_some(), "the prefetched suggestion after {first:?}");
            break;
        }
        assert_eq!(answer.as_deref(), Some(&first[typed..]), "typing along {first:?}");
    }
    let status = status_of(&mut client);
    let (requests, prefetch) = (&status["requests"], &status["prefetch"]);
    assert_eq!(requests["suggested"], 1, "only the first request ran the model: {status}");
    assert_eq!(requests["prefetched"], 1, "the request after the whole suggestion: {status}");
    assert_eq!(requests["cached"].as_u64().unwrap() + 2, requests["received"].as_u64().unwrap(), "{status}");
    assert_eq!(prefetch["preempted"], 0, "typing along never stopped the prefetch: {status}");
    assert_outcomes_add_up(&status);
    let answer = suggestion(&mut client, 0, column);
    assert!(client.shutdown().success());

    // Without prefetching, the model asked at the end says the same.
    let mut reference = start("prefetch-typed-out-off", &gemma(), json!({ "maxTokens": 6, "prefetch": "off" }));
    reference.open(URI, "python", &format!("{NUMBERS}{first}"));
    assert_eq!(suggestion(&mut reference, 0, column), answer);
    assert!(reference.shutdown().success());
}
