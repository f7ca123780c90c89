// SPDX-License-Identifier: MIT OR Apache-2.0
#![allow(dead_code)]

//! A malformed-JPEG corpus of our own, and streams that interleave it with
//! good frames: raw, multipart with exact, wrong or no Content-Length, and a
//! whole HTTP response. Every malformed file is made from an encoder frame:
//! cut inside a DHT, DQT, APP1 (with its EXIF thumbnail), SOF or SOS segment
//! or inside the entropy data, with a length field made longer or shorter,
//! with a marker written inside a segment, with bits flipped in the header,
//! or just an SOI with junk. Shared by `tests/corpus.rs` and
//! `tests/element_properties.rs`.

use std::path::PathBuf;

pub use super::common::Rng;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(p).unwrap()
}

/// Split an encoder's raw concatenation (every frame starts with `FF D8 FF`
/// right after the previous `FF D9`).
fn split_concatenation(data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut start = 0;
    for i in 2..data.len().saturating_sub(2) {
        if data[i - 2..i] == [0xFF, 0xD9] && data[i..i + 3] == [0xFF, 0xD8, 0xFF] {
            frames.push(data[start..i].to_vec());
            start = i;
        }
    }
    frames.push(data[start..].to_vec());
    frames
}

/// How many of [`good_frames`] (the last ones) hold the boundary line.
pub const BOUNDARY_FRAMES: usize = 3;

/// Good frames from several encoders (baseline, progressive, restart
/// intervals, 4:2:2, gray, RGB, an EXIF thumbnail), and some holding the
/// boundary line in a segment.
pub fn good_frames() -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = [
        "gray.jpg",
        "rgb.jpg",
        "exif-thumb.jpg",
        "progressive.jpg",
        "restart-422.jpg",
        "restart-jpegtran.jpg",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    for name in ["gst-jpegenc.mjpg", "ffmpeg.mjpg"] {
        frames.extend(split_concatenation(&fixture(name)));
    }
    // Frames holding the streams' own boundary line (`--frame`) in a
    // segment payload, as ffmpeg's mpjpeg muxer writes a frame whose comment
    // holds it: a COM or an APP1 after the SOI, a COM before the EOI.
    use gstmjpegsplit::properties::with_segment;
    let line = b"\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\n";
    frames.push(with_segment(&fixture("gray.jpg"), 0xFE, line, false));
    frames.push(with_segment(
        &fixture("rgb.jpg"),
        0xE1,
        &[b"Exif\0\0".as_slice(), line].concat(),
        false,
    ));
    frames.push(with_segment(&fixture("exif-thumb.jpg"), 0xFE, line, true));
    frames
}

/// A marker segment of a JPEG header: its marker at `at`, `len` the value
/// of its length field (payload + 2).
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    pub code: u8,
    pub at: usize,
    pub len: usize,
}

/// The segments from SOI up to and including SOS.
pub fn segments(jpeg: &[u8]) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let code = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        out.push(Seg { code, at: i, len });
        if code == 0xDA {
            break;
        }
        i += 2 + len;
    }
    out
}

fn entropy_start(jpeg: &[u8]) -> usize {
    let sos = *segments(jpeg).last().unwrap();
    sos.at + 2 + sos.len
}

fn pick_seg(rng: &mut Rng, jpeg: &[u8], codes: &[u8]) -> Option<Seg> {
    let segs: Vec<Seg> = segments(jpeg)
        .into_iter()
        .filter(|s| codes.contains(&s.code))
        .collect();
    (!segs.is_empty()).then(|| segs[rng.below(segs.len())])
}

/// What was done to a frame, for failure messages.
pub const KINDS: &[&str] = &[
    "cut in DHT",
    "cut in DQT",
    "cut in APP1 with EXIF thumbnail",
    "cut in SOF/SOS",
    "cut in entropy data",
    "length made longer",
    "length made shorter",
    "marker inside a segment",
    "bits flipped in the header",
    "SOI and junk",
];

