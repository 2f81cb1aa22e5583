//! A file sink's output written with O_DIRECT, behind the caller.
//!
//! A replay writes its output once and nobody reads it back at once: through
//! the page cache every 4 KiB of it is a fresh page allocated, copied into and
//! later written back and dropped, on the two cores the replay needs. Written
//! with O_DIRECT the device reads the bytes from our buffer instead. O_DIRECT
//! wants block-aligned memory, offsets and lengths, and a direct write lasts
//! until the device has the data; so each batch is copied into an aligned
//! buffer (`submit`, on the caller's thread: the libuv pool from Node) and a
//! writer thread of our own writes whole blocks behind it, while the caller
//! goes on. While the writer thread is busy, batches accumulate in the buffer
//! being filled, so each write gives the device a full buffer. The last
//! partial block stays in memory as the start of the next buffer and is
//! written through the page cache at each `flush`, so a flushed file has
//! every byte; the next direct write rewrites that block whole.
//!
//! Where O_DIRECT is refused (tmpfs, some network file systems: EINVAL), the
//! same writes go through the page cache, still behind the caller.

use std::alloc::{alloc, dealloc, Layout};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Alignment of memory, offsets and lengths for O_DIRECT: a multiple of
/// every logical block size Linux file systems use (512 B or 4 KiB).
pub const BLOCK: usize = 4096;

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86")))]
const O_DIRECT: i32 = 0o40000;
#[cfg(all(target_os = "linux", any(target_arch = "aarch64", target_arch = "arm")))]
const O_DIRECT: i32 = 0o200000;
#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64", target_arch = "arm"))))]
const O_DIRECT: i32 = 0;

/// A block-aligned heap buffer of fixed capacity; `len` bytes are in use.
struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
}

// SAFETY: the buffer is plain owned memory, moved between threads whole.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    fn new(cap: usize) -> Self {
        let layout = Layout::from_size_align(cap, BLOCK).expect("capacity fits a layout");
        // SAFETY: cap > 0 (checked by DirectWriter::open).
        let ptr = NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, cap, len: 0 }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the first `len` bytes were written by `append` / `take_from`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Copies as much of `data` as fits; returns how much.
    fn append(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.cap - self.len);
        // SAFETY: `n` bytes fit after `len`; `data` is not this buffer.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), n) };
        self.len += n;
        n
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), Layout::from_size_align_unchecked(self.cap, BLOCK)) };
    }
}

/// Whole blocks to write at `offset`.
struct Job {
    buf: AlignedBuf,
    offset: u64,
}

