// SPDX-License-Identifier: MIT OR Apache-2.0

//! The splitter that dispatches: its state, its contract with the caller,
//! feeding and finishing, and each step handed to the room for the state
//! it is in.

use super::*;

/// Longest header or boundary line kept; longer lines are skipped as junk.
pub(super) const MAX_LINE: usize = 1024;
/// Most headers kept per part.
pub(super) const MAX_HEADERS: usize = 32;
/// Bytes kept before a declared part end, to check for the EOI there.
pub(super) const TAIL: usize = 32;

/// What text lines mean where they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    /// HTTP response headers, up to the blank line.
    Http,
    /// Between multipart parts: boundaries and part headers.
    Parts,
    /// The body of a non-JPEG part of unknown length: only a delimiter line ends it.
    SkipPart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Start of stream: deciding what it is.
    Detect,
    /// Raw JPEG concatenation: everything goes to the scanner.
    Raw,
    /// Text lines.
    Text(Text),
    /// Walking a JPEG part body with the scanner.
    Body,
    /// Content-Length fast path: walking the JPEG header section.
    ClHead { end: u64 },
    /// Content-Length fast path: skipping entropy data up to `end`.
    ClSkip { end: u64, walk_from: u64 },
    /// The JPEG does not end where the Content-Length says (`end`): is the
    /// multipart delimiter there? If so, the length holds and the damage
    /// stays in this part; if not, the part is walked (from `walk_from` if
    /// its entropy data was skipped, else on from `end`).
    ClCheck { end: u64, walk_from: Option<u64> },
    /// The delimiter is at the declared end but no EOI before it: the
    /// skipped entropy data is walked up to `end` (with the delimiter looked
    /// for), the frame cut there if nothing ends it before.
    ClWalk { end: u64 },
    /// Skipping the rest of a non-JPEG part body of known length.
    SkipBytes { end: u64 },
    /// Skipping the body of an HTTP response that is not the stream (a
    /// `401` challenge, a `302` redirect); detection runs again after it.
    SkipBody { end: u64 },
}

/// The stream framing: feed it the bytes of a stream, get its frames.
///
/// **Contract with the caller** (the element's adapter, the pull-mode
/// index, the property tests):
///
/// * Bytes are fed from [`Splitter::offset`] on, in pieces of any size.
///   [`Splitter::feed`] may stop early with [`Splitter::offset`] moved back
///   (a *rewind*: entropy data skipped by a Content-Length that did not
///   hold, a frame walked again to look for the delimiter in it, the SOI a
///   broken frame swallowed); the caller then feeds again from the new
///   offset, as often as asked, before feeding new bytes.
///   [`Splitter::finish`] asks the same way by returning false.
/// * A rewind never goes before the value [`Splitter::retain_from`] had
///   when the caller last had fed everything it had: bytes before that may
///   be dropped then, and only then (not between the rewinds of one feed
///   loop). So a caller that keeps `retain_from()..` of what it has read
///   always has every byte asked for again.
/// * Rewinds are bounded: each part or frame is walked again at most a few
///   times, and the scanner's back-offs re-walk at most four times the
///   bytes fed ([`Scanner::rescanned`]), so any feed loop ends and the
///   work stays linear.
/// * The outputs do not depend on the piece sizes.
#[derive(Debug, Clone)]
pub struct Splitter {
    pub(super) scanner: Scanner,
    pub(super) state: State,
    /// Absolute offset of the next byte to feed.
    pub(super) offset: u64,
    pub(super) format: Format,
    /// The current text line (without its line end).
    pub(super) line: Vec<u8>,
    /// The current line is too long to be a header: it is not kept.
    pub(super) line_junk: bool,
    /// The next byte starts a line.
    pub(super) at_line_start: bool,
    /// Skip the rest of the current line (after a delimiter cut a frame).
    pub(super) skip_line: bool,
    /// The boundary (without `--`) seen in the body, else the HTTP header's.
    pub(super) boundary: Option<Vec<u8>>,
    /// `--` + boundary.
    pub(super) delimiter: Vec<u8>,
    /// The current frame is being walked again with delimiter detection
    /// (it was cut short the first time).
    pub(super) delimiter_walk: bool,
    /// The stream ended inside a part's declared length: that length was
    /// wrong if walking the rest of the part finds a whole frame, and the
    /// stream was cut if it finds a frame cut short.
    pub(super) length_unsure: bool,
    /// Headers of the part being read.
    pub(super) headers: Vec<(String, String)>,
    /// Where the current part's body started.
    pub(super) body_start: u64,
    pub(super) content_length: Option<u64>,
    /// The last bytes before a declared part end.
    pub(super) tail: [u8; TAIL],
    /// Raw: the text line being read between frames (to see a multipart
    /// boundary or a new HTTP response there), whether it started at a line
    /// start, and whether it is too long to matter.
    pub(super) gap_line: Vec<u8>,
    pub(super) gap_line_start: bool,
    pub(super) gap_junk: bool,
    /// Status code and Content-Length of the HTTP response being read.
    pub(super) http_status: Option<u16>,
    pub(super) http_length: Option<u64>,
    pub(super) events: Vec<jpeg::Event>,
    pub stats: Stats,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new(jpeg::DEFAULT_MAX_FRAME_SIZE)
    }
}

