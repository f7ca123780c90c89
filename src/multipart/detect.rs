// SPDX-License-Identifier: MIT OR Apache-2.0

//! Format detection, at the start and again later: raw JPEGs, a
//! multipart body, an HTTP response (and a new one mid-stream), a
//! boundary line between raw frames.

use super::*;

impl Splitter {
    pub(super) fn detect(&mut self, data: &[u8]) -> usize {
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
    pub(super) fn raw_gap(&mut self, data: &[u8]) -> usize {
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
    pub(super) fn new_response(&mut self, status_line: &[u8]) {
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
    pub(super) fn enter_detect(&mut self) {
        self.state = State::Detect;
        self.line.clear();
        self.gap_line.clear();
        self.gap_line_start = true;
        self.gap_junk = false;
    }

    pub(super) fn enter_parts(&mut self) {
        self.state = State::Text(Text::Parts);
        self.at_line_start = true;
    }

    pub(super) fn enter_raw(&mut self) {
        self.state = State::Raw;
        self.scanner.reset(self.offset);
        self.gap_line.clear();
        self.gap_line_start = true;
        self.gap_junk = false;
    }
}
