//! The server's allocator gives freed memory back to the system only when the server says so
//! (`splice_server::memory`): not by itself a second after a request freed it, on the thread of
//! the next request, but at a quiet moment, all at once. Its own process: it reads the resident
//! size.
#![cfg(target_os = "linux")]

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::time::Duration;

/// Bytes of one block, and how many blocks are made and freed.
const BLOCK: usize = 1 << 20;
const BLOCKS: usize = 96;

/// This process's resident bytes.
fn resident_bytes() -> usize {
    let kib = splice_server::memory::proc_status_kib("self", "VmRSS").expect("VmRSS of /proc/self/status");
    kib as usize * 1024
}

#[test]
fn freed_memory_stays_until_the_server_releases_it() {
    splice_server::memory::configure_allocator();
    let layout = Layout::from_size_align(BLOCK, 64).expect("layout");
    // SAFETY: non-zero sizes; each block is written within its size and freed once, with its
    // layout, by the allocator that made it.
    let blocks: Vec<*mut u8> = (0..BLOCKS)
        .map(|_| unsafe {
            let block = MiMalloc.alloc(layout);
            assert!(!block.is_null());
            std::ptr::write_bytes(block, 1, BLOCK);
            block
        })
        .collect();
    let full = resident_bytes();
    for block in blocks {
        // SAFETY: see above.
        unsafe { MiMalloc.dealloc(block, layout) };
    }
    // mimalloc by itself would give the freed pages back once its purge delay (a second) has
    // passed, at the next collection, as allocating does now and then.
    // SAFETY: collections take no pointers.
    unsafe { libmimalloc_sys::mi_collect(false) };
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: as above.
    unsafe { libmimalloc_sys::mi_collect(false) };
    let waited = resident_bytes();
    assert!(
        waited + BLOCKS * BLOCK / 4 > full,
        "freed memory went back by itself: {} MiB resident with the blocks, {} MiB after",
        full >> 20,
        waited >> 20
    );
    splice_server::memory::release_free_heap();
    let released = resident_bytes();
    assert!(
        released + BLOCKS * BLOCK / 2 < full,
        "release_free_heap gave back too little: {} MiB resident with the blocks, {} MiB after",
        full >> 20,
        released >> 20
    );
}
