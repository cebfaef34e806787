//! llama-server asked in steps, against a scripted engine: what a real engine does only by chance
//! (a token held back mid-character, a stop token generated), each step's request as Splice sends
//! it, and the suggestion that comes back.
//!
//! The engine here speaks llama-server's protocol as its `/completion` streams it: one event per
//! token with its `content` and `tokens`, a last event with `stop_type` and `timings`, the
//! connection closed after every stream, and, like llama-server, no event for a token whose text
//! ends mid-character: its text comes with the next token's event, which names only that token.
//! It generates a fixed script of tokens, continuing from however many of them the prompt already
//! ends with, so it answers steps of any size. The real engine's steps are tested in
//! `remote_engine.rs`.

use serde_json::{json, Value};
use splice_e2e::{temp_dir, vocab_fixture, LspClient};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// `<fim_pad>` in the StarCoder vocabulary fixture (specials first): a stop token of its template.
const FIM_PAD: i64 = 4;

/// One scripted token: its id, its text, and whether the engine holds it back (its text ends
/// mid-character).
#[derive(Clone, Copy)]
struct Token(i64, &'static str, bool);

/// A scripted llama-server on a loopback port; `completions` are the bodies of the `/completion`
/// requests it was sent, in order.
struct ScriptedEngine {
    port: u16,
    completions: Arc<Mutex<Vec<Value>>>,
}

impl ScriptedEngine {
    fn start(script: &'static [Token]) -> ScriptedEngine {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let completions = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&completions);
        std::thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve(connection, script, &seen));
            }
        });
        ScriptedEngine { port, completions }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn completions(&self) -> Vec<Value> {
        self.completions.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Answers one request and closes the connection, as llama-server does after a stream.
fn serve(mut connection: TcpStream, script: &[Token], seen: &Mutex<Vec<Value>>) {
    let Ok(reader) = connection.try_clone() else { return };
    let mut reader = BufReader::new(reader);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let reply = |connection: &mut TcpStream, status: &str, body: &Value| {
        let body = body.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = connection.write_all(format!("{head}{body}").as_bytes());
    };
    match path.as_str() {
        "/props" => reply(
            &mut connection,
            "200 OK",
            &json!({ "default_generation_settings": { "n_ctx": 4096 }, "model_path": "starcoder.gguf" }),
        ),
        "/health" => reply(&mut connection, "200 OK", &json!({ "status": "ok" })),
        "/completion" => {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let events = {
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                seen.push(body.clone());
                events(&seen[0], &body, script)
            };
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            let mut stream = head.to_owned();
            for event in events {
                let data = format!("data: {event}\n\n");
                stream.push_str(&format!("{:x}\r\n{data}\r\n", data.len()));
            }
            stream.push_str("0\r\n\r\n");
            let _ = connection.write_all(stream.as_bytes());
        }
        // No `/tokenize` (the vocabulary goes unchecked) and no `/slots`.
        _ => reply(&mut connection, "404 Not Found", &json!({ "error": { "message": "no such endpoint" } })),
    }
}

/// The events llama-server would stream for `body`: the script continued from the tokens the
/// prompt ends with beyond the first request's prompt (`first`), `n_predict` of them at most.
fn events(first: &Value, body: &Value, script: &[Token]) -> Vec<Value> {
    let ids = |value: &Value| -> Vec<i64> {
        value["prompt"].as_array().map(|ids| ids.iter().filter_map(Value::as_i64).collect()).unwrap_or_default()
    };
    let (base, prompt) = (ids(first), ids(body));
    assert!(prompt.starts_with(&base), "every step continues the first prompt");
    let done = prompt.len() - base.len();
    let continued: Vec<i64> = script[..done].iter().map(|token| token.0).collect();
    assert_eq!(&prompt[base.len()..], &continued[..], "a step continues with the tokens generated so far");
    let n_predict = body["n_predict"].as_u64().expect("n_predict") as usize;
    let stops: Vec<&str> =
        body["stop"].as_array().map(|s| s.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut events = Vec::new();
    let mut pending = String::new();
    let mut generated = 0;
    let mut stop_type = "limit";
    for &Token(id, text, held) in script[done..].iter().take(n_predict) {
        generated += 1;
        if stops.contains(&text) {
            stop_type = "word";
            break;
        }
        pending.push_str(text);
        if !held {
            events.push(json!({ "content": pending, "tokens": [id], "stop": false }));
            pending.clear();
        }
    }
    if done + generated == script.len() && stop_type == "limit" && generated < n_predict {
        stop_type = "eos";
    }
    let timings = json!({ "cache_n": done, "prompt_n": base.len().min(1), "prompt_ms": 40.0,
        "predicted_n": generated, "predicted_ms": 45.0 * generated.saturating_sub(1) as f64 });
    events.push(json!({ "content": "", "tokens": [], "stop": true, "stop_type": stop_type, "id_slot": 0,
        "timings": timings }));
    events
}

/// A Splice in front of `engine` with the StarCoder vocabulary (FIM, `<fim_pad>` a stop token).
fn splice(name: &str, engine: &ScriptedEngine) -> LspClient {
    let vocabulary = vocab_fixture("starcoder.gguf");
    let mut client = LspClient::start(&["--model", vocabulary.to_str().unwrap()], &temp_dir(name).join("splice.log"));
    client.initialize(
        json!({}),
        json!({ "engine": engine.url(), "engineProtocol": "llama-server", "tokenHealing": "off", "syntaxCheck": "off",
                "retrieval": "never", "prefetch": "off", "latencyBudget": 0, "ctx": 512, "maxTokens": 32,
                "multiLine": "off" }),
    );
    let loaded = client.wait_until_loaded();
    assert_eq!(loaded["state"], "ready", "{loaded}");
    client
}

/// The suggestion at the end of a one-line document.
fn suggest(client: &mut LspClient) -> String {
    let text = "x";
    client.open("file:///workspace/a.py", "python", text);
    let response = client.inline_completion("file:///workspace/a.py", 0, 1);
    assert!(response.get("error").is_none(), "{response}");
    response["result"]["items"][0]["insertText"].as_str().unwrap_or_default().to_owned()
}

/// A stepped request that generates a stop token stops there, without its text: steps send no
/// stop strings (llama-server would hold back a "<" that may begin one and drop it where the
/// step ends), so Splice watches the stop tokens' ids itself.
#[test]
fn a_stop_token_ends_a_stepped_request_without_its_text() {
    static SCRIPT: [Token; 4] = [
        Token(300, " = ", false),
        Token(301, "<", false),
        Token(FIM_PAD, "<fim_pad>", false),
        Token(302, "zzz", false),
    ];
    let engine = ScriptedEngine::start(&SCRIPT);
    let mut client = splice("remote-steps-stop", &engine);
    assert_eq!(suggest(&mut client), " = <");
    let completions = engine.completions();
    assert!(completions.len() >= 2, "asked in steps: {completions:?}");
    assert_eq!(completions[0]["n_predict"], 1, "the first step asks for one token");
    for body in &completions {
        assert!(body.get("stop").is_none(), "a step sends no stop strings: {body}");
    }
}

/// A step whose tokens the engine did not all name (one ended mid-character and was held back,
/// its text sent with the next) cannot be continued exactly: the request is asked again whole,
/// from its prompt, and the suggestion is the whole script's text.
#[test]
fn a_step_with_a_token_held_back_is_asked_again_whole() {
    static SCRIPT: [Token; 4] =
        [Token(300, "ab", false), Token(301, "", true), Token(302, "é", false), Token(FIM_PAD, "<fim_pad>", false)];
    let engine = ScriptedEngine::start(&SCRIPT);
    let mut client = splice("remote-steps-held", &engine);
    assert_eq!(suggest(&mut client), "abé");
    let completions = engine.completions();
    let last = completions.last().expect("requests");
    assert_eq!(last["prompt"], completions[0]["prompt"], "asked again from the prompt: {completions:?}");
    assert_eq!(last["n_predict"], 32, "asked whole");
    assert!(last["stop"].as_array().is_some_and(|stops| stops.contains(&json!("<fim_pad>"))), "{last}");
    assert!(completions.len() >= 3, "two steps, then the whole request: {completions:?}");
}
