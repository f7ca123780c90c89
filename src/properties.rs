// SPDX-License-Identifier: MIT OR Apache-2.0

//! Properties of the scanner and the splitter that must hold on *any* input,
//! checked by the property tests (`tests/properties.rs`) and the fuzz targets
//! (`fuzz/`). Each check runs the input whole and in chunks and returns a
//! description of the first property that does not hold.
//!
//! * The same frames come out however the input is chunked.
//! * Every frame starts with SOI; a complete frame ends with EOI; none is
//!   longer than the maximum frame size.
//! * A complete frame fed again alone gives that same frame (for the
//!   splitter, frames whose end came from a Content-Length are exempt: the
//!   declared length is trusted when an EOI ends it; and no frame is checked
//!   once the back-off budget was spent on the stream, see
//!   `Scanner::backoffs_refused`).

use crate::jpeg::{Event, Frame, Hints, Scanner};
use crate::multipart::{Output, Splitter};

/// Chunk lengths from a seed: 1-byte, small and large pieces.
pub struct Chunks(u64);

impl Chunks {
    pub fn new(seed: u64) -> Self {
        Chunks(seed | 1)
    }

    pub fn next_len(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        match self.0 % 4 {
            0 => 1,
            1 => (self.0 >> 8) as usize % 16 + 1,
            2 => (self.0 >> 8) as usize % 4096 + 1,
            _ => (self.0 >> 8) as usize % 100_000 + 1,
        }
    }
}

/// Scan `data` in chunks given by `chunks` (or whole when `None`).
pub fn scan(data: &[u8], max_frame_size: u64, chunks: Option<&mut Chunks>) -> Vec<Event> {
    scan_with(data, max_frame_size, chunks).0
}

/// As [`scan`], also returning the scanner (for its counters).
pub fn scan_with(
    data: &[u8],
    max_frame_size: u64,
    chunks: Option<&mut Chunks>,
) -> (Vec<Event>, Scanner) {
    let mut s = Scanner::new(max_frame_size);
    let mut out = Vec::new();
    let next_len = |c: &mut Option<&mut Chunks>| match c {
        Some(c) => c.next_len(),
        None => data.len(),
    };
    let mut chunks = chunks;
    let mut avail = 0;
    while avail < data.len() {
        avail = avail.saturating_add(next_len(&mut chunks)).min(data.len());
        // Fed again from where it backs off (a broken frame).
        while (s.offset() as usize) < avail {
            let off = s.offset() as usize;
            s.feed(&data[off..avail], &mut out);
        }
    }
    while !s.finish(&mut out) {
        while (s.offset() as usize) < data.len() {
            let off = s.offset() as usize;
            s.feed(&data[off..], &mut out);
        }
    }
    (out, s)
}

/// As [`scan`] in chunks, each chunk a block with its [`Hints`] (as pull
/// mode's reading thread gives them); bytes fed again after a back-off are
/// covered only if they are in the last block.
pub fn scan_hinted(data: &[u8], max_frame_size: u64, chunks: &mut Chunks) -> Vec<Event> {
    let mut s = Scanner::new(max_frame_size);
    let mut out = Vec::new();
    let mut avail = 0;
    while avail < data.len() {
        let from = avail;
        avail = avail.saturating_add(chunks.next_len()).min(data.len());
        s.set_hints(Some(Hints::find(&data[from..avail], from as u64)));
        while (s.offset() as usize) < avail {
            let off = s.offset() as usize;
            s.feed(&data[off..avail], &mut out);
        }
    }
    while !s.finish(&mut out) {
        while (s.offset() as usize) < data.len() {
            let off = s.offset() as usize;
            s.feed(&data[off..], &mut out);
        }
    }
    out
}

/// Split `data` in chunks (or whole), feeding again what the splitter asks for.
pub fn split(data: &[u8], max_frame_size: u64, chunks: Option<&mut Chunks>) -> Vec<Output> {
    match chunks {
        Some(c) => split_with(data, max_frame_size, || c.next_len()).0,
        None => split_with(data, max_frame_size, || data.len()).0,
    }
}

