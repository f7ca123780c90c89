// SPDX-License-Identifier: MIT OR Apache-2.0

//! Header lines and their quirks: HTTP and part headers, boundary and
//! delimiter lines, read leniently.

use super::*;

pub(super) fn trim(mut s: &[u8]) -> &[u8] {
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
pub(super) fn header_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr(b':', line)?;
    let name = &line[..colon];
    let is_token = |b: &u8| b.is_ascii_alphanumeric() || b"-_.".contains(b);
    (!name.is_empty() && name.iter().all(is_token)).then(|| (name, trim(&line[colon + 1..])))
}

/// The `boundary=` parameter of a Content-Type value, without quotes or a
/// leading `--`.
pub(super) fn boundary_param(value: &[u8]) -> Option<Vec<u8>> {
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
pub(super) fn is_boundary_line(line: &[u8]) -> bool {
    line.len() > 2 && line.starts_with(b"--") && line.iter().all(|c| (0x21..=0x7E).contains(c))
}

pub(super) fn is_jpeg_type(value: &str) -> bool {
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
    /// Text: read lines and act on each.
    pub(super) fn text(&mut self, mode: Text, data: &[u8]) -> usize {
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

    pub(super) fn is_delimiter(&self, line: &[u8]) -> bool {
        line.starts_with(b"--") || self.boundary.as_deref().is_some_and(|b| line == b)
    }

    pub(super) fn line_done(&mut self, mode: Text, line: &[u8]) {
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
    pub(super) fn delimiter_line(&mut self, line: &[u8]) {
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

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The blank line after part headers: the body starts.
    pub(super) fn headers_done(&mut self) {
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
}
