//! The LSP server end to end: the real binary, the real default model, speaking JSON-RPC over
//! stdio as an editor does.

use serde_json::{json, Value};
use splice_e2e::{cursor_fixture, fixture, gemma, smollm2, temp_dir, LspClient};
use std::time::Duration;

const URI: &str = "file:///workspace/inventory.py";

fn inventory_with_cursor_after_self() -> (String, u32, u32) {
    let text = std::fs::read_to_string(fixture("python/inventory.py")).unwrap();
    let marked = text.replacen("return self.price * self.quantity", "return self.price * self.┃", 1);
    cursor_fixture(&marked)
}

fn start(name: &str, model: &std::path::Path, options: Value) -> LspClient {
    LspClient::ready(name, model, options)
}

fn items(response: &Value) -> Vec<Value> {
    assert!(response.get("error").is_none(), "error response: {response}");
    response["result"]["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn initialize_advertises_inline_completion_and_negotiates_the_encoding() {
    let dir = temp_dir("initialize");
    let vscode: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("lsp/vscode-1.139-initialize.json")).unwrap()).unwrap();
    let mut client = LspClient::start(&["--model", smollm2().to_str().unwrap()], &dir.join("a.log"));
    let result = client.call_ok("initialize", vscode);
    let caps = &result["capabilities"];
    assert_eq!(caps["inlineCompletionProvider"], true);
    assert!(caps["completionProvider"].is_object());
    assert_eq!(caps["positionEncoding"], "utf-16", "VS Code offers only UTF-16");
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(result["serverInfo"]["name"], "splice");
    assert!(client.shutdown().success());

    let mut client = LspClient::start(&["--model", smollm2().to_str().unwrap()], &dir.join("b.log"));
    let result = client.initialize(json!({ "general": { "positionEncodings": ["utf-8", "utf-16"] } }), Value::Null);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    assert!(client.shutdown().success());
}

#[test]
fn inline_completion_suggests_the_missing_attribute_then_follows_an_edit() {
    let mut client = start("inline", &gemma(), Value::Null);
    let (text, line, character) = inventory_with_cursor_after_self();
    client.open(URI, "python", &text);

    let first = items(&client.inline_completion(URI, line, character));
    assert_eq!(first.len(), 1, "one suggestion");
    assert_eq!(first[0]["insertText"], "quantity", "{first:?}");
    let at = json!({ "line": line, "character": character });
    assert_eq!(first[0]["range"], json!({ "start": at, "end": at }));

    // Type "p" at the cursor (an incremental change, not along the suggestion), then ask again
    // one column later: the model runs again and PIE encodes only the edit.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": URI, "version": 2 },
            "contentChanges": [{ "range": { "start": at, "end": at }, "text": "p" }]
        }),
    );
    let second = client.inline_completion(URI, line, character + 1);
    assert!(second.get("error").is_none(), "{second}");

    let status = client.call_ok("splice/status", json!({}));
    let requests = &status["requests"];
    assert_eq!(requests["suggested"].as_u64().unwrap() + requests["empty"].as_u64().unwrap(), 2, "{status}");
    assert_eq!(requests["cached"], 0, "{status}");
    let last = &status["last"];
    assert!(last["reusedTokens"].as_u64().unwrap() > 0, "the second request reused the cache: {status}");
    assert!(last["encodedTokens"].as_u64().unwrap() < 10, "typing one letter encodes a few tokens: {status}");
    assert!(client.shutdown().success());
}

