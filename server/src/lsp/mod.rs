//! The LSP face of Splice: stdio transport, capabilities, document sync and completion requests.
//!
//! Built on `tower-lsp-server`. Its `LanguageServer` trait has no inline-completion handler yet,
//! so `textDocument/inlineCompletion` (LSP 3.18) is registered as a custom method, as is
//! `splice/status`.

mod admission;
mod backend;
mod convert;
mod engine_slot;
mod framing;
mod indexing;
mod status;
mod transport;

use crate::cli::ServeArgs;
use anyhow::Context;
use backend::Backend;
use tower_lsp_server::{LspService, Server};

/// How many requests the transport runs at once. Completion requests wait on the single engine
/// thread; a high limit keeps didChange and cancellations flowing past them.
const CONCURRENCY: usize = 64;

/// Serves LSP on stdin/stdout until `exit`.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (service, socket) = LspService::build(|client| Backend::new(client, args.options))
            .custom_method("textDocument/inlineCompletion", Backend::inline_completion)
            .custom_method("splice/status", Backend::status)
            .finish();
        let guarded = transport::guard(tokio::io::stdin(), tokio::io::stdout());
        Server::new(guarded.server_input, guarded.server_output, socket)
            .concurrency_level(CONCURRENCY)
            .serve(service)
            .await;
        guarded.tasks.finish().await;
    });
    // A blocking stdin read may still be pending; do not wait for the editor to close stdin.
    runtime.shutdown_background();
    tracing::info!("LSP session ended");
    Ok(())
}
