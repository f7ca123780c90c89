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

use memchr::memchr;

// Paths given: the fuzz targets include this file by its path.
#[path = "jpeg/entropy.rs"]
mod entropy;
#[path = "jpeg/hints.rs"]
mod hints;
use entropy::continues_entropy;
pub use hints::Hints;

/// Default upper bound on the size of one frame, in bytes.
pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 * 1024 * 1024;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DNL: u8 = 0xDC;
const APP0: u8 = 0xE0;
const APP14: u8 = 0xEE;

/// Most components whose sampling factors are kept.
pub const MAX_COMPONENTS: usize = 4;

/// What the frame header (SOFn and a few APPn segments) says about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// SOF type: the marker minus `0xC0` (0 baseline, 1 extended, 2 progressive, 3 lossless, …).
    pub sof: u8,
    /// Sample precision in bits.
    pub precision: u8,
    pub width: u16,
    /// Image height; 0 only if neither SOF nor DNL gave it.
    pub height: u16,
    /// Number of components declared in SOF.
    pub components: u8,
    /// `(id, horizontal, vertical)` sampling factors of the first components.
    pub sampling: [(u8, u8, u8); MAX_COMPONENTS],
    /// The colour transform byte of an APP14 "Adobe" segment.
    pub adobe_transform: Option<u8>,
    /// Density units, x and y density from an APP0 "JFIF" segment.
    pub jfif_density: Option<(u8, u16, u16)>,
}

