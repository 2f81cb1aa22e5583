//! Node-API surface: the `NativeParserConfig` handle (compiled configuration
//! plus scratch memory, created once per worker) and `parseChunk`, one call per
//! chunk that writes the slots straight into the caller's Int32Array; plus the
//! dedup batch insert (`dedupSlots`), the table's page population and the file
//! sink's write-back (`writeBackAndDrop`) and O_DIRECT writer
//! (`NativeDirectWriter`, one call per batch); and the PostgreSQL sink's
//! direct rows (`encodeDirectRows`), one call per chunk.
//!
//! Typed arrays arrive as slices from `napi_get_typedarray_info`, which works
//! the same for views over an ArrayBuffer or a SharedArrayBuffer; no JS object
//! is created per record and nothing is copied out of the input.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::fields::Config;
use crate::record::Mode;
use crate::Parser;

/// Configuration compiled for the native parser, with its scratch buffers.
#[napi]
pub struct NativeParserConfig {
    parser: Parser,
}

#[napi]
impl NativeParserConfig {
    /// `keyFields` and `eventTimeField` are UTF-8 bytes (as in `ParseConfig`).
    /// `mode` (tests and benchmarks only): 0 = auto (default), 1 = simd-json
    /// first for every record, 2 = scanner only. `markLfFollows`: Lines
    /// framing also sets StatusFlag.LF_FOLLOWS (the parse worker's request).
    #[napi(constructor)]
    pub fn new(
        key_fields: Vec<Uint8Array>,
        event_time_field: Uint8Array,
        max_record_bytes: f64,
        mode: Option<u32>,
        mark_lf_follows: Option<bool>,
    ) -> Result<Self> {
        if max_record_bytes.is_nan() || max_record_bytes < 0.0 {
            return Err(Error::new(Status::InvalidArg, "maxRecordBytes must be a number >= 0"));
        }
        let cfg = Config {
            key_fields: key_fields.iter().map(|k| k.to_vec()).collect(),
            event_time_field: event_time_field.to_vec(),
            // Saturating: Infinity or 2^53 both mean "no limit" for a u32-indexed input.
            max_record_bytes: max_record_bytes.min(usize::MAX as f64) as usize,
        };
        let mode = match mode.unwrap_or(0) {
            0 => Mode::Auto,
            1 => Mode::Simd,
            2 => Mode::Scalar,
            m => return Err(Error::new(Status::InvalidArg, format!("unknown mode {m}"))),
        };
        let mut parser = Parser::with_mode(&cfg, mode);
        parser.mark_lf_follows = mark_lf_follows.unwrap_or(false);
        Ok(NativeParserConfig { parser })
    }
}

/// Parses `input[start, end)` into `out` (8 Int32 words per slot) and fills
/// `state` (consumedEnd, carryPhase, slots) — see contract.ts.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn parse_chunk(
    config: &mut NativeParserConfig,
    input: Uint8ArraySlice,
    start: f64,
    end: f64,
    framing: u32,
    is_final: bool,
    carry_phase: u32,
    mut out: Int32ArraySlice,
    mut state: Float64ArraySlice,
) -> Result<()> {
    let index = |v: f64| (v >= 0.0 && v.fract() == 0.0 && v <= input.len() as f64).then_some(v as usize);
    let (Some(start), Some(end)) = (index(start), index(end)) else {
        return Err(Error::new(
            Status::InvalidArg,
            "start/end must be integers within input",
        ));
    };
    // `out` is written while `input` is read and `state` written: views over
    // overlapping memory would alias a `&mut` slice.
    let span = |p: *const u8, bytes: usize| (p as usize, p as usize + bytes);
    let (o0, o1) = span(out.as_ptr().cast(), out.len() * 4);
    let (s0, s1) = span(state.as_ptr().cast(), state.len() * 8);
    let (i0, i1) = span(input.as_ptr(), input.len());
    let overlaps = |a0: usize, a1: usize, b0: usize, b1: usize| a0 < b1 && b0 < a1;
    if overlaps(o0, o1, s0, s1) || overlaps(o0, o1, i0, i1) || overlaps(s0, s1, i0, i1) {
        return Err(Error::new(Status::InvalidArg, "input, out and state must not overlap"));
    }
    // SAFETY: the slices alias JS memory (possibly a SharedArrayBuffer). The
    // calling thread is blocked in this call, and the worker protocol gives
    // this worker exclusive use of `out`/`state` and a stable, unwritten
    // `input[start, end)` for its duration; the three views were just checked
    // not to overlap, and the parser never writes `input`.
    let (out, state) = unsafe { (out.as_mut(), state.as_mut()) };
    config
        .parser
        .parse_chunk_into(&input, start, end, framing, is_final, carry_phase, out, state)
        .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
}