/// Split `data` fed in pieces of the lengths `next_len` gives; returns the
/// outputs and the splitter (for its statistics).
pub fn split_with(
    data: &[u8],
    max_frame_size: u64,
    mut next_len: impl FnMut() -> usize,
) -> (Vec<Output>, Splitter) {
    let mut s = Splitter::new(max_frame_size);
    let mut out = Vec::new();
    let mut avail = 0;
    // As the element does: the frames are taken out of the bytes kept, in
    // order, and after each feed loop only the bytes from `retain_from()`
    // (and from the end of the last frame) on are kept; the splitter must
    // never ask for, or output a frame with, bytes before that (the
    // contract on `Splitter`).
    let mut kept = 0;
    let feed_to = |s: &mut Splitter, out: &mut Vec<Output>, avail: usize, kept: u64| {
        let reported = out.len();
        while (s.offset() as usize) < avail {
            let off = s.offset();
            assert!(off >= kept, "splitter rewound to {off}, before {kept}");
            s.feed(&data[off as usize..avail], out);
        }
        take_frames(&out[reported..], kept)
    };
    while avail < data.len() {
        avail = avail.saturating_add(next_len().max(1)).min(data.len());
        kept = feed_to(&mut s, &mut out, avail, kept).max(s.retain_from());
    }
    loop {
        let reported = out.len();
        let done = s.finish(&mut out);
        kept = take_frames(&out[reported..], kept);
        if done {
            break;
        }
        kept = feed_to(&mut s, &mut out, data.len(), kept);
    }
    (out, s)
}

/// Take the frames of `outputs` out of the bytes kept from `kept` on, in
/// order; returns where the kept bytes start then.
fn take_frames(outputs: &[Output], mut kept: u64) -> u64 {
    for o in outputs {
        if let Output::Frame { frame, .. } = o {
            assert!(
                frame.start >= kept,
                "frame {}..{} output after bytes before {kept} were dropped",
                frame.start,
                frame.end
            );
            kept = frame.end;
        }
    }
    kept
}

fn well_formed(data: &[u8], f: &Frame, max: u64) -> Result<(), String> {
    let (start, end) = (f.start as usize, f.end as usize);
    let bytes = data
        .get(start..end)
        .ok_or_else(|| format!("frame {start}..{end} outside the input"))?;
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(format!("frame {start}..{end} does not start with SOI"));
    }
    if f.complete && !bytes.ends_with(&[0xFF, 0xD9]) {
        return Err(format!(
            "complete frame {start}..{end} does not end with EOI"
        ));
    }
    if f.len() > max {
        return Err(format!("frame {start}..{end} longer than {max}"));
    }
    Ok(())
}

fn refeed(data: &[u8], f: &Frame, max: u64) -> Result<(), String> {
    let bytes = &data[f.start as usize..f.end as usize];
    let again = scan(bytes, max, None);
    match again.as_slice() {
        [Event::Frame(g)] if g.start == 0 && g.end == f.len() && g.complete => Ok(()),
        other => Err(format!(
            "frame {}..{} fed alone gives {other:?}",
            f.start, f.end
        )),
    }
}

/// Check the scanner's properties on `data`; returns its events.
pub fn check_scanner(data: &[u8], seed: u64, max: u64) -> Result<Vec<Event>, String> {
    let (whole, s) = scan_with(data, max, None);
    // With its back-off budget spent, the scanner may report a frame that
    // holds another: fed alone, it backs off there.
    let refeed_ok = s.backoffs_refused() == 0;
    let chunked = scan(data, max, Some(&mut Chunks::new(seed)));
    if whole != chunked {
        return Err("scanner: chunking changed the frames".into());
    }
    if scan_hinted(data, max, &mut Chunks::new(seed.rotate_left(7))) != whole {
        return Err("scanner: marker hints changed the frames".into());
    }
    for ev in &whole {
        if let Event::Frame(f) = ev {
            well_formed(data, f, max)?;
            if f.complete && refeed_ok {
                refeed(data, f, max)?;
            }
        }
    }
    Ok(whole)
}

/// Check the splitter's properties on `data`; returns its outputs.
pub fn check_splitter(data: &[u8], seed: u64, max: u64) -> Result<Vec<Output>, String> {
    let (whole, s) = split_with(data, max, || data.len());
    let refeed_ok = s.backoffs_refused() == 0;
    let chunked = split(data, max, Some(&mut Chunks::new(seed)));
    if whole != chunked {
        return Err("splitter: chunking changed the frames".into());
    }
    for out in &whole {
        if let Output::Frame {
            frame, by_length, ..
        } = out
        {
            well_formed(data, frame, max)?;
            if frame.complete && !by_length && refeed_ok {
                refeed(data, frame, max)?;
            }
        }
    }
    Ok(whole)
}

/// How the fuzz targets read their input: 8 bytes of chunking seed, one byte
/// choosing the frame size limit (sometimes small, to exercise drops), then
/// the stream. Used again by the regression tests of fuzz findings.
pub fn fuzz_input(data: &[u8]) -> Option<(u64, u64, &[u8])> {
    let (head, stream) = data.split_first_chunk::<9>()?;
    let mut seed = [0; 8];
    seed.copy_from_slice(&head[..8]);
    let max = match head[8] % 4 {
        0 => 64 + u64::from(head[8]) * 64,
        _ => crate::jpeg::DEFAULT_MAX_FRAME_SIZE,
    };
    Some((u64::from_le_bytes(seed), max, stream))
}