#[test]
fn typing_along_a_suggestion_is_answered_without_the_model() {
    let mut client = start("typed-ahead", &gemma(), Value::Null);
    let (text, line, character) = inventory_with_cursor_after_self();
    client.open(URI, "python", &text);
    let first = items(&client.inline_completion(URI, line, character));
    assert_eq!(first[0]["insertText"], "quantity", "{first:?}");
    let generated = client.call_ok("splice/status", json!({}))["generatedTokens"].clone();

    let mut version = 1;
    let mut edit = |client: &mut LspClient, from: u32, to: u32, text: &str| {
        version += 1;
        let (start, end) = (json!({ "line": line, "character": from }), json!({ "line": line, "character": to }));
        client.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": URI, "version": version },
                    "contentChanges": [{ "range": { "start": start, "end": end }, "text": text }] }),
        );
    };
    // The person types the suggestion's first letters: each keystroke gets the rest.
    edit(&mut client, character, character, "q");
    assert_eq!(items(&client.inline_completion(URI, line, character + 1))[0]["insertText"], "uantity");
    edit(&mut client, character + 1, character + 1, "ua");
    assert_eq!(items(&client.inline_completion(URI, line, character + 3))[0]["insertText"], "ntity");
    // Backspacing to the start comes back to the first suggestion.
    edit(&mut client, character, character + 3, "");
    assert_eq!(items(&client.inline_completion(URI, line, character))[0]["insertText"], "quantity");

    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["cached"], 3, "{status}");
    assert_eq!(status["requests"]["suggested"], 1, "{status}");
    assert_eq!(status["generatedTokens"], generated, "no token was generated for them: {status}");
    assert!(client.shutdown().success());
}

#[test]
fn completion_offers_one_item_for_clients_without_inline_support() {
    let mut client = start("completion", &smollm2(), Value::Null);
    let text = std::fs::read_to_string(fixture("python/inventory.py")).unwrap();
    let marked = text.replacen("return self.price * self.quantity", "return self.price * self.quan┃", 1);
    let (text, line, character) = cursor_fixture(&marked);
    client.open(URI, "python", &text);
    let result = client.call_ok(
        "textDocument/completion",
        json!({ "textDocument": { "uri": URI }, "position": { "line": line, "character": character } }),
    );
    let items = result.as_array().expect("an array of items");
    assert_eq!(items.len(), 1);
    let edit = &items[0]["textEdit"];
    assert_eq!(edit["newText"], "quantity", "the word already typed is part of the edit: {items:?}");
    assert_eq!(edit["range"]["start"]["character"], character - 4);
    assert_eq!(items[0]["filterText"], "quantity");
    assert!(client.shutdown().success());
}

#[test]
fn cancel_request_answers_request_cancelled_and_frees_the_engine() {
    let options = json!({ "maxTokens": 32, "maxLines": 32 });
    let mut client = start("cancel", &smollm2(), options);
    let numbers: String = (1..300).map(|n| format!("    {n},\n")).collect();
    let text = format!("NUMBERS = [\n{numbers}    ");
    let last_line = text.matches('\n').count() as u32;
    client.open(URI, "python", &text);

    let id = client.request("textDocument/inlineCompletion", splice_e2e_params(last_line, 4));
    client.notify("$/cancelRequest", json!({ "id": id }));
    let response = client.response(id);
    assert_eq!(response["error"]["code"], -32800, "{response}");

    // The engine is free again: a new request completes (the long prompt is ~1500 tokens, so the
    // cancel arrived while it was still being decoded).
    let after = client.inline_completion(URI, last_line, 4);
    assert!(after.get("error").is_none(), "{after}");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["cancelled"], 1, "{status}");
    assert!(client.shutdown().success());
}

#[test]
fn every_request_of_a_cancellation_storm_is_counted_once() {
    let dir = temp_dir("cancel-storm");
    let model = smollm2();
    let mut client = LspClient::start(&["--model", model.to_str().unwrap()], &dir.join("splice.log"));
    client.initialize(json!({}), json!({ "maxTokens": 8 }));
    client.open(URI, "python", "def add(a, b):\n    return a");
    // Each request cancelled at once: the first storm while the model is still loading (those
    // requests were never counted), the second once it is loaded, with more requests than
    // tower-lsp-server runs at once.
    let storm = |client: &mut LspClient| {
        let ids: Vec<i64> = (0..40)
            .map(|_| {
                let id = client.request("textDocument/inlineCompletion", splice_e2e_params(1, 12));
                client.notify("$/cancelRequest", json!({ "id": id }));
                id
            })
            .collect();
        for id in ids {
            let response = client.response(id);
            assert!(response.get("result").is_some() || response["error"]["code"] == -32800, "{response}");
        }
    };
    storm(&mut client);
    client.wait_until_loaded();
    storm(&mut client);
    let status = client.call_ok("splice/status", json!({}));
    let requests = &status["requests"];
    let outcomes: u64 = ["suggested", "cached", "prefetched", "partial", "empty", "cancelled", "superseded", "failed"]
        .iter()
        .map(|key| requests[key].as_u64().unwrap())
        .sum();
    assert_eq!(requests["received"], 80, "{status}");
    assert_eq!(outcomes, 80, "every request ends in exactly one outcome: {status}");
    assert!(client.shutdown().success());
}