/// One malformed JPEG of kind `kind` (an index into [`KINDS`]).
pub fn malformed(rng: &mut Rng, good: &[Vec<u8>], kind: usize) -> Vec<u8> {
    let exif = good[2].clone();
    let f = if kind == 2 {
        exif
    } else {
        good[rng.below(good.len())].clone()
    };
    let cut_in = |rng: &mut Rng, s: Seg| f[..s.at + 2 + rng.below(s.len)].to_vec();
    match kind {
        0 => match pick_seg(rng, &f, &[0xC4]) {
            Some(s) => cut_in(rng, s),
            None => f[..f.len() / 2].to_vec(),
        },
        1 => {
            let s = pick_seg(rng, &f, &[0xDB]).unwrap();
            cut_in(rng, s)
        }
        2 => {
            let s = pick_seg(rng, &f, &[0xE1]).unwrap();
            cut_in(rng, s)
        }
        3 => {
            let s = pick_seg(rng, &f, &[0xC0, 0xC1, 0xC2, 0xDA]).unwrap();
            cut_in(rng, s)
        }
        4 => {
            let e = entropy_start(&f);
            f[..e + rng.below(f.len() - 2 - e)].to_vec()
        }
        5 | 6 => {
            let mut v = f.clone();
            let s = segments(&f)[rng.below(segments(&f).len())];
            let len = if kind == 5 {
                (s.len + 1 + rng.below(3000)).min(0xFFFF)
            } else {
                2 + rng.below(s.len.saturating_sub(2))
            };
            v[s.at + 2..s.at + 4].copy_from_slice(&(len as u16).to_be_bytes());
            v
        }
        7 => {
            let mut v = f.clone();
            let segs: Vec<Seg> = segments(&f).into_iter().filter(|s| s.len >= 8).collect();
            let s = segs[rng.below(segs.len())];
            let at = s.at + 4 + rng.below(s.len - 5);
            let marker: &[u8] = [
                &[0xFF, 0xD8, 0xFF][..],
                &[0xFF, 0xD9],
                &[0xFF, 0xDA],
                &[0xFF, 0xC4],
            ][rng.below(4)];
            let n = marker.len().min(s.at + 2 + s.len - at);
            v[at..at + n].copy_from_slice(&marker[..n]);
            v
        }
        8 => {
            let mut v = f.clone();
            let e = entropy_start(&f);
            for _ in 0..1 + rng.below(3) {
                let at = 2 + rng.below(e - 2);
                v[at] ^= 1 << rng.below(8);
            }
            v
        }
        _ => {
            let mut v = vec![0xFF, 0xD8];
            for _ in 0..rng.below(200) {
                v.push(rng.next() as u8);
            }
            v
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Raw,
    /// Content-Length exact on every part.
    MultipartExact,
    /// Exact on good parts, wrong (up to 2000 bytes off) on malformed ones,
    /// and now and then on a good one.
    MultipartWrong,
    MultipartNoLength,
    /// An HTTP response header, then multipart with exact lengths.
    Http,
}

pub const FORMATS: &[Format] = &[
    Format::Raw,
    Format::MultipartExact,
    Format::MultipartWrong,
    Format::MultipartNoLength,
    Format::Http,
];

/// A good frame in a stream: its offset, bytes and item index.
pub struct Good {
    pub start: u64,
    pub bytes: Vec<u8>,
    pub index: usize,
}

/// A stream of `n` items, good frames and malformed files interleaved (about
/// half each). Returns the stream and the good frames in order, each with
/// its `X-Index` part header value.
pub fn stream(rng: &mut Rng, good: &[Vec<u8>], format: Format, n: usize) -> (Vec<u8>, Vec<Good>) {
    let mut data = Vec::new();
    if format == Format::Http {
        data.extend(
            b"HTTP/1.0 200 OK\r\nServer: test\r\nContent-Type: multipart/x-mixed-replace;boundary=frame\r\n\r\n",
        );
    }
    // A raw stream holds no multipart text: the frames with the boundary
    // line inside (the last ones) only go into multipart streams (cut, they
    // would put a delimiter line between raw frames, which rightly switches
    // the framing to multipart).
    let good = match format {
        Format::Raw => &good[..good.len() - BOUNDARY_FRAMES],
        _ => good,
    };
    let mut goods = Vec::new();
    for k in 0..n {
        let is_good = rng.below(2) == 0;
        let body = if is_good {
            good[rng.below(good.len())].clone()
        } else {
            let kind = rng.below(KINDS.len());
            if std::env::var_os("CORPUS_DEBUG").is_some() {
                eprintln!("{format:?} item {k} at {}: {}", data.len(), KINDS[kind]);
            }
            malformed(rng, good, kind)
        };
        let len = match format {
            Format::MultipartWrong if !is_good || rng.below(8) == 0 => {
                let delta = 1 + rng.below(2000);
                Some(if rng.below(2) == 0 {
                    body.len() + delta
                } else {
                    body.len().saturating_sub(delta)
                })
            }
            Format::MultipartExact | Format::MultipartWrong | Format::Http => Some(body.len()),
            _ => None,
        };
        if format != Format::Raw {
            data.extend(
                format!("--frame\r\nContent-Type: image/jpeg\r\nX-Index: {k}\r\n").as_bytes(),
            );
            if let Some(l) = len {
                data.extend(format!("Content-Length: {l}\r\n").as_bytes());
            }
            data.extend(b"\r\n");
        }
        let start = data.len() as u64;
        data.extend(&body);
        if format != Format::Raw {
            data.extend(b"\r\n");
        }
        if is_good {
            goods.push(Good {
                start,
                bytes: body,
                index: k,
            });
        }
    }
    (data, goods)
}

/// A frame that came out: where it starts in the stream, its bytes, and
/// the `X-Index` header of its part, if any.
pub type Out = (u64, Vec<u8>, Option<usize>);

/// The good frames (by item index) that do not come out: each must appear
/// at its own offset with its own bytes; with `check_index`, also with its
/// own part's `X-Index`.
pub fn missing(goods: &[Good], outputs: &[Out], check_index: bool) -> Vec<usize> {
    let found: std::collections::HashMap<u64, &Out> = outputs.iter().map(|o| (o.0, o)).collect();
    goods
        .iter()
        .filter(|g| {
            !found
                .get(&g.start)
                .is_some_and(|(_, b, i)| *b == g.bytes && (!check_index || *i == Some(g.index)))
        })
        .map(|g| g.index)
        .collect()
}

/// Damage a whole stream further: cut out ranges, flip bits, insert junk
/// (sometimes full of FF and SOI bytes), as a lossy link or disk would.
pub fn damage(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        if data.len() < 16 {
            return;
        }
        match rng.below(3) {
            0 => {
                let a = rng.below(data.len() - 1);
                let b = (a + 1 + rng.below(8000)).min(data.len());
                data.drain(a..b);
            }
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(data.len());
                    data[at] ^= 1 << rng.below(8);
                }
            }
            _ => {
                let at = rng.below(data.len());
                let n = 1 + rng.below(3000);
                let junk: Vec<u8> = (0..n)
                    .map(|_| match rng.below(8) {
                        0 => 0xFF,
                        1 => 0xD8,
                        _ => rng.next() as u8,
                    })
                    .collect();
                data.splice(at..at, junk);
            }
        }
    }
}