/// A damaged stream built from good JPEG `frames` by the bytes of `recipe`
/// (for the fuzz targets): each item is a good frame or a malformed one (cut
/// inside a marker segment or its entropy data, a length field made longer
/// or shorter, bits flipped, the boundary line inside a segment), written raw or as a multipart part with an
/// exact, wrong or missing Content-Length; junk and cuts come in between.
pub fn damaged_stream(recipe: &[u8], frames: &[&[u8]]) -> Vec<u8> {
    let mut data = Vec::new();
    if frames.is_empty() {
        return data;
    }
    let mut r = recipe.iter().copied();
    let mut next = move || r.next();
    let multipart = next().unwrap_or(0) % 3;
    if multipart == 2 {
        data.extend_from_slice(
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=fz\r\n\r\n",
        );
    }
    for _ in 0..64 {
        let Some(op) = next() else {
            break;
        };
        let f = frames[usize::from(next().unwrap_or(0)) % frames.len()];
        let a = usize::from(next().unwrap_or(0)) << 8 | usize::from(next().unwrap_or(0));
        let mut body = f.to_vec();
        match op % 8 {
            // Cut (inside a header segment when `a` is small).
            0 | 1 => body.truncate(a % f.len().max(1)),
            // A length field made longer or shorter.
            2 => {
                let at = 4 + (a % 6) * 20;
                if at + 1 < body.len() {
                    body[at] = next().unwrap_or(0);
                    body[at + 1] = next().unwrap_or(0);
                }
            }
            // Bits flipped.
            3 => {
                let at = a % body.len().max(1);
                if let Some(b) = body.get_mut(at) {
                    *b ^= next().unwrap_or(1) | 1;
                }
            }
            // The stream's boundary line inside a segment payload: a COM
            // or APP1 right after the SOI, or a COM right before the EOI.
            5 => {
                let line = b"\r\n--fz\r\nContent-Type: image/jpeg\r\n\r\n";
                body = match a % 3 {
                    0 => with_segment(&body, 0xFE, line, false),
                    1 => with_segment(&body, 0xE1, &[b"Exif\0\0".as_slice(), line].concat(), false),
                    _ => with_segment(&body, 0xFE, line, true),
                };
            }
            // Junk between frames, sometimes full of FF and SOI bytes.
            4 => {
                let n = a % 300;
                for k in 0..n {
                    data.push(match k % 5 {
                        0 => 0xFF,
                        1 => 0xD8,
                        _ => next().unwrap_or(0x55),
                    });
                }
            }
            _ => {}
        }
        if multipart > 0 {
            let len = match next().unwrap_or(0) % 4 {
                0 => None,
                1 => Some(body.len().saturating_add(a % 3000)),
                2 => Some(body.len().saturating_sub(a % 3000)),
                _ => Some(body.len()),
            };
            data.extend_from_slice(b"--fz\r\nContent-Type: image/jpeg\r\n");
            if let Some(l) = len {
                data.extend_from_slice(format!("Content-Length: {l}\r\n").as_bytes());
            }
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(&body);
        if multipart > 0 {
            data.extend_from_slice(b"\r\n");
        }
    }
    data
}

/// `jpeg` with a marker segment `code` (COM, APPn) holding `payload`: right
/// after its SOI, or (`before_eoi`) right before its last two bytes (the
/// EOI of a whole frame). A frame too short for either is returned as it is.
pub fn with_segment(jpeg: &[u8], code: u8, payload: &[u8], before_eoi: bool) -> Vec<u8> {
    let Ok(len) = u16::try_from(payload.len() + 2) else {
        return jpeg.to_vec();
    };
    if jpeg.len() < 4 {
        return jpeg.to_vec();
    }
    let seg = [&[0xFF, code], len.to_be_bytes().as_slice(), payload].concat();
    let at = if before_eoi { jpeg.len() - 2 } else { 2 };
    [&jpeg[..at], &seg, &jpeg[at..]].concat()
}

/// The splitter fed in fixed pieces of `n` bytes gives what it gives whole
/// (the element's pull and push reads); returns a description otherwise.
pub fn check_piece_sizes(data: &[u8], max: u64) -> Result<(), String> {
    let whole = split(data, max, None);
    for n in [1, 7, 512] {
        if split_with(data, max, || n).0 != whole {
            return Err(format!("splitter: {n}-byte pieces changed the frames"));
        }
    }
    Ok(())
}
