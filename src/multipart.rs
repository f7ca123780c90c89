// SPDX-License-Identifier: MIT OR Apache-2.0

//! Stream framing above the JPEG scanner: detects raw JPEG concatenation, a
//! multipart body, or a whole HTTP response, and reads multipart part
//! headers leniently. No GStreamer types.
//!
//! * **Detection** (at the start and after [`Splitter::reset`]): the first
//!   bytes decide. `FF` → raw JPEGs; `HTTP/1.x` → a response whose headers are
//!   read (the boundary of its Content-Type is kept as a hint); a `--…` line or
//!   a `Name: value` line → multipart; anything else → raw (the JPEG scanner
//!   skips garbage). It runs again at a new HTTP status line (between raw
//!   frames or multipart parts: a `curl -i --digest` or `curl -i -L`
//!   recording, whose `401` or `302` response body is skipped), and a
//!   `--boundary` line between raw frames switches to multipart there (a
//!   stream joined in the middle of a part).
//! * **Part headers**: names in any case, any blanks around values, LF or
//!   CRLF, a boundary with or without its leading `--`, duplicated boundary
//!   lines, closing delimiters, a first part without a boundary line. The
//!   boundary seen in the body wins over the HTTP header's.
//! * **Bodies**: a part with a `Content-Length` is jumped over: the header
//!   section is walked (for the SOF, never past the declared end), the
//!   entropy data is not, and the frame is output when its last declared
//!   byte arrives if an EOI ends it there (trailing blanks allowed). If not,
//!   the delimiter right after the declared end confirms the length: the part
//!   is walked up to there and the frame cut there, so the damage stays in
//!   that part. Without the delimiter ("too short", "too long") the caller
//!   is asked to feed the skipped bytes again and the frame is found by the
//!   marker walk, as for parts without a length. A delimiter line inside a
//!   segment ends a broken frame, and so does one inside the entropy data
//!   when a frame cut short is walked again.
//! * Empty parts give nothing; non-JPEG parts are skipped and counted.

//!
//! Rooms: `splitter.rs` the splitter that dispatches (state, contract,
//! feeding); `detect.rs` format detection and re-detection; `headers.rs`
//! header lines and their quirks; `body.rs` part bodies and the
//! Content-Length cross-check.

use crate::jpeg::{self, DropReason, Frame, Scanner, Stop};
use memchr::memchr;

// Paths given: the fuzz targets include this file by its path.
#[path = "multipart/body.rs"]
mod body;
#[path = "multipart/detect.rs"]
mod detect;
#[path = "multipart/headers.rs"]
mod headers;
#[path = "multipart/splitter.rs"]
mod splitter;

use headers::*;
pub use splitter::Splitter;
use splitter::{MAX_HEADERS, MAX_LINE, State, TAIL, Text};

/// What the stream turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Not decided yet.
    #[default]
    Unknown,
    /// Concatenated JPEGs (possibly with garbage between them).
    Raw,
    /// A multipart body.
    Multipart,
    /// An HTTP response (status line and headers) followed by a multipart body.
    HttpMultipart,
    /// An HTTP response followed by raw JPEGs.
    HttpRaw,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Unknown => "unknown",
            Format::Raw => "raw",
            Format::Multipart => "multipart",
            Format::HttpMultipart => "http-multipart",
            Format::HttpRaw => "http-raw",
        }
    }
}

/// Counters of what the framing saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Multipart parts whose headers were read.
    pub parts: u64,
    /// Parts with no body (`Content-Length: 0` or nothing before the next boundary).
    pub empty_parts: u64,
    /// Parts whose Content-Type is not a JPEG, or whose body is not one.
    pub non_jpeg_parts: u64,
    /// Parts whose Content-Length did not end at the JPEG's EOI.
    pub length_mismatches: u64,
    /// Frames output by the Content-Length fast path.
    pub fast_path_frames: u64,
}

/// What the splitter reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame, with the headers of its multipart part (names in lower case).
    /// `by_length`: its end was taken from the part's Content-Length (an EOI
    /// was checked there) without walking its entropy data.
    Frame {
        frame: Frame,
        headers: Vec<(String, String)>,
        by_length: bool,
    },
    Dropped {
        start: u64,
        end: u64,
        reason: DropReason,
    },
}

#[cfg(test)]
mod tests;
