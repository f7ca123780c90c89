// SPDX-License-Identifier: MIT OR Apache-2.0

//! What the element tells a person: the error for a stream that is not
//! MJPEG (saying what it is instead), and one warning per kind of damage.

use super::settings::{Incomplete, Settings};
use super::stats::Stats;
use crate::multipart;

/// Bytes of the stream start kept for error messages.
pub const HEAD_KEPT: usize = 64;

/// Kinds of damage, each reported once.
#[derive(Debug, Default, Clone, Copy)]
pub struct Warned(u8);

/// What the first bytes of a stream that holds no JPEG look like, for a
/// person to act on ("a 401 page", "an MP4 file", …).
pub fn describe_head(head: &[u8]) -> String {
    let line_end = head
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(head.len());
    let printable = |bytes: &[u8]| -> String {
        bytes
            .iter()
            .take(48)
            .flat_map(|&b| std::ascii::escape_default(b))
            .map(char::from)
            .collect()
    };
    let lower = head.to_ascii_lowercase();
    if head.starts_with(b"HTTP/") {
        let status = printable(&head[..line_end]);
        let hint = if status.contains(" 401") || status.contains(" 403") {
            ": the camera wants credentials (set user-id and user-pw on the source)"
        } else if status.contains(" 404") {
            ": check the URL path"
        } else {
            ""
        };
        format!("the server answered '{status}'{hint}")
    } else if memchr::memmem::find(&lower, b"<html").is_some()
        || memchr::memmem::find(&lower, b"<!doctype").is_some()
    {
        format!(
            "it is an HTML page ('{}'): the URL is the camera's web page, not its MJPEG \
             stream (look for video.cgi, mjpg/video.mjpg, ?action=stream…)",
            printable(head)
        )
    } else if let Some(c) = crate::containers::container(head) {
        format!(
            "it is in a container format ({}): play it with decodebin or {}",
            c.name, c.demuxer
        )
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "it starts like a JPEG, but no frame in it is whole enough to output (cut before its \
         image data, or damaged)"
            .to_string()
    } else {
        format!("it starts with '{}'", printable(head))
    }
}

/// The error for a stream without a single frame after `bytes` bytes, or
/// `None` when there is nothing to say (an empty stream: its source says
/// why, or it was an empty file, which gets a warning).
pub fn not_mjpeg(head: &[u8], bytes: u64, at_end: bool) -> Option<String> {
    if bytes == 0 {
        return None;
    }
    let span = if at_end {
        format!("in the whole stream ({bytes} bytes)")
    } else {
        format!("in the first {bytes} bytes")
    };
    Some(format!(
        "No JPEG frame {span}, so this is not an MJPEG stream: {}",
        describe_head(head)
    ))
}

/// No frame came out because every frame seen was larger than
/// `max-frame-size`: an MJPEG stream of big frames, not "not MJPEG".
pub fn only_too_large(dropped: u64, max_frame_size: u32) -> String {
    let frames = if dropped == 1 { "frame" } else { "frames" };
    format!(
        "Every JPEG frame so far ({dropped} {frames}) was larger than max-frame-size \
         ({max_frame_size} bytes) and was dropped: set max-frame-size higher (up to 4294967295) \
         for a stream of frames this big"
    )
}

/// The stream is a container read as raw MJPEG (its JPEG frames are
/// found, but not its timing, index or audio).
pub fn container_read_as_raw(c: crate::containers::Container) -> String {
    format!(
        "The stream is in a container format ({}), read here as raw MJPEG: its frames come \
         out, but its timing, index and audio are lost. Read it with decodebin (or {}) instead, for example \
         filesrc location=FILE ! decodebin ! videoconvert ! autovideosink",
        c.name, c.demuxer
    )
}

/// Frames are counted at a frame rate nothing in the stream gave.
pub fn assumed_framerate(fps: gst::Fraction) -> String {
    format!(
        "The stream carries no timing (no timestamps, X-Timestamp or X-Framerate headers, no \
         rate in the caps): its frames are timed at an assumed {}/{} fps. If the camera ran at \
         another rate, set it: mjpegsplit framerate=15/1 (the transcode example: --framerate 15)",
        fps.numer(),
        fps.denom()
    )
}

pub const EMPTY_STREAM: &str =
    "The stream ended before any data arrived (an empty file, or the source sent nothing)";

/// The first time each kind of damage shows up, say what was wrong with the
/// stream and what is done about it; never once per frame.
pub fn new_damage(
    warned: &mut Warned,
    stats: &Stats,
    split: &multipart::Stats,
    settings: &Settings,
) -> Vec<String> {
    let seen = [
        stats.incomplete > 0,
        stats.damaged > 0,
        stats.dropped_no_scan > 0,
        stats.dropped_too_large > 0,
        split.length_mismatches > 0,
        split.non_jpeg_parts > 0,
    ];
    let mut out = Vec::new();
    for (bit, seen) in seen.into_iter().enumerate() {
        if seen && warned.0 & (1 << bit) == 0 {
            warned.0 |= 1 << bit;
            out.push(damage_message(bit, settings));
        }
    }
    out
}

fn damage_message(kind: usize, settings: &Settings) -> String {
    match kind {
        0 => format!(
            "The stream has frames cut short (their data ends without an EOI marker, or the \
             connection broke inside one): they are {} (property incomplete-frames)",
            match settings.incomplete {
                Incomplete::Repair => "repaired with an EOI and flagged CORRUPTED",
                Incomplete::Pass => "output as they are, flagged CORRUPTED",
                Incomplete::Drop => "dropped",
            }
        ),
        1 => "The stream has frames with damaged headers (bytes where JPEG markers belong): \
              they are output flagged CORRUPTED"
            .into(),
        2 => "The stream has JPEG data without a picture (cut before its image data, or no \
              valid frame header): it was skipped"
            .into(),
        3 => format!(
            "A frame grew past max-frame-size ({} bytes) and was dropped; raise the property \
             if the camera really sends such frames",
            settings.max_frame_size
        ),
        4 => "Multipart parts declare a Content-Length that does not end their JPEG: the \
              frames are found by their markers instead"
            .into(),
        _ => "The multipart stream has parts that are not JPEG images: they were skipped".into(),
    }
}