#[test]
fn an_out_of_range_initialization_option_fails_initialize_with_its_name() {
    let dir = temp_dir("bounds");
    let model = smollm2();
    let mut client = LspClient::start(&["--model", model.to_str().unwrap()], &dir.join("splice.log"));
    let response = client.call(
        "initialize",
        json!({ "processId": null, "rootUri": null, "capabilities": {},
                "initializationOptions": { "maxTokens": 4294967295u32 } }),
    );
    let message = response["error"]["message"].as_str().unwrap_or_else(|| panic!("an error: {response}"));
    assert!(message.contains("maxTokens") && message.contains("out of range"), "{message}");
    assert_eq!(response["error"]["code"], -32602, "{response}");
    let wrong_type = client.call(
        "initialize",
        json!({ "processId": null, "capabilities": {}, "initializationOptions": { "maxTokens": -1 } }),
    );
    assert!(wrong_type["error"]["message"].as_str().unwrap_or("").contains("malformed"), "{wrong_type}");
}

#[test]
fn a_newer_request_for_the_same_document_supersedes_the_older() {
    let mut client = start("supersede", &smollm2(), json!({ "maxTokens": 32, "maxLines": 32 }));
    let numbers: String = (1..300).map(|n| format!("    {n},\n")).collect();
    let text = format!("NUMBERS = [\n{numbers}    ");
    let last_line = text.matches('\n').count() as u32;
    client.open(URI, "python", &text);

    let older = client.request("textDocument/inlineCompletion", splice_e2e_params(last_line, 4));
    let newer = client.request("textDocument/inlineCompletion", splice_e2e_params(last_line, 4));
    let older = client.response(older);
    let newer = client.response(newer);
    assert_eq!(items(&older).len(), 0, "the superseded request answers with no item: {older}");
    assert!(newer.get("error").is_none(), "{newer}");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["superseded"], 1, "{status}");
    assert!(client.shutdown().success());
}

#[test]
fn a_released_run_stops_when_the_person_types_something_else() {
    // Released runs would finish (a budget far beyond them) and write 512 tokens of the list.
    let dir = temp_dir("released-contradicted");
    let model = smollm2();
    let args = ["--model", model.to_str().unwrap(), "--latency-budget", "600000"];
    let mut client = LspClient::start(&args, &dir.join("splice.log"));
    client.initialize(json!({}), json!({ "maxTokens": 512, "maxLines": 1000, "prefetch": "off" }));
    client.wait_until_loaded();
    let numbers: String = (1..300).map(|n| format!("    {n},\n")).collect();
    let text = format!("NUMBERS = [\n{numbers}    ");
    let line = text.matches('\n').count() as u32;
    client.open(URI, "python", &text);
    let edit = |client: &mut LspClient, version: i32, from: u32, to: u32, text: &str| {
        let (start, end) = (json!({ "line": line, "character": from }), json!({ "line": line, "character": to }));
        client.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": URI, "version": version },
                    "contentChanges": [{ "range": { "start": start, "end": end }, "text": text }] }),
        );
    };
    let running = |client: &mut LspClient| client.call_ok("splice/status", json!({}))["running"].as_u64().unwrap();

    // Asked at the list's next line; once the engine runs it, "zzz" is typed there: not what
    // it writes. The run stops (at its first token) instead of writing its 512.
    let released = client.request("textDocument/inlineCompletion", splice_e2e_params(line, 4));
    client.poll("the engine did not take the request", Duration::from_millis(10), |c| (running(c) == 1).then_some(()));
    edit(&mut client, 2, 4, 4, "zzz");
    assert_eq!(items(&client.response(released)).len(), 0, "the released request answers no item");
    client.poll("the released run went on", Duration::from_millis(10), |c| (running(c) == 0).then_some(()));

    // Undone: had the run written its suggestion, the typed-ahead cache would answer this spot;
    // it stopped instead, so the request takes the engine (and is cancelled there).
    edit(&mut client, 3, 4, 7, "");
    let again = client.request("textDocument/inlineCompletion", splice_e2e_params(line, 4));
    client.poll("the request did not reach the engine", Duration::from_millis(10), |c| {
        let status = c.call_ok("splice/status", json!({}));
        assert_eq!(status["requests"]["cached"], 0, "served from a run that should have stopped: {status}");
        (status["running"] == 1).then_some(())
    });
    client.notify("$/cancelRequest", json!({ "id": again }));
    assert_eq!(client.response(again)["error"]["code"], -32800);
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["superseded"], 1, "{status}");
    assert_eq!(status["requests"]["cancelled"], 1, "{status}");
    assert!(client.shutdown().success());
}

