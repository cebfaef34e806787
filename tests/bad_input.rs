//! Bad input gets a clear error and loses nothing: every case here must leave the server
//! answering, never panicking or hanging.

use serde_json::{json, Value};
use splice_e2e::{frame, smollm2, temp_dir, LspClient};

const URI: &str = "file:///workspace/bad.py";

fn start(name: &str) -> LspClient {
    start_with_model(name, &smollm2())
}

fn start_with_model(name: &str, model: &std::path::Path) -> LspClient {
    let mut client = start_uninitialized(name, model);
    client.initialize(json!({}), Value::Null);
    client
}

fn start_uninitialized(name: &str, model: &std::path::Path) -> LspClient {
    let dir = temp_dir(name);
    LspClient::start(&["--model", model.to_str().unwrap()], &dir.join("splice.log"))
}

/// Waits for the next error response with a null id and returns its code.
fn null_id_error(client: &mut LspClient, what: &str) -> Value {
    let error = client.wait_for(what, |m| m.get("id") == Some(&Value::Null) && m.get("error").is_some());
    error["error"]["code"].clone()
}

fn error_message(response: &Value) -> String {
    response["error"]["message"].as_str().unwrap_or_else(|| panic!("expected an error: {response}")).to_owned()
}

fn assert_alive(client: &mut LspClient) {
    let status = client.call_ok("splice/status", json!({}));
    assert!(status["state"].is_string(), "{status}");
}

#[test]
fn malformed_json_gets_a_parse_error_and_the_server_goes_on() {
    let mut client = start("malformed");
    let body = br#"{"jsonrpc": "2.0", "id": 99, "method": "initialize", "params": {"#;
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    client.send_raw(&frame);
    let error = client.wait_for("a parse error", |m| m["error"]["code"] == -32700);
    assert_eq!(error["id"], Value::Null);
    assert_alive(&mut client);

    client.send_raw(b"X-Nonsense: 1\r\n\r\n");
    let error = client.wait_for("a header error", |m| {
        m["error"]["message"].as_str().unwrap_or("").contains("missing Content-Length")
    });
    assert_eq!(error["error"]["code"], -32700);
    client.send(&json!({ "jsonrpc": "2.0", "id": 77, "params": {} }));
    let invalid = client.response(77);
    assert_eq!(invalid["error"]["code"], -32600, "{invalid}");
    assert_alive(&mut client);
    assert!(client.shutdown().success());
}

#[test]
fn a_byte_above_0x7f_in_the_headers_is_reported_and_the_session_goes_on() {
    let mut client = start("high-byte-header");
    let mut bytes = b"\xff".to_vec();
    bytes.extend(frame(br#"{"jsonrpc":"2.0","id":10000007,"method":"splice/status","params":{}}"#));
    client.send_raw(&bytes);
    assert_eq!(null_id_error(&mut client, "a parse error for the garbage"), -32700);
    let status = client.response(10000007);
    assert!(status["result"]["state"].is_string(), "the frame after the garbage is served: {status}");

    client.send_raw(b"\x80\x81 not a header\r\n");
    assert_eq!(null_id_error(&mut client, "a parse error for a line of high bytes"), -32700);
    client.send_raw(&vec![b'x'; 100_000]);
    client.send_raw(b"\r\n");
    let error = client.wait_for("an error for a long line", |m| {
        m["error"]["message"].as_str().unwrap_or("").contains("header line longer than")
    });
    assert_eq!((&error["id"], &error["error"]["code"]), (&Value::Null, &json!(-32700)));
    assert_alive(&mut client);
    assert!(client.shutdown().success());
}

#[test]
fn ids_that_are_not_64_bit_integers_get_invalid_request_with_a_null_id() {
    let mut client = start("bad-ids");
    for id in ["1e3", "9223372036854775808", "10000084.5", "true", "[1]", "null"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"splice/status","params":{{}}}}"#);
        client.send_body(body.as_bytes());
        assert_eq!(null_id_error(&mut client, &format!("an error for the id {id}")), -32600, "id {id}");
        assert_alive(&mut client);
    }
    assert!(client.shutdown().success());
}

