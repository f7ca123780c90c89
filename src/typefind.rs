// SPDX-License-Identifier: MIT OR Apache-2.0

//! A typefinder for MJPEG *streams*, so that playbin/decodebin plug
//! mjpegsplit for them whatever the file is called: `gst-play-1.0 rec.bin`
//! then plays at the frame rate and can seek.
//!
//! It suggests [`stream_caps`] (`image/jpeg, mjpeg-stream=true`, which only
//! mjpegsplit accepts inside decodebin) for
//! * two or more whole JPEGs back to back, with or without junk between them,
//!   the first two of the same size (a single still JPEG, a phone's MPO or
//!   Ultra HDR photo, whose first image carries an APP2 "MPF" index of the
//!   others, and a photo with a smaller preview or depth map appended after
//!   its end stay `image/jpeg`);
//! * a multipart body, or an HTTP response with one, whose first part is a
//!   JPEG (other multipart content stays `multipart/x-mixed-replace`);
//! * an HTTP response followed by two or more JPEGs.
//!
//! **Do no harm.** It runs just before GStreamer's JPEG typefinder (rank
//! primary + 15, which claims any data starting with a JPEG): it has to, or
//! a raw stream not named `.mjpg` plays as one still image. So it must never
//! claim a container file: those (RIFF/AVI, QuickTime/MP4, Matroska, MPEG-TS
//! and PS, Ogg, FLV, ASF, MXF) hold their JPEG frames behind binary headers,
//! with chunk headers and audio between them. Only data that *starts* like an
//! MJPEG stream is looked at:
//! * a JPEG SOI at the first byte (after blank lines or `FF` fill bytes);
//! * text (HTTP status line, multipart boundary or part headers) up to the
//!   first SOI, which the framing must then read as HTTP or multipart;
//! * a recording cut in the middle of a frame: binary bytes up to an
//!   `FF D9 FF D8` (the cut frame's EOI right before the next SOI) in the
//!   first 64 KiB, and not one of the container signatures above.
//!
//! The caps are `image/jpeg` with a marker field rather than a type of their
//! own so that gst-discoverer, which merges a stream with what its parser
//! outputs only when both caps intersect, reports one video stream (the
//! parsed JPEG frames with their size and rate) and not a second, empty one.

use gst::glib;

use crate::multipart::{Format, Output, Splitter};

/// The type name of the first typefinder, still accepted by mjpegsplit's
/// sink pad (also inside decodebin).
pub const CAPS_NAME: &str = "video/x-mjpeg-stream";

/// The field that marks `image/jpeg` caps as a whole stream of JPEGs.
pub const STREAM_FIELD: &str = "mjpeg-stream";

/// What the typefinder suggests for an MJPEG stream.
pub fn stream_caps() -> gst::Caps {
    gst::Caps::builder("image/jpeg")
        .field(STREAM_FIELD, true)
        .build()
}

/// Whether caps (their first structure) say "an MJPEG byte stream", as the
/// typefinder suggests it: what mjpegsplit takes inside decodebin.
pub fn is_stream(s: &gst::StructureRef) -> bool {
    s.name() == CAPS_NAME || (s.name() == "image/jpeg" && s.get::<bool>(STREAM_FIELD) == Ok(true))
}

/// Windows tried, smallest first: enough for headers, then for a second frame.
const WINDOWS: [u32; 4] = [4096, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/// Where a recording cut mid-frame may have its first SOI.
const CUT_WINDOW: usize = 64 * 1024;

/// How the data starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// A JPEG SOI (after blank lines or fill bytes).
    Jpeg,
    /// Text up to the first SOI: HTTP headers or a multipart body.
    Text,
    /// The tail of a cut frame, then an SOI right after its EOI.
    CutFrame,
}

const SOI: [u8; 3] = [0xFF, 0xD8, 0xFF];

fn is_text(b: u8) -> bool {
    matches!(b, b'\t' | b'\r' | b'\n' | 0x20..=0x7E)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// How `head` (the first bytes, up to 64 KiB) starts, if like an MJPEG stream.
fn start_of(head: &[u8]) -> Option<Start> {
    if crate::containers::container(head).is_some() {
        return None;
    }
    let first = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &head[first..];
    let fill = rest.iter().position(|&b| b != 0xFF)?;
    if fill > 0 && rest[fill] == 0xD8 && rest.get(fill + 1) == Some(&0xFF) {
        return Some(Start::Jpeg);
    }
    let soi = find(head, &SOI)?;
    if head[..soi].iter().all(|&b| is_text(b)) {
        return Some(Start::Text);
    }
    // A cut frame: its EOI right before the first SOI.
    ((2..=CUT_WINDOW).contains(&soi) && head[soi - 2..soi] == [0xFF, 0xD9])
        .then_some(Start::CutFrame)
}

/// Whether the JPEG at `data[0..]` has an APP2 "MPF" segment before its
/// scan: the first image of an MPO (or Ultra HDR) file, which indexes the
/// images that follow it.
fn is_multi_picture(data: &[u8]) -> bool {
    let mut pos = 2;
    while pos + 4 <= data.len() {
        if data[pos] != 0xFF {
            return false;
        }
        let marker = data[pos + 1];
        match marker {
            0xFF => pos += 1,
            0x01 | 0xD0..=0xD7 => pos += 2,
            0xD8..=0xDA => return false,
            _ => {
                let len = usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]]));
                let body = data.get(pos + 4..(pos + 2 + len).min(data.len()));
                if marker == 0xE2 && body.is_some_and(|b| b.starts_with(b"MPF\0")) {
                    return true;
                }
                pos += 2 + len;
            }
        }
    }
    false
}