impl Splitter {
    pub fn new(max_frame_size: u64) -> Self {
        Splitter {
            scanner: Scanner::new(max_frame_size),
            state: State::Detect,
            offset: 0,
            format: Format::Unknown,
            line: Vec::new(),
            line_junk: false,
            at_line_start: true,
            skip_line: false,
            boundary: None,
            delimiter: Vec::new(),
            delimiter_walk: false,
            length_unsure: false,
            headers: Vec::new(),
            body_start: 0,
            content_length: None,
            tail: [0; TAIL],
            gap_line: Vec::new(),
            gap_line_start: true,
            gap_junk: false,
            http_status: None,
            http_length: None,
            events: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Give a boundary hint (e.g. from upstream caps); the body still wins.
    pub fn set_boundary_hint(&mut self, boundary: &[u8]) {
        if self.boundary.is_none() {
            let b = boundary.strip_prefix(b"--").unwrap_or(boundary);
            if !b.is_empty() && b.len() <= MAX_LINE {
                self.set_boundary(b.to_vec());
            }
        }
    }

    pub(super) fn set_boundary(&mut self, b: Vec<u8>) {
        // Only a boundary of printable characters (RFC 2046 allows less) is
        // looked for inside entropy data: its bytes are then never JPEG
        // markers, so a partial match never hides one.
        self.delimiter.clear();
        if b.iter().all(|c| (0x20..=0x7E).contains(c)) {
            self.delimiter.extend_from_slice(b"--");
            self.delimiter.extend_from_slice(&b);
        }
        self.scanner.set_delimiter(&self.delimiter);
        self.boundary = Some(b);
    }

    /// Walk the current part again from `start` (a frame that did not end
    /// with its EOI), this time looking for the delimiter in its entropy
    /// data. Returns false if there is no known delimiter or this is that walk.
    pub(super) fn delimiter_rewalk(&mut self, start: u64) -> bool {
        if self.delimiter_walk || self.delimiter.is_empty() {
            return false;
        }
        self.delimiter_walk = true;
        self.scanner.set_entropy_delimiter(true);
        self.scanner.reset(start);
        self.state = State::Body;
        self.offset = start;
        true
    }

    pub(super) fn end_delimiter_walk(&mut self) {
        if std::mem::take(&mut self.delimiter_walk) {
            self.scanner.set_entropy_delimiter(false);
        }
    }

    pub fn set_max_frame_size(&mut self, max: u64) {
        self.scanner.set_max_frame_size(max);
    }

    /// Give the marker hints of a block of the stream (see [`jpeg::Hints`]).
    pub fn set_hints(&mut self, hints: Option<jpeg::Hints>) {
        self.scanner.set_hints(hints);
    }

    /// Start over at `offset` as a new stream: detection runs again.
    pub fn reset(&mut self, offset: u64) {
        let stats = std::mem::take(&mut self.stats);
        let max = self.scanner.max_frame_size();
        *self = Splitter::new(max);
        self.stats = stats;
        self.scanner.reset(offset);
        self.offset = offset;
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Absolute offset of the next byte to feed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The first absolute offset whose bytes may still be needed (for output
    /// or to be fed again). Everything before it can be discarded.
    pub fn retain_from(&self) -> u64 {
        match self.state {
            State::Raw
            | State::Body
            | State::ClHead { .. }
            | State::ClSkip { .. }
            | State::ClCheck { .. }
            | State::ClWalk { .. } => self.scanner.retain_from().min(self.offset),
            _ => self.offset,
        }
    }

    /// Where the frame being read starts, if one is.
    pub fn frame_start(&self) -> Option<u64> {
        self.scanner.frame_start()
    }

    /// Whether a frame has been started and not reported yet.
    pub fn in_frame(&self) -> bool {
        self.scanner.in_frame()
    }

    /// See [`Scanner::backoffs_refused`].
    pub fn backoffs_refused(&self) -> u64 {
        self.scanner.backoffs_refused()
    }

    /// Feed bytes starting at [`Splitter::offset`]. Returns how many were
    /// consumed; if fewer than `data.len()`, the offset moved back and the
    /// bytes from the new offset must be fed again (see the contract on
    /// [`Splitter`]).
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Output>) -> usize {
        let mut i = 0;
        while i < data.len() {
            let before = self.offset;
            let n = self.step(&data[i..], out);
            if self.offset < before + n as u64 {
                // Rewind requested.
                return i + n;
            }
            i += n;
        }
        i
    }

    /// The stream ended. Returns false if bytes from [`Splitter::offset`]
    /// must be fed again first (then call `finish` again).
    pub fn finish(&mut self, out: &mut Vec<Output>) -> bool {
        if let State::ClCheck { end, .. } = self.state {
            // The stream ends after the declared length: it holds.
            self.length_confirmed(end, out);
        }
        if let State::ClSkip { walk_from, .. } = self.state {
            self.state = State::Body;
            self.offset = walk_from;
            self.length_unsure = true;
            return false;
        }
        if matches!(self.state, State::Body | State::ClHead { .. })
            && self.scanner.in_entropy()
            && let Some(start) = self.scanner.frame_start()
            && self.delimiter_rewalk(start)
        {
            // Cut by the end of the stream: the part may have ended at a
            // boundary before that.
            return false;
        }
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        let done = self.scanner.finish(&mut events);
        self.emit(&events, out);
        self.events = events;
        if !done {
            // The scanner backed off to the SOI a broken frame swallowed.
            self.offset = self.scanner.offset();
            if matches!(self.state, State::ClHead { .. } | State::ClSkip { .. }) {
                self.state = State::Body;
            }
        }
        done
    }

    pub(super) fn emit(&mut self, events: &[jpeg::Event], out: &mut Vec<Output>) {
        for ev in events {
            if std::mem::take(&mut self.length_unsure)
                && matches!(ev, jpeg::Event::Frame(f) if f.complete)
            {
                self.stats.length_mismatches += 1;
            }
            out.push(match *ev {
                jpeg::Event::Frame(frame) => Output::Frame {
                    frame,
                    headers: self.headers.clone(),
                    by_length: false,
                },
                jpeg::Event::Dropped { start, end, reason } => {
                    Output::Dropped { start, end, reason }
                }
            });
        }
    }

    /// Process a prefix of `data` (at least one byte, unless rewinding).
    pub(super) fn step(&mut self, data: &[u8], out: &mut Vec<Output>) -> usize {
        match self.state {
            State::Detect => self.detect(data),
            State::Raw => {
                if self.scanner.is_between_frames() && data[0] != 0xFF {
                    return self.raw_gap(data);
                }
                // Bytes the scanner takes end any text line.
                self.gap_line.clear();
                self.gap_line_start = false;
                let mut events = std::mem::take(&mut self.events);
                events.clear();
                let n = self.scanner.feed_to_gap(data, &mut events);
                self.emit(&events, out);
                self.events = events;
                self.advance(n);
                // The scanner backed off to the SOI a broken frame swallowed.
                self.offset = self.offset.min(self.scanner.offset());
                n
            }
            State::Text(mode) => self.text(mode, data),
            State::SkipBody { end } => {
                let n = usize::try_from(end - self.offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                if self.offset + n as u64 == end {
                    self.enter_detect();
                }
                self.advance(n)
            }
            State::SkipBytes { end } => {
                let n = usize::try_from(end - self.offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                if self.offset + n as u64 == end {
                    self.enter_parts();
                }
                self.advance(n)
            }
            State::Body | State::ClHead { .. } | State::ClWalk { .. } => self.body(data, out),
            State::ClSkip { end, walk_from } => self.cl_skip(data, end, walk_from, out),
            State::ClCheck { end, walk_from } => self.cl_check(data, end, walk_from, out),
        }
    }

    pub(super) fn advance(&mut self, n: usize) -> usize {
        self.offset += n as u64;
        n
    }
}
