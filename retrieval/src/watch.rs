//! Following changes made outside the editor: a debounced recursive watcher on every root.
//!
//! Events are debounced for [`DEBOUNCE`] and applied as [`crate::WorkspaceIndex::refresh_from_disk`]
//! would: re-read if the file exists (under the same rules as the walk), dropped if it is gone.
//! The watcher holds only a weak reference to the index, so dropping the index stops it.

use std::sync::Weak;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use crate::workspace::Shared;

/// How long changes to a path are collected before they are applied.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watcher; stops when dropped.
pub(crate) struct Watcher {
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

impl Watcher {
    /// Watches every root of `shared` recursively.
    pub(crate) fn start(shared: Weak<Shared>) -> Result<Self, notify::Error> {
        let handler_shared = shared.clone();
        let mut debouncer = new_debouncer(DEBOUNCE, move |events: DebounceEventResult| {
            let Some(shared) = handler_shared.upgrade() else { return };
            match events {
                Ok(events) => {
                    for event in events {
                        if let Err(err) = shared.refresh_from_disk(&event.path) {
                            tracing::warn!(path = %event.path.display(), %err, "could not apply a file change");
                        }
                    }
                }
                Err(err) => tracing::warn!(%err, "file watcher error"),
            }
        })?;
        if let Some(shared) = shared.upgrade() {
            for root in &shared.roots {
                debouncer.watcher().watch(&root.canonical, RecursiveMode::Recursive)?;
            }
        }
        Ok(Self { _debouncer: debouncer })
    }
}
