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

use crate::jpeg::{self, DropReason, Frame, Scanner, Stop};
use memchr::memchr;

/// Longest header or boundary line kept; longer lines are skipped as junk.
const MAX_LINE: usize = 1024;
/// Most headers kept per part.
const MAX_HEADERS: usize = 32;
/// Bytes kept before a declared part end, to check for the EOI there.
const TAIL: usize = 32;

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

/// What text lines mean where they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    /// HTTP response headers, up to the blank line.
    Http,
    /// Between multipart parts: boundaries and part headers.
    Parts,
    /// The body of a non-JPEG part of unknown length: only a delimiter line ends it.
    SkipPart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
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
    scanner: Scanner,
    state: State,
    /// Absolute offset of the next byte to feed.
    offset: u64,
    format: Format,
    /// The current text line (without its line end).
    line: Vec<u8>,
    /// The current line is too long to be a header: it is not kept.
    line_junk: bool,
    /// The next byte starts a line.
    at_line_start: bool,
    /// Skip the rest of the current line (after a delimiter cut a frame).
    skip_line: bool,
    /// The boundary (without `--`) seen in the body, else the HTTP header's.
    boundary: Option<Vec<u8>>,
    /// `--` + boundary.
    delimiter: Vec<u8>,
    /// The current frame is being walked again with delimiter detection
    /// (it was cut short the first time).
    delimiter_walk: bool,
    /// The stream ended inside a part's declared length: that length was
    /// wrong if walking the rest of the part finds a whole frame, and the
    /// stream was cut if it finds a frame cut short.
    length_unsure: bool,
    /// Headers of the part being read.
    headers: Vec<(String, String)>,
    /// Where the current part's body started.
    body_start: u64,
    content_length: Option<u64>,
    /// The last bytes before a declared part end.
    tail: [u8; TAIL],
    /// Raw: the text line being read between frames (to see a multipart
    /// boundary or a new HTTP response there), whether it started at a line
    /// start, and whether it is too long to matter.
    gap_line: Vec<u8>,
    gap_line_start: bool,
    gap_junk: bool,
    /// Status code and Content-Length of the HTTP response being read.
    http_status: Option<u16>,
    http_length: Option<u64>,
    events: Vec<jpeg::Event>,
    pub stats: Stats,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new(jpeg::DEFAULT_MAX_FRAME_SIZE)
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// `Name: value` with a token name; returns both, trimmed.
fn header_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr(b':', line)?;
    let name = &line[..colon];
    let is_token = |b: &u8| b.is_ascii_alphanumeric() || b"-_.".contains(b);
    (!name.is_empty() && name.iter().all(is_token)).then(|| (name, trim(&line[colon + 1..])))
}

/// The `boundary=` parameter of a Content-Type value, without quotes or a
/// leading `--`.
fn boundary_param(value: &[u8]) -> Option<Vec<u8>> {
    let lower = value.to_ascii_lowercase();
    let k = memchr::memmem::find(&lower, b"boundary=")?;
    let mut b = &value[k + 9..];
    if let Some(end) = memchr(b';', b) {
        b = &b[..end];
    }
    let mut b = trim(b);
    if let [b'"', inner @ .., b'"'] = b {
        b = inner;
    }
    let b = b.strip_prefix(b"--").unwrap_or(b);
    (!b.is_empty()).then(|| b.to_vec())
}

/// A line that can only be a multipart delimiter: `--` and a boundary of
/// printable characters.
fn is_boundary_line(line: &[u8]) -> bool {
    line.len() > 2 && line.starts_with(b"--") && line.iter().all(|c| (0x21..=0x7E).contains(c))
}

