// SPDX-License-Identifier: MIT OR Apache-2.0

//! Incremental, segment-aware JPEG frame scanner.
//!
//! This module has no GStreamer types. A [`Scanner`] is fed a byte stream in
//! arbitrary chunks and reports every JPEG frame it finds as a byte range in
//! absolute stream offsets, together with the facts of its SOF segment.
//!
//! How a frame is found:
//!
//! * Outside a frame, bytes are skipped (with `memchr`) until an SOI marker
//!   (`FF D8`) that is directly followed by another marker.
//! * In the header section, marker segments are walked by their length fields
//!   (APPn, COM, DQT, DHT, DAC, SOFn, DRI, DNL, …). Their payload is never
//!   looked at, except for the few bytes of SOFn, DNL, APP0/JFIF and
//!   APP14/Adobe that describe the image, so an SOI or EOI inside an EXIF or
//!   JFIF thumbnail, an ICC profile or a comment is never taken as a frame
//!   bound.
//! * After SOS, entropy-coded data is searched for an `FF` that makes a marker,
//!   a window of bytes at a time (`entropy.rs`), or from one [`Hints`] entry
//!   to the next where a reading thread listed them (`hints.rs`); `FF 00`
//!   stuffing, `RST0`–`RST7` and `FF` fill bytes are data. Any other
//!   marker ends the scan: DHT/SOS/… start another segment (progressive and
//!   multi-scan images), EOI ends the frame, and an SOI ends the frame as
//!   *incomplete* and starts the next one.
//! * Bytes where a marker should be (a damaged header) are skipped up to the
//!   next marker, as libjpeg does; the frame is then marked damaged.
//! * **Recovery.** A frame cut inside a marker segment leaves a length field
//!   that points into the next frame: walking it swallows that frame's SOI.
//!   The walk keeps the first SOI (`FF D8 FF`) it meets inside a segment
//!   (or in a length field, or across a segment's end), and when the frame
//!   then proves broken (no marker where one must be, a second SOF, a
//!   payload holding an SOI without its EOI, an APPn segment right after
//!   such an SOI, the end of the frame or the stream before its scan), the
//!   frame is reported cut at that SOI and the scanner *backs off* to it:
//!   the caller feeds those bytes again ([`Scanner::feed`]).
//!
//! The scanner keeps its whole state across calls, including partial length
//! fields and marker prefixes, so a byte is looked at again only after a
//! back-off; back-offs re-walk at most four times the bytes fed in all
//! ([`Scanner::rescanned`]). The cost is linear in the input.

//!
//! Rooms: `frame.rs` what a frame is (bounds, header facts, events);
//! `segments.rs` the segment rules (markers, lengths, plausible SOF);
//! `scanner.rs` the scanner's state and public face; `walk.rs` the state
//! machine, one step at a time; `header.rs` segment payloads (what is kept,
//! the watch for an inner SOI); `recovery.rs` frame bounds, damaged and
//! broken frames, back-off; `entropy.rs` the entropy-data hot loop;
//! `hints.rs` marker hints from a reading thread; `dht.rs` the standard
//! Huffman tables for frames that carry none.

// Paths given: the fuzz targets include this file by its path.
#[path = "jpeg/dht.rs"]
pub mod dht;
#[path = "jpeg/entropy.rs"]
mod entropy;
#[path = "jpeg/frame.rs"]
mod frame;
#[path = "jpeg/header.rs"]
mod header;
#[path = "jpeg/hints.rs"]
mod hints;
#[path = "jpeg/recovery.rs"]
mod recovery;
#[path = "jpeg/scanner.rs"]
mod scanner;
#[path = "jpeg/segments.rs"]
mod segments;
#[path = "jpeg/walk.rs"]
mod walk;

use entropy::continues_entropy;
pub use frame::{DropReason, Event, Frame, FrameInfo, MAX_COMPONENTS};
pub use hints::Hints;
use scanner::{BACKOFF_BUDGET, CAPTURE_MAX, Current, State};
pub use scanner::{Scanner, Stop};
use segments::*;

/// Default upper bound on the size of one frame, in bytes.
pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 * 1024 * 1024;

/// Scan a whole buffer at once (convenience for tests and tools).
pub fn scan_all(data: &[u8], max_frame_size: u64) -> Vec<Event> {
    let mut scanner = Scanner::new(max_frame_size);
    let mut out = Vec::new();
    loop {
        while (scanner.offset() as usize) < data.len() {
            let off = scanner.offset() as usize;
            scanner.feed(&data[off..], &mut out);
        }
        if scanner.finish(&mut out) {
            return out;
        }
    }
}

#[cfg(test)]
mod tests;
