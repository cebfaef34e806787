//! Bringing a root's index in line with the disk: the whole root (a sync), or the part at one
//! path (a watcher event, a refresh when the editor closes a file).
//!
//! The rule, whatever caused the look: what the disk holds at the path now decides.
//!
//! - a file that exists is re-read if its (mtime, size) differs from its stamp (the editor's
//!   text has a stamp no disk file matches), or dropped if the rules exclude it;
//! - a directory that exists is walked like the root and its files synced the same way; a
//!   directory the rules exclude (hidden, ignored, the index's own folder) drops what is under it;
//! - a path that no longer exists drops every file indexed at or under it.
//!
//! Files the editor holds ([`Root::hold`]) are left alone: while the editor has sent its text
//! for a file, that text is the input, until [`Root::release`] (the editor closed the file).

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use crate::chunk::chunk_file;
use crate::rules::WalkedFile;
use crate::store::{is_at_or_under, lock, FileState, Stamp};
use crate::workspace::Root;
use crate::{IndexError, SyncReport};

impl Root {
    /// Re-examines the disk at `under` (relative to the root; the whole root when `None`) and
    /// updates the index to match, counting into `report`. Returns how many changes it wrote
    /// and has not committed.
    pub(crate) fn reconcile(&self, under: Option<&str>, report: &mut SyncReport) -> Result<usize, IndexError> {
        let path = under.map_or_else(|| self.canonical.clone(), |rel| self.canonical.join(rel));
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return Ok(self.drop_unheld(self.store.files_under(under), report));
        };
        if !meta.is_dir() {
            let Some(rel) = under else {
                // The root is no directory now: nothing of it is left.
                return Ok(self.drop_unheld(self.store.files_under(None), report));
            };
            // Nothing can be under a file: whatever the index holds there went with a directory.
            let below = self.store.files_under(Some(rel)).into_iter().filter(|f| f != rel);
            let dropped = self.drop_unheld(below.collect(), report);
            return Ok(dropped + self.reconcile_file(rel, &meta, report)?);
        }
        if let Some(rel) = under {
            if let Err(why) = self.rules.admit_dir(&self.canonical, Path::new(rel)) {
                tracing::trace!(path = rel, %why, "directory not indexed");
                return Ok(self.drop_unheld(self.store.files_under(under), report));
            }
        }
        let walked = self.rules.walk_under(&self.canonical, &path);
        self.sync_walked(under, walked, report, &mut |_| Ok(()))
    }

    /// Syncs what a walk of `under` found with what the index holds there: files whose stamp
    /// changed are re-read, indexed files the walk did not find are dropped. `each` runs after
    /// every file with the count of uncommitted changes (a sync commits and reports progress
    /// there). Returns the changes left uncommitted.
    pub(crate) fn sync_walked(
        &self,
        under: Option<&str>,
        walked: Vec<WalkedFile>,
        report: &mut SyncReport,
        each: &mut dyn FnMut(&mut usize) -> Result<(), IndexError>,
    ) -> Result<usize, IndexError> {
        let held = lock(&self.editor).clone();
        let mut known: HashSet<String> = self.store.files_under(under).into_iter().collect();
        let mut pending = 0;
        report.files_seen += walked.len() as u64;
        for file in walked {
            known.remove(&file.rel);
            if held.contains(&file.rel) {
                report.files_unchanged += 1;
            } else {
                pending += self.sync_file(&file, self.store.file(&file.rel), report)?;
            }
            each(&mut pending)?;
        }
        Ok(pending + self.drop_unheld(known.into_iter().collect(), report))
    }

    /// One file path that exists on disk and is not a directory.
    fn reconcile_file(&self, rel: &str, meta: &fs::Metadata, report: &mut SyncReport) -> Result<usize, IndexError> {
        if self.is_held(rel) {
            return Ok(0);
        }
        let kind = match self.rules.admit_name(&self.canonical, Path::new(rel)) {
            Ok(kind) => kind,
            Err(why) => {
                tracing::trace!(path = rel, %why, "not indexed");
                return Ok(self.drop_unheld(vec![rel.to_owned()], report));
            }
        };
        report.files_seen += 1;
        let file = WalkedFile { rel: rel.to_owned(), kind, mtime: crate::rules::mtime_nanos(meta), size: meta.len() };
        self.sync_file(&file, self.store.file(rel), report)
    }

    /// Re-reads one admitted file unless the index holds exactly its disk text; returns the
    /// changes written (0 or 1).
    fn sync_file(
        &self,
        file: &WalkedFile,
        previous: Option<FileState>,
        report: &mut SyncReport,
    ) -> Result<usize, IndexError> {
        if previous.is_some_and(|p| p.is_disk(file.mtime, file.size)) {
            report.files_unchanged += 1;
            return Ok(0);
        }
        match self.rules.read(&self.canonical, Path::new(&file.rel)) {
            Ok((text, mtime, size)) => {
                let chunks = chunk_file(file.kind, &text);
                self.store.put_file(&file.rel, &chunks, Stamp::Disk { mtime, size })?;
                tracing::trace!(path = %file.rel, chunks = chunks.len(), "indexed from disk");
                report.files_indexed += 1;
                report.chunks_written += chunks.len() as u64;
                Ok(1)
            }
            Err(why) => {
                tracing::trace!(path = %file.rel, %why, "not indexed");
                report.files_skipped += 1;
                Ok(usize::from(self.store.delete_file(&file.rel)))
            }
        }
    }

    /// Drops these indexed files unless the editor holds them; returns how many it dropped.
    fn drop_unheld(&self, files: Vec<String>, report: &mut SyncReport) -> usize {
        let held = lock(&self.editor);
        let mut dropped = 0;
        for rel in files.iter().filter(|f| !held.contains(*f)) {
            if self.store.delete_file(rel) {
                tracing::trace!(path = %rel, "dropped from the index");
                dropped += 1;
            }
        }
        report.files_removed += dropped as u64;
        dropped
    }

    /// The editor has sent its text for `rel`: leave the file to it until [`Root::release`].
    pub(crate) fn hold(&self, rel: &str) {
        lock(&self.editor).insert(rel.to_owned());
    }

    /// The editor let go of `under` and of anything under it (of everything when `None`): the
    /// disk decides again.
    pub(crate) fn release(&self, under: Option<&str>) {
        match under {
            Some(rel) => lock(&self.editor).retain(|held| !is_at_or_under(held, rel)),
            None => lock(&self.editor).clear(),
        }
        self.chunkers.forget(|held| under.is_none_or(|rel| is_at_or_under(held, rel)));
    }

    fn is_held(&self, rel: &str) -> bool {
        lock(&self.editor).contains(rel)
    }
}