fn splice_e2e_params(line: u32, character: u32) -> Value {
    splice_e2e::LspClient::inline_params_for(URI, line, character)
}

#[test]
fn an_edit_far_above_the_cursor_encodes_only_the_edit() {
    let mut client = start("pie", &gemma(), Value::Null);
    let (text, line, character) = inventory_with_cursor_after_self();
    client.open(URI, "python", &text);
    let first = client.inline_completion(URI, line, character);
    assert!(first.get("error").is_none(), "{first}");

    // Add an import at the top of the file (the cursor stays where it was, one line lower).
    let top = json!({ "line": 3, "character": 0 });
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": URI, "version": 2 },
            "contentChanges": [{ "range": { "start": top, "end": top }, "text": "import functools\n" }]
        }),
    );
    let second = items(&client.inline_completion(URI, line + 1, character));
    assert_eq!(second.len(), 1, "{second:?}");
    let status = client.call_ok("splice/status", json!({}));
    let last = &status["last"];
    assert_eq!(status["model"]["reuse"], "pie");
    assert!(last["encodedTokens"].as_u64().unwrap() <= 6, "only the import line is encoded: {status}");
    assert!(last["shiftedTokens"].as_u64().unwrap() > 40, "the rest of the prefix moved down: {status}");
    assert!(client.shutdown().success());
}

/// The inventory fixture up to `def restock(...)`, the cursor on the body's first line: a spot
/// where the default model suggests several lines.
fn restock_body() -> (String, u32, u32) {
    let text = std::fs::read_to_string(fixture("python/inventory.py")).unwrap();
    let head = &text[..text.find("        item = self.find(name)").unwrap()];
    let line = head.matches('\n').count() as u32;
    (format!("{head}        "), line, 8)
}

/// A dictionary of long messages in one style, ending at the next key: greedy decoding writes
/// another message of well over 100 characters, which takes 20-odd tokens.
const LONG_MESSAGES: &str = include_str!("fixtures/long_messages.py");

/// A server with a 1 ms latency budget (a client that asks for `splice/suggestionReady`) with
/// [`LONG_MESSAGES`] open: the client, the document's URI, and its end (line, UTF-16 column),
/// where the next line is 20-odd tokens.
fn long_messages_with_a_1_ms_budget(name: &str) -> (LspClient, &'static str, u32, u32) {
    long_messages_with_a_1_ms_budget_and(name, json!({ "retrieval": "never", "prefetch": "off" }))
}

