// SPDX-License-Identifier: MIT OR Apache-2.0

//! A frame becomes a buffer: caps, metas, flags, timestamps, and its own
//! memory when it would otherwise pin a much larger read block.

use crate::jpeg::{self, FrameInfo};
use crate::timing;

/// Name of the custom meta that carries a frame's multipart part headers.
pub const PART_META: &str = "MjpegSplitPartMeta";

/// Name of the custom meta on a frame given the standard Huffman tables
/// (the `insert-dht` property).
pub const DHT_META: &str = "MjpegSplitDhtMeta";

/// The frame in `buffer` with the standard Huffman tables inserted, when
/// it has none (see `jpeg::dht`); `None` leaves it as it is.
pub fn with_standard_dht(buffer: &gst::Buffer) -> Option<gst::Buffer> {
    let map = buffer.map_readable().ok()?;
    let fixed = jpeg::dht::with_standard_dht(&map)?;
    drop(map);
    let mut out = gst::Buffer::from_mut_slice(fixed);
    if let Some(b) = out.get_mut() {
        let _ = gst::meta::CustomMeta::add(b, DHT_META);
    }
    Some(out)
}

/// X-Timestamp values above this (2000-01-01) are taken as Unix wall-clock time.
const WALL_CLOCK_MIN_SECONDS: u64 = 946_684_800;

/// A frame is copied out of its read block when the block is more than this
/// many times its size (so that keeping a frame keeps little else).
const MAX_PIN_RATIO: usize = 4;

/// Something to send downstream, or post, once no lock is held.
#[derive(Debug)]
pub enum Out {
    Event(gst::Event),
    Buffer(gst::Buffer),
    Warning(String),
    /// A note on what was assumed (an INFO message).
    Info(String),
    /// A fatal stream error (the stream is not MJPEG).
    Error(String),
}

pub fn caps_for(info: &FrameInfo, fps: gst::Fraction) -> gst::Caps {
    let par = info
        .pixel_aspect_ratio()
        .map_or(gst::Fraction::new(1, 1), |(n, d)| {
            gst::Fraction::new(i32::from(n), i32::from(d))
        });
    let mut b = gst::Caps::builder("image/jpeg")
        .field("parsed", true)
        .field("width", i32::from(info.width))
        .field("height", i32::from(info.height))
        .field("sof-marker", i32::from(info.sof));
    let colorspace = info.colorspace();
    if let Some(cs) = colorspace {
        b = b.field("colorspace", cs);
    }
    if let Some(s) = info.sampling_name() {
        b = b.field("sampling", s);
    }
    // JFIF defines YCbCr as BT.601 at full range; RGB JPEGs are sRGB.
    let colorimetry = match colorspace {
        Some("sRGB") => Some("sRGB"),
        Some("sYUV") | Some("GRAY") => Some("1:4:0:0"),
        _ => None,
    };
    b = b.field("interlace-mode", "progressive");
    if let Some(c) = colorimetry {
        b = b.field("colorimetry", c);
    }
    b.field("framerate", fps)
        .field("pixel-aspect-ratio", par)
        .build()
}

/// Everything a frame's buffer carries besides its bytes.
pub struct Decoration<'a> {
    pub frame: &'a jpeg::Frame,
    pub headers: &'a [(String, String)],
    pub x_timestamp: Option<u64>,
    pub pts: u64,
    pub duration: u64,
    pub discont: bool,
}

/// The output buffer for a frame whose bytes are `buffer`.
pub fn frame_buffer(buffer: gst::Buffer, d: &Decoration) -> gst::Buffer {
    let mut buffer = own_memory(buffer);
    let b = buffer.make_mut();
    if let Some(x) = d.x_timestamp {
        let caps = if x / 1_000_000_000 >= WALL_CLOCK_MIN_SECONDS {
            gst::Caps::new_empty_simple("timestamp/x-unix")
        } else {
            gst::Caps::new_empty_simple("timestamp/x-mjpeg-x-timestamp")
        };
        gst::meta::ReferenceTimestampMeta::add(
            b,
            &caps,
            gst::ClockTime::from_nseconds(x),
            gst::ClockTime::NONE,
        );
    }
    if !d.headers.is_empty()
        && let Ok(mut meta) = gst::meta::CustomMeta::add(b, PART_META)
    {
        let st = meta.mut_structure();
        // A NUL byte cannot be in a GStreamer string: such a header is left out.
        for (name, value) in d
            .headers
            .iter()
            .filter(|(n, v)| !n.contains('\0') && !v.contains('\0'))
        {
            st.set(name.as_str(), value.as_str());
        }
    }
    let pts = gst::ClockTime::from_nseconds(d.pts);
    b.set_pts(pts);
    b.set_dts(pts);
    b.set_duration(gst::ClockTime::from_nseconds(d.duration));
    b.set_offset(d.frame.start);
    b.set_offset_end(d.frame.end);
    // Sub-buffers inherit the input's flags (DISCONT, …): ours are set below.
    b.unset_flags(b.flags() - gst::BufferFlags::TAG_MEMORY);
    if !d.frame.complete || d.frame.damaged {
        b.set_flags(gst::BufferFlags::CORRUPTED);
    }
    if d.discont {
        b.set_flags(gst::BufferFlags::DISCONT);
    }
    buffer
}

/// `buffer` itself when its memory is about its size (zero copy), else a
/// copy, so that a frame does not keep a large read block alive.
fn own_memory(buffer: gst::Buffer) -> gst::Buffer {
    let size = buffer.size();
    let pinned: usize = buffer.iter_memories().map(|m| m.maxsize()).sum();
    if pinned <= size.saturating_mul(MAX_PIN_RATIO) {
        return buffer;
    }
    let copy = buffer.map_readable().map(|map| map.to_vec());
    match copy {
        Ok(bytes) => gst::Buffer::from_mut_slice(bytes),
        Err(_) => buffer,
    }
}

/// The timing a part's headers carry: its X-Timestamp (ns) and an
/// X-Framerate.
pub fn header_timing(headers: &[(String, String)]) -> (Option<u64>, Option<gst::Fraction>) {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let x_timestamp = header("x-timestamp").and_then(timing::parse_x_timestamp);
    let fps = header("x-framerate")
        .and_then(timing::parse_framerate)
        .and_then(|(n, d)| {
            Some(gst::Fraction::new(
                i32::try_from(n).ok()?,
                i32::try_from(d).ok()?,
            ))
        });
    (x_timestamp, fps)
}
