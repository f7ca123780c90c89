// SPDX-License-Identifier: MIT OR Apache-2.0

//! The scanner's state and its public face: feeding bytes, finishing,
//! resets, back-off bookkeeping and the part mode the splitter uses.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
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
pub(super) struct Current {
    pub(super) start: u64,
    pub(super) seen_sof: bool,
    pub(super) seen_sos: bool,
    pub(super) damaged: bool,
    /// Only the SOI has been read so far.
    pub(super) fresh: bool,
    /// An SOFn marker was read (plausible or not).
    pub(super) sof_marker: bool,
    /// Where the marker of the segment being read starts.
    pub(super) segment_at: u64,
    /// The first `FF D8 FF` (an SOI followed by a marker) inside one of the
    /// frame's segment payloads: where the next frame starts if this one
    /// turns out to be broken (a length field that ran past its end).
    pub(super) inner_soi: Option<u64>,
    /// The last such SOI (the first is where to back off to; this one may
    /// turn out to start a frame right where a segment ended).
    pub(super) last_soi: Option<u64>,
    /// The payload being read holds an `FF D8 FF` not followed by an EOI.
    pub(super) open_soi: bool,
    /// Where the first multipart delimiter line inside one of the frame's
    /// segment payloads starts: where the part ends if this frame turns out
    /// broken (a part cut inside a segment). Until then it is payload: a
    /// comment or an APPn segment may hold the boundary text.
    pub(super) inner_delim: Option<u64>,
    pub(super) info: FrameInfo,
}

/// Bytes walked again after backing off, per byte walked: bounds the work
/// on any input to `1 + BACKOFF_BUDGET` times its length.
pub(super) const BACKOFF_BUDGET: u64 = 4;

impl Current {
    /// An SOI (seen at `at`) inside the frame's walk.
    pub(super) fn note_soi(&mut self, at: u64) {
        self.inner_soi.get_or_insert(at);
        self.last_soi = Some(at);
    }
}

/// Segment bytes kept for parsing; enough for SOF with four components,
/// the JFIF header and the Adobe header.
pub(super) const CAPTURE_MAX: usize = 18;

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
    pub(super) state: State,
    /// Absolute offset of the next byte to be fed.
    pub(super) offset: u64,
    pub(super) max_frame_size: u64,
    pub(super) cur: Option<Current>,
    pub(super) capture: [u8; CAPTURE_MAX],
    pub(super) capture_len: usize,
    pub(super) capture_want: usize,
    /// Payload length of the segment being read.
    pub(super) segment_len: u32,
    /// Multipart delimiter (`--boundary`) that ends a frame's entropy data
    /// when it follows a line feed; empty when unknown.
    pub(super) delimiter: Vec<u8>,
    /// Look for the delimiter in entropy data too (not only in segment
    /// payloads, where it is always looked for in part mode).
    pub(super) entropy_delimiter: bool,
    /// Where the delimiter line being matched starts (its `\r\n` or `\n`).
    pub(super) delim_start: u64,
    /// The last byte fed, for the `\r` of a `\r\n` split across feeds.
    pub(super) last_byte: u8,
    /// Part mode: stop after the first frame event, and stop when the bytes
    /// before an SOI are not blank (the part is not a JPEG).
    pub(super) part_mode: bool,
    /// Part mode: also stop when the first scan's entropy data begins.
    pub(super) stop_at_entropy: bool,
    pub(super) stop: Option<Stop>,
    /// Bytes of `FF D8 FF` matched at the end of the payload seen so far.
    pub(super) pay_match: u8,
    /// The furthest offset walked, and the bytes walked again after backing
    /// off: a back-off is allowed only while `rescanned` stays below
    /// `BACKOFF_BUDGET` times `high_water`, so the work stays linear.
    pub(super) high_water: u64,
    pub(super) rescanned: u64,
    /// Back-offs not taken for lack of budget.
    pub(super) refused: u64,
    /// A broken frame was found: scanning resumes at this earlier offset.
    pub(super) backoff: Option<u64>,
    /// The last back-off went to a delimiter line inside a segment payload
    /// (see [`Scanner::take_delimiter_backoff`]).
    pub(super) delimiter_backoff: bool,
    /// Raw mode: return as soon as the scanner is between frames again
    /// (see [`Scanner::feed_to_gap`]).
    pub(super) stop_at_gap: bool,
    /// Where entropy data must be looked at, in the last block hinted.
    pub(super) hints: Option<Hints>,
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

    /// Whether the last back-off went to a multipart delimiter line that a
    /// broken frame's segment swallowed (the part ends there: read the
    /// delimiter line and the next part's headers from
    /// [`Scanner::offset`]); clears it.
    pub fn take_delimiter_backoff(&mut self) -> bool {
        std::mem::take(&mut self.delimiter_backoff)
    }

    /// Broken frames not backed off from because the budget was spent: a
    /// frame reported since may hold a frame it swallowed.
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

    pub(super) fn feed_inner(&mut self, data: &[u8], out: &mut Vec<Event>) -> usize {
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
}
