// SPDX-License-Identifier: MIT OR Apache-2.0

//! Properties: the enums, the defaults, the settings and their param specs.

use gst::glib;
use gst::prelude::*;

use crate::jpeg;
use crate::timing;

/// What to do with a frame whose entropy data ends without an EOI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstMjpegSplitIncomplete")]
pub enum Incomplete {
    #[enum_value(
        name = "Repair: append the missing EOI and flag the buffer CORRUPTED",
        nick = "repair"
    )]
    Repair = 0,
    #[enum_value(
        name = "Pass: output the bytes as they are, flagged CORRUPTED",
        nick = "pass"
    )]
    Pass = 1,
    #[enum_value(name = "Drop: do not output incomplete frames", nick = "drop")]
    Drop = 2,
}

/// Where frame timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstMjpegSplitTimestampMode")]
pub enum TimestampMode {
    #[enum_value(
        name = "Auto: upstream timestamps, else the camera's X-Timestamp headers, else the \
                arrival time (live or endless HTTP streams), else counted at the frame rate",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "Frame rate: frame n at n / framerate, whatever upstream says",
        nick = "framerate"
    )]
    Framerate = 1,
    #[enum_value(
        name = "X-Timestamp: the multipart X-Timestamp header, relative to the first frame's, \
                even over upstream timestamps (else auto)",
        nick = "x-timestamp"
    )]
    XTimestamp = 2,
}

impl TimestampMode {
    pub fn policy_mode(self) -> timing::Mode {
        match self {
            TimestampMode::Auto => timing::Mode::Auto,
            TimestampMode::Framerate => timing::Mode::Framerate,
            TimestampMode::XTimestamp => timing::Mode::XTimestamp,
        }
    }
}

pub const DEFAULT_FRAMERATE: gst::Fraction = gst::Fraction::from_integer(0);
pub const FALLBACK_FRAMERATE: gst::Fraction = gst::Fraction::from_integer(30);
const DEFAULT_MAX_FRAME_SIZE: u32 = jpeg::DEFAULT_MAX_FRAME_SIZE as u32;
const DEFAULT_INCOMPLETE: Incomplete = Incomplete::Repair;
const DEFAULT_TIMESTAMP_MODE: TimestampMode = TimestampMode::Auto;
const DEFAULT_PROBE_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub framerate: gst::Fraction,
    pub max_frame_size: u32,
    pub incomplete: Incomplete,
    pub timestamp_mode: TimestampMode,
    pub probe_bytes: u64,
    pub insert_dht: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            framerate: DEFAULT_FRAMERATE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            incomplete: DEFAULT_INCOMPLETE,
            timestamp_mode: DEFAULT_TIMESTAMP_MODE,
            probe_bytes: DEFAULT_PROBE_BYTES,
            insert_dht: false,
        }
    }
}

impl Settings {
    /// The configured frame rate, if one is.
    pub fn configured_framerate(&self) -> Option<gst::Fraction> {
        let f = self.framerate;
        (f.numer() > 0 && f.denom() > 0).then_some(f)
    }

    pub fn set(&mut self, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "framerate" => self.framerate = value.get().expect("type checked upstream"),
            "max-frame-size" => self.max_frame_size = value.get().expect("type checked upstream"),
            "incomplete-frames" => self.incomplete = value.get().expect("type checked upstream"),
            "timestamp-mode" => self.timestamp_mode = value.get().expect("type checked upstream"),
            "probe-bytes" => self.probe_bytes = value.get().expect("type checked upstream"),
            "insert-dht" => self.insert_dht = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
    }

    pub fn get(&self, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "framerate" => self.framerate.to_value(),
            "max-frame-size" => self.max_frame_size.to_value(),
            "incomplete-frames" => self.incomplete.to_value(),
            "timestamp-mode" => self.timestamp_mode.to_value(),
            "probe-bytes" => self.probe_bytes.to_value(),
            "insert-dht" => self.insert_dht.to_value(),
            _ => unimplemented!(),
        }
    }
}

pub fn param_specs() -> Vec<glib::ParamSpec> {
    vec![
        gst::ParamSpecFraction::builder("framerate")
            .nick("Frame rate")
            .blurb(
                "Frame rate used to count timestamps when the stream carries no timing of its \
                 own (no upstream timestamps, X-Timestamp or X-Framerate headers, or upstream \
                 caps rate), and put in the caps. 0/1 = from the stream, else 30/1",
            )
            .minimum(gst::Fraction::new(0, 1))
            .maximum(gst::Fraction::new(i32::MAX, 1))
            .default_value(DEFAULT_FRAMERATE)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-frame-size")
            .nick("Maximum frame size")
            .blurb(
                "Largest frame in bytes; a frame growing past it is dropped and the scan \
                 resynchronises on the next SOI (bounds memory use)",
            )
            .minimum(1024)
            .default_value(DEFAULT_MAX_FRAME_SIZE)
            .mutable_playing()
            .build(),
        glib::ParamSpecEnum::builder_with_default("incomplete-frames", DEFAULT_INCOMPLETE)
            .nick("Incomplete frames")
            .blurb(
                "What to do with a frame whose data ends without an EOI marker (cut by a new \
                 SOI or the end of the stream)",
            )
            .mutable_playing()
            .build(),
        glib::ParamSpecEnum::builder_with_default("timestamp-mode", DEFAULT_TIMESTAMP_MODE)
            .nick("Timestamp mode")
            .blurb(
                "Where PTS come from. auto: upstream buffer timestamps when present, else the \
                 multipart X-Timestamp headers (relative to the first frame, re-anchored when \
                 the camera clock jumps), else for a live source or an endless HTTP stream the \
                 time the frame's last byte arrived, else frame n at n / framerate; framerate: \
                 always counted; x-timestamp: the X-Timestamp headers even over upstream \
                 timestamps. PTS always strictly increase within a segment",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("probe-bytes")
            .nick("Probe bytes")
            .blurb(
                "A stream that has given no JPEG frame after this many bytes is not MJPEG: post \
                 an error saying what it looks like and stop (0: never). Once frames have been \
                 seen, damage is never fatal",
            )
            .default_value(DEFAULT_PROBE_BYTES)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("insert-dht")
            .nick("Insert Huffman tables")
            .blurb(
                "Give a frame that carries no Huffman tables (USB webcams, AVI1 recordings) the \
                 standard ones of the JPEG spec (Annex K.3), before its first SOS, so that every \
                 decoder reads it as a stand-alone JPEG; such buffers carry a \
                 MjpegSplitDhtMeta. Frames with tables stay byte-identical",
            )
            .default_value(false)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(
                "Counters: format (raw, multipart, http-multipart, http-raw), parts, \
                 empty-parts, non-jpeg-parts, content-length-mismatches, fast-path-frames, \
                 frames, bytes-in, bytes-skipped, incomplete-frames, damaged-frames, \
                 dropped-incomplete, dropped-no-scan, dropped-too-large, format-changes, \
                 resolution-changes, resyncs, clock-jumps, dht-inserted",
            )
            .read_only()
            .build(),
    ]
}
