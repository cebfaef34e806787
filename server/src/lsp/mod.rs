//! The LSP face of Splice: stdio transport, capabilities, document sync and completion requests.
//!
//! Built on `tower-lsp-server`. Its `LanguageServer` trait has no inline-completion handler yet,
//! so `textDocument/inlineCompletion` (LSP 3.18) is registered as a custom method, as is
//! `splice/status`. In front of it, [`transport`] keeps malformed input away from its decoder
//! and [`session`] keeps the lifecycle rules it does not.

mod admission;
mod backend;
mod convert;
mod engine_slot;
mod framing;
mod indexing;
mod partial;
mod prefetch;
mod session;
mod status;
mod transport;

pub use session::SessionEnd;

use crate::cli::ServeArgs;
use crate::config::Options;
use anyhow::Context;
use backend::Backend;
use session::SessionGate;
use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{LspService, Server};

/// How many requests the transport runs at once. Completion requests wait on the single engine
/// thread; a high limit keeps didChange and cancellations flowing past them.
const CONCURRENCY: usize = 64;

/// How long the process waits for the engine thread to end after the session ended.
const ENGINE_EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves LSP on stdin/stdout until `exit` or the end of stdin; the caller exits with
/// [`SessionEnd::exit_code`].
pub fn serve(args: ServeArgs) -> anyhow::Result<SessionEnd> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let end = runtime.block_on(serve_session(tokio::io::stdin(), tokio::io::stdout(), args.options));
    // A blocking stdin read may still be pending; do not wait for the editor to close stdin.
    runtime.shutdown_background();
    // The session's end dropped the backend, which cancelled every request and prefetch; let
    // the engine finish its current token and free the model before the process exits.
    if !splice_model::wait_for_engine_threads(ENGINE_EXIT_WAIT) {
        tracing::warn!("the engine was still busy {ENGINE_EXIT_WAIT:?} after the session ended; exiting anyway");
    }
    match end {
        SessionEnd::AfterShutdown => tracing::info!("LSP session ended"),
        SessionEnd::WithoutShutdown => tracing::warn!("LSP session ended without a shutdown request; exit code 1"),
    }
    Ok(end)
}

/// Serves one LSP session over any byte streams (stdio in the binary, in-memory pipes in tests
/// and the transport fuzzer) until `exit` or the end of `input`, with `options` as the command
/// line's. Runs on the current tokio runtime; the model loads on a blocking thread after
/// `initialize` (a model path that does not exist fails at once, and every completion then
/// answers with that error).
pub async fn serve_session(
    input: impl AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
    options: Options,
) -> SessionEnd {
    let (service, socket) = LspService::build(|client| Backend::new(client, options))
        .custom_method("textDocument/inlineCompletion", Backend::inline_completion)
        .custom_method("splice/status", Backend::status)
        .finish();
    let gate = SessionGate::new(service);
    let phase = gate.phase();
    let guarded = transport::guard(input, output);
    Server::new(guarded.server_input, guarded.server_output, socket).concurrency_level(CONCURRENCY).serve(gate).await;
    guarded.tasks.finish().await;
    session::session_end(&phase)
}