/// Whether `data` (the first bytes of a file, or all of it), starting as
/// `start` says, is an MJPEG stream.
fn looks_like_stream(data: &[u8], start: Start) -> bool {
    let mut s = Splitter::default();
    let mut out = Vec::new();
    while (s.offset() as usize) < data.len() {
        let off = s.offset() as usize;
        s.feed(&data[off..], &mut out);
    }
    let mut frames = out.iter().filter_map(|o| match o {
        Output::Frame { frame, .. } if frame.complete => Some(frame),
        _ => None,
    });
    let (first, second) = (frames.next(), frames.next());
    // Two whole JPEGs of the same size, the first not the index of a
    // multi-picture photo. (A photo's appended preview or depth map has a
    // size of its own; a camera's frames share theirs.)
    let raw = || match (first, second) {
        (Some(a), Some(b)) => {
            (a.info.width, a.info.height) == (b.info.width, b.info.height)
                && !is_multi_picture(&data[a.start as usize..a.end as usize])
        }
        _ => false,
    };
    match (start, s.format()) {
        (Start::Jpeg | Start::CutFrame, Format::Raw) => raw(),
        (Start::Text, Format::HttpRaw) => raw(),
        // A multipart body whose first part is a JPEG.
        (Start::Text, Format::Multipart | Format::HttpMultipart) => first.is_some() || s.in_frame(),
        // Text then JPEGs that no HTTP or multipart framing introduces (a
        // PDF, say) is not a stream.
        _ => false,
    }
}

/// The smallest view decided on with an unknown length (the typefind
/// element of a push-mode pipeline asks from 2 KiB on).
const MIN_VIEW: u32 = 1024;

