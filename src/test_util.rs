// SPDX-License-Identifier: MIT OR Apache-2.0

//! Helpers for the unit tests.

use memchr::memmem;

/// The bodies of a well-formed multipart stream, found by its Content-Length
/// headers (any case), independently of the splitter.
pub fn multipart_bodies(data: &[u8]) -> Vec<&[u8]> {
    let lower = data.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(k) = memmem::find(&lower[at..], b"content-length:") {
        let line = at + k + 15;
        let eol = line + memchr::memchr(b'\r', &data[line..]).expect("CRLF lines");
        let len: usize = std::str::from_utf8(&data[line..eol])
            .expect("ASCII")
            .trim()
            .parse()
            .expect("a length");
        let body = line + memmem::find(&data[line..], b"\r\n\r\n").expect("a blank line") + 4;
        out.push(&data[body..body + len]);
        at = body + len;
    }
    out
}
