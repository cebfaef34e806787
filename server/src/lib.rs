//! `splice-server`: the `splice` binary's code, an LSP server that answers inline code completions from a warm llama.cpp model.
//!
//! Subcommands: `serve` (LSP over stdio, the default), `complete` (one completion, headless),
//! `bench` (numbers, never pass/fail). stdout belongs to the LSP channel or to the command's
//! result; logs go to stderr or `--log-file`.

pub mod bench;
pub mod bench_accept;
pub mod bench_busy;
pub mod bench_client;
pub mod bench_corpus;
pub mod bench_decode;
pub mod bench_edits;
pub mod bench_engine;
pub mod bench_engine_record;
pub mod bench_engine_report;
pub mod bench_exec;
pub mod bench_exec_peer;
pub mod bench_exec_tests;
pub mod bench_http;
pub mod bench_overhead;
pub mod bench_prefill;
pub mod bench_retrieval;
pub mod bench_retrieval_chunking;
pub mod bench_retrieval_gate;
pub mod bench_retrieval_lsp;
pub mod bench_retrieval_sets;
pub mod bench_retrieval_tasks;
pub mod bench_rng;
pub mod bench_soak;
pub mod bench_soak_edits;
pub mod bench_stats;
pub mod bench_typing;
pub mod bench_typing_lsp;
pub mod bench_typing_peer;
pub mod bench_typing_record;
pub mod bench_typing_report;
pub mod bench_typing_script;
pub mod bench_typing_vim;
pub mod block_syntax;
pub mod cli;
pub mod completion;
pub mod config;
pub mod document;
pub mod headless;
pub mod logging;
pub mod lsp;
pub mod memory;
pub mod prefetch;
pub mod report;
pub mod syntax_check;
pub mod typed_ahead;
pub mod workspace;

use clap::Parser;

/// Parses the command line, sets up logging and runs the subcommand. Returns the exit code.
pub fn run_from_args() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if let Err(err) = logging::init(&cli.log) {
        eprintln!("splice: {err:#}");
        return std::process::ExitCode::FAILURE;
    }
    let logs_to_file = cli.log.log_file.is_some();
    let command = cli.command.unwrap_or_default();
    if let Some(Err(err)) = command.options().map(config::Options::validate) {
        eprintln!("splice: {err}");
        // Like clap's own usage errors.
        return std::process::ExitCode::from(2);
    }
    let result = match command {
        cli::Command::Serve(args) => lsp::serve(args).map(lsp::SessionEnd::exit_code),
        cli::Command::Complete(args) => headless::complete(args).map(|()| std::process::ExitCode::SUCCESS),
        cli::Command::Bench(args) => bench::run(args).map(|()| std::process::ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if logs_to_file {
                tracing::error!("{err:#}");
            }
            eprintln!("splice: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
