// SPDX-License-Identifier: MIT OR Apache-2.0

//! Part bodies: the JPEG walk of a part, and the Content-Length fast
//! path with its cross-check (the EOI at the declared end, else the
//! delimiter there, else a walk).

use super::*;

impl Splitter {
    pub(super) fn start_body(&mut self, at: u64, length: Option<u64>) {
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
    pub(super) fn body(&mut self, data: &[u8], out: &mut Vec<Output>) -> usize {
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

    pub(super) fn after_frame(&mut self) {
        self.headers.clear();
        self.enter_parts();
    }

    /// Content-Length fast path: skip to the declared end and check that an
    /// EOI ends the JPEG there.
    pub(super) fn cl_skip(
        &mut self,
        data: &[u8],
        end: u64,
        walk_from: u64,
        out: &mut Vec<Output>,
    ) -> usize {
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
    pub(super) fn check_length(&mut self, end: u64, walk_from: Option<u64>) {
        self.line.clear();
        if self.delimiter.is_empty() || !self.scanner.in_frame() {
            self.length_refuted(end, walk_from);
        } else {
            self.state = State::ClCheck { end, walk_from };
        }
    }

    /// The delimiter is not where the Content-Length says the part ends.
    pub(super) fn length_refuted(&mut self, end: u64, walk_from: Option<u64>) {
        self.stats.length_mismatches += 1;
        self.state = State::Body;
        self.offset = walk_from.unwrap_or(end);
    }

    /// The delimiter is where the Content-Length says the part ends (or the
    /// stream ends there): the part is the frame, cut short.
    pub(super) fn length_confirmed(&mut self, end: u64, out: &mut Vec<Output>) {
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
    pub(super) fn cl_check(
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
