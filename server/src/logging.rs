//! Logs go to stderr or a file, never to stdout: stdout is the LSP channel.

use crate::cli::LogArgs;
use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// The default filter: Splice at `info`; llama.cpp only when it reports an error.
pub const DEFAULT_FILTER: &str = "info,llama_cpp=error";

/// Installs the global `tracing` subscriber. Filter: `--log-level`, else `$SPLICE_LOG`, else `info`.
pub fn init(args: &LogArgs) -> anyhow::Result<()> {
    let filter = match &args.log_level {
        Some(level) => EnvFilter::try_new(level).with_context(|| format!("invalid --log-level {level:?}"))?,
        None => EnvFilter::try_from_env("SPLICE_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    match &args.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            builder.with_ansi(false).with_writer(std::sync::Mutex::new(file)).init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}
