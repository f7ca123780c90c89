// SPDX-License-Identifier: MIT OR Apache-2.0

//! A typefinder for MJPEG *streams*, so that playbin/decodebin plug
//! mjpegsplit for them: `gst-play-1.0 rec.mjpg` then plays at the frame rate
//! and can seek.
//!
//! It suggests `video/x-mjpeg-stream` (a type only mjpegsplit takes) for
//! * three or more JPEGs back to back (a single still JPEG, and a phone's
//!   MPO photo with its second image, stay `image/jpeg`);
//! * a multipart body, or an HTTP response with one, whose first part is a
//!   JPEG (other multipart content stays `multipart/x-mixed-replace`).
//!
//! It runs before the JPEG and multipart typefinders.

use gst::glib;

use crate::multipart::{Format, Output, Splitter};

pub const CAPS_NAME: &str = "video/x-mjpeg-stream";

/// Windows tried, smallest first: enough for headers, then for a second frame.
const WINDOWS: [u32; 4] = [4096, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/// What the first bytes of a stream say, from the splitter's point of view.
fn looks_like_stream(data: &[u8], whole_file: bool) -> bool {
    let mut s = Splitter::default();
    let mut out = Vec::new();
    while (s.offset() as usize) < data.len() {
        let off = s.offset() as usize;
        s.feed(&data[off..], &mut out);
    }
    let frames = out
        .iter()
        .filter(|o| matches!(o, Output::Frame { frame, .. } if frame.complete))
        .count();
    match s.format() {
        // Three frames, or a third one started: a stream, not an image.
        Format::Raw | Format::HttpRaw => {
            frames >= 3 || (frames == 2 && s.in_frame() && !whole_file)
        }
        // A multipart body whose first part is a JPEG.
        Format::Multipart | Format::HttpMultipart => frames >= 1 || s.in_frame(),
        Format::Unknown => false,
    }
}

fn find(tf: &mut gst::TypeFind) {
    let length = tf.length();
    for window in WINDOWS {
        let size = length.map_or(window, |l| window.min(u32::try_from(l).unwrap_or(u32::MAX)));
        let Some(data) = tf.peek(0, size) else {
            return;
        };
        let whole_file = length == Some(u64::from(size));
        if looks_like_stream(data, whole_file) {
            tf.suggest(
                gst::TypeFindProbability::Maximum,
                &gst::Caps::new_empty_simple(CAPS_NAME),
            );
            return;
        }
        if whole_file {
            return;
        }
    }
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::TypeFind::register(
        Some(plugin),
        "mjpeg_stream",
        gst::Rank::PRIMARY + 10,
        Some("mjpg,mjpeg"),
        Some(&gst::Caps::new_empty_simple(CAPS_NAME)),
        find,
    )
}

#[cfg(test)]
mod tests {
    use super::looks_like_stream;

    const GRAY: &[u8] = include_bytes!("../tests/fixtures/gray.jpg");
    const MULTIPART: &[u8] = include_bytes!("../tests/fixtures/gst-multipartmux.mjpg");

    #[test]
    fn streams_not_images() {
        assert!(!looks_like_stream(GRAY, true));
        // Two images (an MPO photo) are not a video either.
        assert!(!looks_like_stream(&GRAY.repeat(2), true));
        assert!(looks_like_stream(&GRAY.repeat(3), true));
        // Only the start of a long stream is seen: a third SOI is enough.
        assert!(looks_like_stream(
            &[GRAY, GRAY, &GRAY[..100]].concat(),
            false
        ));
        assert!(looks_like_stream(MULTIPART, true));
        let mut curl_i =
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=b\r\n\r\n"
                .to_vec();
        curl_i.extend(b"--b\r\nContent-Type: image/jpeg\r\n\r\n");
        curl_i.extend(&GRAY[..500]);
        assert!(looks_like_stream(&curl_i, false));
        // Multipart with other content.
        let png = b"--b\r\nContent-Type: image/png\r\nContent-Length: 8\r\n\r\n\x89PNG\r\n\x1a\n\r\n--b\r\n";
        assert!(!looks_like_stream(png, true));
        assert!(!looks_like_stream(b"hello world", true));
    }
}
