//! Indexing the workspace in the background after `initialized`, with `$/progress`.
//!
//! The walk and the chunking run on a blocking thread; this task relays their progress to the
//! client as a work-done progress ("Indexing", percentage and `done/total files`) when the client
//! accepts server-created progress tokens, and sends `splice/status` when indexing starts and
//! ends. Completions never wait for it.

use crate::workspace::Workspace;
use splice_retrieval::{IndexProgress, IndexStatus};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower_lsp_server::ls_types::{NumberOrString, ProgressToken};
use tower_lsp_server::Client;

/// The progress token Splice creates for indexing.
const TOKEN: &str = "splice/indexing";

/// How long the client may take to accept the progress token.
const CREATE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens and syncs the workspace index, reporting progress; `notify` sends `splice/status`.
pub async fn run<F, Fut>(workspace: Arc<Workspace>, client: Client, progress_supported: bool, notify: F)
where
    F: Fn(Client, Option<IndexStatus>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<IndexProgress>();
    let job = {
        let workspace = workspace.clone();
        tokio::task::spawn_blocking(move || {
            workspace.open_and_sync(&mut |progress| {
                let _ = tx.send(progress);
            })
        })
    };
    notify(client.clone(), workspace.status()).await;
    let token = ProgressToken::from(NumberOrString::String(TOKEN.to_owned()));
    // A client that never answers must not stall the relay: without an answer, no progress.
    let created = progress_supported
        && matches!(
            tokio::time::timeout(CREATE_TIMEOUT, client.create_work_done_progress(token.clone())).await,
            Ok(Ok(()))
        );
    let ongoing = if created {
        Some(client.progress(token, "Indexing").with_percentage(0).with_message("walking the workspace").begin().await)
    } else {
        None
    };
    let mut last_percentage = 0;
    while let Some(progress) = rx.recv().await {
        let percentage = (progress.done * 100).checked_div(progress.total).unwrap_or(0).min(100) as u32;
        if let Some(ongoing) = &ongoing {
            if percentage != last_percentage {
                let message = format!("{}/{} files", progress.done, progress.total);
                ongoing.report_with_message(message, percentage).await;
                last_percentage = percentage;
            }
        }
    }
    let summary = match job.await {
        Ok(Ok(report)) => {
            tracing::info!(?report, "workspace indexed");
            let status = workspace.status();
            let (files, chunks) = status.as_ref().map_or((0, 0), |s| (s.files, s.chunks));
            format!("{files} files, {chunks} chunks")
        }
        Ok(Err(err)) => {
            tracing::error!("indexing the workspace failed: {err}");
            format!("failed: {err}")
        }
        Err(join) => {
            tracing::error!("the indexing thread failed: {join}");
            "failed".to_owned()
        }
    };
    if let Some(ongoing) = ongoing {
        ongoing.finish_with_message(summary).await;
    }
    notify(client, workspace.status()).await;
}
