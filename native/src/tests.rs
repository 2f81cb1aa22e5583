//! Cross-module tests: the SIMD fast path never disagrees with the scalar
//! scanner, framing invariants hold, and the key hash matches the vectors
//! shared with the JS reference (test/fixtures/key-hash-vectors.json).

use crate::contract::*;
use crate::fields::Config;
use crate::hash::hash_key_bytes;
use crate::record::{Classifier, Mode, Outcome};
use crate::Parser;

/// splitmix64: small, seedable, reproducible.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

const PIECES: &[&str] = &[
    "\"",
    "\\",
    "\\u",
    "\\uD800",
    "\\uDC00\\uD800",
    "\\uZZ12",
    "\\x",
    "\u{e9}",
    "\u{1F600}",
    "\x01",
    "\x1f",
    "\x7f",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\t",
    "\r",
    "-",
    "0",
    "01",
    "1.",
    ".5",
    "1e",
    "1e+",
    "1E-5",
    "-0",
    "1e400",
    "123456789012345678901234567890",
    "true",
    "tru",
    "nul",
    "null",
    "falsey",
    "\"id\"",
    "\"ts\"",
    "\"2024-02-29T12:00:00.123+01:00\"",
    "\"2023-02-29\"",
    "\"\\u0069d\"",
];

const RAW: &[&[u8]] = &[
    b"\xC0\x80",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xE2\x82",
    b"\x80",
    b"\xFF",
    b"\xEF\xBB\xBF",
    b"\x00",
];

fn gen_scalar(r: &mut Rng, out: &mut Vec<u8>) {
    match r.below(9) {
        0 => out.extend_from_slice(format!("{}", r.next() % 100_000).as_bytes()),
        1 => out.extend_from_slice(format!("-{}.{}e{}", r.below(1000), r.below(1000), r.below(40)).as_bytes()),
        2 => out.extend_from_slice(b"true"),
        3 => out.extend_from_slice(b"null"),
        4 => {
            let opts: [&[u8]; 3] = [b"\"\\uD800x\"", b"\"\\n\\t\\\"\\\\\\/\"", b"\"caf\xC3\xA9\""];
            out.extend_from_slice(r.pick(&opts))
        }
        5 => out.extend_from_slice(
            format!(
                "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z\"",
                1960 + r.below(100),
                1 + r.below(13),
                1 + r.below(31),
                r.below(25),
                r.below(61),
                r.below(61),
                r.below(10_000)
            )
            .as_bytes(),
        ),
        6 => out.extend_from_slice(
            format!("{}.{}", 1_600_000_000_000u64 + r.next() % 1_000_000_000, r.below(1000)).as_bytes(),
        ),
        7 => out.extend_from_slice(b"1e400"),
        _ => {
            out.push(b'"');
            for _ in 0..r.below(12) {
                out.push(b'a' + r.below(26) as u8);
            }
            out.push(b'"');
        }
    }
}

fn gen_value(r: &mut Rng, depth: usize, out: &mut Vec<u8>) {
    if depth > 4 || r.below(3) > 0 {
        return gen_scalar(r, out);
    }
    if r.below(2) == 0 {
        out.push(b'[');
        for i in 0..r.below(4) {
            if i > 0 {
                out.push(b',');
            }
            gen_value(r, depth + 1, out);
        }
        out.push(b']');
    } else {
        gen_object(r, depth + 1, out);
    }
}

fn gen_object(r: &mut Rng, depth: usize, out: &mut Vec<u8>) {
    out.push(b'{');
    let names = ["id", "ts", "sym", "px", "qty", "id", "\\u0069d", "side", "meta"];
    for i in 0..r.below(8) {
        if i > 0 {
            out.push(b',');
            if r.below(5) == 0 {
                out.extend_from_slice(b" \t");
            }
        }
        out.push(b'"');
        out.extend_from_slice(r.pick(&names).as_bytes());
        out.push(b'"');
        out.push(b':');
        if r.below(6) == 0 {
            out.push(b' ');
        }
        gen_value(r, depth, out);
    }
    out.push(b'}');
}

