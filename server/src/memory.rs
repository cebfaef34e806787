//! Gives heap memory the server freed back to the operating system.
//!
//! glibc keeps freed memory in its arenas (one per thread that allocated, up to eight per core,
//! and tokio's blocking pool starts and ends threads all the time), so a long session's resident
//! size creeps up with every peak of transient work (prompt windows, retrieval, re-chunking)
//! although nothing leaks: in a soak, `malloc_trim` gave back 23 MB of a 250 MB heap. After
//! activity, the server trims once the next quiet moment comes.
//!
//! The server's own memory comes from mimalloc, built without transparent huge pages (the
//! workspace's `mimalloc` dependency turns on `no_thp`). By default mimalloc advises its memory
//! into 2 MB pages, so the first touch of fresh memory zeroes 2 MB at once. Where that memory
//! must first come back from the host (a VM whose freed pages the host took back), one such
//! fault took milliseconds. Profiled over LSP (`perf`, a Rust retrieval run), it was 1,088 of the
//! tantivy indexing thread's 1,351 samples and 459 of the request threads' 786, and every retrieval
//! decision above 20 ms. Freed memory is still given back after mimalloc's purge delay; a
//! run with no purging at all was no faster. The model's buffers are llama.cpp's own and are
//! left as the system gives them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

/// How often the trimmer looks for activity since its last trim.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Counts units of work (requests, edits); the trimmer trims only after some.
#[derive(Debug, Default)]
pub struct Activity(AtomicU64);

impl Activity {
    /// Records one unit of work.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs while `activity` has an owner (the session's backend): every [`TRIM_EVERY`], if there
/// was activity since the last look, returns free heap memory to the OS on a blocking thread.
pub async fn trim_after_activity(activity: Weak<Activity>) {
    let mut seen = activity.upgrade().map_or(0, |a| a.count());
    loop {
        tokio::time::sleep(TRIM_EVERY).await;
        let Some(now) = activity.upgrade().map(|a| a.count()) else { return };
        if now != seen {
            seen = now;
            let _ = tokio::task::spawn_blocking(release_free_heap).await;
        }
    }
}

/// Returns the free memory of every malloc arena to the OS (glibc's `malloc_trim`); nothing on
/// other platforms.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags of the mapping that holds `address`, from `/proc/self/smaps` (`VmFlags`).
    #[cfg(target_os = "linux")]
    fn mapping_flags(address: usize) -> Vec<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut inside = false;
        for line in smaps.lines() {
            // A mapping's first line begins with its address range, `start-end` in hex.
            let range = line.split_whitespace().next().and_then(|field| field.split_once('-'));
            if let Some((Ok(start), Ok(end))) =
                range.map(|(start, end)| (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)))
            {
                inside = (start..end).contains(&address);
                continue;
            }
            if let Some(flags) = line.strip_prefix("VmFlags:").filter(|_| inside) {
                return flags.split_whitespace().map(str::to_owned).collect();
            }
        }
        panic!("no mapping holds {address:#x}")
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_allocators_memory_is_never_advised_into_huge_pages() {
        use std::alloc::{GlobalAlloc, Layout};
        // Blocks of several sizes, as parsing, indexing and searching make them; each touched.
        for size in [64usize, 4 << 10, 256 << 10, 4 << 20, 24 << 20] {
            let layout = Layout::from_size_align(size, 64).expect("layout");
            // SAFETY: a non-zero size; the block is written within its size and freed with the
            // same layout by the same allocator.
            unsafe {
                let block = mimalloc::MiMalloc.alloc(layout);
                assert!(!block.is_null());
                std::ptr::write_bytes(block, 1, size);
                let flags = mapping_flags(block as usize);
                mimalloc::MiMalloc.dealloc(block, layout);
                assert!(
                    !flags.iter().any(|flag| flag == "hg"),
                    "a {size}-byte block lies in memory advised into huge pages (VmFlags {flags:?})"
                );
            }
        }
    }

    #[test]
    fn releasing_free_memory_is_safe_at_any_time() {
        let garbage: Vec<Vec<u8>> = (0..1000).map(|i| vec![i as u8; 4096]).collect();
        drop(garbage);
        release_free_heap();
        let kept = vec![7u8; 1 << 20];
        release_free_heap();
        assert!(kept.iter().all(|b| *b == 7), "live memory is untouched");
    }
}
