// SPDX-License-Identifier: MIT OR Apache-2.0

//! The state machine: one step of the walk over a frame's bytes
//! (markers, lengths, payloads, entropy data) and the multipart
//! delimiter where it ends a part.

use super::*;

use memchr::memchr;

impl Scanner {
    /// Process bytes from `data[i..stop]`, at least one; returns the new index.
    pub(super) fn step(
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
            State::Len2(code, hi) => self.length_end(data, i, base, code, hi, out),
            State::Payload { code, remaining } => {
                self.payload(data, i, stop, base, (code, remaining), out)
            }
            State::PayloadDelim {
                code,
                remaining,
                matched,
            } => self.payload_delimiter(data, i, base, (code, remaining, matched), out),
            State::Entropy
                if self.part_mode
                    && self.entropy_delimiter
                    && !self.delimiter.is_empty()
                    && self.cur.is_some() =>
            {
                self.entropy_with_delimiter(data, i, stop, base, out)
            }
            State::Entropy => self.entropy(data, i, stop, base),
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

    /// The second byte of a segment length (`hi` the first): begin its
    /// payload, or find the frame damaged (or cut right after a marker).
    #[inline]
    fn length_end(
        &mut self,
        data: &[u8],
        i: usize,
        base: u64,
        code: u8,
        hi: u8,
        out: &mut Vec<Event>,
    ) -> usize {
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

    /// Payload bytes of segment `code`, up to a line feed in part mode
    /// (where the multipart delimiter may start a line).
    #[inline]
    fn payload(
        &mut self,
        data: &[u8],
        i: usize,
        stop: usize,
        base: u64,
        (code, remaining): (u8, u32),
        out: &mut Vec<Event>,
    ) -> usize {
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

    /// A payload byte after a line feed, `matched` bytes of the delimiter
    /// matched so far: the boundary text inside a segment is noted (the part
    /// ends there if the frame proves broken) and stays payload.
    fn payload_delimiter(
        &mut self,
        data: &[u8],
        i: usize,
        base: u64,
        (code, remaining, matched): (u8, u32, usize),
        out: &mut Vec<Event>,
    ) -> usize {
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

    /// Entropy data when the delimiter is looked for in it too (a frame
    /// walked again): the next marker or delimiter line.
    fn entropy_with_delimiter(
        &mut self,
        data: &[u8],
        i: usize,
        stop: usize,
        base: u64,
        out: &mut Vec<Event>,
    ) -> usize {
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

    /// Entropy data: the next `FF` that may end it, from the hints or by the
    /// window test (the hot loop).
    #[inline(always)]
    fn entropy(&mut self, data: &[u8], i: usize, stop: usize, base: u64) -> usize {
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

    /// A segment ended inside a line that may be the multipart delimiter
    /// (`matched` bytes of it so far): the match goes on where a marker or
    /// entropy data should follow.
    pub(super) fn delimiter_after_segment(&mut self, matched: usize) {
        match self.state {
            State::Marker => self.state = State::MarkerDelim(matched),
            State::Entropy => self.state = State::EntropyDelim(matched),
            _ => {}
        }
    }

    /// The multipart delimiter ended the current frame's entropy data; `next`
    /// is the index just after it.
    pub(super) fn delimiter_found(&mut self, next: usize, out: &mut Vec<Event>) -> usize {
        // Before its scan, a frame whose walk swallowed a delimiter line or
        // an SOI is broken: it ends at that earlier place, not at this
        // later delimiter (which a segment's length ran up to).
        if self
            .cur
            .is_some_and(|c| !c.seen_sos && (c.inner_delim.is_some() || c.inner_soi.is_some()))
            && self.broken(self.delim_start, out)
        {
            return next;
        }
        if let Some(cur) = self.cur.take() {
            out.push(self.cut_frame(cur, self.delim_start));
        }
        self.state = State::Search;
        self.stop = Some(Stop::Delimiter);
        next
    }
}
