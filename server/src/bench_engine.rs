//! `splice bench engine`: many editors, one engine. K simulated editors type at once, each
//! through its own `splice serve --engine URL`, against one `llama-server --parallel K`; then
//! the same sessions through K plain `splice serve`, each with its model in process.
//!
//! Editor i is `splice bench typing`'s person with seed `--seed + i`: its own copy of the
//! corpus's package folders with its own spots cut (`bench_typing::choose_spots`), replayed
//! over LSP by `bench_typing_lsp::replay`, keys at a human pace and never waiting for the
//! server. Editor i types the same keys in every configuration, so K = 2 is K = 1's session
//! plus one more. For each K and mode: a fresh engine (remote: `-c K × ctx`, `--parallel K`,
//! `--metrics`, the peer's cache settings), K fresh servers started and indexed in parallel,
//! then all K replays at once, one thread each. The numbers (`bench_engine_record.rs`) and the
//! table (`bench_engine_report.rs`) never fail the run.

use crate::bench_client::{initialization_options, LspSession, HANG_GUARD};
use crate::bench_engine_record::{mode_name, EngineMetrics, Measurement, SlotChoices};
use crate::bench_http;
use crate::bench_typing::{choose_spots, copy_workspace, ready_session, repositories};
use crate::bench_typing_peer::LlamaServer;
use crate::bench_typing_record::Run;
use crate::bench_typing_script::Spot;
use crate::cli::{AloneEditors, BenchEngineArgs, BenchTypingArgs, EngineMode};
use crate::config::{cache_dir, Options, Settings};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a remote server may take to report its engine connected.
const CONNECT_GUARD: Duration = Duration::from_secs(60);

/// Each engine slot's context when `--ctx` is not given (Splice's default context).
const DEFAULT_SLOT_CTX: u32 = 4096;

/// One simulated editor: its workspace and the spots it types.
struct Editor {
    index: usize,
    folders: Vec<PathBuf>,
    spots: Vec<Spot>,
    seed: u64,
}

/// Runs `splice bench engine`.
pub fn run(args: BenchEngineArgs) -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("splice-bench-engine-{}", std::process::id()));
    let binary = match args.modes.contains(&EngineMode::Remote) {
        true => Some(llama_server_binary(&args)?),
        false => None,
    };
    let editors_needed = args.k.iter().copied().max().unwrap_or(0);
    let editors: Vec<Editor> =
        (0..editors_needed).map(|i| prepare_editor(&args, i, &root)).collect::<Result<_, _>>()?;
    let header =
        crate::bench_engine_report::Header::new(&args, &editors.iter().map(|e| &e.spots[..]).collect::<Vec<_>>());
    header.print_start();
    let mut measurements = Vec::new();
    for &k in &args.k {
        for &mode in &args.modes {
            let measured = match (k, args.alone) {
                (1, AloneEditors::Every) => measure_alone(&args, mode, &editors, binary.as_deref(), &root),
                _ => {
                    measure(&args, mode, &editors[..k], binary.as_deref(), &root, &format!("{}-k{k}", mode_name(mode)))
                }
            }
            .with_context(|| format!("{} with K = {k}", mode_name(mode)))?;
            crate::bench_engine_report::print_progress(&measured);
            measurements.push(measured);
        }
    }
    crate::bench_engine_report::print_report(&measurements, args.json);
    for editor in &editors {
        let _ = std::fs::remove_dir_all(root.join(format!("editor-{}", editor.index)).join("workspace"));
    }
    println!("server logs: {}", root.display());
    Ok(())
}

/// `--peer`, else the llama-server `bench/build_llama_server.sh` builds in the cache.
fn llama_server_binary(args: &BenchEngineArgs) -> anyhow::Result<PathBuf> {
    let binary = args.peer.clone().unwrap_or_else(|| cache_dir().join("peer/llama.cpp/build/bin/llama-server"));
    if !binary.is_file() {
        bail!("no llama-server at {} (run bench/build_llama_server.sh, or give --peer)", binary.display());
    }
    Ok(binary)
}