/// A random record: mostly valid objects, then a few random corruptions.
pub fn gen_record(r: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    match r.below(20) {
        0 => gen_value(r, 0, &mut v),
        1 => {
            let d = 1000 + r.below(50);
            v.extend(std::iter::repeat_n(b'[', d));
            v.extend(std::iter::repeat_n(b']', d));
        }
        2 => {
            let d = 1020 + r.below(10);
            v.extend_from_slice(b"{\"id\":");
            for _ in 0..d {
                v.extend_from_slice(b"{\"a\":");
            }
            v.push(b'1');
            v.extend(std::iter::repeat_n(b'}', d + 1));
        }
        3 => {
            // Long string-heavy record: the shape Mode::Auto sends to simd-json.
            v.extend_from_slice(b"{\"id\":\"big\",\"blob\":\"");
            let words: [&[u8]; 6] = [
                b"lorem ",
                b"caf\xC3\xA9 ",
                b"\\\"q\\\" ",
                b"\\n",
                b"\xF0\x9F\x98\x80",
                b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ];
            let size = 3000 + r.below(6000);
            while v.len() < size {
                v.extend_from_slice(r.pick(&words));
            }
            v.extend_from_slice(b"\"}");
        }
        _ => gen_object(r, 0, &mut v),
    }
    for _ in 0..r.below(4) {
        if v.is_empty() {
            break;
        }
        let at = r.below(v.len() + 1);
        match r.below(6) {
            0 => {
                let at = r.below(v.len());
                v[at] ^= 1 << r.below(8);
            }
            1 => v.truncate(at),
            2 => {
                let p = r.pick(PIECES).as_bytes().to_vec();
                v.splice(at..at, p);
            }
            3 => {
                let p = r.pick(RAW).to_vec();
                v.splice(at..at, p);
            }
            4 if at < v.len() => {
                v.remove(at);
            }
            _ => {} // keep valid
        }
    }
    v
}

fn cfg() -> Config {
    Config {
        key_fields: vec![b"id".to_vec(), b"sym".to_vec()],
        event_time_field: b"ts".to_vec(),
        max_record_bytes: 1 << 20,
    }
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    a.status == b.status
        && a.hash_lo == b.hash_lo
        && a.hash_hi == b.hash_hi
        && a.event_time.to_bits() == b.event_time.to_bits()
}

