// SPDX-License-Identifier: MIT OR Apache-2.0

//! Input bytes to frames: the adapter that holds what is not output yet,
//! and the splitter fed from it. Each byte is fed once, except the bytes a
//! splitter asks for again (a wrong Content-Length), which the adapter still
//! holds because the splitter's `retain_from()` covers them.

use crate::jpeg::Hints;
use crate::multipart::{Output, Splitter};

use super::diagnostics::HEAD_KEPT;

/// A frame over at most this many input buffers (of the last one's size)
/// goes out as their memories, without a copy; over more (small reads), as
/// one copy: a buffer holds at most 16 memories and merges them, copying,
/// each time it grows past that.
const ZERO_COPY_CHUNKS: usize = 8;

pub struct Input {
    /// Input bytes not yet output or discarded; its first byte is at `offset`.
    adapter: gst_base::UniqueAdapter,
    offset: u64,
    pub splitter: Splitter,
    /// Boundary from upstream caps, a hint for the splitter.
    boundary_hint: Option<String>,
    /// Offset where the current stream section began.
    section_start: u64,
    /// The first bytes of the stream, to say what it is if it is no MJPEG.
    pub head: Vec<u8>,
    /// Bytes discarded because they belong to no frame.
    pub skipped: u64,
    /// Size of the last buffer pushed.
    last_chunk: usize,
}

impl Input {
    pub fn new(max_frame_size: u64) -> Self {
        Input {
            adapter: gst_base::UniqueAdapter::new(),
            offset: 0,
            splitter: Splitter::new(max_frame_size),
            boundary_hint: None,
            section_start: 0,
            head: Vec::new(),
            skipped: 0,
            last_chunk: 0,
        }
    }

    /// Offset just past the last input byte.
    pub fn end(&self) -> u64 {
        self.offset + self.adapter.available() as u64
    }

    pub fn set_boundary_hint(&mut self, boundary: Option<String>) {
        if let Some(b) = &boundary {
            self.splitter.set_boundary_hint(b.as_bytes());
        }
        self.boundary_hint = boundary;
    }

    /// Drop buffered input and restart at byte `offset` as a new stream
    /// (format detection runs again).
    pub fn restart_at(&mut self, offset: u64) {
        self.adapter.clear();
        self.offset = offset;
        self.section_start = offset;
        self.splitter.reset(offset);
        if let Some(b) = &self.boundary_hint {
            self.splitter.set_boundary_hint(b.as_bytes());
        }
    }

    /// Whether anything was read since the last (re)start.
    pub fn started(&self) -> bool {
        self.splitter.in_frame() || self.end() != self.section_start
    }

    /// Add `buffer` (its first byte at `end()`) and scan it, with the
    /// marker hints of its bytes if the reading thread found them.
    pub fn push(
        &mut self,
        buffer: gst::Buffer,
        hints: Option<Hints>,
        outputs: &mut Vec<Output>,
    ) -> Result<(), ()> {
        let map_offset = self.end();
        self.splitter
            .set_hints(hints.filter(|h| h.start() == map_offset));
        self.adapter.push(buffer.clone());
        let map = buffer.map_readable().map_err(|_| ())?;
        if self.head.len() < HEAD_KEPT {
            let n = (HEAD_KEPT - self.head.len()).min(map.len());
            self.head.extend_from_slice(&map[..n]);
        }
        let end = map_offset + map.len() as u64;
        self.last_chunk = map.len();
        while self.splitter.offset() < end {
            let off = self.splitter.offset();
            if off >= map_offset {
                self.splitter
                    .feed(&map[(off - map_offset) as usize..], outputs);
            } else {
                self.refeed(off, map_offset, outputs);
            }
        }
        Ok(())
    }

    /// The stream ended: what the splitter still holds.
    pub fn drain(&mut self, outputs: &mut Vec<Output>) {
        let end = self.end();
        while !self.splitter.finish(outputs) {
            // Every byte again up to the end (a re-feed may rewind again)
            // before the next finish, as the splitter's contract asks.
            while self.splitter.offset() < end {
                let from = self.splitter.offset();
                self.refeed(from, end, outputs);
            }
        }
    }

    /// Feed the splitter bytes `from..to` again, from the adapter (only when
    /// it rewinds; it may take only some of them, or rewind again).
    fn refeed(&mut self, from: u64, to: u64, outputs: &mut Vec<Output>) {
        let skip = from.checked_sub(self.offset).map(|s| s as usize);
        let len = (to - from) as usize;
        match skip.map(|skip| (skip, self.adapter.map(skip + len))) {
            Some((skip, Ok(map))) => {
                self.splitter.feed(&map[skip..], outputs);
            }
            _ => {
                // Bytes the splitter had released: go on from `to`.
                self.splitter.reset(to);
                if let Some(b) = &self.boundary_hint {
                    self.splitter.set_boundary_hint(b.as_bytes());
                }
            }
        }
    }

    /// Discard input bytes before `offset` that belong to no output frame.
    pub fn discard_to(&mut self, offset: u64) {
        if offset > self.offset {
            let n = (offset - self.offset).min(self.adapter.available() as u64);
            self.adapter.flush(n as usize);
            self.offset += n;
            self.skipped += n;
        }
    }

    /// Discard what the splitter will never ask for again.
    pub fn release(&mut self) {
        let keep = self.splitter.retain_from();
        self.discard_to(keep);
    }

    /// Take bytes `start..end` out as one buffer (bytes before `start`
    /// are discarded). `None` if they are not held.
    pub fn take(&mut self, start: u64, end: u64) -> Option<gst::Buffer> {
        self.discard_to(start);
        if start != self.offset {
            return None;
        }
        let len = usize::try_from(end - start).ok()?;
        let buffer = if len <= self.last_chunk.saturating_mul(ZERO_COPY_CHUNKS) {
            self.adapter.take_buffer_fast(len).ok()?
        } else {
            self.adapter.take_buffer(len).ok()?
        };
        self.offset = end;
        Some(buffer)
    }
}
