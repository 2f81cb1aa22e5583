//! Throughput on the three record shapes of ordertail's logs:
//!   small  ~300 B orders, wide ~2 KB records, str ~50 KB string-heavy records.
//!
//! Part 1 compares the two SIMD JSON crates on the fast-path job (validate the
//! record and locate its top-level members with their raw value text), next to
//! the scalar scanner. Part 2 measures the whole chunk call (Lines framing:
//! newline search, validation, field extraction, key hash, event time, slot
//! writes) with the SIMD fast path and scalar-only.
//!
//! Run: cargo bench --manifest-path native/bench/Cargo.toml
//! (RUSTFLAGS="-C target-cpu=native" lets sonic-rs use AVX2; simd-json picks
//! AVX2 at run time either way.)

use std::hint::black_box;
use std::time::{Duration, Instant};

use ordertail_native::contract::FRAMING_LINES;
use ordertail_native::fast::{Fast, FastPath};
use ordertail_native::fields::Config;
use ordertail_native::record::Mode;
use ordertail_native::scan::{scan_record, Members};
use ordertail_native::Parser;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn small(r: &mut Rng, i: usize) -> String {
    let sides = ["buy", "sell"];
    let syms = ["BTC-USD", "ETH-USD", "SOL-USD", "AAPL", "MSFT"];
    format!(
        concat!(
            r#"{{"id":"ord-{:010}","ts":"2024-03-{:02}T{:02}:{:02}:{:02}.{:03}Z","sym":"{}","side":"{}","#,
            r#""px":{}.{:02},"qty":{}.{:04},"venue":"XNAS","acct":"ACC-{:06}","type":"limit","tif":"GTC","#,
            r#""flags":["post","hidden"],"meta":{{"src":"fix-gw-{}","seq":{},"note":"ok"}},"v":3}}"#
        ),
        i,
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000),
        syms[r.below(5) as usize],
        sides[r.below(2) as usize],
        r.below(100_000),
        r.below(100),
        r.below(100),
        r.below(10_000),
        r.below(1_000_000),
        r.below(8),
        r.below(1 << 40)
    )
}

fn wide(r: &mut Rng, i: usize) -> String {
    wide_n(r, i, 70)
}