struct Queue {
    free: Vec<AlignedBuf>,
    jobs: VecDeque<Job>,
    /// The writer thread holds a job.
    busy: bool,
    /// The first write error (errno); every later call reports it.
    error: i32,
    closing: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere never leaves the queue half-changed: recover it.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The bytes not yet handed to the writer thread: the last partial block.
struct Tail {
    buf: AlignedBuf,
    /// File offset of `buf[0]` (a multiple of BLOCK).
    at: u64,
}

pub struct DirectWriter {
    shared: Arc<Shared>,
    tail: Mutex<Tail>,
    /// Opened without O_DIRECT: the partial last block at a flush.
    cached: File,
    direct: bool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn errno_of(err: &io::Error) -> i32 {
    err.raw_os_error().unwrap_or(5 /* EIO */)
}

impl DirectWriter {
    /// Opens `path` (created when missing) to write after its `size` bytes,
    /// with `buffers` buffers of `buffer_bytes` (a multiple of BLOCK) each:
    /// one fills while the others are written.
    pub fn open(path: &str, size: u64, buffers: usize, buffer_bytes: usize) -> io::Result<DirectWriter> {
        if buffers < 2 || buffer_bytes == 0 || buffer_bytes % BLOCK != 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "at least 2 buffers of a multiple of 4096 bytes"));
        }
        let cached = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let (file, direct) = match OpenOptions::new().write(true).custom_flags(O_DIRECT).open(path) {
            Ok(f) => (f, O_DIRECT != 0),
            Err(e) if e.raw_os_error() == Some(22 /* EINVAL */) => (cached.try_clone()?, false),
            Err(e) => return Err(e),
        };
        // The bytes of a partial last block already in the file start the first buffer.
        let at = size - size % BLOCK as u64;
        let mut first = AlignedBuf::new(buffer_bytes);
        first.len = (size - at) as usize;
        if first.len > 0 {
            // SAFETY: first.len < BLOCK <= cap.
            let head = unsafe { std::slice::from_raw_parts_mut(first.ptr.as_ptr(), first.len) };
            cached.read_exact_at(head, at)?;
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { free: (1..buffers).map(|_| AlignedBuf::new(buffer_bytes)).collect(), jobs: VecDeque::new(), busy: false, error: 0, closing: false }),
            changed: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("ordertail-direct-write".into()).spawn(move || write_jobs(&for_thread, &file))?;
        Ok(DirectWriter { shared, tail: Mutex::new(Tail { buf: first, at }), cached, direct, thread: Mutex::new(Some(thread)) })
    }

    /// Whether writes bypass the page cache (false where O_DIRECT is refused).
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    fn lock_tail(&self) -> MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Copies `chunks` after everything submitted before and queues every
    /// whole block; returns once they are copied (0), or the errno of an
    /// earlier failed write. Waits only while every other buffer is queued.
    pub fn submit(&self, chunks: &[&[u8]]) -> i32 {
        let mut tail = self.lock_tail();
        self.submit_locked(&mut tail, chunks)
    }

    /// `submit` when it can copy without waiting: the buffer being filled is
    /// not in use (a `flush` holds it while the device writes and syncs) and
    /// every buffer it would hand over finds a free one. `None` (nothing
    /// copied) when it might wait: the caller then submits from a thread that
    /// may block.
    pub fn try_submit(&self, chunks: &[&[u8]]) -> Option<i32> {
        let mut tail = match self.tail.try_lock() {
            Ok(tail) => tail,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        // Each hand-over leaves under one block behind, so a buffer takes at
        // least cap - BLOCK new bytes; one more for the last whole blocks.
        let hand_overs = (tail.buf.len + total) / (tail.buf.cap - BLOCK).max(1) + 1;
        {
            // Only the holder of `tail` takes free buffers: none can vanish meanwhile.
            let q = self.shared.lock();
            if q.error != 0 {
                return Some(q.error);
            }
            if q.free.len() < hand_overs {
                return None;
            }
        }
        Some(self.submit_locked(&mut tail, chunks))
    }

    fn submit_locked(&self, tail: &mut Tail, chunks: &[&[u8]]) -> i32 {
        for chunk in chunks {
            let mut rest: &[u8] = chunk;
            while !rest.is_empty() {
                let n = tail.buf.append(rest);
                rest = &rest[n..];
                if tail.buf.len == tail.buf.cap {
                    if let Err(errno) = self.hand_over(tail) {
                        return errno;
                    }
                }
            }
        }
        // Whole blocks go to the writer now only if it is idle (the device
        // must not wait for us); else they stay and the buffer fills further,
        // so the device gets a buffer's worth per write, not a batch's, and
        // every queued buffer is full.
        if tail.buf.len >= BLOCK && self.writer_idle() {
            if let Err(errno) = self.hand_over(tail) {
                return errno;
            }
        }
        self.shared.lock().error
    }

    /// No write under way or queued.
    fn writer_idle(&self) -> bool {
        let q = self.shared.lock();
        !q.busy && q.jobs.is_empty()
    }

    /// Queues the tail buffer's whole blocks; a free buffer takes the rest.
    fn hand_over(&self, tail: &mut Tail) -> Result<(), i32> {
        let mut next = {
            let mut q = self.shared.lock();
            loop {
                if q.error != 0 {
                    return Err(q.error);
                }
                if let Some(b) = q.free.pop() {
                    break b;
                }
                q = self.shared.changed.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let whole = tail.buf.len - tail.buf.len % BLOCK;
        next.len = 0;
        next.append(&tail.buf.bytes()[whole..]);
        tail.buf.len = whole;
        let full = std::mem::replace(&mut tail.buf, next);
        let job = Job { buf: full, offset: tail.at };
        tail.at += whole as u64;
        self.shared.lock().jobs.push_back(job);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Waits for every queued write and writes the partial last block
    /// through the page cache: then every byte submitted is in the file; with
    /// `sync`, the file's data is synced too: then it is on disk. Returns 0
    /// or an errno.
    pub fn flush(&self, sync: bool) -> i32 {
        let mut tail = self.lock_tail();
        // Whole blocks still in the buffer are written direct like the rest.
        if tail.buf.len >= BLOCK {
            if let Err(errno) = self.hand_over(&mut tail) {
                return errno;
            }
        }
        {
            let mut q = self.shared.lock();
            while q.error == 0 && (q.busy || !q.jobs.is_empty()) {
                q = self.shared.changed.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.error != 0 {
                return q.error;
            }
        }
        if tail.buf.len > 0 {
            if let Err(e) = self.cached.write_all_at(tail.buf.bytes(), tail.at) {
                return self.fail(errno_of(&e));
            }
        }
        if !sync {
            return 0;
        }
        match self.cached.sync_data() {
            Ok(()) => 0,
            // A special file (a FIFO, /dev/null) cannot be synced: nothing is lost.
            Err(e) if e.raw_os_error() == Some(22 /* EINVAL */) => 0,
            Err(e) => self.fail(errno_of(&e)),
        }
    }

    fn fail(&self, errno: i32) -> i32 {
        let mut q = self.shared.lock();
        if q.error == 0 {
            q.error = errno;
        }
        q.error
    }

    /// Stops the writer thread once its queue is written (call flush first
    /// to have the partial last block written too).
    pub fn close(&self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for DirectWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: each job's whole blocks at its offset, in queue order.
fn write_jobs(shared: &Shared, file: &File) {
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    q.busy = true;
                    break job;
                }
                if q.closing {
                    return;
                }
                q = shared.changed.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let result = file.write_all_at(job.buf.bytes(), job.offset);
        let mut q = shared.lock();
        q.busy = false;
        if let Err(e) = result {
            if q.error == 0 {
                q.error = errno_of(&e);
            }
            // Nothing after a failed write may land: the file would have a hole.
            q.jobs.clear();
        }
        q.free.push(job.buf);
        drop(q);
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ordertail-direct-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        dir
    }

    #[test]
    fn every_byte_in_order_across_buffers_and_flushes() {
        let path = temp("order");
        std::fs::write(&path, b"existing head 123").unwrap();
        let w = DirectWriter::open(path.to_str().unwrap(), 17, 2, 2 * BLOCK).unwrap();
        let mut expected = b"existing head 123".to_vec();
        let mut n = 0u32;
        for round in 0..40 {
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            for c in 0..(round % 5 + 1) {
                let mut line = Vec::new();
                for _ in 0..(round * 37 + c * 301) % 3000 {
                    line.extend_from_slice(format!("{n},").as_bytes());
                    n += 1;
                }
                line.push(b'\n');
                chunks.push(line);
            }
            let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
            assert_eq!(w.submit(&refs), 0);
            for c in &chunks {
                expected.extend_from_slice(c);
            }
            if round % 7 == 3 {
                assert_eq!(w.flush(round % 2 == 0), 0);
                assert_eq!(std::fs::read(&path).unwrap(), expected, "after flush in round {round}");
            }
        }
        assert_eq!(w.flush(true), 0);
        w.close();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn try_submit_copies_only_when_no_buffer_is_waited_for() {
        let path = temp("try");
        let w = DirectWriter::open(path.to_str().unwrap(), 0, 2, 2 * BLOCK).unwrap();
        // One free buffer: three blocks need more hand-overs than that.
        let big = vec![b'b'; 3 * BLOCK];
        assert_eq!(w.try_submit(&[&big]), None);
        assert_eq!(w.flush(false), 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"", "nothing copied when it would wait");
        let mut expected = Vec::new();
        let (mut now, mut waited) = (0, 0);
        for round in 0..200u32 {
            let line = format!("{round}:{}\n", "x".repeat((round as usize * 613) % 5000));
            match w.try_submit(&[line.as_bytes()]) {
                Some(errno) => {
                    assert_eq!(errno, 0);
                    now += 1;
                }
                None => {
                    assert_eq!(w.submit(&[line.as_bytes()]), 0);
                    waited += 1;
                }
            }
            expected.extend_from_slice(line.as_bytes());
        }
        assert_eq!(w.flush(true), 0);
        w.close();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert!(now > 0 && waited > 0, "both paths taken: {now} copied at once, {waited} submitted");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn try_submit_does_not_wait_for_a_flush_under_way() {
        let path = temp("flushing");
        let w = DirectWriter::open(path.to_str().unwrap(), 0, 4, 2 * BLOCK).unwrap();
        // What a flush on another thread holds while the device syncs.
        let held = w.lock_tail();
        assert_eq!(w.try_submit(&[b"{\"id\":1}\n"]), None);
        drop(held);
        assert_eq!(w.try_submit(&[b"{\"id\":1}\n"]), Some(0));
        assert_eq!(w.flush(true), 0);
        w.close();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"id\":1}\n");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_failed_write_is_reported_and_later_calls_too() {
        // /dev/full refuses every write with ENOSPC (28).
        let w = DirectWriter::open("/dev/full", 0, 2, BLOCK).unwrap();
        let data = vec![b'x'; 3 * BLOCK];
        let mut errno = w.submit(&[&data]);
        if errno == 0 {
            errno = w.flush(true);
        }
        assert_eq!(errno, 28);
        assert_eq!(w.submit(&[b"more"]), 28);
        assert_eq!(w.flush(true), 28);
    }

    #[test]
    fn refuses_unaligned_buffers() {
        assert!(DirectWriter::open("/dev/null", 0, 2, 1000).is_err());
        assert!(DirectWriter::open("/dev/null", 0, 1, BLOCK).is_err());
    }
}