/// Inserts the keyed result slots `slots[first, count)` into the dedup table
/// whose whole SharedArrayBuffer `table` views, writing one verdict byte per
/// slot; `state` is the inserting handle's watermark view (value, published,
/// step), read and written back. Returns the first slot not handled (`count`
/// when all were) — see crate::dedup::insert_slots.
#[napi]
pub fn dedup_slots(
    table: Int32ArraySlice,
    slots: Int32ArraySlice,
    first: u32,
    count: u32,
    arrival: f64,
    mut state: Float64ArraySlice,
    mut verdicts: Uint8ArraySlice,
) -> Result<u32> {
    use crate::contract::SLOT_WORDS;
    use crate::dedup::{insert_slots, DedupError, Table, WM_STATE_WORDS};
    let refuse = |e: DedupError| Error::new(Status::InvalidArg, e.to_string());
    let (first, count) = (first as usize, count as usize);
    if first > count || slots.len() < count * SLOT_WORDS {
        return Err(refuse(DedupError::SlotsTooShort));
    }
    if verdicts.len() < count {
        return Err(refuse(DedupError::VerdictsTooShort));
    }
    if state.len() < WM_STATE_WORDS {
        return Err(refuse(DedupError::StateTooShort));
    }
    // SAFETY: `table` views a DedupTable's SharedArrayBuffer, which outlives
    // the call; other threads touch it only through the bucket/seqlock
    // protocol that insert_slots follows. `slots`, `state` and `verdicts`
    // belong to the calling (blocked) thread for the call's duration.
    unsafe {
        let table = Table::attach(table.as_ptr() as *mut u8, table.len() * 4).map_err(refuse)?;
        let slot_words = slots.as_ptr() as *mut i32;
        let done = insert_slots(&table, slot_words, first, count, arrival, state.as_mut(), verdicts.as_mut());
        Ok(done as u32)
    }
}

/// Faults in the pages of `view` (the dedup table) on a background thread, so
/// inserts do not take one page fault per new 4 KiB page; see crate::memory.
/// Returns whether the thread started.
#[napi]
pub fn populate_in_background(view: Uint8ArraySlice) -> bool {
    crate::memory::populate_in_background(view.as_ptr(), view.len())
}

/// Work for the libuv thread pool whose result is an errno (0: done):
/// the promise resolves to it and never rejects.
pub struct ErrnoTask(Box<dyn FnMut() -> i32 + Send>);

impl ErrnoTask {
    fn task(work: impl FnMut() -> i32 + Send + 'static) -> AsyncTask<ErrnoTask> {
        AsyncTask::new(ErrnoTask(Box::new(work)))
    }
}

impl Task for ErrnoTask {
    type Output = i32;
    type JsValue = i32;

    fn compute(&mut self) -> Result<i32> {
        Ok((self.0)())
    }

    fn resolve(&mut self, _env: Env, errno: i32) -> Result<i32> {
        Ok(errno)
    }
}

/// fdatasync `fd`, then drop the page cache of `[from, to)`, off the main
/// thread. Resolves to 0 or the fdatasync's errno (never rejects).
#[napi]
pub fn write_back_and_drop(fd: i32, from: f64, to: f64) -> AsyncTask<ErrnoTask> {
    ErrnoTask::task(move || crate::writeback::write_back_and_drop(fd, from as i64, to as i64))
}

/// An exclusive, non-blocking flock on `fd`'s open file: 0, or the errno
/// (EWOULDBLOCK when another open file of it holds one).
#[napi]
pub fn try_lock_exclusive(fd: i32) -> i32 {
    crate::writeback::try_lock_exclusive(fd)
}