#[test]
fn messages_that_tower_lsp_server_would_misread_are_refused_and_the_session_goes_on() {
    let mut client = start("misread");
    let with_id = [
        (r#"{"jsonrpc":"2.0","id":10000276,"method":"splice/status","result":1}"#, 10000276),
        (r#"{"jsonrpc":"2.0","id":21,"method":"splice/status","params":"text"}"#, 21),
        (r#"{"jsonrpc":"2.0","id":22,"method":7}"#, 22),
        (r#"{"jsonrpc":"2.0","id":23,"method":"exit"}"#, 23),
    ];
    for (body, id) in with_id {
        client.send_body(body.as_bytes());
        let response = client.response(id);
        assert_eq!(response["error"]["code"], -32600, "{body}: {response}");
        assert_alive(&mut client);
    }
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":24,"method":"splice/status","params":{}1{}}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    let null_id = [
        (deep.as_str(), -32700),
        (r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","extra":0}}"#, -32600),
        (r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}"#, -32600),
        (r#"[{"jsonrpc":"2.0","id":25,"method":"splice/status"}]"#, -32600),
        ("\"just a string\"", -32600),
    ];
    for (body, code) in null_id {
        client.send_body(body.as_bytes());
        assert_eq!(null_id_error(&mut client, body), code, "{body}");
        assert_alive(&mut client);
    }
    // A duplicate key is read as JSON.parse reads it: the last one counts.
    client.send_body(br#"{"jsonrpc":"2.0","id":26,"id":27,"method":"splice/status","params":{}}"#);
    assert!(client.response(27)["result"]["state"].is_string());
    assert!(client.shutdown().success());
}

#[test]
fn an_unknown_method_is_method_not_found() {
    let mut client = start("unknown-method");
    let response = client.call("textDocument/frobnicate", json!({}));
    assert_eq!(response["error"]["code"], -32601, "{response}");
    // tower-lsp-server answers nothing to an unknown `$/` request; the client would wait forever.
    let response = client.call("$/frobnicate", json!({}));
    assert_eq!(response["error"]["code"], -32601, "{response}");
    assert_alive(&mut client);
    assert!(client.shutdown().success());
}

#[test]
fn requests_before_initialize_get_server_not_initialized_and_notifications_are_dropped() {
    let mut client = start_uninitialized("before-initialize", &smollm2());
    for method in
        ["splice/status", "textDocument/frobnicate", "$/frobnicate", "textDocument/inlineCompletion", "shutdown"]
    {
        let response = client.call(method, json!({}));
        assert_eq!(response["error"]["code"], -32002, "{method}: {response}");
    }
    client.open(URI, "python", "x = 1\n");
    client.initialize(json!({}), Value::Null);
    client.wait_until_loaded();
    let response = client.inline_completion(URI, 0, 0);
    assert!(error_message(&response).contains("is not open"), "the didOpen before initialize was dropped: {response}");
    assert!(client.shutdown().success());
}

#[test]
fn the_exit_code_is_0_only_after_a_shutdown_request() {
    assert_eq!(start("exit-without-shutdown").exit().code(), Some(1));
    assert_eq!(start_uninitialized("exit-before-initialize", &smollm2()).exit().code(), Some(1));
    assert_eq!(start("input-closed").close_input().code(), Some(1));
    let mut notified = start("shutdown-notification");
    notified.notify("shutdown", Value::Null);
    assert_alive(&mut notified);
    assert_eq!(notified.exit().code(), Some(1), "shutdown is a request; as a notification it is dropped");
    assert_eq!(start("shutdown-then-exit").shutdown().code(), Some(0));
}

#[test]
fn positions_outside_the_text_are_invalid_params_in_plain_words() {
    let mut client = start("positions");
    client.wait_until_loaded();
    client.open(URI, "python", "x = '😀'\nshort\n");

    let past_line = client.inline_completion(URI, 1, 40);
    assert_eq!(past_line["error"]["code"], -32602, "{past_line}");
    assert_eq!(error_message(&past_line), "position 1:40 is past the end of line 1 (5 UTF-16 units)");

    let past_file = client.inline_completion(URI, 7, 0);
    assert!(error_message(&past_file).contains("line 7 is past the end of the document (3 lines)"), "{past_file}");

    // '😀' is two UTF-16 units at characters 5 and 6; character 6 falls between them.
    let inside_pair = client.inline_completion(URI, 0, 6);
    assert!(error_message(&inside_pair).contains("surrogate pair"), "{inside_pair}");

    let not_open = client.inline_completion("file:///never/opened.py", 0, 0);
    assert!(error_message(&not_open).contains("is not open"), "{not_open}");

    let fine = client.inline_completion(URI, 1, 5);
    assert!(fine.get("error").is_none(), "a valid position still works: {fine}");
    assert!(client.shutdown().success());
}

#[test]
fn edits_for_unknown_documents_or_bad_ranges_are_refused_without_losing_the_text() {
    let mut client = start("bad-edits");
    client.wait_until_loaded();

    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": "file:///never/opened.py", "version": 2 },
                "contentChanges": [{ "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } }, "text": "x" }] }),
    );
    let warning =
        client.notification("window/logMessage", |p| p["message"].as_str().unwrap_or("").contains("not open"));
    assert_eq!(warning["params"]["type"], 2, "a warning");

    client.open(URI, "python", "def f():\n    return 1\n");
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 2 },
                "contentChanges": [
                    { "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } }, "text": "# ok\n" },
                    { "range": { "start": { "line": 9, "character": 0 }, "end": { "line": 9, "character": 1 } }, "text": "boom" }
                ] }),
    );
    let rejected =
        client.notification("window/logMessage", |p| p["message"].as_str().unwrap_or("").contains("rejected an edit"));
    assert!(rejected["params"]["message"].as_str().unwrap().contains("change 2 of 2"), "{rejected}");
    let out_of_sync = client.inline_completion(URI, 1, 4);
    assert!(error_message(&out_of_sync).contains("out of sync"), "{out_of_sync}");

    // A full-text change brings the document back in sync.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 3 }, "contentChanges": [{ "text": "def f():\n    return 1\n" }] }),
    );
    let again = client.inline_completion(URI, 1, 4);
    assert!(again.get("error").is_none(), "{again}");
    assert!(client.shutdown().success());
}

#[test]
fn a_fifty_megabyte_document_is_completed_from_a_window() {
    // A small context keeps the cold prompt cheap on a busy machine: what is tested is that the
    // document is windowed, not how fast a 4,000-token prompt encodes.
    let dir = temp_dir("huge");
    let model = smollm2();
    let args = ["--model", model.to_str().unwrap(), "--ctx", "512", "--max-tokens", "8"];
    let mut client = LspClient::start(&args, &dir.join("splice.log"));
    client.initialize(json!({}), Value::Null);
    client.wait_until_loaded();
    let line = "value = compute(value, 42)  # 中文 😀\n";
    let text = line.repeat(50 * 1024 * 1024 / line.len());
    let lines = text.matches('\n').count() as u32;
    client.open(URI, "python", &text);
    drop(text);
    let response = client.inline_completion(URI, lines, 0);
    assert!(response.get("error").is_none(), "{response}");
    let status = client.call_ok("splice/status", json!({}));
    let prompt = status["last"]["promptTokens"].as_u64().unwrap();
    assert!(prompt > 100 && prompt <= 512, "the prompt is a window of the file: {status}");

    // An edit at the very end of the huge document is applied and followed.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 2 },
                "contentChanges": [{ "range": { "start": { "line": lines, "character": 0 }, "end": { "line": lines, "character": 0 } }, "text": "value = " }] }),
    );
    let after = client.inline_completion(URI, lines, 8);
    assert!(after.get("error").is_none(), "{after}");
    assert!(client.shutdown().success());
}

