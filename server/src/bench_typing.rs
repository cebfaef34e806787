//! `splice bench typing`: a person retyping real code, key by key at a human pace, against the
//! real server, and the same keystrokes on llama-server for comparison.
//!
//! The package folders of the corpus (`make corpus`) are copied to a temporary workspace; at
//! seeded spots a block of lines is cut from a function body (`bench_typing_script.rs`) and the
//! cut file is written there, so the server's index and watcher see what the editor shows and
//! never the lines about to be typed. For each configuration (`--variants`) a fresh `splice
//! serve` indexes that workspace and the person types every spot (`bench_typing_lsp.rs`); with
//! `--peer` the first configuration's keystrokes are replayed on llama-server behind a
//! llama.vim-like client (`bench_typing_peer.rs`). `--busy` keeps one core spinning throughout.
//! The report (`bench_typing_report.rs`) prints numbers and never fails on them.

use crate::bench_client::{initialization_options, LspSession, HANG_GUARD};
use crate::bench_retrieval::DEFAULT_REPOSITORIES;
use crate::bench_rng::SplitMix;
use crate::bench_typing_peer::{LlamaServer, PeerSettings};
use crate::bench_typing_record::Run;
use crate::bench_typing_report::{print_report, Header};
use crate::bench_typing_script::{block_starts, cut, Spot};
use crate::cli::{BenchTypingArgs, TypingVariant};
use crate::config::{cache_dir, Options, Settings};
use anyhow::{bail, Context};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long indexing the workspace may take.
const INDEXING_GUARD: Duration = Duration::from_secs(600);

/// Runs `splice bench typing`.
pub fn run(args: BenchTypingArgs) -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("splice-bench-typing-{}", std::process::id()));
    let repositories = repositories(&args)?;
    let folders = copy_workspace(&repositories, &root.join("workspace"))?;
    let spots = choose_spots(&folders, &args)?;
    if spots.is_empty() {
        bail!("no function body in {} has {} lines to retype", root.display(), args.lines_per_spot);
    }
    let header = Header::new(&args, &spots);
    header.print_start();
    let busy = args.busy.then(crate::bench_busy::BusyCore::start);
    let mut runs = Vec::new();
    for &variant in &args.variants {
        runs.push(run_variant(variant, &args, &folders, &spots, &root)?);
    }
    if let (Some(binary), Some(first)) = (&args.peer, runs.first()) {
        let settings = peer_settings(&args.options, &first.1);
        eprintln!("replaying the same keystrokes on llama-server ({})", binary.display());
        let server = LlamaServer::start(binary, &settings, &root.join("llama-server.log"))?;
        let run = crate::bench_typing_peer::replay(&server, &settings, &spots, &first.0.recording)?;
        runs.push((run, Value::Null));
    }
    drop(busy);
    let runs: Vec<Run> = runs.into_iter().map(|(run, _)| run).collect();
    print_report(&header, &runs);
    let _ = std::fs::remove_dir_all(root.join("workspace"));
    println!("server logs: {}", root.display());
    Ok(())
}

/// The package folders to type in: `--repo`, else the corpus's three.
pub(crate) fn repositories(args: &BenchTypingArgs) -> anyhow::Result<Vec<PathBuf>> {
    let repositories: Vec<PathBuf> = if args.repo.is_empty() {
        DEFAULT_REPOSITORIES.iter().map(|r| cache_dir().join(r)).collect()
    } else {
        args.repo.clone()
    };
    for repository in &repositories {
        if !repository.is_dir() {
            bail!("{} is not a folder (run `make corpus`)", repository.display());
        }
    }
    Ok(repositories)
}