/// [`long_messages_with_a_1_ms_budget`] with these `initializationOptions`.
fn long_messages_with_a_1_ms_budget_and(name: &str, options: Value) -> (LspClient, &'static str, u32, u32) {
    let model = gemma();
    let dir = temp_dir(name);
    let args = ["--model", model.to_str().unwrap(), "--latency-budget", "1", "--max-tokens", "64"];
    let mut client = LspClient::start(&args, &dir.join("splice.log"));
    let capabilities = json!({ "experimental": { "spliceSuggestionReady": true } });
    client.initialize(capabilities, options);
    assert_eq!(client.wait_until_loaded()["state"], "ready");
    let uri = "file:///workspace/messages.py";
    client.open(uri, "python", LONG_MESSAGES);
    let line = LONG_MESSAGES.lines().count() as u32 - 1;
    let column = LONG_MESSAGES.lines().last().unwrap().chars().count() as u32;
    (client, uri, line, column)
}

/// The first inline suggestion at (`line`, `column`) of `uri`, if any.
fn ask_at(client: &mut LspClient, uri: &str, line: u32, column: u32) -> Option<String> {
    let answer = items(&client.inline_completion(uri, line, column));
    answer.first().map(|item| item["insertText"].as_str().unwrap().to_owned())
}

/// Past the latency budget the request shows the part of the line its run has written so far,
/// up to a whole word, and the run writes on: a client that asked is told when the whole
/// suggestion is ready, the same spot again then gets it without the model, and typing the part
/// shown gets the rest. A 1 ms budget has passed before the first token, and the line takes
/// 20-odd tokens, each one many 5 ms polls of what the run wrote, however fast or loaded the
/// machine.
#[test]
fn past_the_latency_budget_the_part_written_so_far_is_shown_and_the_run_writes_the_rest() {
    let (mut client, uri, line, column) = long_messages_with_a_1_ms_budget("partial-lines");
    let ask = |client: &mut LspClient, column: u32| ask_at(client, uri, line, column);
    let part = ask(&mut client, column).expect("a part of the line");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["partial"], 1, "{status}");
    let ready = client.notification("splice/suggestionReady", |_| true);
    let position = json!({ "line": line, "character": column });
    assert_eq!(ready["params"], json!({ "textDocument": { "uri": uri }, "position": position }));
    // The run writes on, for the typed-ahead cache.
    let status = client.poll("the run did not end", Duration::from_millis(20), |client| {
        let status = client.call_ok("splice/status", json!({}));
        (status["running"] == 0).then_some(status)
    });
    assert!(status["last"]["generatedTokens"].as_u64().is_some_and(|n| n > 0), "its stats count: {status}");
    let whole = ask(&mut client, column).expect("the whole suggestion");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["cached"], 1, "the same spot, without the model: {status}");
    assert!(whole.len() > part.len() && whole.starts_with(&part), "a part of it: {part:?} / {whole:?}");
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let (last, next) = (part.chars().last().unwrap(), whole[part.len()..].chars().next().unwrap());
    assert!(!(is_word(last) && is_word(next)), "the part ends at a whole word: {part:?} / {whole:?}");
    // Typing the part shown gets the rest.
    client.insert(uri, 2, line, column, &part);
    let rest = ask(&mut client, column + part.encode_utf16().count() as u32);
    assert_eq!(rest.as_deref(), Some(&whole[part.len()..]), "the rest, typed along");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["cached"], 2, "{status}");
    assert!(client.shutdown().success());
}

#[test]
fn a_request_typed_along_a_run_answered_with_its_part_is_told_where_the_whole_is_ready() {
    let (mut client, uri, line, column) = long_messages_with_a_1_ms_budget("partial-typed-along");
    let ask = |client: &mut LspClient, column: u32| ask_at(client, uri, line, column);
    let part = ask(&mut client, column).expect("a part of the line");
    // The person types the part's first character while the run writes on (a line of 20-odd
    // tokens): the next request, typed along the run, is answered with the rest of its part.
    let typed: String = part.chars().take(1).collect();
    client.insert(uri, 2, line, column, &typed);
    let along = column + typed.encode_utf16().count() as u32;
    let rest_of_part = ask(&mut client, along).expect("the rest of the part");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["partial"], 2, "both answered with a part of the run's line: {status}");
    assert_eq!(format!("{typed}{rest_of_part}"), part, "typed along the part");
    // One notification, where the person now is: asking at the first cursor would show the
    // whole line one character too far left.
    let ready = client.notification("splice/suggestionReady", |_| true);
    let position = json!({ "line": line, "character": along });
    assert_eq!(ready["params"], json!({ "textDocument": { "uri": uri }, "position": position }));
    let rest = ask(&mut client, along).expect("the rest of the whole line");
    assert!(rest.len() > rest_of_part.len() && rest.starts_with(&rest_of_part), "{rest_of_part:?} / {rest:?}");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["cached"], 1, "the rest, from the typed-ahead cache: {status}");
    assert!(client.shutdown().success());
}

