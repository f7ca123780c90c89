// SPDX-License-Identifier: MIT OR Apache-2.0

//! The bytes of a `multipart/x-mixed-replace` stream: the boundary line comes
//! right after each frame (Firefox shows a part once the next boundary is
//! there), each part has an exact `Content-Length` and its `X-Timestamp`.

use bytes::Bytes;

#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    part_end: Bytes,
}

impl Multipart {
    /// A boundary made of `seed` (unlikely inside a JPEG; parsers that trust
    /// Content-Length never look for it inside a frame anyway).
    pub fn new(seed: u64) -> Self {
        let boundary = format!("mjpeghttpsink-{seed:016x}");
        let part_end = Bytes::from(format!("\r\n--{boundary}\r\n"));
        Multipart { boundary, part_end }
    }

    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    pub fn content_type(&self) -> String {
        format!("multipart/x-mixed-replace;boundary={}", self.boundary)
    }

    /// The first bytes of the body: the first delimiter line.
    pub fn opening(&self) -> Bytes {
        Bytes::from(format!("--{}\r\n", self.boundary))
    }

    /// A part's header lines and the blank line before its frame.
    pub fn head(&self, len: usize, timestamp_ns: Option<u64>, framerate: Option<&str>) -> Bytes {
        let mut s = format!("Content-Type: image/jpeg\r\nContent-Length: {len}\r\n");
        if let Some(t) = timestamp_ns {
            s.push_str("X-Timestamp: ");
            s.push_str(&x_timestamp(t));
            s.push_str("\r\n");
        }
        if let Some(f) = framerate {
            s.push_str("X-Framerate: ");
            s.push_str(f);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        Bytes::from(s)
    }

    /// The headers of a part sent before its frame is known (browser mode:
    /// Chromium paints a part only once the next part's headers are there).
    pub fn early_head(&self) -> Bytes {
        Bytes::from_static(b"Content-Type: image/jpeg\r\n\r\n")
    }

    /// The delimiter line after a frame (it opens the next part).
    pub fn part_end(&self) -> Bytes {
        self.part_end.clone()
    }

    /// The end of the stream. The delimiter after the last frame opened a
    /// part: it stays empty (no headers, no bytes), then the close delimiter.
    pub fn closing(&self) -> Bytes {
        Bytes::from(format!("\r\n--{}--\r\n", self.boundary))
    }
}

/// `X-Timestamp` as mjpg-streamer and ustreamer write it: seconds with six
/// decimals.
pub fn x_timestamp(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000)
}