/// Copies each repository's files into `workspace/<folder name>`; returns the copies.
pub(crate) fn copy_workspace(repositories: &[PathBuf], workspace: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut copies = Vec::new();
    for repository in repositories {
        let name = repository.file_name().map_or("repo".into(), |n| n.to_string_lossy().into_owned());
        let copy = workspace.join(name);
        copy_dir(repository, &copy).with_context(|| format!("cannot copy {}", repository.display()))?;
        copies.push(copy);
    }
    Ok(copies)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Seeded spots, taking the repositories in turn and one spot per file, until `--lines` lines
/// are covered; each chosen file is rewritten with its block cut.
pub(crate) fn choose_spots(folders: &[PathBuf], args: &BenchTypingArgs) -> anyhow::Result<Vec<Spot>> {
    let mut rng = SplitMix(args.seed);
    let mut files: Vec<Vec<PathBuf>> = Vec::new();
    for folder in folders {
        let mut paths = crate::bench_corpus::python_files(folder)?;
        paths.sort();
        for i in (1..paths.len()).rev() {
            paths.swap(i, rng.below(i + 1));
        }
        files.push(paths);
    }
    let wanted = args.lines.div_ceil(args.lines_per_spot.max(1));
    let mut spots = Vec::new();
    let mut turn = 0;
    while spots.len() < wanted && files.iter().any(|f| !f.is_empty()) {
        let queue = &mut files[turn % folders.len()];
        turn += 1;
        while let Some(path) = queue.pop() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let starts = block_starts(&text, args.lines_per_spot);
            if starts.is_empty() {
                continue;
            }
            let line = *rng.pick(&starts);
            let Some(cut) = cut(&text, line, args.lines_per_spot) else { continue };
            std::fs::write(&path, &cut.opened).with_context(|| format!("cannot write {}", path.display()))?;
            spots.push(Spot { path, line, cut });
            break;
        }
    }
    Ok(spots)
}

/// One configuration: a fresh server over the workspace, every spot typed; returns the run and
/// the server's status after loading (for the peer's settings).
fn run_variant(
    variant: TypingVariant,
    args: &BenchTypingArgs,
    folders: &[PathBuf],
    spots: &[Spot],
    root: &Path,
) -> anyhow::Result<(Run, Value)> {
    let name = variant_name(variant);
    let options = Options { index_dir: Some(root.join(format!("index-{name}"))), ..args.options.clone() };
    let mut init = initialization_options(&options);
    if variant == TypingVariant::Plain {
        init["draftTokens"] = 0.into();
    }
    let log = root.join(format!("serve-{name}.log"));
    eprintln!("{name}: starting splice serve (log {})", log.display());
    let (mut session, status) = ready_session(folders, init, &log)?;
    eprintln!("{name}: typing {} spots", spots.len());
    let run = crate::bench_typing_lsp::replay(&mut session, spots, args.seed, name)?;
    match session.shutdown() {
        Ok(exit) if exit.success() => {}
        Ok(exit) => eprintln!("{name}: the server exited with {exit} after shutdown"),
        Err(err) => eprintln!("{name}: the server did not shut down: {err} (hang guard {} s)", HANG_GUARD.as_secs()),
    }
    Ok((run, status))
}

/// A `splice serve` (logs in `log`) initialized with `folders` and `init`, its model loaded and
/// its workspace indexed; returns it and its status after loading.
pub(crate) fn ready_session(folders: &[PathBuf], init: Value, log: &Path) -> anyhow::Result<(LspSession, Value)> {
    let mut session = LspSession::spawn(log)?;
    session.initialize(folders, init).context("initialize failed")?;
    let status = session.wait_for_engine().context("the model did not load")?;
    if status["state"] != "ready" {
        bail!("the model failed to load: {} (log: {})", status["error"], log.display());
    }
    if status["index"]["state"] != "disabled" {
        session.wait_for_indexing(INDEXING_GUARD).context("indexing did not end")?;
    }
    Ok((session, status))
}

/// The column name of a configuration.
pub fn variant_name(variant: TypingVariant) -> &'static str {
    match variant {
        TypingVariant::Plain => "plain",
        TypingVariant::Speculative => "speculative",
    }
}

/// The peer gets Splice's model, context and threads as the loaded server reports them, and
/// the generation limits the options resolve to.
pub fn peer_settings(options: &Options, status: &Value) -> PeerSettings {
    let settings = Settings::resolve(options.clone());
    let model = &status["model"];
    let number = |v: &Value, default: u32| v.as_u64().map_or(default, |n| n as u32);
    PeerSettings {
        model: model["path"].as_str().map_or(settings.engine.model_path.clone(), PathBuf::from),
        ctx: number(&model["contextTokens"], 4096),
        threads: (number(&model["threads"]["batch"], 2), number(&model["threads"]["decode"], 1)),
        max_tokens: settings.engine.max_tokens,
        max_lines: settings.max_lines,
        batch: settings.engine.batch_tokens,
        flash_attention: "auto",
    }
}