#[test]
fn fast_path_agrees_with_scalar_scanner() {
    let seed = std::env::var("ORDERTAIL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0001u64);
    let iters: usize = std::env::var("ORDERTAIL_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60_000);
    let mut r = Rng(seed);
    let mut simd = Classifier::new(&cfg(), Mode::Simd);
    let mut auto = Classifier::new(&cfg(), Mode::Auto);
    let mut scalar = Classifier::new(&cfg(), Mode::Scalar);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..iters {
        let rec = gen_record(&mut r);
        let trimmed = {
            let s = rec.iter().position(|&b| !is_ws(b)).unwrap_or(rec.len());
            let e = rec.iter().rposition(|&b| !is_ws(b)).map_or(s, |e| e + 1);
            &rec[s..e]
        };
        if trimmed.is_empty() {
            continue;
        }
        let a = simd.classify(trimmed);
        let b = scalar.classify(trimmed);
        let c = auto.classify(trimmed);
        assert!(
            same(&c, &b),
            "seed {seed} iteration {i}: auto {c:?} vs scalar {b:?} on {:?}",
            String::from_utf8_lossy(trimmed)
        );
        *statuses.entry(b.status).or_insert(0usize) += 1;
        assert!(
            same(&a, &b),
            "seed {seed} iteration {i}: simd {a:?} vs scalar {b:?} on {:?}",
            String::from_utf8_lossy(trimmed)
        );
    }
    // The generator must reach every decision, or the test proves little.
    for code in [
        KEYED,
        UNKEYED,
        INVALID_JSON,
        INVALID_UTF8,
        CONTROL_CHAR,
        NOT_OBJECT,
        TRAILING_GARBAGE,
        TOO_DEEP,
    ] {
        assert!(
            statuses.keys().any(|s| s & 0xFF == code),
            "status {code} never produced: {statuses:?}"
        );
    }
}

#[test]
fn lone_surrogates_and_huge_numbers_accepted_by_fallback() {
    let mut simd = Classifier::new(&cfg(), Mode::Simd);
    for rec in [
        &br#"{"id":"\uD800","sym":1}"#[..],
        br#"{"id":1e400,"sym":123456789012345678901234567890}"#,
    ] {
        assert_eq!(simd.classify(rec).status, KEYED, "{}", String::from_utf8_lossy(rec));
    }
    let o = simd.classify(br#"{"id":1,"sym":2,"ts":1e400}"#);
    assert_eq!(o.status, KEYED | FLAG_EVENT_TIME_INVALID);
}

#[test]
fn depth_limit_is_exact_on_both_paths() {
    for mode in [Mode::Simd, Mode::Scalar] {
        let mut c = Classifier::new(&cfg(), mode);
        let nest = |d: usize| [vec![b'['; d], vec![b']'; d]].concat();
        assert_eq!(c.classify(&nest(1024)).status, NOT_OBJECT);
        assert_eq!(c.classify(&nest(1025)).status, TOO_DEEP);
        let obj = |d: usize| {
            let mut v = b"{\"a\":".repeat(d - 1);
            v.extend_from_slice(b"{}");
            v.extend(std::iter::repeat_n(b'}', d - 1));
            v
        };
        assert_eq!(c.classify(&obj(1024)).status, UNKEYED);
        assert_eq!(c.classify(&obj(1025)).status, TOO_DEEP);
    }
}

#[test]
fn lines_stop_when_out_is_full() {
    let mut p = Parser::new(&cfg());
    let input = b"{\"id\":1}\n\n\n{\"id\":2}\n";
    let mut out = vec![0i32; SLOT_WORDS];
    let (s, n) = p
        .parse_chunk(input, 0, input.len(), FRAMING_LINES, true, 0, &mut out)
        .unwrap();
    assert_eq!((s.consumed_end, n), (9, 1));
    // Empty lines are skipped on the way to the next record.
    let (s, n) = p
        .parse_chunk(input, 9, input.len(), FRAMING_LINES, true, 0, &mut out)
        .unwrap();
    assert_eq!((s.consumed_end, n), (20, 1));
    // No room at all: nothing consumed, not even empty lines.
    let (s, n) = p
        .parse_chunk(input, 9, input.len(), FRAMING_LINES, true, 0, &mut [])
        .unwrap();
    assert_eq!((s.consumed_end, n), (9, 0));
}

#[test]
fn key_hash_matches_shared_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../test/fixtures/key-hash-vectors.json");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("key-hash-vectors.json not present; checking built-in vectors only");
        return;
    };
    let vectors = parse_vectors(&text);
    assert!(!vectors.is_empty(), "no vectors parsed from {path}");
    for (bytes, lo, hi) in vectors {
        assert_eq!(hash_key_bytes(&bytes), (lo, hi), "key bytes {bytes:02x?}");
    }
}

/// Reads the fixture's vectors: (key bytes, hashLo, hashHi), from the
/// `"hex"`, `"lo"` and `"hi"` members of each vector in document order.
fn parse_vectors(text: &str) -> Vec<(Vec<u8>, i32, i32)> {
    fn field<'a>(obj: &'a str, name: &str) -> Option<&'a str> {
        let at = obj.find(&format!("\"{name}\""))? + name.len() + 2;
        let rest = obj[at..].trim_start().strip_prefix(':')?.trim_start();
        let end = if let Some(r) = rest.strip_prefix('"') {
            return r.find('"').map(|e| &r[..e]);
        } else {
            rest.find([',', '}', '\n']).unwrap_or(rest.len())
        };
        Some(rest[..end].trim())
    }
    let body = &text[text.find("\"vectors\"").expect("vectors member")..];
    body.split('{')
        .skip(1)
        .filter_map(|obj| {
            let obj = &obj[..obj.find('}')?];
            let hex = field(obj, "hex")?;
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).expect("hex"))
                .collect();
            Some((bytes, field(obj, "lo")?.parse().ok()?, field(obj, "hi")?.parse().ok()?))
        })
        .collect()
}

#[test]
fn builtin_hash_vectors() {
    // Empty key: just the seeds through fmix32.
    let (lo, hi) = hash_key_bytes(b"");
    assert_eq!(lo, crate::hash::fmix32(0x811C_9DC5) as i32);
    assert_eq!(hi, crate::hash::fmix32(0x9E37_79B9) as i32);
}

