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
//! decision above 20 ms. The model's buffers are llama.cpp's own and are left as the system
//! gives them.
//!
//! mimalloc also gives freed memory back to the system by itself, one second after it was freed
//! (`madvise`), on whichever thread next allocates, and the next touch of that memory faults it
//! in again, zeroed. Requests come a second or more apart, so each request gave back what the
//! previous one freed, and faulted it in again. Profiled over LSP (`perf`, a Rust retrieval run,
//! each decision's work on its request's thread), the kernel's share of the decisions' CPU time
//! was 14 % (268 of 1,919 samples), most of it unmapping (`unmap_page_range`), the TLB
//! shootdowns that go with it (an interrupt to the other core, a VM exit here) and page faults.
//! So the server sets mimalloc's purge delay beyond any session ([`PURGE_DELAY_MS`]) and gives
//! freed memory back itself at quiet moments ([`trim_after_activity`]): once the editor has sent
//! nothing for [`TRIM_EVERY`] after some activity. Until then the resident size keeps what the
//! busiest moment since the last quiet one needed.

use std::os::raw::{c_int, c_long};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

/// How often the trimmer looks for activity: it trims once a look finds activity since the
/// last trim and none since the look before.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// mimalloc's purge delay in this server: a day. Freed memory is given back by
/// [`release_free_heap`] at quiet moments, not by whichever thread allocates a second later.
const PURGE_DELAY_MS: c_long = 24 * 3600 * 1000;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (which `libmimalloc-sys` 0.1.49
/// builds; `libmimalloc-sys` names only the older options). `tests/allocator_purge.rs` fails if
/// this stops being the purge delay.
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// Sets the server's allocator up: memory that mimalloc's callers free is given back to the
/// system only by [`release_free_heap`]. Call it first in `main`, before threads start.
pub fn configure_allocator() {
    // SAFETY: sets one of mimalloc's options, an integer it reads when it next purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// A size field of process `pid`'s `/proc/PID/status`, in KiB (`VmRSS` for the resident size,
/// `VmHWM` for its peak); `pid` is a process id or `"self"`. `None` when the process is gone,
/// the field is missing, or not on Linux. Costs one small file read.
pub fn proc_status_kib(pid: impl std::fmt::Display, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

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

/// Runs while `activity` has an owner (the session's backend): looks every [`TRIM_EVERY`], and
/// once there was activity since the last trim but none since the previous look (the editor went
/// quiet), returns free heap memory to the OS on a blocking thread.
pub async fn trim_after_activity(activity: Weak<Activity>) {
    let mut trimmed = activity.upgrade().map_or(0, |a| a.count());
    let mut seen = trimmed;
    loop {
        tokio::time::sleep(TRIM_EVERY).await;
        let Some(now) = activity.upgrade().map(|a| a.count()) else { return };
        if quiet_after_activity(trimmed, seen, now) {
            trimmed = now;
            let _ = tokio::task::spawn_blocking(release_free_heap).await;
        }
        seen = now;
    }
}

/// Whether to trim now: the activity count moved since the last trim (`trimmed`) but not since
/// the previous look (`seen`).
fn quiet_after_activity(trimmed: u64, seen: u64, now: u64) -> bool {
    now != trimmed && now == seen
}

/// Returns free heap memory to the OS: mimalloc's (everything freed since its last purge) and,
/// on glibc, the C library's arenas (`malloc_trim`; llama.cpp allocates there).
pub fn release_free_heap() {
    // SAFETY: a forced collection of mimalloc's free memory; it takes no pointers.
    unsafe { libmimalloc_sys::mi_collect(true) };
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
    fn the_trimmer_waits_for_a_quiet_look_after_activity() {
        // No activity since the last trim: nothing to give back.
        assert!(!quiet_after_activity(5, 5, 5));
        // Activity during the last period: the editor is busy, wait.
        assert!(!quiet_after_activity(5, 5, 9));
        assert!(!quiet_after_activity(5, 7, 9));
        // Activity since the trim, none since the previous look: trim.
        assert!(quiet_after_activity(5, 9, 9));
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