/// Editor `index`: a copy of the package folders with its spots cut, chosen with its seed.
fn prepare_editor(args: &BenchEngineArgs, index: usize, root: &Path) -> anyhow::Result<Editor> {
    let seed = args.seed + index as u64;
    let typing = BenchTypingArgs {
        lines: args.lines,
        lines_per_spot: args.lines_per_spot,
        repo: args.repo.clone(),
        seed,
        variants: Vec::new(),
        busy: false,
        peer: None,
        options: args.options.clone(),
    };
    let workspace = root.join(format!("editor-{index}")).join("workspace");
    let folders = copy_workspace(&repositories(&typing)?, &workspace)?;
    let spots = choose_spots(&folders, &typing)?;
    if spots.is_empty() {
        bail!("editor {index}: no function body has {} lines to retype", args.lines_per_spot);
    }
    Ok(Editor { index, folders, spots, seed })
}

/// K = 1 as `--alone every` measures it: each editor's session alone, one after another, each
/// on a fresh engine and server, pooled into one measurement. The largest K's row then holds
/// the same keystrokes typed at once, and the ratio of their p90s is that of the same sessions
/// with and without the others (editor 0 alone gives a p90 of about 25 answered keystrokes,
/// which ranged 88–298 ms between runs).
fn measure_alone(
    args: &BenchEngineArgs,
    mode: EngineMode,
    editors: &[Editor],
    binary: Option<&Path>,
    root: &Path,
) -> anyhow::Result<Measurement> {
    let mut pooled: Option<Measurement> = None;
    for editor in editors {
        let name = format!("{}-k1-editor{}", mode_name(mode), editor.index);
        let alone = measure(args, mode, std::slice::from_ref(editor), binary, root, &name)
            .with_context(|| format!("editor {} alone", editor.index))?;
        pooled = Some(match pooled {
            None => alone,
            Some(pooled) => pooled.pooled_with(alone),
        });
    }
    pooled.context("no editor to measure")
}

/// One configuration, named `name` in its logs: the engine (remote), `editors.len()` servers
/// ready, then every editor's replay at once.
fn measure(
    args: &BenchEngineArgs,
    mode: EngineMode,
    editors: &[Editor],
    binary: Option<&Path>,
    root: &Path,
    name: &str,
) -> anyhow::Result<Measurement> {
    let k = editors.len();
    let engine = match (mode, binary) {
        (EngineMode::Remote, Some(binary)) => Some(start_engine(args, binary, k, &root.join(format!("{name}.log")))?),
        (EngineMode::Remote, None) => bail!("the remote mode needs llama-server"),
        (EngineMode::Local, _) => None,
    };
    let options = Options { engine: engine.as_ref().map(|e| format!("http://{}", e.addr())), ..args.options.clone() };
    eprintln!("{name}: starting {k} splice serve");
    let sessions = start_sessions(&options, editors, root, name)?;
    let before = engine.as_ref().map(|e| metrics(e.addr())).transpose()?;
    eprintln!("{name}: {k} editors typing");
    let started = Instant::now();
    let runs = type_all(sessions, editors, name)?;
    let wall_s = started.elapsed().as_secs_f64();
    let after = engine.as_ref().map(|e| metrics(e.addr())).transpose()?;
    let engine_metrics = before.zip(after).map(|(before, after)| after.since(&before));
    let slot_choices = engine
        .as_ref()
        .map(|_| SlotChoices::parse(&std::fs::read_to_string(root.join(format!("{name}.log"))).unwrap_or_default()));
    Ok(Measurement { mode, k, runs, wall_s, engine: engine_metrics, slot_choices })
}