impl FrameInfo {
    /// The colour space name, as jpegparse puts it in caps.
    pub fn colorspace(&self) -> Option<&'static str> {
        match self.components {
            1 => Some("GRAY"),
            3 => {
                if self.is_rgb() {
                    Some("sRGB")
                } else {
                    Some("sYUV")
                }
            }
            4 => match self.adobe_transform {
                Some(2) => Some("sYCCK"),
                _ => Some("sCMYK"),
            },
            _ => None,
        }
    }

    fn is_rgb(&self) -> bool {
        let ids = [self.sampling[0].0, self.sampling[1].0, self.sampling[2].0];
        self.adobe_transform == Some(0) || ids == [b'R', b'G', b'B']
    }

    /// The chroma sampling name, as jpegparse puts it in caps.
    pub fn sampling_name(&self) -> Option<&'static str> {
        match self.components {
            1 => Some("GRAYSCALE"),
            3 => {
                let [(_, yh, yv), (_, cbh, cbv), (_, crh, crv)] =
                    [self.sampling[0], self.sampling[1], self.sampling[2]];
                if self.is_rgb() {
                    return (yh == cbh && cbh == crh && yv == cbv && cbv == crv).then_some("RGB");
                }
                if (cbh, cbv) != (crh, crv) || cbh == 0 || cbv == 0 {
                    return None;
                }
                match (yh / cbh, yv / cbv, yh % cbh, yv % cbv) {
                    (1, 1, 0, 0) => Some("YCbCr-4:4:4"),
                    (2, 1, 0, 0) => Some("YCbCr-4:2:2"),
                    (2, 2, 0, 0) => Some("YCbCr-4:2:0"),
                    (4, 1, 0, 0) => Some("YCbCr-4:1:1"),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Pixel aspect ratio from a JFIF segment whose density unit is "aspect ratio only".
    pub fn pixel_aspect_ratio(&self) -> Option<(u16, u16)> {
        match self.jfif_density {
            Some((0, x, y)) if x > 0 && y > 0 => Some((y, x)),
            _ => None,
        }
    }

    /// Whether this and `other` describe the same format (what caps carry).
    pub fn same_format(&self, other: &FrameInfo) -> bool {
        self.width == other.width
            && self.height == other.height
            && self.sof == other.sof
            && self.colorspace() == other.colorspace()
            && self.sampling_name() == other.sampling_name()
            && self.pixel_aspect_ratio() == other.pixel_aspect_ratio()
    }
}

/// A frame found in the stream: bytes `start..end` (absolute offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub start: u64,
    pub end: u64,
    /// The frame ends with its own EOI. If false, the entropy data was cut (by
    /// a new SOI or the end of the stream) and the range ends where it stopped.
    pub complete: bool,
    /// Bytes that are not a marker were found where a marker should be.
    pub damaged: bool,
    pub info: FrameInfo,
}

impl Frame {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Why a started frame was not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// It ended (EOI, new SOI or end of stream) before it had both SOF and SOS.
    NoScan,
    /// It grew beyond the maximum frame size.
    TooLarge,
}

/// What [`Scanner::feed`] and [`Scanner::finish`] report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Frame(Frame),
    Dropped {
        start: u64,
        end: u64,
        reason: DropReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside a frame, looking for `FF`.
    Search,
    /// Outside a frame, the last byte was `FF`.
    SearchFf,
    /// Inside the header section, a marker (`FF`) is expected next.
    Marker,
    /// After `FF` where a marker was expected.
    MarkerCode,
    /// First byte of a segment length.
    Len1(u8),
    /// Second byte of a segment length.
    Len2(u8, u8),
    /// Inside a segment payload.
    Payload { code: u8, remaining: u32 },
    /// Inside a segment payload after `\n`: this many bytes of the
    /// multipart delimiter have matched so far.
    PayloadDelim {
        code: u8,
        remaining: u32,
        matched: usize,
    },
    /// Entropy-coded data (or bytes skipped while resynchronising to a marker).
    Entropy,
    /// Entropy-coded data, the last byte was `FF`.
    EntropyFf,
    /// Where a marker should be, after a segment that ended inside a line:
    /// this many bytes of the multipart delimiter have matched so far.
    MarkerDelim(usize),
    /// Entropy-coded data after `\n`: this many bytes of the multipart
    /// delimiter (`--boundary`) have matched so far.
    EntropyDelim(usize),
}

#[derive(Debug, Clone, Copy)]
struct Current {
    start: u64,
    seen_sof: bool,
    seen_sos: bool,
    damaged: bool,
    /// Only the SOI has been read so far.
    fresh: bool,
    /// An SOFn marker was read (plausible or not).
    sof_marker: bool,
    /// Where the marker of the segment being read starts.
    segment_at: u64,
    /// The first `FF D8 FF` (an SOI followed by a marker) inside one of the
    /// frame's segment payloads: where the next frame starts if this one
    /// turns out to be broken (a length field that ran past its end).
    inner_soi: Option<u64>,
    /// The last such SOI (the first is where to back off to; this one may
    /// turn out to start a frame right where a segment ended).
    last_soi: Option<u64>,
    /// The payload being read holds an `FF D8 FF` not followed by an EOI.
    open_soi: bool,
    /// Where the first multipart delimiter line inside one of the frame's
    /// segment payloads starts: where the part ends if this frame turns out
    /// broken (a part cut inside a segment). Until then it is payload: a
    /// comment or an APPn segment may hold the boundary text.
    inner_delim: Option<u64>,
    info: FrameInfo,
}

/// Bytes walked again after backing off, per byte walked: bounds the work
/// on any input to `1 + BACKOFF_BUDGET` times its length.
const BACKOFF_BUDGET: u64 = 4;

impl Current {
    /// An SOI (seen at `at`) inside the frame's walk.
    fn note_soi(&mut self, at: u64) {
        self.inner_soi.get_or_insert(at);
        self.last_soi = Some(at);
    }
}

/// Segment bytes kept for parsing; enough for SOF with four components,
/// the JFIF header and the Adobe header.
const CAPTURE_MAX: usize = 18;

/// Incremental JPEG frame scanner. See the module documentation.
///
/// ```
/// use gstmjpegsplit::jpeg::{Event, Scanner};
///
/// // A minimal grayscale JPEG: SOI, SOF0 (8x8, 1 component), SOS, one byte of
/// // entropy data with a stuffed FF, EOI; with junk before it.
/// let jpeg: &[u8] = &[
///     0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11,
///     0x00, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0xFF, 0x00,
///     0xFF, 0xD9,
/// ];
/// let mut stream = b"--boundary\r\n\r\n".to_vec();
/// stream.extend_from_slice(jpeg);
///
/// let mut scanner = Scanner::default();
/// let mut events = Vec::new();
/// for chunk in stream.chunks(5) {
///     scanner.feed(chunk, &mut events);
/// }
/// let Event::Frame(frame) = events[0] else { panic!() };
/// assert_eq!((frame.start, frame.end), (14, 14 + jpeg.len() as u64));
/// assert_eq!((frame.info.width, frame.info.height), (8, 8));
/// assert!(frame.complete);
/// ```
#[derive(Debug, Clone)]
pub struct Scanner {
    state: State,
    /// Absolute offset of the next byte to be fed.
    offset: u64,
    max_frame_size: u64,
    cur: Option<Current>,
    capture: [u8; CAPTURE_MAX],
    capture_len: usize,
    capture_want: usize,
    /// Payload length of the segment being read.
    segment_len: u32,
    /// Multipart delimiter (`--boundary`) that ends a frame's entropy data
    /// when it follows a line feed; empty when unknown.
    delimiter: Vec<u8>,
    /// Look for the delimiter in entropy data too (not only in segment
    /// payloads, where it is always looked for in part mode).
    entropy_delimiter: bool,
    /// Where the delimiter line being matched starts (its `\r\n` or `\n`).
    delim_start: u64,
    /// The last byte fed, for the `\r` of a `\r\n` split across feeds.
    last_byte: u8,
    /// Part mode: stop after the first frame event, and stop when the bytes
    /// before an SOI are not blank (the part is not a JPEG).
    part_mode: bool,
    /// Part mode: also stop when the first scan's entropy data begins.
    stop_at_entropy: bool,
    stop: Option<Stop>,
    /// Bytes of `FF D8 FF` matched at the end of the payload seen so far.
    pay_match: u8,
    /// The furthest offset walked, and the bytes walked again after backing
    /// off: a back-off is allowed only while `rescanned` stays below
    /// `BACKOFF_BUDGET` times `high_water`, so the work stays linear.
    high_water: u64,
    rescanned: u64,
    /// Back-offs not taken for lack of budget.
    refused: u64,
    /// A broken frame was found: scanning resumes at this earlier offset.
    backoff: Option<u64>,
    /// The last back-off went to a delimiter line inside a segment payload
    /// (see [`Scanner::take_delimiter_backoff`]).
    delimiter_backoff: bool,
    /// Raw mode: return as soon as the scanner is between frames again
    /// (see [`Scanner::feed_to_gap`]).
    stop_at_gap: bool,
    /// Where entropy data must be looked at, in the last block hinted.
    hints: Option<Hints>,
}

/// Why [`Scanner::feed_part`] stopped before the end of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A frame was reported (or dropped).
    FrameEnd,
    /// A frame was cut by the multipart delimiter, whose line is consumed up
    /// to the end of the boundary text.
    Delimiter,
    /// A byte that is neither blank nor an SOI came before any SOI.
    NotJpeg,
    /// The header section was walked and the entropy data begins here
    /// (only when asked for with `stop_at_entropy`).
    Entropy,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl Scanner {
    /// A scanner for a stream starting at offset 0 that drops frames longer
    /// than `max_frame_size` bytes.
    pub fn new(max_frame_size: u64) -> Self {
        Scanner {
            state: State::Search,
            offset: 0,
            max_frame_size: max_frame_size.max(4),
            cur: None,
            capture: [0; CAPTURE_MAX],
            capture_len: 0,
            capture_want: 0,
            segment_len: 0,
            delimiter: Vec::new(),
            entropy_delimiter: false,
            delim_start: 0,
            last_byte: 0,
            part_mode: false,
            stop_at_entropy: false,
            stop: None,
            pay_match: 0,
            high_water: 0,
            rescanned: 0,
            refused: 0,
            backoff: None,
            delimiter_backoff: false,
            stop_at_gap: false,
            hints: None,
        }
    }

    /// Give the [`Hints`] of a block of the stream: entropy data in it is
    /// then walked from hint to hint (the events are the same).
    pub fn set_hints(&mut self, hints: Option<Hints>) {
        self.hints = hints;
    }

    /// Set the multipart delimiter (`--` + boundary) that cuts a frame in
    /// part mode when it starts a line inside a segment payload (and in
    /// entropy data, if asked for with [`Scanner::set_entropy_delimiter`]);
    /// empty for none.
    pub fn set_delimiter(&mut self, delimiter: &[u8]) {
        self.delimiter.clear();
        self.delimiter.extend_from_slice(delimiter);
    }

    /// Whether the delimiter also cuts entropy data (slower: every line
    /// feed is looked at).
    pub fn set_entropy_delimiter(&mut self, on: bool) {
        self.entropy_delimiter = on;
    }

    /// Where the current frame starts, if in one.
    pub fn frame_start(&self) -> Option<u64> {
        self.cur.map(|c| c.start)
    }

    /// Whether the current frame's header walked clean: a plausible SOF and
    /// nothing skipped where a marker should have been.
    pub fn header_ok(&self) -> bool {
        self.cur.is_some_and(|c| c.seen_sof && !c.damaged)
    }

    /// Whether the current frame has reached its entropy-coded data.
    pub fn in_entropy(&self) -> bool {
        self.cur.is_some_and(|c| c.seen_sos)
            && matches!(
                self.state,
                State::Entropy | State::EntropyFf | State::EntropyDelim(_)
            )
    }

    /// The current frame as it would be reported if it ended at `end` with
    /// an EOI, and forget it; `None` outside a frame or without SOF/SOS.
    /// Scanning resumes at `resume` outside any frame.
    pub fn end_frame_at(&mut self, end: u64, resume: u64) -> Option<Frame> {
        let cur = self.cur.take()?;
        self.reset(resume);
        (cur.seen_sof && cur.seen_sos).then_some(Frame {
            start: cur.start,
            end,
            complete: true,
            damaged: cur.damaged,
            info: cur.info,
        })
    }

    /// The current frame as it would be reported if cut at `end` (without
    /// its EOI), and forget it; `None` outside a frame. Scanning resumes at
    /// `end` outside any frame.
    pub fn cut_at(&mut self, end: u64) -> Option<Event> {
        let cur = self.cur.take()?;
        self.reset(end);
        Some(self.cut_frame(cur, end))
    }

    pub fn set_max_frame_size(&mut self, max: u64) {
        self.max_frame_size = max.max(4);
    }

    pub fn max_frame_size(&self) -> u64 {
        self.max_frame_size
    }

    /// Forget everything; the next byte fed is at absolute offset `offset`.
    pub fn reset(&mut self, offset: u64) {
        self.state = State::Search;
        self.offset = offset;
        self.cur = None;
        self.capture_len = 0;
        self.capture_want = 0;
        self.last_byte = 0;
        self.pay_match = 0;
        self.backoff = None;
        self.delimiter_backoff = false;
    }

    /// Bytes walked a second time after backing off from broken frames
    /// (at most four times the bytes fed).
    pub fn rescanned(&self) -> u64 {
        self.rescanned
    }

    /// Broken frames not backed off from because the budget was spent: a
    /// frame reported since may hold a frame it swallowed.
    /// Whether the last back-off went to a multipart delimiter line that a
    /// broken frame's segment swallowed (the part ends there: read the
    /// delimiter line and the next part's headers from
    /// [`Scanner::offset`]); clears it.
    pub fn take_delimiter_backoff(&mut self) -> bool {
        std::mem::take(&mut self.delimiter_backoff)
    }

    pub fn backoffs_refused(&self) -> u64 {
        self.refused
    }

    /// Absolute offset of the next byte to be fed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The first absolute offset whose bytes may still be part of a frame.
    /// Everything before it can be discarded by the caller.
    pub fn retain_from(&self) -> u64 {
        match (&self.cur, self.state) {
            (Some(cur), _) => cur.start,
            (None, State::SearchFf) => self.offset.saturating_sub(1),
            (None, _) => self.offset,
        }
    }

    /// Whether a frame has been started and not yet reported.
    pub fn in_frame(&self) -> bool {
        self.cur.is_some()
    }

    /// Scan the next chunk of the stream (starting at [`Scanner::offset`]),
    /// appending what was found to `out`. Returns how many bytes were
    /// consumed.
    ///
    /// **Back-off.** When the walk proves the current frame broken (a length
    /// field ran past its end and swallowed the next frame's SOI, which then
    /// left the walk where no marker can be), the frame is reported cut at
    /// that inner SOI and [`Scanner::offset`] moves back to it: the caller
    /// feeds the bytes from there again. They are never before
    /// [`Scanner::retain_from`] as it was before this call, and the bytes
    /// walked again in total never exceed four times the bytes fed, so the
    /// work stays linear whatever the input.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Event>) -> usize {
        self.part_mode = false;
        self.feed_inner(data, out)
    }

    /// Like [`Scanner::feed`], but return as soon as the scanner is between
    /// frames again (after a frame's end or drop, or after an `FF` that
    /// starts none; possibly having consumed nothing), so that the caller
    /// can look at the bytes between frames itself.
    pub fn feed_to_gap(&mut self, data: &[u8], out: &mut Vec<Event>) -> usize {
        self.part_mode = false;
        self.stop_at_gap = true;
        let n = self.feed_inner(data, out);
        self.stop_at_gap = false;
        n
    }

    /// Between frames, with no marker prefix pending: the next byte is
    /// looked at only to find an `FF`.
    pub fn is_between_frames(&self) -> bool {
        self.cur.is_none() && self.state == State::Search
    }

    /// Scan the body of a multipart part: like [`Scanner::feed`], but stop
    /// right after the first frame event, at the multipart delimiter, or at
    /// the first byte that shows the part is not a JPEG. Returns how many
    /// bytes were consumed and why it stopped early, if it did.
    pub fn feed_part(
        &mut self,
        data: &[u8],
        stop_at_entropy: bool,
        out: &mut Vec<Event>,
    ) -> (usize, Option<Stop>) {
        self.part_mode = true;
        self.stop_at_entropy = stop_at_entropy;
        let n = self.feed_inner(data, out);
        (n, self.stop.take())
    }

    fn feed_inner(&mut self, data: &[u8], out: &mut Vec<Event>) -> usize {
        let base = self.offset;
        let mut i = 0usize;
        self.stop = None;
        let began_between = self.is_between_frames();
        while i < data.len()
            && self.stop.is_none()
            && self.backoff.is_none()
            && !(self.stop_at_gap && (i > 0 || !began_between) && self.is_between_frames())
        {
            // Bytes of the current frame may not go past its size limit.
            let mut stop = data.len();
            if let Some(cur) = &self.cur {
                let limit = cur.start.saturating_add(self.max_frame_size);
                let pos = base + i as u64;
                if pos >= limit {
                    out.push(Event::Dropped {
                        start: cur.start,
                        end: pos,
                        reason: DropReason::TooLarge,
                    });
                    self.cur = None;
                    self.state = State::Search;
                    if self.part_mode {
                        self.stop = Some(Stop::FrameEnd);
                    }
                    continue;
                }
                let room = usize::try_from(limit - pos).unwrap_or(usize::MAX);
                stop = stop.min(i.saturating_add(room));
            }
            i = self.step(data, i, stop, base, out);
        }
        if let Some(to) = self.backoff.take() {
            self.offset = to;
            self.last_byte = 0;
            return i;
        }
        if i > 0 {
            self.last_byte = data[i - 1];
        }
        self.offset = base + i as u64;
        self.high_water = self.high_water.max(self.offset);
        i
    }

    /// The stream ended: report a frame cut short, if any. Returns false if
    /// the frame turned out broken (the end came inside its header after it
    /// swallowed an SOI) and the scanner backed off: feed the bytes from
    /// [`Scanner::offset`] again, then call `finish` again.
    #[must_use]
    pub fn finish(&mut self, out: &mut Vec<Event>) -> bool {
        let in_header = !matches!(
            self.state,
            State::Entropy | State::EntropyFf | State::EntropyDelim(_)
        );
        if in_header && self.broken(self.offset, out) {
            if let Some(to) = self.backoff.take() {
                self.offset = to;
                self.last_byte = 0;
            }
            return false;
        }
        if let Some(cur) = self.cur.take() {
            out.push(self.cut_frame(cur, self.offset));
        }
        self.state = State::Search;
        true
    }

    /// Process bytes from `data[i..stop]`, at least one; returns the new index.
    fn step(
        &mut self,
        data: &[u8],
        i: usize,
        stop: usize,
        base: u64,
        out: &mut Vec<Event>,
    ) -> usize {
        match self.state {
            State::Search if self.part_mode => match data[i] {
                b' ' | b'\t' | b'\r' | b'\n' => i + 1,
                0xFF => {
                    self.state = State::SearchFf;
                    i + 1
                }
                _ => {
                    self.stop = Some(Stop::NotJpeg);
                    i
                }
            },
            State::Search => match memchr(0xFF, &data[i..stop]) {
                Some(k) => {
                    self.state = State::SearchFf;
                    i + k + 1
                }
                None => stop,
            },
            State::SearchFf => {
                match data[i] {
                    SOI => self.start_frame(base + i as u64 - 1),
                    0xFF => {}
                    _ if self.part_mode => {
                        self.state = State::Search;
                        self.stop = Some(Stop::NotJpeg);
                        return i;
                    }
                    _ => self.state = State::Search,
                }
                i + 1
            }
            State::Marker => {
                if data[i] == 0xFF {
                    self.state = State::MarkerCode;
                    return i + 1;
                }
                if data[i] == SOI
                    && self.pay_match == 1
                    && let Some(cur) = self.cur.as_mut()
                {
                    // The last payload byte and this one are an SOI: a
                    // segment cut one byte short by the next frame.
                    cur.note_soi(base + i as u64 - 1);
                }
                // Not consumed: looked at again as garbage or while resynchronising.
                self.damaged(base + i as u64, out);
                i
            }
            State::MarkerCode => {
                let code = data[i];
                let pos = base + i as u64 + 1;
                match code {
                    0xFF => {}
                    0xD0..=0xD7 | 0x01 => self.state = State::Marker,
                    0x00 | 0x02..=0xBF => self.damaged(pos, out),
                    _ => self.marker(code, pos, out),
                }
                i + 1
            }
            State::Len1(code) => {
                self.watch(&data[i..i + 1], base + i as u64, false);
                self.state = State::Len2(code, data[i]);
                i + 1
            }
            State::Len2(code, hi) => {
                self.watch(&data[i..i + 1], base + i as u64, false);
                let len = u16::from_be_bytes([hi, data[i]]);
                if data[i] == b'\n' && self.part_mode && !self.delimiter.is_empty() {
                    // The length field may be the line end before a delimiter.
                    self.delim_start = base + i as u64 - u64::from(hi == b'\r');
                }
                match u32::from(len).checked_sub(2) {
                    // A table segment longer than its format allows is damage:
                    // skipping it could swallow the next frame.
                    Some(payload) if payload <= max_payload(code) => {
                        self.begin_payload(code, payload);
                        if data[i] == b'\n'
                            && self.part_mode
                            && !self.delimiter.is_empty()
                            && let State::Payload { code, remaining } = self.state
                        {
                            self.state = State::PayloadDelim {
                                code,
                                remaining,
                                matched: 0,
                            };
                        }
                    }
                    _ => {
                        if [hi, data[i]] == [0xFF, SOI]
                            && let Some(cur) = self.cur.as_mut()
                        {
                            // A frame cut right after a marker: the length
                            // field is the next frame's SOI.
                            cur.note_soi(base + i as u64 - 1);
                        }
                        self.damaged(base + i as u64 + 1, out);
                        if data[i] == 0xFF && self.state == State::Entropy {
                            // The length's last byte may start a marker.
                            self.state = State::EntropyFf;
                        } else if data[i] == b'\n'
                            && self.part_mode
                            && !self.delimiter.is_empty()
                            && self.state == State::Entropy
                        {
                            self.state = State::EntropyDelim(0);
                        }
                    }
                }
                i + 1
            }
            State::Payload { code, remaining } => {
                let mut n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(stop - i);
                // A delimiter line inside a segment ends the part.
                let line_feed = self.part_mode && !self.delimiter.is_empty();
                let line_feed = line_feed
                    && match memchr(b'\n', &data[i..i + n]) {
                        Some(k) => {
                            n = k + 1;
                            true
                        }
                        None => false,
                    };
                self.payload_bytes(&data[i..i + n], base + i as u64);
                let remaining = remaining - n as u32;
                if line_feed {
                    let at = i + n - 1;
                    let prev = if at > 0 { data[at - 1] } else { self.last_byte };
                    self.delim_start = base + at as u64 - u64::from(prev == b'\r');
                }
                if remaining == 0 {
                    if self.payload_end(code, base + (i + n) as u64, out) {
                        return i + n;
                    }
                    if line_feed {
                        self.delimiter_after_segment(0);
                    }
                    return i + n;
                }
                self.state = State::Payload { code, remaining };
                if line_feed {
                    self.state = State::PayloadDelim {
                        code,
                        remaining,
                        matched: 0,
                    };
                }
                i + n
            }
            State::PayloadDelim {
                code,
                remaining,
                matched,
            } => {
                if self.delimiter.get(matched) != Some(&data[i]) {
                    // Not the delimiter: the byte is payload again.
                    self.state = State::Payload { code, remaining };
                    return i;
                }
                if matched + 1 == self.delimiter.len()
                    && let Some(cur) = self.cur.as_mut()
                {
                    // The boundary text inside a segment: payload, unless
                    // the frame proves broken (then the part ends here).
                    cur.inner_delim.get_or_insert(self.delim_start);
                }
                self.payload_bytes(&data[i..i + 1], base + i as u64);
                let remaining = remaining - 1;
                if remaining == 0 {
                    let at = base + i as u64 + 1;
                    if !self.payload_end(code, at, out) && matched + 1 < self.delimiter.len() {
                        self.delimiter_after_segment(matched + 1);
                    }
                } else if matched + 1 == self.delimiter.len() {
                    self.state = State::Payload { code, remaining };
                } else {
                    self.state = State::PayloadDelim {
                        code,
                        remaining,
                        matched: matched + 1,
                    };
                }
                i + 1
            }
            State::Entropy
                if self.part_mode
                    && self.entropy_delimiter
                    && !self.delimiter.is_empty()
                    && self.cur.is_some() =>
            {
                // As below, and a line feed may start the multipart delimiter.
                for k in memchr::memchr2_iter(0xFF, b'\n', &data[i..stop]) {
                    let at = i + k;
                    if data[at] == 0xFF {
                        match data.get(at + 1) {
                            Some(&b) if continues_entropy(b) && at + 1 < stop => continue,
                            _ => {
                                self.state = State::EntropyFf;
                                return at + 1;
                            }
                        }
                    }
                    let rest = &data[at + 1..stop];
                    let n = rest.len().min(self.delimiter.len());
                    if rest[..n] != self.delimiter[..n] {
                        continue;
                    }
                    let prev = if at > 0 { data[at - 1] } else { self.last_byte };
                    self.delim_start = base + at as u64 - u64::from(prev == b'\r');
                    if n < self.delimiter.len() {
                        // The rest of the delimiter is in the next chunk.
                        self.state = State::EntropyDelim(n);
                        return stop;
                    }
                    return self.delimiter_found(at + 1 + n, out);
                }
                stop
            }
            State::Entropy => {
                // Hints listed the `FF`s that matter (an `FF` just before
                // `stop` whose next byte continues the data is not listed:
                // it is data either way).
                let hinted = self
                    .hints
                    .as_ref()
                    .and_then(|h| h.marker_in(base + i as u64, base + stop as u64));
                match hinted {
                    Some(Some(p)) if data[(p - base) as usize] == 0xFF => {
                        self.state = State::EntropyFf;
                        return (p - base) as usize + 1;
                    }
                    Some(None) => return stop,
                    _ => {}
                }
                // Hot loop (see `entropy.rs`): stuffed `FF 00` and RSTn are
                // skipped without a state change; anything else, or an `FF`
                // at `stop`, goes through `EntropyFf`.
                match entropy::find_end(&data[i..stop]) {
                    Some(k) => {
                        self.state = State::EntropyFf;
                        i + k + 1
                    }
                    None => stop,
                }
            }
            State::MarkerDelim(k) => {
                if self.delimiter.get(k) != Some(&data[i]) {
                    self.state = State::Marker;
                    if k > 0 {
                        // Not the delimiter: these bytes were no marker.
                        self.damaged(base + i as u64, out);
                    }
                    // (With none of it matched, a segment ended with a
                    // line feed: the byte is looked at as a marker.)
                    return i;
                }
                if k + 1 < self.delimiter.len() {
                    self.state = State::MarkerDelim(k + 1);
                    return i + 1;
                }
                self.delimiter_found(i + 1, out)
            }
            State::EntropyDelim(k) => {
                if self.delimiter.get(k) != Some(&data[i]) {
                    // Not the delimiter: the byte is entropy data again.
                    self.state = State::Entropy;
                    return i;
                }
                if k + 1 < self.delimiter.len() {
                    self.state = State::EntropyDelim(k + 1);
                    return i + 1;
                }
                self.delimiter_found(i + 1, out)
            }
            State::EntropyFf => {
                let code = data[i];
                let pos = base + i as u64 + 1;
                match code {
                    0xFF => {}
                    0x00..=0xBF | 0xD0..=0xD7 => self.state = State::Entropy,
                    _ => self.marker(code, pos, out),
                }
                i + 1
            }
        }
    }

    /// A segment ended inside a line that may be the multipart delimiter
    /// (`matched` bytes of it so far): the match goes on where a marker or
    /// entropy data should follow.
    fn delimiter_after_segment(&mut self, matched: usize) {
        match self.state {
            State::Marker => self.state = State::MarkerDelim(matched),
            State::Entropy => self.state = State::EntropyDelim(matched),
            _ => {}
        }
    }

    /// The multipart delimiter ended the current frame's entropy data; `next`
    /// is the index just after it.
    fn delimiter_found(&mut self, next: usize, out: &mut Vec<Event>) -> usize {
        if let Some(cur) = self.cur.take() {
            out.push(self.cut_frame(cur, self.delim_start));
        }
        self.state = State::Search;
        self.stop = Some(Stop::Delimiter);
        next
    }

    fn start_frame(&mut self, start: u64) {
        self.cur = Some(Current {
            start,
            seen_sof: false,
            seen_sos: false,
            damaged: false,
            fresh: true,
            sof_marker: false,
            segment_at: start,
            inner_soi: None,
            last_soi: None,
            open_soi: false,
            inner_delim: None,
            info: FrameInfo::default(),
        });
        self.pay_match = 0;
        self.state = State::Marker;
    }

    /// A frame that ended without its EOI at `end`.
    fn cut_frame(&self, cur: Current, end: u64) -> Event {
        if cur.seen_sof && cur.seen_sos {
            Event::Frame(Frame {
                start: cur.start,
                end,
                complete: false,
                damaged: cur.damaged,
                info: cur.info,
            })
        } else {
            Event::Dropped {
                start: cur.start,
                end,
                reason: DropReason::NoScan,
            }
        }
    }

    /// A marker code inside a frame; `pos` is the offset just after it.
    fn marker(&mut self, code: u8, pos: u64, out: &mut Vec<Event>) {
        let Some(cur) = self.cur.as_mut() else {
            self.state = State::Search;
            return;
        };
        cur.fresh = false;
        cur.segment_at = pos - 2;
        // A frame that ends before its scan, after its walk swallowed an
        // SOI: that SOI starts the next frame.
        if matches!(code, SOI | EOI) && !cur.seen_sos && self.broken(pos, out) {
            return;
        }
        let Some(cur) = self.cur.as_mut() else {
            return;
        };
        match code {
            SOI => {
                let cur = *cur;
                out.push(self.cut_frame(cur, pos - 2));
                self.start_frame(pos - 2);
                if self.part_mode {
                    // The caller sees the cut frame; scanning goes on in the new one.
                    self.stop = Some(Stop::FrameEnd);
                }
            }
            EOI => {
                let cur = *cur;
                self.cur = None;
                self.state = State::Search;
                out.push(if cur.seen_sof && cur.seen_sos {
                    Event::Frame(Frame {
                        start: cur.start,
                        end: pos,
                        complete: true,
                        damaged: cur.damaged,
                        info: cur.info,
                    })
                } else {
                    Event::Dropped {
                        start: cur.start,
                        end: pos,
                        reason: DropReason::NoScan,
                    }
                });
                if self.part_mode {
                    self.stop = Some(Stop::FrameEnd);
                }
            }
            // A second frame header: the walk has run into another frame.
            c if is_sof(c) && cur.sof_marker => {
                if !self.broken(pos, out) {
                    self.state = State::Len1(code);
                }
            }
            c if is_sof(c) => {
                cur.sof_marker = true;
                self.state = State::Len1(code);
            }
            _ => self.state = State::Len1(code),
        }
    }

    /// Bytes that are not a marker where one should be (found at `at`). A
    /// frame with only its SOI so far was no JPEG at all: forget it. A frame
    /// that swallowed an SOI is broken: back off to it. Otherwise skip to
    /// the next marker (as libjpeg does) and mark the frame damaged.
    fn damaged(&mut self, at: u64, out: &mut Vec<Event>) {
        if self.cur.is_some_and(|c| !c.fresh) && self.broken(at, out) {
            return;
        }
        match self.cur.as_mut() {
            Some(cur) if !cur.fresh => {
                cur.damaged = true;
                self.state = State::Entropy;
            }
            _ => {
                self.cur = None;
                self.state = State::Search;
            }
        }
    }

    /// The current frame is proven broken at `at`: if it swallowed an SOI
    /// (the first `FF D8 FF` inside one of its payloads), report it cut
    /// there and back off to that SOI, unless backing off would walk more
    /// bytes again than have been fed. Returns whether it backed off.
    fn broken(&mut self, at: u64, out: &mut Vec<Event>) -> bool {
        let Some(cur) = self.cur else {
            return false;
        };
        // The earlier of a delimiter line and an SOI inside a payload.
        let (soi, to_delimiter) = match (cur.inner_delim, cur.inner_soi) {
            (Some(d), Some(s)) if s < d => (s, false),
            (Some(d), _) => (d, true),
            (None, Some(s)) => (s, false),
            (None, None) => return false,
        };
        self.high_water = self.high_water.max(at);
        let cost = at.saturating_sub(soi);
        if self.rescanned.saturating_add(cost) > BACKOFF_BUDGET.saturating_mul(self.high_water) {
            self.refused += 1;
            return false;
        }
        self.rescanned += cost;
        let mut cur = cur;
        cur.damaged = true;
        out.push(self.cut_frame(cur, soi));
        self.cur = None;
        self.state = State::Search;
        self.pay_match = 0;
        self.backoff = Some(soi);
        self.delimiter_backoff = to_delimiter;
        if self.part_mode {
            self.stop = Some(Stop::FrameEnd);
        }
        true
    }

    /// Bytes of a segment payload at offset `at`: keep what the segment
    /// needs, and watch for an SOI in it.
    fn payload_bytes(&mut self, bytes: &[u8], at: u64) {
        if self.capture_len < self.capture_want {
            let take = bytes.len().min(self.capture_want - self.capture_len);
            self.capture[self.capture_len..self.capture_len + take].copy_from_slice(&bytes[..take]);
            self.capture_len += take;
        }
        self.watch(bytes, at, true);
    }

    /// The payload of segment `code` ended at `at`. Returns whether the
    /// frame turned out broken (and the scanner backed off).
    fn payload_end(&mut self, code: u8, at: u64, out: &mut Vec<Event>) -> bool {
        if self.pay_match == 2
            && let Some(cur) = self.cur.as_mut()
        {
            // The payload ends with `FF D8`: an SOI whose marker the walk
            // reads as the next segment's.
            cur.note_soi(at - 2);
        }
        if self.pay_match == 1
            && code == SOS
            && let Some(cur) = self.cur.as_mut()
        {
            // A scan header ending with `FF` (never valid): the SOI of a
            // frame that follows one cut inside its scan header.
            cur.note_soi(at - 1);
        }
        // An SOI with no EOI after it in the payload: the length ran into
        // the next frame.
        if self.cur.is_some_and(|c| c.open_soi) && self.broken(at, out) {
            return true;
        }
        // An APPn segment (JFIF, Exif, Adobe: what follows an SOI) right
        // after an SOI that ended a payload: a frame swallowed by a length
        // field.
        if (0xE0..=0xEF).contains(&code)
            && self
                .cur
                .is_some_and(|c| c.last_soi.is_some_and(|soi| c.segment_at == soi + 2))
            && self.broken(at, out)
        {
            return true;
        }
        self.end_segment(code);
        false
    }

    /// Watch header bytes (at offset `at`) for an SOI followed by a marker
    /// (`FF D8 FF`) and, in a payload, for EOIs after it.
    fn watch(&mut self, bytes: &[u8], at: u64, in_payload: bool) {
        let Some(cur) = self.cur.as_mut() else {
            return;
        };
        let mut k = 0;
        while k < bytes.len() {
            if self.pay_match == 0 {
                match memchr(0xFF, &bytes[k..]) {
                    Some(j) => {
                        self.pay_match = 1;
                        k += j + 1;
                    }
                    None => return,
                }
                continue;
            }
            let b = bytes[k];
            self.pay_match = match (self.pay_match, b) {
                (1, SOI) => 2,
                (1, EOI) => {
                    cur.open_soi = false;
                    0
                }
                (_, 0xFF) if self.pay_match == 2 => {
                    // `FF D8 FF`: the SOI starts two bytes back.
                    let soi = at + k as u64 - 2;
                    cur.note_soi(soi);
                    cur.open_soi |= in_payload;
                    1
                }
                (1, 0xFF) => 1,
                _ => 0,
            };
            k += 1;
        }
    }

    fn begin_payload(&mut self, code: u8, len: u32) {
        if let Some(cur) = self.cur.as_mut() {
            cur.open_soi = false;
        }
        let want = match code {
            c if is_sof(c) => CAPTURE_MAX,
            DNL => 2,
            APP0 => 12,
            APP14 => 12,
            _ => 0,
        };
        self.capture_len = 0;
        self.capture_want = want.min(len as usize);
        self.segment_len = len;
        if len == 0 {
            self.end_segment(code);
        } else {
            self.state = State::Payload {
                code,
                remaining: len,
            };
        }
    }

    fn end_segment(&mut self, code: u8) {
        let cap = &self.capture[..self.capture_len];
        self.state = State::Marker;
        let Some(cur) = self.cur.as_mut() else {
            self.state = State::Search;
            return;
        };
        match code {
            c if is_sof(c) && !cur.seen_sof && plausible_sof(c, cap, self.segment_len) => {
                cur.seen_sof = true;
                let info = &mut cur.info;
                info.sof = c - 0xC0;
                info.precision = cap[0];
                info.height = u16::from_be_bytes([cap[1], cap[2]]);
                info.width = u16::from_be_bytes([cap[3], cap[4]]);
                info.components = cap[5];
                for (k, comp) in cap[6..].chunks_exact(3).take(MAX_COMPONENTS).enumerate() {
                    info.sampling[k] = (comp[0], comp[1] >> 4, comp[1] & 0x0F);
                }
            }
            SOS => {
                cur.seen_sos = true;
                self.state = State::Entropy;
                if self.part_mode && self.stop_at_entropy {
                    self.stop = Some(Stop::Entropy);
                }
            }
            DNL if cap.len() == 2 && cur.info.height == 0 => {
                cur.info.height = u16::from_be_bytes([cap[0], cap[1]]);
            }
            APP0 if cap.len() >= 12 && cap.starts_with(b"JFIF\0") => {
                cur.info.jfif_density = Some((
                    cap[7],
                    u16::from_be_bytes([cap[8], cap[9]]),
                    u16::from_be_bytes([cap[10], cap[11]]),
                ));
            }
            APP14 if cap.len() >= 12 && cap.starts_with(b"Adobe") => {
                cur.info.adobe_transform = Some(cap[11]);
            }
            _ => {}
        }
    }
}

