//! Following changes made outside the editor: a recursive watcher on every root, delivering the
//! changed paths in batches.
//!
//! A batch collects paths until none has come for [`DEBOUNCE`] (or for at most [`MAX_DELAY`]),
//! and goes to a callback, which re-examines each path on disk (see [`crate::reconcile`]). Only
//! the path is passed on, never what the event claims happened: an event for a directory may
//! mean it was created, renamed, touched or had a file written in it, and only the disk knows
//! which. Events that change nothing (a file or directory opened, read, or closed unwritten) are
//! dropped here: looking at their paths would open files and directories again, each open an
//! event again. A lost-events notice (an overflowing kernel queue) marks the batch
//! [`Batch::rescan`].
//!
//! The watcher knows nothing of the index: the callback does, and stops the watcher thread by
//! returning `false`. Dropping the [`Watcher`] stops it too.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

/// How long the watcher waits for more changes before handing a batch over.
pub const DEBOUNCE: Duration = Duration::from_millis(300);
/// The longest a batch collects while changes keep coming (a file written continuously).
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// Changed paths (absolute, under the watched roots), each once.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The paths events named.
    pub paths: BTreeSet<PathBuf>,
    /// Events were lost: only a look at everything is sure to catch them.
    pub rescan: bool,
}

impl Batch {
    fn add(&mut self, event: Event) {
        self.rescan |= event.need_rescan();
        self.paths.extend(event.paths);
    }
}

/// A running watcher; stops when dropped.
pub(crate) struct Watcher {
    _watcher: RecommendedWatcher,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

impl Watcher {
    /// Watches every root recursively and hands each batch of changes to `on_batch`, on a
    /// thread of its own, one batch at a time; `on_batch` returns `false` to stop.
    pub(crate) fn start(
        roots: &[PathBuf],
        on_batch: impl FnMut(Batch) -> bool + Send + 'static,
    ) -> Result<Self, notify::Error> {
        let (tx, rx) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| match event {
            Ok(event) if changes_something(&event) => {
                let _ = tx.send(event); // the batching thread has stopped: nothing to do
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "file watcher error"),
        })?;
        std::thread::Builder::new()
            .name("splice-watch".to_owned())
            .spawn(move || deliver(&rx, on_batch))
            .map_err(notify::Error::io)?;
        for root in roots {
            watcher.watch(root, RecursiveMode::Recursive)?;
        }
        Ok(Self { _watcher: watcher })
    }
}

/// Whether an event may mean that something changed on disk: everything but opening, reading
/// and closing without writing.
fn changes_something(event: &Event) -> bool {
    event.need_rescan()
        || !matches!(event.kind, EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write))
}

/// Collects events into batches and hands them over until the watcher is dropped or
/// `on_batch` says stop.
fn deliver(rx: &Receiver<Event>, mut on_batch: impl FnMut(Batch) -> bool) {
    while let Ok(first) = rx.recv() {
        let started = Instant::now();
        let mut batch = Batch::default();
        batch.add(first);
        loop {
            let wait = DEBOUNCE.min(MAX_DELAY.saturating_sub(started.elapsed()));
            match rx.recv_timeout(wait) {
                Ok(event) => batch.add(event),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if !on_batch(batch) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RenameMode};

    #[test]
    fn opening_and_reading_are_not_changes() {
        let event = |kind| Event::new(kind).add_path(PathBuf::from("/w/a.py"));
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
        ] {
            assert!(!changes_something(&event(kind)), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Create(CreateKind::Folder),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Remove(notify::event::RemoveKind::Any),
            EventKind::Any,
        ] {
            assert!(changes_something(&event(kind)), "{kind:?}");
        }
        let lost = Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert!(changes_something(&lost));
    }
}