/// `llama-server --parallel k` on the model Splice's options name, each slot with Splice's
/// context, `--metrics` for the counters, and the cache settings of `bench typing`'s peer
/// (`--swa-full`, `--cache-reuse 256`, no RAM prompt cache); Splice's threads (decode 1, batch
/// every core, or `--threads-decode` and `--threads`): on a shared 2-core machine two decode
/// threads spin-waiting on each other cost far more than they gain, and one decode of the
/// engine carries every slot's next token at once. The batch is `--engine-batch` (16), not
/// Splice's own 512: each llama-server step decodes every generating slot's next token and
/// then prompt tokens up to the batch, so a small one keeps an editor's cold prompt from
/// making every other editor's next token wait for it (eight editors on two cores: an editor's
/// next token came after 192 ms at the median with 64, 112 ms with 16; README, *bench engine*).
fn start_engine(args: &BenchEngineArgs, binary: &Path, k: usize, log: &Path) -> anyhow::Result<LlamaServer> {
    let settings = Settings::resolve(args.options.clone());
    let slot_ctx = args.options.ctx.unwrap_or(DEFAULT_SLOT_CTX);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    let batch_threads = settings.engine.batch_threads.unwrap_or(cores).to_string();
    let decode_threads = settings.engine.decode_threads.unwrap_or(1).to_string();
    let batch = args.engine_batch.to_string();
    let engine_args: Vec<String> = [
        "-c",
        &(slot_ctx as usize * k).to_string(),
        "--parallel",
        &k.to_string(),
        "-b",
        &batch,
        "-ub",
        &batch,
        "-fa",
        "auto",
        "--swa-full",
        "--cache-reuse",
        "256",
        "--cache-ram",
        "0",
        "-t",
        &decode_threads,
        "-tb",
        &batch_threads,
        "--metrics",
    ]
    .map(str::to_owned)
    .into();
    eprintln!("starting llama-server --parallel {k} (log {})", log.display());
    LlamaServer::spawn(binary, &settings.engine.model_path, &engine_args, log)
}

/// The engine's `/metrics` counters now.
fn metrics(addr: std::net::SocketAddr) -> anyhow::Result<EngineMetrics> {
    let text = bench_http::get_text(addr, "/metrics", Duration::from_secs(10)).context("cannot read /metrics")?;
    Ok(EngineMetrics::parse(&text))
}

/// One ready server per editor, started in parallel (each loads, indexes and, when remote,
/// connects on its own).
fn start_sessions(options: &Options, editors: &[Editor], root: &Path, name: &str) -> anyhow::Result<Vec<LspSession>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = editors
            .iter()
            .map(|editor| {
                scope.spawn(move || {
                    let options = Options {
                        index_dir: Some(root.join(format!("editor-{}", editor.index)).join("index")),
                        ..options.clone()
                    };
                    let log = root.join(format!("{name}-serve-{}.log", editor.index));
                    let (mut session, _) = ready_session(&editor.folders, initialization_options(&options), &log)
                        .with_context(|| format!("editor {}", editor.index))?;
                    if options.engine.is_some() {
                        wait_for_connection(&mut session).with_context(|| format!("editor {}", editor.index))?;
                    }
                    Ok(session)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| bail!("a server's start panicked"))).collect()
    })
}

/// Polls `splice/status` until the remote engine is `ok`; a server that says nothing of it
/// after [`CONNECT_GUARD`] goes on (its first request connects).
fn wait_for_connection(session: &mut LspSession) -> anyhow::Result<()> {
    let deadline = Instant::now() + CONNECT_GUARD;
    loop {
        let status = session.status()?;
        let state = &status["engine"]["state"];
        if state == "ok" {
            return Ok(());
        }
        if state == "down" || state == "wrong-model" {
            bail!("the engine is {state}: {}", status["engine"]["error"]);
        }
        if Instant::now() >= deadline {
            eprintln!("the engine is still {state} after {} s; typing anyway", CONNECT_GUARD.as_secs());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every editor types its session on its server at once; returns the replays in editor order.
fn type_all(sessions: Vec<LspSession>, editors: &[Editor], name: &str) -> anyhow::Result<Vec<Run>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .zip(editors)
            .map(|(mut session, editor)| {
                scope.spawn(move || {
                    let label = format!("{name}-editor{}", editor.index);
                    let run = crate::bench_typing_lsp::replay(&mut session, &editor.spots, editor.seed, &label);
                    shut_down(session, &label);
                    run.with_context(|| format!("editor {}", editor.index))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| bail!("an editor's replay panicked"))).collect()
    })
}

fn shut_down(session: LspSession, label: &str) {
    match session.shutdown() {
        Ok(exit) if exit.success() => {}
        Ok(exit) => eprintln!("{label}: the server exited with {exit} after shutdown"),
        Err(err) => eprintln!("{label}: the server did not shut down: {err} (hang guard {} s)", HANG_GUARD.as_secs()),
    }
}
