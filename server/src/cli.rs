//! The command line: subcommands and their flags.

use crate::config::Options;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Code completion from a local llama.cpp model, over LSP.
#[derive(Debug, Parser)]
#[command(name = "splice", version = version(), about, propagate_version = true)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Where logs go.
    #[command(flatten)]
    pub log: LogArgs,
}

fn version() -> &'static str {
    if cfg!(feature = "dynamic-link") {
        concat!(
            env!("CARGO_PKG_VERSION"),
            " (llama.cpp via llama-cpp-2 0.1.160, shared libraries: the backend is theirs)"
        )
    } else if cfg!(feature = "cuda") {
        concat!(env!("CARGO_PKG_VERSION"), " (llama.cpp via llama-cpp-2 0.1.160, CUDA)")
    } else {
        concat!(env!("CARGO_PKG_VERSION"), " (llama.cpp via llama-cpp-2 0.1.160, CPU)")
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve LSP on stdin/stdout (the default).
    Serve(ServeArgs),
    /// Print one completion for a position in a file.
    Complete(CompleteArgs),
    /// Measure latency and throughput; prints numbers, never fails on them.
    #[command(subcommand)]
    Bench(BenchCommand),
}

impl Command {
    /// The model and generation options this subcommand was given, to validate before it runs.
    pub fn options(&self) -> Option<&Options> {
        match self {
            Command::Serve(args) => Some(&args.options),
            Command::Complete(args) => Some(&args.options),
            Command::Bench(BenchCommand::Latency(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Edits(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Retrieval(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Soak(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Overhead(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Decode(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Typing(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Accept(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Prefill(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Exec(args)) => Some(&args.options),
            Command::Bench(BenchCommand::Engine(args)) => Some(&args.options),
        }
    }
}

impl Default for Command {
    fn default() -> Self {
        Command::Serve(ServeArgs::default())
    }
}

/// Flags of `splice serve`.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Model and generation options; `initializationOptions` fill in what is not given here.
    #[command(flatten)]
    pub options: Options,
}

/// Flags of `splice complete`.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The file to complete in.
    pub file: PathBuf,
    /// Cursor line, 1-based.
    #[arg(long)]
    pub line: u32,
    /// Cursor column, 1-based, in characters (Unicode scalar values).
    #[arg(long)]
    pub col: u32,
    /// Print JSON with the suggestion, the model, timings and the retrieval decision.
    #[arg(long)]
    pub json: bool,
    /// The workspace folder to retrieve from (indexed first); default: the git repository
    /// holding the file, else none.
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Model and generation options.
    #[command(flatten)]
    pub options: Options,
}

/// `splice bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Cold prompt, per-request latency after one-character edits, generation speed, peak RSS.
    Latency(BenchLatencyArgs),
    /// Per-keystroke cost of PIE, prefix-only reuse and full re-encoding on three edit workloads.
    Edits(BenchEditsArgs),
    /// Line completions cut from real repositories with retrieval never, always and auto:
    /// exact match, edit similarity, retrieval rate, latency.
    Retrieval(BenchRetrievalArgs),
    /// A long random editor session over LSP: requests, errors by kind, hangs, deaths, RSS over
    /// time; fails only if the server died.
    Soak(BenchSoakArgs),
    /// Per-request server overhead over LSP for the same prompt in 2 KB to 50 MB documents.
    Overhead(BenchOverheadArgs),
    /// Decode speed of plain and speculative decoding on the same spots, and whether their
    /// outputs are identical.
    Decode(BenchDecodeArgs),
    /// A person retyping real code key by key over LSP, accepting matching suggestions with Tab:
    /// per-keystroke latency, answers without the model, characters accepted per model call,
    /// decode speed; optionally the same keystrokes on llama-server.
    Typing(BenchTypingArgs),
    /// After accepting a suggestion, how soon the next one is visible, with the prefetch and
    /// without, over LSP.
    Accept(BenchAcceptArgs),
    /// Cold-prompt encoding speed against llama-server on the same text and settings, one
    /// setting varied at a time (batch, flash attention, threads).
    Prefill(BenchPrefillArgs),
    /// Holes in real Python functions filled with the first suggested line and judged by the
    /// package's own tests: pass@1, exact match, lines that do not parse or change the
    /// indentation; optionally llama-server on the same holes.
    Exec(BenchExecArgs),
    /// K simulated editors typing at once through K `splice serve --engine` against one
    /// `llama-server --parallel K`, and the same sessions on K in-process engines: keystroke
    /// latency, tokens per second, the engine's prefix-cache hit rate, the remote overhead.
    Engine(BenchEngineArgs),
}

/// `splice bench engine --modes`: where the editors' completions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineMode {
    /// K `splice serve --engine URL` against one `llama-server --parallel K`.
    Remote,
    /// K plain `splice serve`, each with its own model in process.
    Local,
}

/// Flags of `splice bench engine`.
#[derive(Debug, Args)]
pub struct BenchEngineArgs {
    /// Numbers of editors typing at once, each measured on a fresh engine and fresh servers.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4, 8])]
    pub k: Vec<usize>,
    /// Lines each editor types, in spots of `--lines-per-spot` lines (editor i's session is the
    /// one `splice bench typing --seed S+i` types).
    #[arg(long, default_value_t = 6)]
    pub lines: usize,
    /// Lines cut from one function body and typed back at each spot.
    #[arg(long, default_value_t = 3)]
    pub lines_per_spot: usize,
    /// A package folder to type in (repeatable); default: the three cached sdists (`make corpus`).
    #[arg(long)]
    pub repo: Vec<PathBuf>,
    /// Seed of editor 0's session; editor i uses seed + i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where completions are computed, each mode measured for every K.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [EngineMode::Remote, EngineMode::Local])]
    pub modes: Vec<EngineMode>,
    /// llama.cpp's `llama-server` binary (`bench/build_llama_server.sh`); default: the one that
    /// script builds in Splice's cache.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// The shared engine's batch and ubatch (`llama-server -b -ub`): the most tokens one engine
    /// step decodes, every generating slot's next token first, then prompt tokens up to it.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(8..=8192))]
    pub engine_batch: u32,
    /// Whose sessions K = 1 types: `every` editor's of the largest K, each alone on a fresh
    /// engine and server, one after another, pooled (so K = 1 and the largest K are the same
    /// keystrokes), or only the `first` editor's (quicker, and a p90 of about 25 answered keys).
    #[arg(long, value_enum, default_value_t = AloneEditors::Every)]
    pub alone: AloneEditors,
    /// Print JSON (every row's numbers) after the table.
    #[arg(long)]
    pub json: bool,
    /// Model and generation options, sent as `initializationOptions` to every server; `--ctx`
    /// is also each engine slot's context.
    #[command(flatten)]
    pub options: Options,
}

/// `splice bench engine --alone`: which editors' sessions the K = 1 row types alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AloneEditors {
    /// Every editor of the largest K, one after another.
    Every,
    /// Editor 0 only.
    First,
}

/// `splice bench exec --variants`: the Splice configurations asked at every hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecVariant {
    /// `--retrieval never`.
    Never,
    /// `--retrieval auto` (the defaults).
    Auto,
    /// The defaults with `--syntax-check off`.
    NoCheck,
    /// The defaults with `--token-healing off`.
    NoHealing,
    /// The defaults with `--multi-line off`: every suggestion ends at its first line.
    SingleLine,
    /// The defaults with `--below-tokens 0`: the code below the cursor does not judge.
    NoBelow,
}

/// Flags of `splice bench exec`.
#[derive(Debug, Args)]
pub struct BenchExecArgs {
    /// Packages to cut holes from (click, itsdangerous, more-itertools); default: all.
    #[arg(long, value_delimiter = ',')]
    pub packages: Vec<String>,
    /// Holes per package (one per function; fewer where the package has fewer usable ones).
    #[arg(long, default_value_t = 40)]
    pub holes: usize,
    /// Seed of the hole choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Splice configurations to ask.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ExecVariant::Never, ExecVariant::Auto])]
    pub variants: Vec<ExecVariant>,
    /// llama.cpp's `llama-server` binary (`bench/build_llama_server.sh`), asked at the same
    /// holes. Absent: Splice only.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Seconds one test run may take before the line counts as failing.
    #[arg(long, default_value_t = 60)]
    pub test_timeout: u64,
    /// Print JSON (a summary and every hole's answers) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Model options (`--model`, `--ctx`, `--max-tokens`, …).
    #[command(flatten)]
    pub options: Options,
}

/// `splice bench prefill --variants`: the setting each variant changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrefillVariant {
    /// Splice's defaults: batch and ubatch 512, flash attention auto, all cores for batches.
    Default,
    /// Flash attention forced on.
    FlashOn,
    /// Flash attention forced off.
    FlashOff,
    /// Batch and ubatch 256.
    Batch256,
    /// Batch and ubatch 1024.
    Batch1024,
    /// One thread for batches.
    OneThread,
}

/// Flags of `splice bench prefill`.
#[derive(Debug, Args)]
pub struct BenchPrefillArgs {
    /// The text to encode; default: click's `core.py` from `make corpus`.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Encode the file up to the last line break before this many bytes.
    #[arg(long, default_value_t = 12_000)]
    pub chars: usize,
    /// Encodes per variant on each side.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Settings to measure, each on a fresh engine and a fresh peer.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [
        PrefillVariant::Default, PrefillVariant::FlashOn, PrefillVariant::FlashOff,
        PrefillVariant::Batch256, PrefillVariant::Batch1024, PrefillVariant::OneThread,
    ])]
    pub variants: Vec<PrefillVariant>,
    /// llama.cpp's `llama-server` binary (`bench/build_llama_server.sh`). Absent: Splice only.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Keep one core busy (a spinning thread) for the whole run.
    #[arg(long)]
    pub busy: bool,
    /// Print JSON after the table.
    #[arg(long)]
    pub json: bool,
    /// Model options (`--model`, `--ctx`, `--threads`, …).
    #[command(flatten)]
    pub options: Options,
}