fn is_jpeg_type(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    v.is_empty()
        || v.starts_with("image/jpeg")
        || v.starts_with("image/jpg")
        || v.starts_with("image/pjpeg")
        || v.starts_with("image/x-jpeg")
        || v.starts_with("video/x-mjpeg")
        || v.starts_with("application/octet-stream")
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

    fn set_boundary(&mut self, b: Vec<u8>) {
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
    fn delimiter_rewalk(&mut self, start: u64) -> bool {
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

    fn end_delimiter_walk(&mut self) {
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

    fn emit(&mut self, events: &[jpeg::Event], out: &mut Vec<Output>) {
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
    fn step(&mut self, data: &[u8], out: &mut Vec<Output>) -> usize {
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

    fn advance(&mut self, n: usize) -> usize {
        self.offset += n as u64;
        n
    }

    fn detect(&mut self, data: &[u8]) -> usize {
        // Leading blank lines say nothing.
        if self.line.is_empty() && data[0].is_ascii_whitespace() {
            return self.advance(1);
        }
        match memchr::memchr2(b'\n', 0xFF, data) {
            Some(k) if data[k] == b'\n' && self.line.len() + k < 256 => {
                self.line.extend_from_slice(&data[..k]);
                self.advance(k + 1);
                let line = std::mem::take(&mut self.line);
                let line = trim(&line);
                if line.starts_with(b"HTTP/") {
                    self.new_response(line);
                } else if line.starts_with(b"--") || header_line(line).is_some() {
                    self.format = Format::Multipart;
                    self.enter_parts();
                    self.line_done(Text::Parts, line);
                } else {
                    self.format = Format::Raw;
                    self.enter_raw();
                }
                k + 1
            }
            Some(k) if data[k] == 0xFF => {
                // JPEG data, after at most a short line of garbage.
                self.format = Format::Raw;
                self.line.clear();
                self.advance(k);
                self.enter_raw();
                k
            }
            _ if self.line.len() + data.len() < 256 => {
                self.line.extend_from_slice(data);
                self.advance(data.len())
            }
            _ => {
                // A long first line that is neither: raw JPEGs behind garbage.
                self.format = Format::Raw;
                self.line.clear();
                self.enter_raw();
                // The rest of that line is no boundary or status line (how
                // much of it was read here depends on the chunking).
                self.gap_line_start = false;
                0
            }
        }
    }

    /// Between raw frames: read the bytes up to the next `FF` as text
    /// lines. A multipart boundary line switches to multipart from there (a
    /// stream joined in the middle of a part); an HTTP status line starts a
    /// new response (a recording of a `401` or `302` and then the stream).
    fn raw_gap(&mut self, data: &[u8]) -> usize {
        let end = memchr(0xFF, data).unwrap_or(data.len());
        let mut k = 0;
        while k < end {
            let (line_end, complete) = match memchr(b'\n', &data[k..end]) {
                Some(j) => (k + j + 1, true),
                None => (end, false),
            };
            if self.gap_line_start && !self.gap_junk {
                if self.gap_line.len() + (line_end - k) > MAX_LINE {
                    self.gap_junk = true;
                    self.gap_line.clear();
                } else {
                    self.gap_line.extend_from_slice(&data[k..line_end]);
                }
            }
            k = line_end;
            if !complete {
                break;
            }
            let was_start = self.gap_line_start && !self.gap_junk;
            self.gap_line_start = true;
            self.gap_junk = false;
            let line = std::mem::take(&mut self.gap_line);
            let text = trim(&line);
            if was_start && text.starts_with(b"HTTP/1.") {
                self.advance(k);
                self.new_response(text);
                return k;
            }
            if was_start && is_boundary_line(text) {
                self.advance(k);
                self.format = match self.format {
                    Format::HttpRaw | Format::HttpMultipart => Format::HttpMultipart,
                    _ => Format::Multipart,
                };
                self.enter_parts();
                self.line_done(Text::Parts, text);
                return k;
            }
            self.gap_line = line;
            self.gap_line.clear();
        }
        self.advance(end);
        self.scanner.reset(self.offset);
        end
    }

    /// An HTTP status line: read the response's headers; what follows them
    /// is detected anew.
    fn new_response(&mut self, status_line: &[u8]) {
        self.format = Format::Unknown;
        self.boundary = None;
        self.delimiter.clear();
        self.scanner.set_delimiter(&[]);
        self.headers.clear();
        self.http_status = status_line
            .split(|b| b.is_ascii_whitespace())
            .filter(|t| !t.is_empty())
            .nth(1)
            .and_then(|t| std::str::from_utf8(t).ok()?.parse().ok());
        self.http_length = None;
        self.state = State::Text(Text::Http);
        self.at_line_start = true;
    }

    /// Detection runs again from here.
    fn enter_detect(&mut self) {
        self.state = State::Detect;
        self.line.clear();
        self.gap_line.clear();
        self.gap_line_start = true;
        self.gap_junk = false;
    }

    fn enter_parts(&mut self) {
        self.state = State::Text(Text::Parts);
        self.at_line_start = true;
    }

    fn enter_raw(&mut self) {
        self.state = State::Raw;
        self.scanner.reset(self.offset);
        self.gap_line.clear();
        self.gap_line_start = true;
        self.gap_junk = false;
    }

    /// Text: read lines and act on each.
    fn text(&mut self, mode: Text, data: &[u8]) -> usize {
        if self.at_line_start {
            self.at_line_start = false;
            self.line.clear();
            self.line_junk = false;
            if data[0] == 0xFF && mode == Text::Parts {
                // A JPEG where a line was expected (no blank line before it).
                self.at_line_start = true;
                self.start_body(self.offset, None);
                return 0;
            }
        }
        let (take, complete) = match memchr(b'\n', data) {
            Some(k) => (k + 1, true),
            None => (data.len(), false),
        };
        if !self.skip_line && !self.line_junk {
            if self.line.len() + take > MAX_LINE {
                self.line_junk = true;
                self.line.clear();
            } else {
                self.line.extend_from_slice(&data[..take]);
            }
        }
        self.advance(take);
        if complete {
            self.at_line_start = true;
            if std::mem::take(&mut self.skip_line) || self.line_junk {
                return take;
            }
            let line = std::mem::take(&mut self.line);
            self.line_done(mode, trim(&line));
            self.line = line;
        }
        take
    }

    fn is_delimiter(&self, line: &[u8]) -> bool {
        line.starts_with(b"--") || self.boundary.as_deref().is_some_and(|b| line == b)
    }

    fn line_done(&mut self, mode: Text, line: &[u8]) {
        match mode {
            Text::Http => {
                if line.is_empty() {
                    if self.http_status.is_some_and(|s| !(200..300).contains(&s)) {
                        // Not the stream (a challenge, a redirect): skip its
                        // body, then detect what follows.
                        match self.http_length {
                            Some(l) if l > 0 => {
                                self.state = State::SkipBody {
                                    end: self.offset.saturating_add(l),
                                }
                            }
                            _ => self.enter_detect(),
                        }
                        return;
                    }
                    if self.format == Format::HttpMultipart {
                        self.enter_parts();
                    } else {
                        self.format = Format::HttpRaw;
                        self.enter_raw();
                    }
                    return;
                }
                if let Some((name, value)) = header_line(line)
                    && name.eq_ignore_ascii_case(b"content-length")
                {
                    self.http_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                }
                if let Some((name, value)) = header_line(line)
                    && name.eq_ignore_ascii_case(b"content-type")
                    && value.to_ascii_lowercase().starts_with(b"multipart/")
                {
                    self.format = Format::HttpMultipart;
                    if let Some(b) = boundary_param(value) {
                        self.set_boundary(b);
                    }
                }
            }
            Text::SkipPart => {
                if self.is_delimiter(line) {
                    self.enter_parts();
                    self.delimiter_line(line);
                }
            }
            Text::Parts if line.starts_with(b"HTTP/1.") => self.new_response(line),
            Text::Parts => {
                if line.is_empty() {
                    if !self.headers.is_empty() {
                        self.headers_done();
                    }
                } else if self.is_delimiter(line) {
                    self.delimiter_line(line);
                } else if let Some((name, value)) = header_line(line)
                    && self.headers.len() < MAX_HEADERS
                {
                    self.headers.push((
                        String::from_utf8_lossy(name).to_ascii_lowercase(),
                        String::from_utf8_lossy(value).into_owned(),
                    ));
                }
                // Any other line is junk between parts.
            }
        }
    }

    /// A `--boundary` line (or the bare boundary): a new part starts.
    fn delimiter_line(&mut self, line: &[u8]) {
        if !self.headers.is_empty() {
            // Headers, then the next boundary: a part without a body.
            self.stats.empty_parts += 1;
        }
        self.headers.clear();
        if let Some(b) = line.strip_prefix(b"--") {
            let known = self.boundary.as_deref();
            let closing = known.is_some_and(|k| b.strip_suffix(b"--") == Some(k));
            if !b.is_empty() && !closing && known != Some(b) {
                // The body's boundary wins over a header hint.
                self.set_boundary(b.to_vec());
            }
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The blank line after part headers: the body starts.
    fn headers_done(&mut self) {
        self.stats.parts += 1;
        let length = self
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let jpeg = self.header("content-type").is_none_or(is_jpeg_type);
        if length == Some(0) {
            self.stats.empty_parts += 1;
            self.headers.clear();
            return;
        }
        if !jpeg {
            self.stats.non_jpeg_parts += 1;
            self.headers.clear();
            // A length beyond any frame is not trusted: look for the next
            // delimiter line instead.
            self.state = match length {
                Some(l) if l <= self.scanner.max_frame_size() => State::SkipBytes {
                    end: self.offset.saturating_add(l),
                },
                _ => State::Text(Text::SkipPart),
            };
            self.at_line_start = true;
            return;
        }
        self.start_body(self.offset, length);
    }

    fn start_body(&mut self, at: u64, length: Option<u64>) {
        self.body_start = at;
        self.content_length = length;
        self.scanner.reset(at);
        self.state = match length {
            Some(l) if l >= 4 && l <= self.scanner.max_frame_size() => State::ClHead {
                end: at.saturating_add(l),
            },
            _ => State::Body,
        };
    }

    /// Walk a JPEG body with the scanner (the whole of it, or, on the fast
    /// path, its header section).
    fn body(&mut self, data: &[u8], out: &mut Vec<Output>) -> usize {
        let fast_end = match self.state {
            State::ClHead { end } | State::ClWalk { end } => Some(end),
            _ => None,
        };
        let header_only = matches!(self.state, State::ClHead { .. });
        // The fast path never walks past the declared end of the part.
        let data = match fast_end {
            Some(end) => {
                &data[..usize::try_from(end - self.offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len())]
            }
            None => data,
        };
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        let (n, stop) = self.scanner.feed_part(data, header_only, &mut events);
        // A frame cut short (by the next SOI, or by growing too large) may
        // really have ended at the next part's boundary: walk it again, this
        // time looking for the delimiter. Complete frames never pay for that.
        let cut = events.iter().find_map(|e| match *e {
            jpeg::Event::Frame(f) if !f.complete => Some(f.start),
            jpeg::Event::Dropped {
                start,
                reason: DropReason::TooLarge,
                ..
            } => Some(start),
            _ => None,
        });
        if let Some(start) = cut
            && fast_end.is_none()
            && self.delimiter_rewalk(start)
        {
            self.events = events;
            self.advance(n);
            self.offset = start;
            return n;
        }
        self.emit(&events, out);
        self.events = events;
        self.advance(n);
        // The scanner backed off to the SOI a broken frame swallowed.
        self.offset = self.offset.min(self.scanner.offset());
        if stop.is_some() && !self.scanner.in_frame() {
            self.end_delimiter_walk();
        }
        match stop {
            None => {
                if let Some(end) = fast_end
                    && self.offset == end
                {
                    if header_only {
                        // The part ends inside the JPEG header section.
                        self.check_length(end, None);
                    } else {
                        // Walked up to the delimiter the length pointed at.
                        self.end_delimiter_walk();
                        self.length_confirmed(end, out);
                    }
                }
            }
            // A damaged header is not trusted to skip its entropy data.
            Some(Stop::Entropy) if !self.scanner.header_ok() => {
                self.stats.length_mismatches += 1;
                self.state = State::Body;
            }
            Some(Stop::Entropy) => {
                let end = fast_end.unwrap_or(self.offset);
                if end >= self.offset + 2 {
                    self.state = State::ClSkip {
                        end,
                        walk_from: self.offset,
                    };
                } else if end == self.offset {
                    self.check_length(end, Some(end));
                } else {
                    // The declared length ends before the entropy data: walk.
                    self.stats.length_mismatches += 1;
                    self.state = State::Body;
                }
            }
            // A broken frame whose segment swallowed the delimiter line of
            // the next part: the part ends there, whatever its length said.
            Some(Stop::FrameEnd) if self.scanner.take_delimiter_backoff() => {
                self.end_delimiter_walk();
                self.after_frame();
            }
            // Cut by a new SOI, the scanner is in the next frame already.
            Some(Stop::FrameEnd) if self.scanner.in_frame() => {}
            // A broken frame inside a part of known length: the scanner
            // backed off to the SOI it swallowed; walk on up to the end.
            Some(Stop::FrameEnd)
                if cut.is_some() && fast_end.is_some_and(|end| self.offset < end) => {}
            Some(Stop::FrameEnd) => self.after_frame(),
            Some(Stop::Delimiter) => {
                // The frame was cut by the next part's delimiter line, read
                // up to the end of the boundary: skip the rest of that line.
                self.headers.clear();
                self.enter_parts();
                self.at_line_start = false;
                self.skip_line = true;
            }
            Some(Stop::NotJpeg) => {
                let had_headers = !std::mem::take(&mut self.headers).is_empty();
                match self.content_length {
                    // A JPEG part that holds no JPEG may have a wrong length
                    // too: the next delimiter line ends it, when known.
                    Some(l) if self.body_start.saturating_add(l) > self.offset => {
                        self.stats.non_jpeg_parts += 1;
                        self.state = if self.delimiter.is_empty() {
                            State::SkipBytes {
                                end: self.body_start.saturating_add(l),
                            }
                        } else {
                            self.at_line_start = true;
                            State::Text(Text::SkipPart)
                        };
                    }
                    _ => {
                        // Nothing of a JPEG: an empty part, or junk between parts.
                        if had_headers {
                            self.stats.empty_parts += 1;
                        }
                        self.enter_parts();
                    }
                }
            }
        }
        n
    }

    fn after_frame(&mut self) {
        self.headers.clear();
        self.enter_parts();
    }

    /// Content-Length fast path: skip to the declared end and check that an
    /// EOI ends the JPEG there.
    fn cl_skip(&mut self, data: &[u8], end: u64, walk_from: u64, out: &mut Vec<Output>) -> usize {
        let n = usize::try_from(end - self.offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        // Keep the bytes of the last TAIL before `end`.
        let tail_start = end.saturating_sub(TAIL as u64).max(walk_from);
        let chunk_end = self.offset + n as u64;
        if chunk_end > tail_start {
            let from = tail_start.max(self.offset);
            let src = &data[(from - self.offset) as usize..n];
            let at = (from - tail_start) as usize;
            self.tail[at..at + src.len()].copy_from_slice(src);
        }
        self.advance(n);
        if self.offset < end {
            return n;
        }
        let tail = &self.tail[..(end - tail_start) as usize];
        let mut k = tail.len();
        while k > 0 && matches!(tail[k - 1], b'\r' | b'\n' | b' ' | b'\t' | 0x00) {
            k -= 1;
        }
        if k >= 2 && tail[k - 2] == 0xFF && tail[k - 1] == 0xD9 {
            let eoi_end = tail_start + k as u64;
            if let Some(frame) = self.scanner.end_frame_at(eoi_end, end) {
                self.stats.fast_path_frames += 1;
                out.push(Output::Frame {
                    frame,
                    headers: std::mem::take(&mut self.headers),
                    by_length: true,
                });
            }
            self.after_frame();
            return n;
        }
        // The declared length does not end the JPEG: unless the delimiter
        // follows, walk the skipped bytes.
        self.check_length(end, Some(walk_from));
        n
    }

    /// The JPEG of the current part does not end at the declared `end`:
    /// look for the delimiter there (when one is known), else walk.
    fn check_length(&mut self, end: u64, walk_from: Option<u64>) {
        self.line.clear();
        if self.delimiter.is_empty() || !self.scanner.in_frame() {
            self.length_refuted(end, walk_from);
        } else {
            self.state = State::ClCheck { end, walk_from };
        }
    }

    /// The delimiter is not where the Content-Length says the part ends.
    fn length_refuted(&mut self, end: u64, walk_from: Option<u64>) {
        self.stats.length_mismatches += 1;
        self.state = State::Body;
        self.offset = walk_from.unwrap_or(end);
    }

    /// The delimiter is where the Content-Length says the part ends (or the
    /// stream ends there): the part is the frame, cut short.
    fn length_confirmed(&mut self, end: u64, out: &mut Vec<Output>) {
        if let Some(ev) = self.scanner.cut_at(end) {
            out.push(match ev {
                jpeg::Event::Frame(frame) => Output::Frame {
                    frame,
                    headers: std::mem::take(&mut self.headers),
                    by_length: true,
                },
                jpeg::Event::Dropped { start, end, reason } => {
                    Output::Dropped { start, end, reason }
                }
            });
        }
        self.after_frame();
    }

    /// After a part whose JPEG did not end at its declared end: collect the
    /// bytes there (kept in `line`) until they show whether the delimiter
    /// line (`\r\n--boundary`, `\n--boundary` or `--boundary`) follows.
    fn cl_check(
        &mut self,
        data: &[u8],
        end: u64,
        walk_from: Option<u64>,
        out: &mut Vec<Output>,
    ) -> usize {
        let mut n = 0;
        let verdict = loop {
            if n == data.len() {
                break None;
            }
            self.line.push(data[n]);
            n += 1;
            let mut possible = false;
            let mut full = false;
            for lead in [&b"\r\n"[..], b"\n", b""] {
                let want = [lead, self.delimiter.as_slice()].concat();
                full |= self.line.starts_with(&want);
                possible |= want.starts_with(&self.line);
            }
            if full || !possible {
                break Some(full);
            }
        };
        self.advance(n);
        match verdict {
            None => {}
            Some(true) if walk_from.is_some_and(|w| w < end) => {
                // Walk the skipped entropy data: an EOI or a delimiter
                // before the end may end the frame there.
                self.line.clear();
                self.offset = walk_from.unwrap_or(end);
                self.state = State::ClWalk { end };
                self.delimiter_walk = true;
                self.scanner.set_entropy_delimiter(true);
            }
            Some(true) => {
                let bytes = std::mem::take(&mut self.line);
                self.length_confirmed(end, out);
                // Read the delimiter line from where the part ends.
                self.offset = end;
                let mut k = 0;
                while k < bytes.len() {
                    k += self.text(Text::Parts, &bytes[k..]);
                }
            }
            Some(false) => self.length_refuted(end, walk_from),
        }
        n
    }
}

#[cfg(test)]
mod tests;