/// Where a changed path asks to look, relative to its root (`None`: the whole root). A changed
/// ignore file re-decides its whole directory; `.git/info/exclude`, the whole root.
pub(crate) fn look_at(rel: Option<String>) -> Option<String> {
    let rel = rel?;
    if rel == ".git/info/exclude" {
        return None;
    }
    match rel.rsplit_once('/') {
        Some((dir, ".gitignore" | ".ignore")) => Some(dir.to_owned()),
        None if rel == ".gitignore" || rel == ".ignore" => None,
        _ => Some(rel),
    }
}

/// The places of one batch worth looking at: a path under another one of the batch is covered
/// by it (looking at a directory re-examines everything under it), and the whole root covers
/// all.
pub(crate) fn outermost(places: Vec<Option<String>>) -> Vec<Option<String>> {
    let mut rels: Vec<String> = match places.into_iter().collect::<Option<Vec<_>>>() {
        Some(rels) => rels,
        None => return vec![None],
    };
    rels.sort_by_key(|rel| rel.matches('/').count());
    let mut kept: HashSet<String> = HashSet::new();
    for rel in rels {
        let covered = rel.match_indices('/').any(|(i, _)| kept.contains(&rel[..i])) || kept.contains(&rel);
        if !covered {
            kept.insert(rel);
        }
    }
    let mut kept: Vec<String> = kept.into_iter().collect();
    kept.sort();
    kept.into_iter().map(Some).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(rels: &[&str]) -> Vec<Option<String>> {
        rels.iter().map(|r| Some((*r).to_owned())).collect()
    }

    #[test]
    fn a_directory_covers_the_paths_under_it() {
        let places = some(&["src/pkg/a.py", "src/pkg", "src/pkg-b/c.py", "src/pkgs", "docs/x.md", "src/pkg/sub/d.py"]);
        assert_eq!(outermost(places), some(&["docs/x.md", "src/pkg", "src/pkg-b/c.py", "src/pkgs"]));
        assert_eq!(outermost(vec![Some("a.py".to_owned()), None]), vec![None]);
        assert!(outermost(Vec::new()).is_empty());
    }

    #[test]
    fn an_ignore_file_points_at_its_directory() {
        let at = |rel: &str| look_at(Some(rel.to_owned()));
        assert_eq!(at("src/.gitignore"), Some("src".to_owned()));
        assert_eq!(at("src/deep/.ignore"), Some("src/deep".to_owned()));
        assert_eq!(at(".gitignore"), None);
        assert_eq!(at(".git/info/exclude"), None);
        assert_eq!(at("src/app.py"), Some("src/app.py".to_owned()));
        assert_eq!(look_at(None), None);
    }
}