/// Flags of `splice bench decode`.
#[derive(Debug, Args)]
pub struct BenchDecodeArgs {
    /// How many spots to complete (each with both engines).
    #[arg(long, default_value_t = 16)]
    pub spots: usize,
    /// Seed of the spots' choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep one core busy (a spinning thread) while the spots are completed.
    #[arg(long)]
    pub busy: bool,
    /// Model and generation options (default `--max-tokens 128 --max-lines 16`); `--draft-tokens`
    /// is the speculative engine's.
    #[command(flatten)]
    pub options: Options,
}

/// `splice bench typing --variants`: the server configurations replayed, each on a fresh server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TypingVariant {
    /// Speculative decoding off (`draftTokens: 0`).
    Plain,
    /// The options as given: the server's default draft, or `--draft-tokens` where it has one.
    Speculative,
}

/// Flags of `splice bench typing`.
#[derive(Debug, Args)]
pub struct BenchTypingArgs {
    /// Lines to type in all, in spots of `--lines-per-spot` lines.
    #[arg(long, default_value_t = 24)]
    pub lines: usize,
    /// Lines cut from one function body and typed back at each spot.
    #[arg(long, default_value_t = 4)]
    pub lines_per_spot: usize,
    /// A package folder to type in (repeatable); default: the three cached sdists (`make corpus`).
    #[arg(long)]
    pub repo: Vec<PathBuf>,
    /// Seed of the spots, the pace and the pauses.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Server configurations to replay, in order, each on a fresh server.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [TypingVariant::Plain, TypingVariant::Speculative])]
    pub variants: Vec<TypingVariant>,
    /// Keep one core busy (a spinning thread) for the whole run.
    #[arg(long)]
    pub busy: bool,
    /// llama.cpp's `llama-server` binary (`bench/build_llama_server.sh`): the first configuration's
    /// keystrokes are replayed on it behind a llama.vim-like client. Absent: no peer.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Model and generation options, sent as `initializationOptions`.
    #[command(flatten)]
    pub options: Options,
}

