// SPDX-License-Identifier: MIT OR Apache-2.0

//! Micro-benchmark: the JPEG scanner and the multipart splitter alone, in
//! memory, against plain memchr passes over the same bytes: one that visits
//! every `FF` byte (what the scanner did before it tested entropy data a
//! window at a time, `src/jpeg/entropy.rs`), and memchr's vectorised count
//! of `FF` bytes (which never leaves its SIMD loop).
//!
//! ```text
//! cargo bench --bench scanner -- FILE...   (bench/run.sh passes its 1080p data)
//! ```
//!
//! Without files it uses the test fixtures repeated to 64 MB.

use gstmjpegsplit::jpeg::Scanner;
use gstmjpegsplit::multipart::Splitter;
use std::time::Instant;

const CHUNK: usize = 64 * 1024;
const ROUNDS: usize = 7;

fn median_secs(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut result = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        result = std::hint::black_box(f());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[ROUNDS / 2], result)
}

fn bench(name: &str, data: &[u8]) {
    let gb = data.len() as f64 / 1e9;
    let (t_count, _) = median_secs(|| memchr::memchr_iter(0xFF, data).count());
    let (t_memchr, ff) = median_secs(|| {
        let mut n = 0;
        for at in memchr::memchr_iter(0xFF, data) {
            n += 1;
            std::hint::black_box(at);
        }
        n
    });
    let (t_scan, frames) = median_secs(|| {
        let mut s = Scanner::default();
        let mut out = Vec::new();
        let mut n = 0;
        for c in data.chunks(CHUNK) {
            s.feed(c, &mut out);
            n += out.len();
            out.clear();
        }
        n
    });
    let (t_split, parts) = median_secs(|| {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        let mut n = 0;
        let mut i = 0;
        while i < data.len() {
            let end = (i + CHUNK).min(data.len());
            while (s.offset() as usize) < end {
                let off = s.offset() as usize;
                s.feed(&data[off..end], &mut out);
            }
            n += out.len();
            out.clear();
            i = end;
        }
        n
    });
    println!(
        "{name}: {:.0} MB, {frames} frames ({parts} via the splitter), {ff} FF bytes\n  \
         memchr count {:.2} GB/s | memchr visiting each FF {:.2} GB/s | \
         scanner {:.2} GB/s ({:.0}% of memchr) | splitter {:.2} GB/s ({:.0}% of memchr)",
        data.len() as f64 / 1e6,
        gb / t_count,
        gb / t_memchr,
        gb / t_scan,
        100.0 * t_memchr / t_scan,
        gb / t_split,
        100.0 * t_memchr / t_split,
    );
}

fn main() {
    let files: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if files.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let mut data = Vec::new();
        let one: Vec<u8> = ["gst-jpegenc.mjpg", "ffmpeg.mjpg"]
            .iter()
            .flat_map(|n| std::fs::read(format!("{dir}{n}")).expect("fixture"))
            .collect();
        while data.len() < 64 << 20 {
            data.extend_from_slice(&one);
        }
        bench("fixtures", &data);
    }
    for f in files {
        let data = std::fs::read(&f).expect("read file");
        bench(&f, &data);
    }
}