/// A PostgreSQL sink's mapped columns, compiled for `encodeDirectRows`.
#[napi]
pub struct NativeDirectRows {
    rows: crate::pg_copy::DirectRows,
}

#[napi]
impl NativeDirectRows {
    /// `fields`: each mapped column's JSON field (UTF-8); `types`: per column,
    /// 0 = other, 1 = numeric, 2 = jsonb (crate::pg_copy::COLUMN_*).
    #[napi(constructor)]
    pub fn new(fields: Vec<Uint8Array>, types: Vec<u32>) -> Result<Self> {
        if fields.len() != types.len() || types.iter().any(|&t| t > crate::pg_copy::COLUMN_JSONB as u32) {
            return Err(Error::new(Status::InvalidArg, "one type (0, 1 or 2) per field"));
        }
        Ok(NativeDirectRows { rows: crate::pg_copy::DirectRows::new(fields.iter().map(|f| f.to_vec()).collect(), types.iter().map(|&t| t as u8).collect()) })
    }
}

/// Direct rows for the accepted slots of `slots[first, count)` (records of
/// `input`) into `out` from `end` (crate::pg_copy::DirectRows::encode); per
/// row, ROW_WORDS numbers in `rows`. `result` gets [next slot, end, rows,
/// complete (1/0)].
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn encode_direct_rows(
    encoder: &mut NativeDirectRows,
    input: Uint8ArraySlice,
    slots: Int32ArraySlice,
    first: u32,
    count: u32,
    arrival_ms: f64,
    plain: bool,
    complete: bool,
    mut out: Uint8ArraySlice,
    end: u32,
    mut rows: Float64ArraySlice,
    mut result: Float64ArraySlice,
) -> Result<()> {
    use crate::contract::SLOT_WORDS;
    let (first, count, end) = (first as usize, count as usize, end as usize);
    if first > count || slots.len() < count * SLOT_WORDS || end > out.len() || result.len() < 4 {
        return Err(Error::new(Status::InvalidArg, "slots, out or result too short"));
    }
    // The records it reads (accepted slots) must lie in `input`.
    for s in first..count {
        let w = s * SLOT_WORDS;
        let code = slots[w + crate::contract::W_STATUS] & 0xff;
        if code != crate::contract::KEYED && code != crate::contract::UNKEYED {
            continue;
        }
        let (offset, length) = (slots[w + crate::contract::W_OFFSET], slots[w + crate::contract::W_LENGTH]);
        if offset < 0 || length < 0 || offset as usize + length as usize > input.len() {
            return Err(Error::new(Status::InvalidArg, "a slot's record lies outside input"));
        }
    }
    let (o0, o1) = (out.as_ptr() as usize, out.as_ptr() as usize + out.len());
    let (i0, i1) = (input.as_ptr() as usize, input.as_ptr() as usize + input.len());
    if o0 < i1 && i0 < o1 {
        return Err(Error::new(Status::InvalidArg, "input and out must not overlap"));
    }
    // SAFETY: `out`, `rows` and `result` are the calling (blocked) thread's own
    // buffers for the call's duration; `out` was just checked not to overlap `input`.
    let (out, rows, result) = unsafe { (out.as_mut(), rows.as_mut(), result.as_mut()) };
    let done = encoder.rows.encode(&input, &slots, first, count, arrival_ms, plain, complete, out, end, rows);
    result[0] = done.next_slot as f64;
    result[1] = done.end as f64;
    result[2] = done.rows as f64;
    result[3] = if done.complete { 1.0 } else { 0.0 };
    Ok(())
}

/// The `count` runs of `runs` (triples: index into `sources`, start, end),
/// each checked to lie inside its source; returns `count`.
fn check_runs(sources: &[Uint8Array], runs: &Uint32Array, count: u32) -> Result<usize> {
    let count = count as usize;
    if runs.len() < count * 3 {
        return Err(Error::new(Status::InvalidArg, "runs holds fewer than 3 × count numbers"));
    }
    for r in runs[..count * 3].chunks_exact(3) {
        let (source, start, end) = (r[0] as usize, r[1] as usize, r[2] as usize);
        if source >= sources.len() || start > end || end > sources[source].len() {
            return Err(Error::new(Status::InvalidArg, "a run lies outside its source"));
        }
    }
    Ok(count)
}