#[test]
fn binary_text_gets_no_suggestion() {
    let mut client = start("binary");
    client.wait_until_loaded();
    client.open(URI, "python", "\u{7f}ELF\u{2}\u{1}\u{1}\0\0\0\0\0\0\0\0\0\u{3}\0>\0\u{1}\0\0\0");
    let response = client.inline_completion(URI, 0, 8);
    assert!(response.get("error").is_none(), "{response}");
    assert_eq!(response["result"]["items"], json!([]));
    assert!(client.shutdown().success());
}

#[test]
fn a_missing_model_is_reported_to_the_user_and_on_every_request() {
    let mut client = start_with_model("missing-model", std::path::Path::new("/nonexistent/model.gguf"));
    let shown = client.notification("window/showMessage", |_| true);
    assert_eq!(shown["params"]["type"], 1, "an error message");
    assert!(shown["params"]["message"].as_str().unwrap().contains("model file not found: /nonexistent/model.gguf"));
    let status = client.wait_until_loaded();
    assert_eq!(status["state"], "error");
    client.open(URI, "python", "x = 1\n");
    let response = client.inline_completion(URI, 1, 0);
    assert!(error_message(&response).contains("model file not found"), "{response}");
    assert!(client.shutdown().success(), "a broken model does not crash the server");
}

#[test]
fn a_file_that_is_not_gguf_is_named_as_such() {
    let dir = temp_dir("not-gguf-model");
    let fake = dir.join("model.gguf");
    std::fs::write(&fake, "<html>not a model</html>").unwrap();
    let mut client = start_with_model("not-gguf", &fake);
    let status = client.wait_until_loaded();
    assert!(status["error"].as_str().unwrap().contains("is not GGUF"), "{status}");
    assert!(client.shutdown().success());
}
