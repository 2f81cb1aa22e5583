//! Committing the dedup table's memory ahead of its inserts.
//!
//! A fresh table is untouched zero memory, so each insert that lands on a new
//! 4 KiB page takes a page fault first. Those faults were most of the time of
//! random inserts into a fresh table, and populating all its pages with
//! madvise costs less than taking them one by one (and runs on another
//! thread). Huge pages (MADV_HUGEPAGE) were as fast when the kernel had them
//! ready but sometimes stalled in compaction, so they are not used: a stall
//! like that is a latency spike in follow mode. (Measured by hand; figures in
//! bench/RESULTS.md.)

/// Populates (faults in, writable, contents unchanged) every whole page of
/// `[ptr, ptr + len)` on a new background thread, so the caller's inserts
/// find them present. `MADV_POPULATE_WRITE` needs Linux 5.14; elsewhere, or
/// when it fails, pages are faulted in on first use as before. Returns
/// whether the thread was started.
///
/// The thread only gets the address: if the memory were freed meanwhile,
/// madvise fails (ENOMEM) or populates whatever is mapped there now, which
/// changes no data.
pub fn populate_in_background(ptr: *const u8, len: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        const MADV_POPULATE_WRITE: i32 = 23;
        // One madvise call holds the process's mmap lock (read) for the whole
        // range it populates. A thread that maps or unmaps memory meanwhile
        // (V8 growing its heap, malloc) queues for the write side, and every
        // page fault of every thread then queues behind it: with one call for
        // a whole table, small writes of the file sink stalled behind it
        // (measured by hand, figures in bench/RESULTS.md). Steps of 1 MiB let
        // those threads in between.
        const POPULATE_STEP: usize = 1 << 20;
        extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, length: usize, advice: i32) -> i32;
        }
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + len) & !(PAGE - 1);
        if end <= start {
            return false;
        }
        std::thread::Builder::new()
            .name("ordertail-populate".into())
            .spawn(move || {
                let mut at = start;
                while at < end {
                    let len = POPULATE_STEP.min(end - at);
                    // SAFETY: advice only; see above for why a stale range is harmless.
                    if unsafe { madvise(at as *mut std::ffi::c_void, len, MADV_POPULATE_WRITE) } != 0 {
                        return;
                    }
                    at += len;
                }
            })
            .is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, len);
        false
    }
}