fn wide_n(r: &mut Rng, i: usize, fields: usize) -> String {
    let mut s = format!(
        r#"{{"id":"w-{:010}","ts":{},"#,
        i,
        1_700_000_000_000u64 + r.below(1 << 30)
    );
    for f in 0..fields {
        match f % 4 {
            0 => s.push_str(&format!(r#""num_{f}":{}.{},"#, r.below(1 << 30), r.below(1000))),
            1 => s.push_str(&format!(r#""str_{f}":"value-{}-abcdef","#, r.below(1 << 20))),
            2 => s.push_str(&format!(r#""bool_{f}":{},"#, r.below(2) == 0)),
            _ => s.push_str(&format!(
                r#""arr_{f}":[{},{},{}],"#,
                r.below(100),
                r.below(100),
                r.below(100)
            )),
        }
    }
    s.push_str(r#""end":null}"#);
    s
}

fn strings(r: &mut Rng, i: usize) -> String {
    strings_n(r, i, 49_000)
}

fn strings_n(r: &mut Rng, i: usize, size: usize) -> String {
    let mut body = String::with_capacity(size + 64);
    let words = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "caf\u{e9}",
        "\\\"quoted\\\"",
        "na\u{ef}ve",
        "\\n",
    ];
    while body.len() < size {
        body.push_str(words[r.below(words.len() as u64) as usize]);
        body.push(' ');
    }
    format!(r#"{{"id":"s-{i:010}","ts":"2024-03-01T00:00:00Z","kind":"blob","text":"{body}","tail":1}}"#)
}

struct Sink {
    n: usize,
}
impl Members for Sink {
    #[inline]
    fn member(&mut self, rec: &[u8], key: (usize, usize), val: (usize, usize)) {
        self.n += (key.1 - key.0) + (val.1 - val.0) + rec[val.0] as usize;
    }
}

#[cfg(feature = "bench-sonic")]
fn sonic_job(rec: &[u8]) -> usize {
    let mut n = 0;
    for item in sonic_rs::to_object_iter(rec) {
        match item {
            Ok((k, v)) => {
                let raw = v.as_raw_str();
                n += k.len() + raw.len() + raw.as_bytes()[0] as usize;
            }
            Err(_) => return 0,
        }
    }
    n
}

/// Runs `f` over all records repeatedly for about `budget`; returns MB/s.
fn measure(records: &[Vec<u8>], budget: Duration, mut f: impl FnMut(&[u8]) -> usize) -> f64 {
    let bytes: usize = records.iter().map(Vec::len).sum();
    // warm-up
    for r in records {
        black_box(f(r));
    }
    let mut best = f64::MAX;
    let t_end = Instant::now() + budget;
    while Instant::now() < t_end {
        let t = Instant::now();
        for r in records {
            black_box(f(black_box(r)));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    bytes as f64 / best / 1e6
}

fn chunk_mbps(records: &[Vec<u8>], mode: Mode, budget: Duration) -> f64 {
    let mut input = Vec::new();
    for r in records {
        input.extend_from_slice(r);
        input.push(b'\n');
    }
    let cfg = Config {
        key_fields: vec![b"id".to_vec()],
        event_time_field: b"ts".to_vec(),
        max_record_bytes: 1 << 20,
    };
    let mut p = Parser::with_mode(&cfg, mode);
    let mut out = vec![0i32; 8 * (records.len() + 1)];
    let mut run = |out: &mut [i32]| {
        let (s, n) = p
            .parse_chunk(&input, 0, input.len(), FRAMING_LINES, true, 0, out)
            .unwrap();
        assert_eq!(n, records.len());
        assert_eq!(s.consumed_end, input.len());
    };
    run(&mut out);
    let mut best = f64::MAX;
    let t_end = Instant::now() + budget;
    while Instant::now() < t_end {
        let t = Instant::now();
        run(black_box(&mut out));
        best = best.min(t.elapsed().as_secs_f64());
    }
    input.len() as f64 / best / 1e6
}

fn main() {
    let mut rng = Rng(0x0DDB_1A5E_5BAD_5EED);
    let shapes: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("small", (0..20_000).map(|i| small(&mut rng, i).into_bytes()).collect()),
        ("wide", (0..3_000).map(|i| wide(&mut rng, i).into_bytes()).collect()),
        ("str", (0..120).map(|i| strings(&mut rng, i).into_bytes()).collect()),
        (
            "str2k",
            (0..3_000).map(|i| strings_n(&mut rng, i, 2_000).into_bytes()).collect(),
        ),
        (
            "str8k",
            (0..700).map(|i| strings_n(&mut rng, i, 8_000).into_bytes()).collect(),
        ),
        (
            "str16k",
            (0..350).map(|i| strings_n(&mut rng, i, 16_000).into_bytes()).collect(),
        ),
        (
            "wide50k",
            (0..120).map(|i| wide_n(&mut rng, i, 2_000).into_bytes()).collect(),
        ),
    ];
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    #[cfg(feature = "bench-sonic")]
    {
        // What sonic-rs' lazy iterator lets through that the contract rejects.
        let probe = |j: &str| sonic_job(j.as_bytes()) != 0;
        println!(
            "sonic-rs to_object_iter accepts {{\"a\":{{\"b\":\"\\uZZZZ\"}}}}: {}; {{\"a\":1}} x: {}",
            probe(r#"{"a":{"b":"\uZZZZ"}}"#),
            probe(r#"{"a":1} x"#),
        );
    }
    println!("shape  avg_bytes  simd-json  sonic-rs  scanner | chunk(auto)  chunk(simd-json)  chunk(scanner)   [MB/s, best of runs]");
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for (name, recs) in &shapes {
        if !only.is_empty() && !only.split(',').any(|o| o == *name) {
            continue;
        }
        let avg = recs.iter().map(Vec::len).sum::<usize>() / recs.len();
        let part = std::env::var("BENCH_PART").unwrap_or_default();
        let on = |p: &str| part.is_empty() || part.split(',').any(|x| x == p);
        let budget_for = |p: &str| if on(p) { budget } else { Duration::ZERO };
        let mut fast = FastPath::new();
        let simd = measure(recs, budget_for("simd"), |r| {
            let mut s = Sink { n: 0 };
            match fast.check(r, &mut s) {
                Fast::Object => s.n,
                _ => panic!("fast path refused a valid record"),
            }
        });
        #[cfg(feature = "bench-sonic")]
        let sonic = measure(recs, budget_for("sonic"), sonic_job);
        #[cfg(not(feature = "bench-sonic"))]
        let sonic = f64::NAN;
        let scalar = measure(recs, budget_for("scalar"), |r| {
            let mut s = Sink { n: 0 };
            scan_record(r, &mut s).expect("valid");
            s.n
        });
        let c_auto = chunk_mbps(recs, Mode::Auto, budget_for("cauto"));
        let c_simd = chunk_mbps(recs, Mode::Simd, budget_for("csimd"));
        let c_scalar = chunk_mbps(recs, Mode::Scalar, budget_for("cscalar"));
        println!(
            "{name:<7} {avg:>9}  {simd:>9.0}  {sonic:>8.0}  {scalar:>7.0} | {c_auto:>11.0}  {c_simd:>16.0}  {c_scalar:>14.0}"
        );
    }
}