/// What the element gives for a frame, everything a consumer can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementFrame {
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub flags: gst::BufferFlags,
    pub pts: Option<gst::ClockTime>,
    pub duration: Option<gst::ClockTime>,
    /// The part headers meta, as text.
    pub part: Option<String>,
}

impl ElementFrame {
    fn new(b: &gst::Buffer) -> Self {
        ElementFrame {
            offset: b.offset(),
            bytes: b.map_readable().unwrap().to_vec(),
            // TAG_MEMORY says whose memory holds the bytes (filesrc's or ours).
            flags: b.flags() - gst::BufferFlags::TAG_MEMORY,
            pts: b.pts(),
            duration: b.duration(),
            part: gst::meta::CustomMeta::from_buffer(b, gstmjpegsplit::PART_META)
                .ok()
                .map(|m| m.structure().to_string()),
        }
    }

    /// The `X-Index` part header.
    pub fn index(&self) -> Option<usize> {
        let part = self.part.as_deref()?;
        let k = part.find("x-index=(string)")? + 16;
        part[k..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }
}

use gst::prelude::*;

pub fn init() {
    use std::sync::Once;
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegsplit::plugin_register_static().expect("register plugin");
    });
}

fn stats_of(e: &gst::Element) -> gst::Structure {
    e.property::<gst::Structure>("stats")
}

/// Pull mode: `filesrc ! mjpegsplit`. Returns the frames and the stats.
pub fn element_pull(data: &[u8], tag: &str) -> (Vec<ElementFrame>, gst::Structure) {
    init();
    let path = std::env::temp_dir().join(format!(
        "mjpegsplit-{tag}-{}-{:?}.bin",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, data).unwrap();
    let mut h = gst_check::Harness::new_parse(&format!(
        "filesrc location={:?} ! mjpegsplit name=split framerate=10/1",
        path.to_str().unwrap()
    ));
    h.play();
    loop {
        let ev = h.pull_event().unwrap();
        if ev.type_() == gst::EventType::Eos {
            break;
        }
    }
    let frames = std::iter::from_fn(|| h.try_pull())
        .map(|b| ElementFrame::new(&b))
        .collect();
    let bin = h.element().unwrap().downcast::<gst::Bin>().unwrap();
    let stats = stats_of(&bin.by_name("split").unwrap());
    let _ = std::fs::remove_file(&path);
    (frames, stats)
}

/// Push mode: the bytes pushed into mjpegsplit in pieces of the lengths
/// `next_len` gives. Returns the frames and the stats.
pub fn element_push(
    data: &[u8],
    mut next_len: impl FnMut() -> usize,
) -> (Vec<ElementFrame>, gst::Structure) {
    init();
    let mut h = gst_check::Harness::new("mjpegsplit");
    h.element()
        .unwrap()
        .set_property_from_str("framerate", "10/1");
    h.set_live(false);
    h.play();
    h.set_src_caps_str("application/octet-stream");
    let mut frames = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let n = next_len().clamp(1, data.len() - i);
        h.push(gst::Buffer::from_slice(data[i..i + n].to_vec()))
            .unwrap();
        i += n;
        while let Some(b) = h.try_pull() {
            frames.push(ElementFrame::new(&b));
        }
    }
    h.push_event(gst::event::Eos::new());
    while let Some(b) = h.try_pull() {
        frames.push(ElementFrame::new(&b));
    }
    let stats = stats_of(&h.element().unwrap());
    (frames, stats)
}

/// The good frames missing from the element's output (see [`missing`]).
pub fn missing_from_element(
    goods: &[Good],
    frames: &[ElementFrame],
    check_index: bool,
) -> Vec<usize> {
    let outs: Vec<Out> = frames
        .iter()
        .map(|f| (f.offset, f.bytes.clone(), f.index()))
        .collect();
    missing(goods, &outs, check_index)
}