/// Flags of `splice bench accept`.
#[derive(Debug, Args)]
pub struct BenchAcceptArgs {
    /// The document, the cursor at its end; default: a built-in Python file of lookup tables.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// How many suggestions to accept in a row.
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Model and generation options, sent as `initializationOptions` (default `--max-tokens
    /// 16`); `--prefetch` runs one mode only.
    #[command(flatten)]
    pub options: Options,
}

/// Flags of `splice bench soak`.
#[derive(Debug, Args)]
pub struct BenchSoakArgs {
    /// How long to run.
    #[arg(long, default_value_t = 30)]
    pub minutes: u64,
    /// How many documents the session keeps open.
    #[arg(long, default_value_t = 10)]
    pub documents: usize,
    /// Seed of the session's edits, requests and pauses.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Model and generation options, sent as `initializationOptions` (default `--max-tokens 16`,
    /// so that requests are cheap and the session makes many).
    #[command(flatten)]
    pub options: Options,
}

/// Flags of `splice bench overhead`.
#[derive(Debug, Args)]
pub struct BenchOverheadArgs {
    /// Timed requests per document size (and as many timed one-character edits).
    #[arg(long, default_value_t = 20)]
    pub requests: usize,
    /// Document sizes in MB to compare with the 2 KB document.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1.0, 10.0, 50.0])]
    pub sizes_mb: Vec<f64>,
    /// The workspace folder of the `auto` rows; default: the cached `requests` package
    /// (`make corpus`); without it only `never` runs.
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Model and generation options, sent as `initializationOptions` (default `--ctx 256
    /// --max-tokens 1`, so that the prompt window is the same ~2 KB in every document);
    /// `--retrieval` runs one row set only.
    #[command(flatten)]
    pub options: Options,
}