/// Accepting a whole line while its prefetch (the next suggestion, as if it were accepted) is
/// still writing: past the 1 ms budget the request is answered with the prefetch's part, and
/// the prefetch's end tells the client there. (Showing that part once deadlocked the server:
/// serving it noted the position under the lock the part was shown with.)
#[test]
fn accepting_a_line_whose_prefetch_is_still_writing_shows_its_part_then_tells_where_the_rest_is() {
    let options = json!({ "retrieval": "never", "prefetch": "on" });
    let (mut client, uri, line, column) = long_messages_with_a_1_ms_budget_and("partial-prefetch", options);
    let ask = |client: &mut LspClient, column: u32| ask_at(client, uri, line, column);
    ask(&mut client, column).expect("a part of the line");
    client.notification("splice/suggestionReady", |_| true);
    // The whole line, from the cache: shown, so the prefetch after it starts.
    let whole = ask(&mut client, column).expect("the whole line");
    client.insert(uri, 2, line, column, &whole);
    let accepted = column + whole.encode_utf16().count() as u32;
    let part = ask(&mut client, accepted).expect("the part the prefetch has written");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["partial"], 2, "the first answer and this one: {status}");
    let ready = client.notification("splice/suggestionReady", |params| params["position"]["character"] == accepted);
    assert_eq!(ready["params"]["position"]["line"], line);
    let rest = ask(&mut client, accepted).expect("the prefetched suggestion, whole");
    assert!(rest.len() > part.len() && rest.starts_with(&part), "{part:?} / {rest:?}");
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["requests"]["prefetched"], 1, "{status}");
    assert!(client.shutdown().success());
}

#[test]
fn a_latency_budget_ends_a_block_at_a_whole_line_and_status_shows_the_measured_rates() {
    let (text, line, character) = restock_body();
    let model = gemma();
    let ask = |budget: &str| {
        let dir = temp_dir(&format!("latency-budget-{budget}"));
        // The request waits for the whole line (the part written so far is the next test's).
        let args = [
            "--model",
            model.to_str().unwrap(),
            "--latency-budget",
            budget,
            "--max-tokens",
            "48",
            "--partial-lines",
            "off",
        ];
        let mut client = LspClient::start(&args, &dir.join("splice.log"));
        client.initialize(json!({}), Value::Null);
        assert_eq!(client.wait_until_loaded()["state"], "ready");
        client.open(URI, "python", &text);
        let suggestion = items(&client.inline_completion(URI, line, character))[0]["insertText"].clone();
        let status = client.call_ok("splice/status", json!({}));
        assert!(client.shutdown().success());
        (suggestion.as_str().expect("a suggestion").to_owned(), status)
    };
    let (whole, _) = ask("0");
    let lines: Vec<&str> = whole.lines().collect();
    assert!(lines.len() >= 2, "without a budget the block has several lines: {whole:?}");
    // A 1 ms budget is over as soon as the first line is complete, however fast the machine.
    let (cut, status) = ask("1");
    assert_eq!(cut, lines[0], "the first line, whole, and nothing of the next");
    let rates = &status["rates"];
    assert!(rates["prefillTokensPerSecond"].as_f64().is_some_and(|r| r > 0.0), "{status}");
    assert!(rates["decodeTokensPerSecond"].as_f64().is_some_and(|r| r > 0.0), "{status}");
    assert_eq!(rates["requests"], 1, "{status}");
    assert!(rates["batchThreads"].as_u64().is_some_and(|t| t >= 1), "{status}");
}