/// Clean records (no backslash, no control byte: the ones `Mode::Auto` scans
/// with the quote bitmap), valid and corrupted: same outcome as the plain
/// scanner.
#[test]
fn indexed_scan_agrees_on_clean_records() {
    let seed = std::env::var("ORDERTAIL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0002u64);
    let mut r = Rng(seed);
    let mut auto = Classifier::new(&cfg(), Mode::Auto);
    let mut scalar = Classifier::new(&cfg(), Mode::Scalar);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..60_000 {
        let mut rec = gen_record(&mut r);
        rec.retain(|&c| c != b'\\' && (c >= 0x20 || (c == b' ' && r.below(2) == 0)));
        let s = rec.iter().position(|&b| !is_ws(b)).unwrap_or(rec.len());
        let e = rec.iter().rposition(|&b| !is_ws(b)).map_or(s, |e| e + 1);
        let trimmed = &rec[s..e];
        if trimmed.is_empty() {
            continue;
        }
        let a = auto.classify(trimmed);
        let b = scalar.classify(trimmed);
        *statuses.entry(b.status & 0xFF).or_insert(0usize) += 1;
        assert!(
            same(&a, &b),
            "seed {seed} iteration {i}: auto {a:?} vs scalar {b:?} on {:?}",
            String::from_utf8_lossy(trimmed)
        );
    }
    for code in [KEYED, INVALID_JSON, INVALID_UTF8, NOT_OBJECT, TRAILING_GARBAGE] {
        assert!(
            statuses.contains_key(&code),
            "status {code} never produced: {statuses:?}"
        );
    }
}

/// Lines framing (deferred, four-at-a-time key hashing) writes the same slots
/// as classifying each record on its own, for every batch boundary.
#[test]
fn lines_slots_match_per_record_outcomes() {
    // One key field: the configuration whose hashes are deferred.
    let one_key = Config {
        key_fields: vec![b"id".to_vec()],
        event_time_field: b"ts".to_vec(),
        max_record_bytes: 1 << 20,
    };
    // Plain lines, then lines with leading/trailing whitespace (CR, tabs,
    // runs crossing 64-byte blocks) and blank lines: the fused newline
    // search + stage 1 must leave every decision as it was.
    for decorate in [false, true] {
        lines_case(&one_key, decorate);
    }
}

fn lines_case(one_key: &Config, decorate: bool) {
    let mut r = Rng(0x5EED_0003 + decorate as u64);
    let mut input = Vec::new();
    let mut spans = Vec::new();
    let long_ws = " ".repeat(70) + "\t";
    let pre: [&str; 4] = ["", " ", "\t", "  "];
    let post: [&str; 6] = ["", "\r", " \r", "\t", " ", &long_ws];
    for _ in 0..800 {
        let mut rec = gen_record(&mut r);
        rec.retain(|&c| c != b'\n');
        let s = input.len();
        if decorate {
            if r.below(8) == 0 {
                input.extend_from_slice(if r.below(2) == 0 { b"" } else { b"  \r" });
                spans.push((s, input.len()));
                input.push(b'\n');
                continue;
            }
            input.extend_from_slice(r.pick(&pre).as_bytes());
        }
        input.extend_from_slice(&rec);
        if decorate {
            input.extend_from_slice(r.pick(&post).as_bytes());
        }
        spans.push((s, input.len()));
        input.push(b'\n');
    }
    let mut cls = Classifier::new(one_key, Mode::Scalar);
    let mut want = Vec::new();
    for &(s, e) in &spans {
        let (mut a, mut b) = (s, e);
        while a < b && matches!(input[a], b' ' | b'\t' | b'\r') {
            a += 1;
        }
        while b > a && matches!(input[b - 1], b' ' | b'\t' | b'\r') {
            b -= 1;
        }
        if a < b {
            want.push((a, b - a, cls.classify(&input[a..b])));
        }
    }
    for cap in [1usize, 3, 4, 5, 7, 64, 1000] {
        let mut p = Parser::new(one_key);
        let mut out = vec![0i32; SLOT_WORDS * cap];
        let (mut pos, mut k) = (0, 0);
        while pos < input.len() {
            let (s, n) = p
                .parse_chunk(&input, pos, input.len(), FRAMING_LINES, true, 0, &mut out)
                .unwrap();
            for slot in out.chunks(SLOT_WORDS).take(n) {
                let (off, len, o) = want[k];
                let et = f64::from_bits((slot[0] as u32 as u64) | ((slot[1] as u32 as u64) << 32));
                let got = Outcome {
                    status: slot[W_STATUS],
                    hash_lo: slot[W_HASH_LO],
                    hash_hi: slot[W_HASH_HI],
                    event_time: et,
                };
                assert_eq!((slot[W_OFFSET] as usize, slot[W_LENGTH] as usize), (off, len));
                assert!(same(&got, &o), "cap {cap} record {k}: {got:?} vs {o:?}");
                k += 1;
            }
            pos = s.consumed_end;
        }
        assert_eq!(k, want.len());
    }
    assert!(want.iter().filter(|w| w.2.status & 0xFF == KEYED).count() > 100);
}

#[test]
fn four_lane_hash_matches_one_lane() {
    use crate::hash::{hash_fields4, KeyHasher};
    let keys: [&[u8]; 6] = [
        b"",
        b"\"a\"",
        b"12345",
        b"\"ord-0000000001\"",
        b"\xFF\x00x",
        b"\"ord-0000000002\"",
    ];
    for a in 0..6 {
        for b in 0..6 {
            let four = hash_fields4([keys[a], keys[b], keys[(a + b) % 6], keys[5]]);
            for (lane, k) in [keys[a], keys[b], keys[(a + b) % 6], keys[5]].iter().enumerate() {
                let mut h = KeyHasher::new();
                h.field(k);
                assert_eq!(four[lane], h.finish());
            }
        }
    }
}