/// `splice bench retrieval --through`: how the benchmark reaches the completion path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Through {
    /// `splice serve` over pipes, the repository as its workspace folder, the watcher running:
    /// what an editor exercises.
    Lsp,
    /// The completion path called in this process on one shared index: faster to start, and it
    /// can report the retrieval gate's own decision per task.
    Process,
    /// No model: each task's preparation (window, shape, retrieval decision) timed in this
    /// process, at its first request and while its removed text is typed back key by key.
    Gate,
}

/// Flags of `splice bench retrieval`.
#[derive(Debug, Args)]
pub struct BenchRetrievalArgs {
    /// The languages whose task sets run, one table each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "python")]
    pub lang: Vec<crate::bench_retrieval_sets::BenchLanguage>,
    /// A repository folder to cut tasks from (repeatable), instead of the language's task set's
    /// folders (fetched by `make corpus`).
    #[arg(long)]
    pub repo: Vec<PathBuf>,
    /// Files per repository (default: the task set's; 6 for Python).
    #[arg(long)]
    pub files: Option<usize>,
    /// Tasks per file (default: the task set's; 5 for Python).
    #[arg(long)]
    pub tasks_per_file: Option<usize>,
    /// Seed of the task choice.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print JSON (a summary and every task) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Ask through the LSP server (the default) or call the completion path in this process.
    #[arg(long, value_enum, default_value_t = Through::Lsp)]
    pub through: Through,
    /// Model and generation options (default `--ctx 2048 --max-tokens 48`); `--retrieval` runs
    /// one mode only.
    #[command(flatten)]
    pub options: Options,
}

/// Flags of `splice bench edits`.
#[derive(Debug, Args)]
pub struct BenchEditsArgs {
    /// The Python file to edit; default: the cached `requests/sessions.py` (`make corpus`).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write every request's prompt window (prefix, suffix) as JSON lines to this file, for
    /// replaying the same requests on another server (bench/peer_llama_server.py).
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// Model and generation options; `--reuse` runs one mode only (default: pie, prefix, none).
    #[command(flatten)]
    pub options: Options,
}

/// Flags of `splice bench latency`.
#[derive(Debug, Args)]
pub struct BenchLatencyArgs {
    /// The Python file to edit; default: the cached `requests` source file (`make corpus`).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// How many one-character edits of each kind to time.
    #[arg(long, default_value_t = 5)]
    pub edits: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Model and generation options.
    #[command(flatten)]
    pub options: Options,
}

/// Logging flags, shared by every subcommand.
#[derive(Debug, Default, Args)]
pub struct LogArgs {
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true)]
    pub log_file: Option<PathBuf>,
    /// Log filter (`info`, `debug`, `splice_model=trace`, …); default `info,llama_cpp=error`, or $SPLICE_LOG.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
}
