// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `stats` property: what the element did with the stream.

use crate::multipart::Splitter;

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub frames: u64,
    pub bytes_in: u64,
    pub bytes_skipped: u64,
    pub incomplete: u64,
    pub damaged: u64,
    pub dropped_incomplete: u64,
    pub dropped_no_scan: u64,
    pub dropped_too_large: u64,
    pub format_changes: u64,
    pub resolution_changes: u64,
    /// Times the scan lost a frame's structure and had to find the next frame.
    pub resyncs: u64,
    /// Times the camera's X-Timestamp clock jumped and timing was re-anchored.
    pub clock_jumps: u64,
    /// Frames given the standard Huffman tables (`insert-dht`).
    pub dht_inserted: u64,
}

impl Stats {
    pub fn to_structure(&self, split: &Splitter) -> gst::Structure {
        let m = &split.stats;
        gst::Structure::builder("mjpegsplit-stats")
            .field("format", split.format().name())
            .field("parts", m.parts)
            .field("empty-parts", m.empty_parts)
            .field("non-jpeg-parts", m.non_jpeg_parts)
            .field("content-length-mismatches", m.length_mismatches)
            .field("fast-path-frames", m.fast_path_frames)
            .field("frames", self.frames)
            .field("bytes-in", self.bytes_in)
            .field("bytes-skipped", self.bytes_skipped)
            .field("incomplete-frames", self.incomplete)
            .field("damaged-frames", self.damaged)
            .field("dropped-incomplete", self.dropped_incomplete)
            .field("dropped-no-scan", self.dropped_no_scan)
            .field("dropped-too-large", self.dropped_too_large)
            .field("format-changes", self.format_changes)
            .field("resolution-changes", self.resolution_changes)
            .field("resyncs", self.resyncs)
            .field("clock-jumps", self.clock_jumps)
            .field("dht-inserted", self.dht_inserted)
            .build()
    }
}