/// How many of the first `want` bytes can be looked at: all of them, or,
/// when the length is unknown (push mode: HTTP in playbin, gst-play,
/// gst-transcoder, where the typefind element holds only what has arrived
/// so far), as many as have arrived, from [`MIN_VIEW`] on.
fn available(tf: &mut gst::TypeFind, want: u32, length: Option<u64>) -> Option<u32> {
    if tf.peek(0, want).is_some() {
        return Some(want);
    }
    if length.is_some() || want <= MIN_VIEW || tf.peek(0, MIN_VIEW).is_none() {
        return None;
    }
    // The most that is there, in MIN_VIEW..want.
    let (mut lo, mut hi) = (MIN_VIEW, want);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if tf.peek(0, mid).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

fn type_find(tf: &mut gst::TypeFind) {
    let length = tf.length();
    let size_of =
        |window: u32| length.map_or(window, |l| window.min(u32::try_from(l).unwrap_or(u32::MAX)));
    let start = {
        let Some(n) = available(tf, size_of(WINDOWS[0]), length) else {
            return;
        };
        let Some(head) = tf.peek(0, n) else {
            return;
        };
        match start_of(head) {
            Some(start) => start,
            // Not decided in the first 4 KiB: an HTTP response or a cut frame.
            None if n == WINDOWS[0] && length.is_none_or(|l| l > u64::from(WINDOWS[0])) => {
                let Some(n) = available(tf, size_of(WINDOWS[1]), length) else {
                    return;
                };
                match tf.peek(0, n).and_then(start_of) {
                    Some(start) => start,
                    None => return,
                }
            }
            None => return,
        }
    };
    for window in WINDOWS {
        let want = size_of(window);
        let Some(n) = available(tf, want, length) else {
            return;
        };
        let Some(data) = tf.peek(0, n) else {
            return;
        };
        if looks_like_stream(data, start) {
            tf.suggest(gst::TypeFindProbability::Maximum, &stream_caps());
            return;
        }
        // Everything there is has been seen (for now, with an unknown length).
        if n < want || length == Some(u64::from(n)) {
            return;
        }
    }
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::TypeFind::register(
        Some(plugin),
        "mjpeg_stream",
        // Just before GStreamer's JPEG typefinder (primary + 15). The JPEG
        // extensions make it come first for `.jpg` names as well, where
        // typefinders named by the extension are tried first.
        gst::Rank::PRIMARY + 16,
        Some("mjpg,mjpeg,jpg,jpeg,jpe"),
        Some(&stream_caps()),
        type_find,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAY: &[u8] = include_bytes!("../tests/fixtures/gray.jpg");
    const MULTIPART: &[u8] = include_bytes!("../tests/fixtures/gst-multipartmux.mjpg");

    fn stream(data: &[u8]) -> bool {
        start_of(&data[..data.len().min(CUT_WINDOW)]).is_some_and(|s| looks_like_stream(data, s))
    }

    #[test]
    fn streams_not_images() {
        assert!(!stream(GRAY));
        assert!(stream(&GRAY.repeat(2)));
        assert!(stream(&GRAY.repeat(3)));
        // Junk and fill between frames; blank lines before.
        let junk = [b"\r\n\r\n", GRAY, b"\0\0junk\xFF\xFF", GRAY].concat();
        assert!(stream(&junk));
        // Only the start of a long stream is seen.
        assert!(stream(&[GRAY, GRAY, &GRAY[..100]].concat()));
        assert!(!stream(&[GRAY, &GRAY[..100]].concat()));
        assert!(stream(MULTIPART));
        let mut curl_i =
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=b\r\n\r\n"
                .to_vec();
        curl_i.extend(b"--b\r\nContent-Type: image/jpeg\r\n\r\n");
        curl_i.extend(&GRAY[..500]);
        assert!(stream(&curl_i));
        let http_raw = [
            b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\n",
            GRAY,
            GRAY,
        ]
        .concat();
        assert!(stream(&http_raw));
        // Multipart with other content.
        let png = b"--b\r\nContent-Type: image/png\r\nContent-Length: 8\r\n\r\n\x89PNG\r\n\x1a\n\r\n--b\r\n";
        assert!(!stream(png));
        assert!(!stream(b"hello world"));
        // Text, then JPEGs with no HTTP or multipart framing.
        let pdf = [
            b"%PDF-1.4\n1 0 obj stream\n",
            GRAY,
            b"\nendstream\n2 0 obj stream\n",
            GRAY,
        ]
        .concat();
        assert!(!stream(&pdf));
    }

    /// A copy of `GRAY` with an APP2 "MPF" segment after its SOI, as the
    /// first image of an MPO photo has.
    fn with_mpf(jpeg: &[u8]) -> Vec<u8> {
        let payload = b"MPF\0II*\0\x08\0\0\0";
        let len = (payload.len() + 2) as u16;
        let mut v = jpeg[..2].to_vec();
        v.extend([0xFF, 0xE2]);
        v.extend(len.to_be_bytes());
        v.extend(payload);
        v.extend(&jpeg[2..]);
        v
    }

    #[test]
    fn multi_picture_photos_stay_images() {
        let first = with_mpf(GRAY);
        assert!(is_multi_picture(&first));
        assert!(!is_multi_picture(GRAY));
        assert!(!stream(&[&first[..], GRAY].concat()));
        assert!(!stream(&[&first[..], GRAY, GRAY].concat()));
    }

    /// `jpeg` with the height of its SOF changed.
    fn with_height(jpeg: &[u8], height: u16) -> Vec<u8> {
        let mut v = jpeg.to_vec();
        let sof = v.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        v[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
        v
    }

    #[test]
    fn photos_with_appended_images_of_another_size_stay_images() {
        let other = with_height(GRAY, 32);
        assert!(!stream(&[GRAY, &other].concat()));
        assert!(!stream(&[GRAY, &other, &other].concat()));
        // A stream whose size changes after its second frame is one.
        assert!(stream(&[GRAY, GRAY, &other].concat()));
    }

    #[test]
    fn cut_frame_then_stream() {
        let cut = [&GRAY[700..], GRAY, GRAY].concat();
        assert!(stream(&cut));
        // Binary headers right before the first SOI: a container's.
        let boxed = [&b"\0\0\0\x10mdat\0\0\0\0\0\0\0\0"[..], GRAY, GRAY].concat();
        assert!(!stream(&boxed));
        let atom = [&b"\x00\x00\x01\x00junk"[..], GRAY, GRAY].concat();
        assert!(!stream(&atom));
        // Frames back to back after a binary header (a QuickTime mdat with
        // a header this test does not know): the first SOI decides.
        let mdat = [&b"\0\0\0\x10abcd\0\0\0\0\0\0\0\0"[..], GRAY, GRAY, GRAY].concat();
        assert!(!stream(&mdat));
    }

    #[test]
    fn containers_are_never_claimed() {
        // The frames of a container, even back to back after its header.
        let frames = [GRAY, GRAY, GRAY].concat();
        for head in [
            &b"RIFF\x10\0\0\0AVI LIST"[..],
            b"\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\0\x08wide\x10\0\0\0mdat",
            b"\x1A\x45\xDF\xA3\x9f\x42\x86\x81\x01",
            b"OggS\0\x02",
            b"FLV\x01\x05\0\0\0\x09",
        ] {
            let mut data = head.to_vec();
            // A cut frame's EOI right before the first frame.
            data.extend([0x12, 0xFF, 0xD9]);
            data.extend(&frames);
            assert!(!stream(&data), "{:?}", &head[..4]);
        }
        // MPEG-TS sync bytes 188 bytes apart, then a cut frame's EOI.
        let mut ts = vec![0u8; 191];
        ts[0] = 0x47;
        ts[188] = 0x47;
        ts[189] = 0xFF;
        ts[190] = 0xD9;
        ts.extend(&frames);
        assert!(!stream(&ts));
    }
}
