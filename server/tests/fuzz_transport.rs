//! Fuzzes the LSP transport in process: random sessions of framing, headers, JSON, ids and the
//! params of every method, against the real guard, tower-lsp-server and `Backend`, checking
//! after every batch that each message got exactly its answer and the session is alive.
//!
//! `cargo test --release -p splice-server --test fuzz_transport` runs a small budget (part of
//! `cargo test`). `SPLICE_FUZZ_CASES=N` runs N sessions (about 70 messages each; `make fuzz`),
//! `SPLICE_FUZZ_SEED=S` another seed (the default is fixed, so CI is repeatable), and
//! `SPLICE_FUZZ_MODEL=PATH` a real model instead of none (slow: every completion runs it). A
//! failure is shrunk to a small script and printed; keep it below as a fixed case.

mod fuzz;

use fuzz::harness::{self, Session};
use fuzz::script::*;
use fuzz::strategies;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Sessions per `cargo test` run: about 7,000 messages, under a second in a release build.
const DEFAULT_CASES: u32 = 100;

/// The default seed.
const DEFAULT_SEED: u64 = 0x5eed_5b11ce;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.parse().unwrap_or_else(|_| panic!("{name}={value} is not a number")))
}

#[test]
fn random_sessions_are_answered_message_by_message_and_never_end_early() {
    let cases = env_number("SPLICE_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n as u32);
    let seed = env_number("SPLICE_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let mut seed_bytes = [0; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        // Milliseconds; a hang costs a hang guard per shrinking step.
        max_shrink_time: 15 * 60 * 1000,
        max_local_rejects: u32::MAX,
        max_global_rejects: u32::MAX,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let runtime = runtime();
    let messages = AtomicU64::new(0);
    let started = Instant::now();
    let failures = AtomicU64::new(0);
    let result = runner.run(&strategies::script(), |script| {
        let sent = runtime.block_on(harness::run(&script)).map_err(|failure| {
            if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("transport fuzz: first failure, now shrinking: {failure}");
            }
            TestCaseError::fail(failure)
        })?;
        messages.fetch_add(sent, Ordering::Relaxed);
        Ok(())
    });
    eprintln!(
        "transport fuzz: seed {seed}, {cases} sessions, {} messages, {:.1?}: {}",
        messages.load(Ordering::Relaxed),
        started.elapsed(),
        if result.is_ok() { "no deaths, hangs, panics or wrong answers" } else { "FAILED" }
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

// Fixed cases: inputs that ended or confused the session once (issue 10 and the fuzzer's finds).

fn frame_step(body: &str, expect: Vec<Expect>) -> Step {
    Step { bytes: plain_frame(body.as_bytes()), expect, shuts_down: false }
}

fn raw_step(bytes: &[u8], expect: Vec<Expect>) -> Step {
    Step { bytes: bytes.to_vec(), expect, shuts_down: false }
}

fn status(id: i64) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": "splice/status", "params": {} }).to_string()
}

/// Runs fixed steps after `initialize`, then `splice/status`, then `shutdown` and `exit`.
fn initialized_session(steps: Vec<Step>) {
    let outcome = runtime().block_on(harness::without_panics(async {
        let mut session = Session::start(harness::options());
        session.initialize(&json!({ "capabilities": {} })).await?;
        session.steps(steps).await?;
        session.end(&End::ShutdownThenExit).await
    }));
    outcome.unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn a_high_byte_before_a_header_costs_one_parse_error_not_the_session() {
    let mut bytes = b"\xff".to_vec();
    bytes.extend(plain_frame(status(10_000_007).as_bytes()));
    initialized_session(vec![
        raw_step(&bytes, vec![Expect::ParseErrors(1, 1), Expect::Reply(json!(10_000_007))]),
        raw_step(b"\x80\x81\xfe junk\r\n", vec![Expect::ParseErrors(1, 1)]),
        raw_step(&[b'x'; 100_000], vec![]),
        raw_step(b"\r\n", vec![Expect::ParseErrors(1, 1)]),
    ]);
}

#[test]
fn ids_that_tower_lsp_server_cannot_decode_get_invalid_request_with_a_null_id() {
    let steps = ["1e3", "9223372036854775808", "10000084.5", "-0", "[]"]
        .into_iter()
        .map(|id| {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"splice/status","params":{{}}}}"#);
            frame_step(&body, vec![Expect::Error(Value::Null, INVALID_REQUEST)])
        })
        // The fuzzer's shrunk find against the old guard: a notification's method, a float id.
        .chain([frame_step(
            r#"{"jsonrpc":"2.0","id":1e3,"method":"initialized","params":[]}"#,
            vec![Expect::Error(Value::Null, INVALID_REQUEST)],
        )])
        .collect();
    initialized_session(steps);
}

#[test]
fn messages_tower_lsp_server_would_misread_are_refused_or_answered() {
    initialized_session(vec![
        frame_step(
            r#"{"jsonrpc":"2.0","id":10000276,"method":"splice/status","result":1}"#,
            vec![Expect::Error(json!(10000276), INVALID_REQUEST)],
        ),
        frame_step(
            r#"{"jsonrpc":"2.0","id":10000277,"method":"exit"}"#,
            vec![Expect::Error(json!(10000277), INVALID_REQUEST)],
        ),
        frame_step(
            r#"{"jsonrpc":"2.0","id":10000278,"method":"$/frobnicate"}"#,
            vec![Expect::Error(json!(10000278), -32601)],
        ),
        frame_step(
            r#"{"jsonrpc":"2.0","id":1,"id":10000279,"method":"x","method":"splice/status"}"#,
            vec![Expect::Reply(json!(10000279))],
        ),
        frame_step(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","extra":0}}"#,
            vec![Expect::Error(Value::Null, INVALID_REQUEST)],
        ),
        frame_step(r#"{"jsonrpc":"2.0","id":7}"#, vec![Expect::Error(json!(7), INVALID_REQUEST)]),
        // A shutdown notification is dropped: the session still serves (the batch checks it).
        frame_step(r#"{"jsonrpc":"2.0","method":"shutdown"}"#, vec![]),
    ]);
}

#[test]
fn a_frame_whose_length_is_too_short_costs_only_itself() {
    let body = status(10_000_300);
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len() - 5).into_bytes();
    bytes.extend(body.as_bytes());
    bytes.extend(plain_frame(status(10_000_301).as_bytes()));
    initialized_session(vec![raw_step(
        &bytes,
        vec![Expect::Error(Value::Null, PARSE_ERROR), Expect::ParseErrors(1, 1), Expect::Reply(json!(10_000_301))],
    )]);
}

#[test]
fn before_initialize_requests_get_server_not_initialized_and_the_exit_code_is_1() {
    let outcome = runtime().block_on(harness::without_panics(async {
        let mut session = Session::start(harness::options());
        session
            .steps(vec![
                frame_step(&status(10_000_400), vec![Expect::Error(json!(10_000_400), NOT_INITIALIZED)]),
                frame_step(
                    r#"{"jsonrpc":"2.0","id":10000401,"method":"textDocument/frobnicate","params":{}}"#,
                    vec![Expect::Error(json!(10_000_401), NOT_INITIALIZED)],
                ),
                // Found by the fuzzer: tower-lsp-server answers these -32600 and nothing.
                frame_step(
                    r#"{"jsonrpc":"2.0","id":10000402,"method":"$/cancelRequest","params":{"id":1}}"#,
                    vec![Expect::Error(json!(10_000_402), NOT_INITIALIZED)],
                ),
                frame_step(
                    r#"{"jsonrpc":"2.0","id":10000403,"method":"$/frobnicate"}"#,
                    vec![Expect::Error(json!(10_000_403), NOT_INITIALIZED)],
                ),
                frame_step(
                    r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///a.py","languageId":"python","version":1,"text":"x"}}}"#,
                    vec![],
                ),
            ])
            .await?;
        session.initialize(&json!({ "capabilities": {} })).await?;
        session.batch(&[]).await?;
        session.end(&End::Exit).await
    }));
    outcome.unwrap_or_else(|failure| panic!("{failure}"));
}