/// The largest payload a segment can have: tables and frame/scan headers
/// are bounded by the format; APPn, COM and others may take 65533 bytes.
fn max_payload(code: u8) -> u32 {
    match code {
        0xDB => 4 * (1 + 128),         // DQT: four 16-bit tables
        0xC4 => 4 * (1 + 16 + 256),    // DHT: four tables
        0xCC => 2 * 32,                // DAC
        SOS => 1 + 2 * 4 + 3,          // up to four components
        0xDD | DNL => 2,               // DRI, DNL
        c if is_sof(c) => 6 + 3 * 255, // checked further in plausible_sof
        _ => u32::from(u16::MAX) - 2,
    }
}

/// Whether a SOF segment describes an image a decoder could take: a sane
/// precision, a width, 1 to 4 components with sampling factors 1 to 4, and
/// a length that matches. Random data almost never passes this.
fn plausible_sof(code: u8, cap: &[u8], payload: u32) -> bool {
    let [precision, _, _, w_hi, w_lo, nc, ..] = *cap else {
        return false;
    };
    let lossless = matches!(code & 0x03, 3);
    let precision_ok = matches!(precision, 8 | 12) || (lossless && (2..=16).contains(&precision));
    let nc_ok = (1..=MAX_COMPONENTS as u8).contains(&nc) && payload == 6 + 3 * u32::from(nc);
    let factors_ok = cap[6..]
        .chunks_exact(3)
        .take(usize::from(nc))
        .all(|c| (1..=4).contains(&(c[1] >> 4)) && (1..=4).contains(&(c[1] & 0x0F)));
    precision_ok && u16::from_be_bytes([w_hi, w_lo]) > 0 && nc_ok && factors_ok
}

/// SOF0–SOF15, which excludes DHT (C4), JPG (C8) and DAC (CC).
fn is_sof(code: u8) -> bool {
    matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC)
}

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
