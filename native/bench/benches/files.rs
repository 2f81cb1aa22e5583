//! Whole-chunk throughput on NDJSON files (for profiling against the exact
//! bytes of bench/shapes.ts): `ORDERTAIL_FILES=a.ndjson,b.ndjson cargo bench --manifest-path
//! native/bench/Cargo.toml --bench files`. Config: key
//! `id`, event time `timestamp` (the parser suite's). `BENCH_MS` per file.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ordertail_native::contract::FRAMING_LINES;
use ordertail_native::fields::Config;
use ordertail_native::Parser;

fn main() {
    let files = std::env::var("ORDERTAIL_FILES").unwrap_or_default();
    let ms: u64 = std::env::var("BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let cfg = Config {
        key_fields: vec![b"id".to_vec()],
        event_time_field: b"timestamp".to_vec(),
        max_record_bytes: 1 << 20,
    };
    for f in files.split(',').filter(|f| !f.is_empty()) {
        let input = std::fs::read(f).expect("read input file");
        let mut p = Parser::new(&cfg);
        let mut out = vec![0i32; 8 * 4096];
        let mut run = |out: &mut [i32]| {
            let mut pos = 0;
            let mut n = 0;
            while pos < input.len() {
                let (s, k) = p.parse_chunk(&input, pos, input.len(), FRAMING_LINES, true, 0, out).unwrap();
                pos = s.consumed_end;
                n += k;
            }
            n
        };
        let n = run(&mut out);
        let mut best = f64::MAX;
        let t_end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < t_end {
            let t = Instant::now();
            black_box(run(black_box(&mut out)));
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{f}: {n} records, {:.0} MB/s", input.len() as f64 / best / 1e6);
    }
}