/// The runs as slices (after `check_runs`).
fn run_slices<'a>(sources: &'a [Uint8Array], runs: &Uint32Array, count: usize) -> Vec<&'a [u8]> {
    runs[..count * 3].chunks_exact(3).map(|r| &sources[r[0] as usize][r[1] as usize..r[2] as usize]).collect()
}

/// A file sink's writer with O_DIRECT behind the caller (crate::direct_write).
#[napi]
pub struct NativeDirectWriter {
    writer: std::sync::Arc<crate::direct_write::DirectWriter>,
}

#[napi]
impl NativeDirectWriter {
    /// Opens `path` to write after its first `size` bytes, with `buffers`
    /// aligned buffers of `bufferBytes` (a multiple of 4096).
    #[napi(constructor)]
    pub fn new(path: String, size: f64, buffers: u32, buffer_bytes: u32) -> Result<Self> {
        if size.is_nan() || size < 0.0 {
            return Err(Error::new(Status::InvalidArg, "size must be a number >= 0"));
        }
        match crate::direct_write::DirectWriter::open(&path, size as u64, buffers as usize, buffer_bytes as usize) {
            Ok(w) => Ok(NativeDirectWriter { writer: std::sync::Arc::new(w) }),
            Err(e) => Err(Error::new(Status::GenericFailure, format!("{path}: {e}"))),
        }
    }

    /// False where the file system refused O_DIRECT: writes go through the page cache.
    #[napi(getter)]
    pub fn direct(&self) -> bool {
        self.writer.is_direct()
    }

    /// Copies `chunks` on the libuv pool and queues their whole blocks;
    /// resolves to 0 once copied (the chunks may then be reused) or an errno.
    #[napi]
    pub fn submit(&self, chunks: Vec<Uint8Array>) -> AsyncTask<ErrnoTask> {
        let writer = std::sync::Arc::clone(&self.writer);
        ErrnoTask::task(move || writer.submit(&chunks.iter().map(|c| &c[..]).collect::<Vec<&[u8]>>()))
    }

    /// `submit` of a batch given as `count` runs, triples in `runs` (index
    /// into `sources`, start, end): a few buffers and one array cross into
    /// the addon, not a view per run. Resolves as `submit` does.
    #[napi]
    pub fn submit_runs(&self, sources: Vec<Uint8Array>, runs: Uint32Array, count: u32) -> Result<AsyncTask<ErrnoTask>> {
        let count = check_runs(&sources, &runs, count)?;
        let writer = std::sync::Arc::clone(&self.writer);
        // Bounds are checked above; the caller leaves the memory alone until the promise resolves.
        Ok(ErrnoTask::task(move || writer.submit(&run_slices(&sources, &runs, count))))
    }

    /// `submitRuns` on the calling thread when that cannot wait for the
    /// device (no flush under way, a free buffer for every hand-over): 0 or an errno once copied;
    /// -1 when it might wait, nothing copied (then use `submitRuns`).
    #[napi]
    pub fn try_submit_runs(&self, sources: Vec<Uint8Array>, runs: Uint32Array, count: u32) -> Result<i32> {
        let count = check_runs(&sources, &runs, count)?;
        Ok(self.writer.try_submit(&run_slices(&sources, &runs, count)).unwrap_or(-1))
    }

    /// `submit` of one chunk on the calling thread: 0 or an errno.
    #[napi]
    pub fn submit_now(&self, chunk: Uint8ArraySlice) -> i32 {
        self.writer.submit(&[&chunk])
    }

    /// Everything submitted written (and with `sync`, synced), on the libuv
    /// pool: 0 or an errno.
    #[napi]
    pub fn flush(&self, sync: bool) -> AsyncTask<ErrnoTask> {
        let writer = std::sync::Arc::clone(&self.writer);
        ErrnoTask::task(move || writer.flush(sync))
    }

    /// Stops the writer thread (after flush: nothing is left to write).
    #[napi]
    pub fn close(&self) {
        self.writer.close();
    }
}
