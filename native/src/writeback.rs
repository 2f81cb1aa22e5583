//! Writing a sink file back to disk and dropping what is on disk from the
//! page cache, in one call on the libuv thread pool.
//!
//! A replay writes the deduplicated stream as fast as it reads; kept in the
//! page cache, gigabytes of output nobody reads again push out what is worth
//! caching (the input logs), and every new page of it is a fresh allocation.
//! On the shared VM that allocation is what a write costs, and its time swung
//! widely from run to run; when each synced stretch was dropped
//! (POSIX_FADV_DONTNEED) the same writes took the short time in every run,
//! because the next writes then reuse the pages just freed. (Measured by hand
//! with a write loop; bench/e2e-once.ts and bench/dedup-replay.ts run the
//! real sink. Figures in bench/RESULTS.md.)

/// `fdatasync(fd)`, then, when that succeeded, drops the cached pages of
/// `[from, to)` (now clean: they are on disk). Returns 0, or the errno of the
/// fdatasync; the drop is advice, and its failure changes nothing. Linux only
/// drops; elsewhere this is fdatasync (fsync where there is none).
pub fn write_back_and_drop(fd: i32, from: i64, to: i64) -> i32 {
    extern "C" {
        #[cfg_attr(not(any(target_os = "linux", target_os = "android")), link_name = "fsync")]
        fn fdatasync(fd: i32) -> i32;
    }
    // SAFETY: plain syscall on a descriptor number; a closed or foreign
    // descriptor gives EBADF, never undefined behaviour.
    if unsafe { fdatasync(fd) } != 0 {
        return std::io::Error::last_os_error().raw_os_error().unwrap_or(-1);
    }
    #[cfg(target_os = "linux")]
    if to > from && from >= 0 {
        const POSIX_FADV_DONTNEED: i32 = 4;
        extern "C" {
            fn posix_fadvise(fd: i32, offset: i64, len: i64, advice: i32) -> i32;
        }
        // SAFETY: advice only; an invalid range or descriptor is an error code.
        let _ = unsafe { posix_fadvise(fd, from, to - from, POSIX_FADV_DONTNEED) };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn syncs_and_reports_errors() {
        let path = std::env::temp_dir().join(format!("ordertail-writeback-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).expect("temp file");
        f.write_all(&[b'x'; 1 << 16]).expect("write");
        assert_eq!(write_back_and_drop(f.as_raw_fd(), 0, 1 << 16), 0);
        assert_eq!(std::fs::read(&path).expect("read back").len(), 1 << 16);
        drop(f);
        std::fs::remove_file(&path).expect("remove");
        // EBADF (9 on Linux and macOS): reported, not hidden.
        assert_eq!(write_back_and_drop(-1, 0, 1), 9);
    }
}

/// An exclusive, non-blocking `flock` on `fd`'s open file: 0 when taken,
/// else the errno (EWOULDBLOCK: another open file of it holds one). The lock
/// goes with the open file (closing the descriptor, or the process dying,
/// releases it), so two engines can never write one output file, and a
/// killed one never leaves it locked.
pub fn try_lock_exclusive(fd: i32) -> i32 {
    const LOCK_EX: i32 = 2;
    const LOCK_NB: i32 = 4;
    extern "C" {
        fn flock(fd: i32, operation: i32) -> i32;
    }
    // SAFETY: plain syscall on a descriptor number; a bad one gives EBADF.
    if unsafe { flock(fd, LOCK_EX | LOCK_NB) } != 0 {
        return std::io::Error::last_os_error().raw_os_error().unwrap_or(-1);
    }
    0
}

#[cfg(test)]
mod lock_tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn one_open_file_holds_the_lock_until_closed() {
        let path = std::env::temp_dir().join(format!("ordertail-flock-{}", std::process::id()));
        let first = std::fs::File::create(&path).expect("temp file");
        let second = std::fs::OpenOptions::new().append(true).open(&path).expect("second open");
        assert_eq!(try_lock_exclusive(first.as_raw_fd()), 0);
        // Taking it again through the same open file is fine; another open file is refused.
        assert_eq!(try_lock_exclusive(first.as_raw_fd()), 0);
        assert_eq!(try_lock_exclusive(second.as_raw_fd()), 11);
        drop(first);
        assert_eq!(try_lock_exclusive(second.as_raw_fd()), 0);
        drop(second);
        std::fs::remove_file(&path).expect("remove");
    }
}
