// SPDX-License-Identifier: MIT OR Apache-2.0

//! `mjpegsplit`: MJPEG byte stream in, one timestamped `image/jpeg` buffer per
//! frame out.
//!
//! This is a plain `gst::Element` rather than a `GstBaseParse` subclass, so
//! that
//! * no byte is copied or scanned twice in push mode (BaseParse hands the
//!   whole accumulated, merged input to every `handle_frame` call),
//! * a frame leaves in the very chain call that delivers its last byte,
//! * timestamps are exactly ours (BaseParse wipes PTS in TIME segments and
//!   interpolates with rounding), and skipped bytes do not mark DISCONT,
//! * seeking in pull mode lands on the exact frame, using an index of frame
//!   offsets built while playing (or by scanning ahead for a seek).
//!
//! Pull mode is used when upstream can (filesrc); push mode otherwise.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::jpeg::{self, DropReason, FrameInfo};
use crate::multipart::{Output, Splitter};
use crate::timing::Timestamper;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "mjpegsplit",
        gst::DebugColorFlags::empty(),
        Some("MJPEG stream splitter"),
    )
});

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
        name = "Auto: upstream timestamps, else arrival time when live, else counted at the frame rate",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "Frame rate: frame n at n / framerate, whatever upstream says",
        nick = "framerate"
    )]
    Framerate = 1,
    #[enum_value(
        name = "X-Timestamp: the multipart X-Timestamp header, relative to the first frame's (else auto)",
        nick = "x-timestamp"
    )]
    XTimestamp = 2,
}

/// Name of the custom meta that carries a frame's multipart part headers.
pub const PART_META: &str = "MjpegSplitPartMeta";

const DEFAULT_FRAMERATE: gst::Fraction = gst::Fraction::from_integer(0);
const FALLBACK_FRAMERATE: gst::Fraction = gst::Fraction::from_integer(30);
const DEFAULT_MAX_FRAME_SIZE: u32 = jpeg::DEFAULT_MAX_FRAME_SIZE as u32;
const DEFAULT_INCOMPLETE: Incomplete = Incomplete::Repair;
const DEFAULT_TIMESTAMP_MODE: TimestampMode = TimestampMode::Auto;
const DEFAULT_PROBE_BYTES: u64 = 8 * 1024 * 1024;
/// Bytes of the stream start kept for error messages.
const HEAD_KEPT: usize = 64;
/// X-Timestamp values above this (2000-01-01) are taken as Unix wall-clock time.
const WALL_CLOCK_MIN_SECONDS: u64 = 946_684_800;
/// Bytes asked for per pull in pull mode.
const PULL_BLOCK: u32 = 2 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct Settings {
    framerate: gst::Fraction,
    max_frame_size: u32,
    incomplete: Incomplete,
    timestamp_mode: TimestampMode,
    probe_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            framerate: DEFAULT_FRAMERATE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            incomplete: DEFAULT_INCOMPLETE,
            timestamp_mode: DEFAULT_TIMESTAMP_MODE,
            probe_bytes: DEFAULT_PROBE_BYTES,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Stats {
    frames: u64,
    bytes_in: u64,
    bytes_skipped: u64,
    incomplete: u64,
    damaged: u64,
    dropped_incomplete: u64,
    dropped_no_scan: u64,
    dropped_too_large: u64,
    format_changes: u64,
    resolution_changes: u64,
    /// Times the scan lost a frame's structure and had to find the next frame.
    resyncs: u64,
}

impl Stats {
    fn to_structure(&self, split: &Splitter) -> gst::Structure {
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
            .build()
    }
}

/// Something to send downstream (or post) once the state lock is released.
enum Out {
    Event(gst::Event),
    Buffer(gst::Buffer),
    Warning(String),
}

struct State {
    /// Input bytes not yet output or discarded; its first byte is at `adapter_offset`.
    adapter: gst_base::UniqueAdapter,
    adapter_offset: u64,
    splitter: Splitter,
    outputs: Vec<Output>,
    /// First X-Timestamp seen (ns) and the PTS given to its frame.
    x_timestamp_base: Option<(u64, u64)>,
    /// Boundary from upstream caps, a hint for the splitter.
    boundary_hint: Option<String>,
    /// Upstream is live (from its latency query; `None` until asked).
    live: Option<bool>,
    /// Offset where the current stream section began.
    section_start: u64,
    /// The first bytes of the stream, to say what it is if it is no MJPEG.
    head: Vec<u8>,
    not_mjpeg_reported: bool,
    /// Kinds of damage already reported on the bus (once each).
    warned: u8,
    ts: Timestamper,
    /// Frame rate from upstream caps.
    upstream_fps: Option<gst::Fraction>,
    /// Format and frame rate of the caps last pushed.
    out_format: Option<(FrameInfo, gst::Fraction)>,
    /// Upstream segment is TIME: its buffer timestamps are meaningful.
    upstream_time: bool,
    segment: gst::FormattedSegment<gst::ClockTime>,
    need_segment: bool,
    /// Pull mode: nobody upstream sends stream-start, so we do.
    need_stream_start: bool,
    seqnum: Option<gst::Seqnum>,
    /// Serialized events held back until caps and segment are out.
    pending_events: Vec<gst::Event>,
    discont: bool,
    /// Number of the next output frame, counted from the start of the stream.
    frame_no: u64,
    last_pts: Option<gst::ClockTime>,
    /// Byte offset just after the last output frame (frames `0..frame_no` lie before it).
    last_frame_end: u64,
    // Pull mode.
    pull: bool,
    pull_offset: u64,
    /// By frame number: where scanning restarts to find that frame (the end
    /// of the previous frame), pull mode.
    index: Vec<u64>,
    /// Where scanning resumes to extend the index: the end of its last frame.
    index_next: u64,
    index_complete: bool,
    stats: Stats,
}

impl State {
    fn new(settings: &Settings) -> Self {
        State {
            adapter: gst_base::UniqueAdapter::new(),
            adapter_offset: 0,
            splitter: Splitter::new(u64::from(settings.max_frame_size)),
            outputs: Vec::new(),
            x_timestamp_base: None,
            boundary_hint: None,
            live: None,
            section_start: 0,
            head: Vec::new(),
            not_mjpeg_reported: false,
            warned: 0,
            ts: Timestamper::new(30, 1),
            upstream_fps: None,
            out_format: None,
            upstream_time: false,
            segment: gst::FormattedSegment::new(),
            need_segment: true,
            need_stream_start: false,
            seqnum: None,
            pending_events: Vec::new(),
            discont: true,
            frame_no: 0,
            last_pts: None,
            last_frame_end: 0,
            pull: false,
            pull_offset: 0,
            index: Vec::new(),
            index_next: 0,
            index_complete: false,
            stats: Stats::default(),
        }
    }

    /// Drop buffered input and restart at byte `offset` as a new stream
    /// (format detection runs again).
    fn restart_at(&mut self, offset: u64) {
        self.adapter.clear();
        self.adapter_offset = offset;
        self.splitter.reset(offset);
        if let Some(b) = &self.boundary_hint {
            self.splitter.set_boundary_hint(b.as_bytes());
        }
        self.discont = true;
    }

    fn adapter_end(&self) -> u64 {
        self.adapter_offset + self.adapter.available() as u64
    }

    /// Feed the splitter what it has not seen of the adapter, `map` being
    /// the newest input, at `map_offset`. Bytes it asks for again (a wrong
    /// Content-Length) are copied out of the adapter.
    fn feed_splitter(&mut self, map: &[u8], map_offset: u64) {
        let end = map_offset + map.len() as u64;
        while self.splitter.offset() < end {
            let off = self.splitter.offset();
            if off >= map_offset {
                self.splitter
                    .feed(&map[(off - map_offset) as usize..], &mut self.outputs);
            } else {
                self.feed_from_adapter(map_offset);
            }
        }
    }

    /// Feed the splitter bytes from its offset up to `to`, held in the
    /// adapter (rare: only when it rewinds). A feed may rewind again (a wrong
    /// Content-Length, then the delimiter re-walk of the frame it cut): the
    /// bytes are copied again from the new offset, which the splitter's
    /// `retain_from()` contract keeps in the adapter.
    fn feed_from_adapter(&mut self, to: u64) {
        let mut tmp = Vec::new();
        loop {
            let from = self.splitter.offset();
            if from >= to {
                break;
            }
            tmp.resize((to - from) as usize, 0);
            if from < self.adapter_offset
                || self
                    .adapter
                    .copy((from - self.adapter_offset) as usize, &mut tmp)
                    .is_err()
            {
                // Cannot happen: the splitter keeps what it may ask for again.
                self.splitter.reset(to);
                return;
            }
            self.splitter.feed(&tmp, &mut self.outputs);
        }
    }

    /// Discard input bytes before `offset` that belong to no output frame.
    fn discard_to(&mut self, offset: u64) {
        if offset > self.adapter_offset {
            let n = (offset - self.adapter_offset).min(self.adapter.available() as u64);
            self.adapter.flush(n as usize);
            self.adapter_offset += n;
            self.stats.bytes_skipped += n;
        }
    }

    fn framerate(&self, settings: &Settings) -> gst::Fraction {
        if settings.framerate.numer() > 0 && settings.framerate.denom() > 0 {
            settings.framerate
        } else {
            self.upstream_fps.unwrap_or(FALLBACK_FRAMERATE)
        }
    }
}

/// What the first bytes of a stream that holds no JPEG look like, for a
/// person to act on ("a 401 page", "an MP4 file", …).
fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "the stream is empty".to_string();
    }
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
        format!("the stream starts with '{}'", printable(&head[..line_end]))
    } else if memchr::memmem::find(&lower, b"<html").is_some()
        || memchr::memmem::find(&lower, b"<!doctype").is_some()
    {
        format!("it looks like an HTML page ('{}')", printable(head))
    } else if head.get(4..8) == Some(b"ftyp") {
        "it looks like an MP4/QuickTime file".to_string()
    } else if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        "it looks like a Matroska/WebM file".to_string()
    } else if head.starts_with(b"RIFF") {
        "it looks like a RIFF (AVI/WAV) file".to_string()
    } else {
        format!("the stream starts with '{}'", printable(head))
    }
}

/// `X-Timestamp: 1700000000.123456` (seconds with a fraction) in ns.
fn parse_x_timestamp(value: &str) -> Option<u64> {
    let value = value.trim();
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: u64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = &frac[..frac.len().min(9)];
    let ns = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().ok()? * 10u64.pow(9 - digits.len() as u32)
    };
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// The first time each kind of damage shows up, say on the bus what was
/// wrong with the stream and what is done about it; never once per frame.
fn warn_new_damage(state: &mut State, settings: &Settings, out: &mut Vec<Out>) {
    let (st, split) = (&state.stats, &state.splitter.stats);
    let seen = [
        st.incomplete > 0,
        st.damaged > 0,
        st.dropped_no_scan > 0,
        st.dropped_too_large > 0,
        split.length_mismatches > 0,
        split.non_jpeg_parts > 0,
    ];
    for (bit, seen) in seen.into_iter().enumerate() {
        if seen && state.warned & (1 << bit) == 0 {
            state.warned |= 1 << bit;
            out.push(Out::Warning(damage_message(bit, settings)));
        }
    }
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

/// Whether `frame` becomes an output buffer under `policy`.
fn is_output(frame: &jpeg::Frame, policy: Incomplete) -> bool {
    frame.complete || policy != Incomplete::Drop
}

fn caps_for(info: &FrameInfo, fps: gst::Fraction) -> gst::Caps {
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
    if let Some(cs) = info.colorspace() {
        b = b.field("colorspace", cs);
    }
    if let Some(s) = info.sampling_name() {
        b = b.field("sampling", s);
    }
    b.field("framerate", fps)
        .field("pixel-aspect-ratio", par)
        .build()
}

pub struct MjpegSplit {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

impl MjpegSplit {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Scan one input buffer and collect what it completes.
    fn handle_buffer(
        &self,
        state: &mut State,
        settings: &Settings,
        buffer: gst::Buffer,
        out: &mut Vec<Out>,
    ) -> Result<(), gst::FlowError> {
        let upstream_pts = if state.upstream_time {
            buffer.pts()
        } else {
            None
        };
        state.stats.bytes_in += buffer.size() as u64;
        state
            .splitter
            .set_max_frame_size(u64::from(settings.max_frame_size));
        let map_offset = state.adapter_end();
        state.adapter.push(buffer.clone());
        {
            let Ok(map) = buffer.map_readable() else {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("Cannot map input buffer")
                );
                return Err(gst::FlowError::Error);
            };
            if state.head.len() < HEAD_KEPT {
                let n = (HEAD_KEPT - state.head.len()).min(map.len());
                state.head.extend_from_slice(&map[..n]);
            }
            state.feed_splitter(&map, map_offset);
        }
        self.handle_outputs(state, settings, upstream_pts, out);
        let keep = state.splitter.retain_from();
        state.discard_to(keep);
        warn_new_damage(state, settings, out);
        self.check_probe(state, settings)
    }

    /// The stream ended: output a frame cut short, then what is held back.
    fn drain(&self, state: &mut State, settings: &Settings, out: &mut Vec<Out>) {
        let end = state.adapter_end();
        let mut outputs = std::mem::take(&mut state.outputs);
        while !state.splitter.finish(&mut outputs) {
            state.outputs = outputs;
            state.feed_from_adapter(end);
            outputs = std::mem::take(&mut state.outputs);
        }
        state.outputs = outputs;
        self.handle_outputs(state, settings, None, out);
        state.discard_to(end);
        warn_new_damage(state, settings, out);
        if state.pull && state.frame_no == state.index.len() as u64 {
            state.index_complete = true;
        }
    }

    fn handle_outputs(
        &self,
        state: &mut State,
        settings: &Settings,
        upstream_pts: Option<gst::ClockTime>,
        out: &mut Vec<Out>,
    ) {
        let outputs = std::mem::take(&mut state.outputs);
        for output in &outputs {
            match output {
                Output::Frame { frame, headers, .. } => {
                    state.discard_to(frame.start);
                    let (Some(0), Ok(len)) = (
                        frame.start.checked_sub(state.adapter_offset),
                        usize::try_from(frame.len()),
                    ) else {
                        // Bytes already released; cannot happen with a consistent splitter.
                        gst::warning!(CAT, imp = self, "Frame at {} not in adapter", frame.start);
                        continue;
                    };
                    let Ok(buffer) = state.adapter.take_buffer(len) else {
                        gst::warning!(
                            CAT,
                            imp = self,
                            "Frame at {} not fully buffered",
                            frame.start
                        );
                        continue;
                    };
                    state.adapter_offset += frame.len();
                    self.output_frame(state, settings, frame, headers, buffer, upstream_pts, out);
                }
                Output::Dropped { start, end, reason } => {
                    gst::debug!(CAT, imp = self, "Dropping bytes {start}..{end}: {reason:?}");
                    match reason {
                        DropReason::NoScan => state.stats.dropped_no_scan += 1,
                        DropReason::TooLarge => state.stats.dropped_too_large += 1,
                    }
                    state.stats.resyncs += 1;
                    state.discont = true;
                }
            }
        }
        state.outputs = outputs;
        state.outputs.clear();
    }

    #[allow(clippy::too_many_arguments)]
    fn output_frame(
        &self,
        state: &mut State,
        settings: &Settings,
        frame: &jpeg::Frame,
        headers: &[(String, String)],
        mut buffer: gst::Buffer,
        upstream_pts: Option<gst::ClockTime>,
        out: &mut Vec<Out>,
    ) {
        if !frame.complete {
            state.stats.incomplete += 1;
        }
        if frame.damaged {
            state.stats.damaged += 1;
        }
        if !frame.complete || frame.damaged {
            state.stats.resyncs += 1;
        }
        if !is_output(frame, settings.incomplete) {
            gst::debug!(
                CAT,
                imp = self,
                "Dropping incomplete frame at {}",
                frame.start
            );
            state.stats.dropped_incomplete += 1;
            state.stats.bytes_skipped += frame.len();
            state.discont = true;
            return;
        }
        if !frame.complete && settings.incomplete == Incomplete::Repair {
            buffer.append(gst::Buffer::from_slice([0xFF, 0xD9]));
        }

        let fps = state.framerate(settings);
        let fps_nd = (fps.numer() as u64, fps.denom() as u64);
        // A live stream without a configured rate is variable-rate: caps say 0/1.
        let caps_fps = if state.live == Some(true)
            && settings.framerate.numer() == 0
            && state.upstream_fps.is_none()
        {
            gst::Fraction::new(0, 1)
        } else {
            fps
        };
        if state.ts.framerate() != fps_nd {
            state.ts.set_framerate(fps_nd.0, fps_nd.1);
        }

        self.stream_start(state, out);
        if state
            .out_format
            .is_none_or(|(info, f)| !info.same_format(&frame.info) || f != caps_fps)
        {
            if let Some((old, _)) = state.out_format
                && !old.same_format(&frame.info)
            {
                state.stats.format_changes += 1;
                if (old.width, old.height) != (frame.info.width, frame.info.height) {
                    state.stats.resolution_changes += 1;
                }
            }
            let caps = caps_for(&frame.info, caps_fps);
            gst::debug!(CAT, imp = self, "New caps {caps}");
            out.push(Out::Event(gst::event::Caps::new(&caps)));
            state.out_format = Some((frame.info, caps_fps));
        }
        if state.need_segment {
            let mut ev = gst::event::Segment::builder(&state.segment);
            if let Some(seqnum) = state.seqnum {
                ev = ev.seqnum(seqnum);
            }
            out.push(Out::Event(ev.build()));
            state.need_segment = false;
        }
        out.extend(state.pending_events.drain(..).map(Out::Event));

        let x_timestamp = headers
            .iter()
            .find(|(n, _)| n == "x-timestamp")
            .and_then(|(_, v)| parse_x_timestamp(v));
        // Live: the time the frame's last byte arrived, unless upstream
        // timestamped the buffer (do-timestamp: its arrival at the source).
        let arrival = upstream_pts.map(|t| t.nseconds()).or_else(|| {
            if state.live != Some(true) {
                return None;
            }
            let rt = self.running_time_now()?;
            state
                .segment
                .position_from_running_time(rt)
                .map(|t| t.nseconds())
        });
        let candidate = match settings.timestamp_mode {
            TimestampMode::Auto => arrival,
            TimestampMode::Framerate => None,
            // The first frame with the header sets the origin (at its own time).
            TimestampMode::XTimestamp => match (x_timestamp, state.x_timestamp_base) {
                (Some(x), Some((x0, pts0))) => Some(pts0.saturating_add(x.saturating_sub(x0))),
                _ => arrival,
            },
        };
        let (pts, duration) = state.ts.next(candidate);
        if settings.timestamp_mode == TimestampMode::XTimestamp
            && state.x_timestamp_base.is_none()
            && let Some(x) = x_timestamp
        {
            state.x_timestamp_base = Some((x, pts));
        }
        let pts = gst::ClockTime::from_nseconds(pts);
        {
            let b = buffer.make_mut();
            if let Some(x) = x_timestamp {
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
            if !headers.is_empty()
                && let Ok(mut meta) = gst::meta::CustomMeta::add(b, PART_META)
            {
                let st = meta.mut_structure();
                for (name, value) in headers {
                    st.set(name.as_str(), value.as_str());
                }
            }
            b.set_pts(pts);
            b.set_dts(pts);
            b.set_duration(gst::ClockTime::from_nseconds(duration));
            b.set_offset(frame.start);
            b.set_offset_end(frame.end);
            // Sub-buffers inherit the input's flags (DISCONT, …): ours are set below.
            b.unset_flags(b.flags() - gst::BufferFlags::TAG_MEMORY);
            if !frame.complete || frame.damaged {
                b.set_flags(gst::BufferFlags::CORRUPTED);
            }
            if std::mem::take(&mut state.discont) {
                b.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        if state.pull && state.frame_no == state.index.len() as u64 {
            // Where a seek to this frame restarts: after the previous frame,
            // so that its part headers are read again.
            state.index.push(state.last_frame_end);
            state.index_next = frame.end;
        }
        state.frame_no += 1;
        state.last_frame_end = frame.end;
        state.last_pts = Some(pts);
        state.stats.frames += 1;
        out.push(Out::Buffer(buffer));
    }

    /// Caps, segment and held-back events must follow a stream-start.
    fn stream_start(&self, state: &mut State, out: &mut Vec<Out>) {
        if std::mem::take(&mut state.need_stream_start) {
            let id = self.srcpad.create_stream_id(&*self.obj(), Some("mjpeg"));
            let ev = gst::event::StreamStart::builder(&id)
                .group_id(gst::GroupId::next())
                .build();
            out.push(Out::Event(ev));
        }
    }

    /// Send collected items downstream, in order.
    fn push_out(&self, out: Vec<Out>) -> Result<gst::FlowSuccess, gst::FlowError> {
        for item in out {
            match item {
                Out::Event(ev) => {
                    self.srcpad.push_event(ev);
                }
                Out::Buffer(buf) => {
                    self.srcpad.push(buf)?;
                }
                Out::Warning(msg) => {
                    gst::element_imp_warning!(self, gst::StreamError::Decode, ("{}", msg));
                }
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings();
        let mut out = Vec::new();
        {
            let mut state = self.state();
            if buffer.flags().contains(gst::BufferFlags::DISCONT) {
                // A new stream section (a reconnect): drop a partial frame
                // and detect the format again.
                self.new_section(&mut state);
            }
            if state.live.is_none() {
                drop(state);
                let live = self.upstream_is_live();
                state = self.state();
                state.live = Some(live);
            }
            self.handle_buffer(&mut state, &settings, buffer, &mut out)?;
        }
        self.push_out(out)
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        gst::log!(CAT, obj = pad, "Handling event {event:?}");
        match event.view() {
            EventView::Caps(c) => {
                self.upstream_caps(&mut self.state(), c.caps());
                true
            }
            EventView::Segment(s) => {
                let mut state = self.state();
                let segment = s.segment();
                state.seqnum = Some(event.seqnum());
                // A new segment starts a new stream section (e.g. a reconnected
                // source): a partial frame is dropped and detection starts over.
                self.new_section(&mut state);
                // Timestamps already flowing (no flush since): keep them increasing.
                let continuing = state.last_pts.is_some();
                if let Some(time) = segment.downcast_ref::<gst::ClockTime>() {
                    state.upstream_time = true;
                    state.segment = time.clone();
                    let start = time.start().map_or(0, |t| t.nseconds());
                    if continuing {
                        state.ts.rebase(start, 0);
                    } else {
                        state.ts.reset(start, 0);
                    }
                } else {
                    state.upstream_time = false;
                    if !continuing {
                        state.segment = gst::FormattedSegment::new();
                        state.ts.reset(0, 0);
                        state.frame_no = 0;
                        state.last_frame_end = 0;
                    }
                }
                state.need_segment = true;
                true
            }
            EventView::Eos(_) => {
                let settings = self.settings();
                let mut out = Vec::new();
                {
                    let mut state = self.state();
                    self.drain(&mut state, &settings, &mut out);
                    self.finish_stream(&mut state, &mut out);
                }
                let _ = self.push_out(out);
                self.srcpad.push_event(event)
            }
            EventView::FlushStop(_) => {
                {
                    let mut state = self.state();
                    self.new_section(&mut state);
                    state.need_segment = true;
                    state.pending_events.clear();
                    state.last_pts = None;
                    state.live = None;
                }
                self.srcpad.push_event(event)
            }
            EventView::StreamStart(_) => {
                {
                    let mut state = self.state();
                    self.new_section(&mut state);
                    state.live = None;
                }
                self.srcpad.push_event(event)
            }
            EventView::FlushStart(_) => self.srcpad.push_event(event),
            _ => {
                if event.is_serialized() {
                    let mut state = self.state();
                    if state.out_format.is_none() || state.need_segment {
                        state.pending_events.push(event);
                        return true;
                    }
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
        }
    }

    /// The running time of the pipeline clock now.
    fn running_time_now(&self) -> Option<gst::ClockTime> {
        let obj = self.obj();
        let now = obj.clock()?.time();
        now.checked_sub(obj.base_time()?)
    }

    /// What upstream caps tell: a frame rate, a multipart boundary.
    fn upstream_caps(&self, state: &mut State, caps: &gst::CapsRef) {
        let s = caps.structure(0);
        state.upstream_fps = s
            .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
            .filter(|f| f.numer() > 0 && f.denom() > 0);
        let boundary = s.and_then(|s| s.get::<String>("boundary").ok());
        if let Some(b) = &boundary {
            state.splitter.set_boundary_hint(b.as_bytes());
        }
        state.boundary_hint = boundary;
    }

    /// Whether upstream is live (its latency query says so).
    fn upstream_is_live(&self) -> bool {
        let mut q = gst::query::Latency::new();
        self.sinkpad.peer_query(&mut q) && q.result().0
    }

    /// Input continues as a new stream section: a partial frame is dropped
    /// (and counted) and format detection runs again. Nothing happens at the
    /// very start or when nothing was read since the last one.
    fn new_section(&self, state: &mut State) {
        let end = state.adapter_end();
        if state.splitter.offset() == end
            && !state.splitter.in_frame()
            && end == state.section_start
        {
            return;
        }
        if state.splitter.in_frame() {
            gst::debug!(
                CAT,
                imp = self,
                "New stream section inside a frame: dropping it"
            );
            state.stats.incomplete += 1;
            state.stats.dropped_incomplete += 1;
            state.stats.resyncs += 1;
        }
        state.discard_to(end);
        state.restart_at(end);
        state.section_start = end;
    }

    /// At the end of the stream: held-back events go out, and a stream with no
    /// frame at all is reported.
    fn finish_stream(&self, state: &mut State, out: &mut Vec<Out>) {
        self.stream_start(state, out);
        if state.need_segment {
            out.push(Out::Event(gst::event::Segment::new(&state.segment)));
            state.need_segment = false;
        }
        out.extend(state.pending_events.drain(..).map(Out::Event));
        if state.stats.frames == 0 && !state.not_mjpeg_reported {
            state.not_mjpeg_reported = true;
            gst::element_imp_error!(
                self,
                gst::StreamError::WrongType,
                (
                    "No JPEG frame in the whole stream ({} bytes): {}",
                    state.stats.bytes_in,
                    describe_head(&state.head)
                )
            );
        }
    }

    /// A stream that has given no frame at all after `probe-bytes` is not
    /// MJPEG: say what it is instead, once, and stop. Once frames were seen,
    /// damage is never fatal.
    fn check_probe(&self, state: &mut State, settings: &Settings) -> Result<(), gst::FlowError> {
        if state.stats.frames > 0
            || settings.probe_bytes == 0
            || state.stats.bytes_in < settings.probe_bytes
            || state.not_mjpeg_reported
        {
            return Ok(());
        }
        state.not_mjpeg_reported = true;
        gst::element_imp_error!(
            self,
            gst::StreamError::WrongType,
            (
                "No JPEG frame in the first {} bytes: {}",
                state.stats.bytes_in,
                describe_head(&state.head)
            )
        );
        Err(gst::FlowError::Error)
    }

    // ---- Pull mode ----

    fn sink_activate(&self, pad: &gst::Pad) -> Result<(), gst::LoggableError> {
        let mut query = gst::query::Scheduling::new();
        let pull = pad.peer_query(&mut query)
            && query
                .has_scheduling_mode_with_flags(gst::PadMode::Pull, gst::SchedulingFlags::SEEKABLE);
        let mode = if pull {
            gst::PadMode::Pull
        } else {
            gst::PadMode::Push
        };
        gst::debug!(CAT, imp = self, "Activating in {mode:?} mode");
        pad.activate_mode(mode, true)?;
        Ok(())
    }

    fn sink_activatemode(
        &self,
        pad: &gst::Pad,
        mode: gst::PadMode,
        active: bool,
    ) -> Result<(), gst::LoggableError> {
        if mode != gst::PadMode::Pull {
            return Ok(());
        }
        if active {
            {
                let caps = pad.peer_query_caps(None);
                let mut state = self.state();
                // In pull mode no caps event comes: the peer's caps (e.g. a
                // typefinder's, or a capsfilter's frame rate) are read here.
                if !caps.is_any() && !caps.is_empty() {
                    self.upstream_caps(&mut state, &caps);
                }
                state.pull = true;
                state.need_stream_start = true;
                state.upstream_time = false;
                state.segment = gst::FormattedSegment::new();
                state.need_segment = true;
            }
            self.start_task(pad)?;
        } else {
            pad.stop_task()?;
        }
        Ok(())
    }

    fn start_task(&self, pad: &gst::Pad) -> Result<(), glib::BoolError> {
        let weak = self.obj().downgrade();
        pad.start_task(move || {
            if let Some(element) = weak.upgrade() {
                element.imp().pull_loop();
            }
        })
    }

    fn pull_loop(&self) {
        let settings = self.settings();
        let offset = self.state().pull_offset;
        let result = self.sinkpad.pull_range(offset, PULL_BLOCK);
        let mut out = Vec::new();
        let flow = match result {
            Ok(buffer) => {
                let mut state = self.state();
                state.pull_offset = offset + buffer.size() as u64;
                let stop = state.segment.stop();
                let r = self.handle_buffer(&mut state, &settings, buffer, &mut out);
                let past_stop = stop.is_some_and(|s| state.last_pts.is_some_and(|p| p >= s));
                drop(state);
                r.and_then(|_| self.push_out(out)).and_then(|s| {
                    if past_stop {
                        Err(gst::FlowError::Eos)
                    } else {
                        Ok(s)
                    }
                })
            }
            Err(gst::FlowError::Eos) => {
                let mut state = self.state();
                self.drain(&mut state, &settings, &mut out);
                drop(state);
                self.push_out(out).and(Err(gst::FlowError::Eos))
            }
            Err(e) => Err(e),
        };
        let Err(err) = flow else {
            return;
        };
        gst::debug!(CAT, imp = self, "Pausing task: {err:?}");
        let _ = self.sinkpad.pause_task();
        match err {
            gst::FlowError::Flushing => {}
            gst::FlowError::Eos => self.push_eos(),
            // Already reported where it happened.
            gst::FlowError::Error => self.push_eos(),
            _ => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ["Streaming stopped, reason {err:?}"]
                );
                self.push_eos();
            }
        }
    }

    fn push_eos(&self) {
        let mut out = Vec::new();
        let seqnum = {
            let mut state = self.state();
            self.finish_stream(&mut state, &mut out);
            state.seqnum
        };
        let _ = self.push_out(out);
        let mut eos = gst::event::Eos::builder();
        if let Some(seqnum) = seqnum {
            eos = eos.seqnum(seqnum);
        }
        self.srcpad.push_event(eos.build());
    }

    /// Byte offset of frame `n`, extending the index by scanning ahead if
    /// needed. `None` if the stream has fewer frames.
    fn frame_offset(&self, state: &mut State, settings: &Settings, n: u64) -> Option<u64> {
        let mut splitter = Splitter::new(u64::from(settings.max_frame_size));
        let mut pos = state.index_next;
        splitter.reset(pos);
        let mut outputs = Vec::new();
        // Bytes kept for the splitter to be fed again (a wrong Content-Length).
        let mut held: Vec<u8> = Vec::new();
        let mut held_from = pos;
        while state.index.len() as u64 <= n && !state.index_complete {
            outputs.clear();
            match self.sinkpad.pull_range(pos, PULL_BLOCK) {
                Ok(buffer) => {
                    let Ok(map) = buffer.map_readable() else {
                        return None;
                    };
                    held.extend_from_slice(&map);
                    pos += map.len() as u64;
                    while splitter.offset() < pos {
                        let off = splitter.offset().max(held_from);
                        splitter.feed(&held[(off - held_from) as usize..], &mut outputs);
                    }
                }
                Err(gst::FlowError::Eos) => {
                    while !splitter.finish(&mut outputs) {
                        while splitter.offset() < pos {
                            let off = splitter.offset().max(held_from);
                            splitter.feed(&held[(off - held_from) as usize..], &mut outputs);
                        }
                    }
                    state.index_complete = true;
                }
                Err(_) => return None,
            }
            for o in &outputs {
                if let Output::Frame { frame, .. } = o
                    && is_output(frame, settings.incomplete)
                {
                    state.index.push(state.index_next);
                    state.index_next = frame.end;
                }
            }
            let keep = splitter.retain_from();
            if keep > held_from {
                held.drain(..(keep - held_from) as usize);
                held_from = keep;
            }
        }
        state.index.get(usize::try_from(n).ok()?).copied()
    }

    fn perform_seek(&self, event: &gst::event::Seek) -> bool {
        let (rate, flags, start_type, start, stop_type, stop) = event.get();
        let (gst::GenericFormattedValue::Time(start), gst::GenericFormattedValue::Time(stop)) =
            (start, stop)
        else {
            gst::debug!(CAT, imp = self, "Only TIME seeks are supported");
            return false;
        };
        if rate <= 0.0 {
            gst::debug!(CAT, imp = self, "Reverse playback is not supported");
            return false;
        }
        let seqnum = event.seqnum();
        let flush = flags.contains(gst::SeekFlags::FLUSH);
        if flush {
            let ev = gst::event::FlushStart::builder().seqnum(seqnum).build();
            self.srcpad.push_event(ev.clone());
            self.sinkpad.push_event(ev);
        }
        let _ = self.sinkpad.pause_task();
        let stream_lock = self.sinkpad.stream_lock();
        if flush {
            let ev = gst::event::FlushStop::builder(true).seqnum(seqnum).build();
            self.sinkpad.push_event(ev.clone());
            self.srcpad.push_event(ev);
        }
        let settings = self.settings();
        {
            let mut state = self.state();
            let mut segment = state.segment.clone();
            if segment
                .do_seek(rate, flags, start_type, start, stop_type, stop)
                .is_none()
            {
                drop(state);
                drop(stream_lock);
                let _ = self.start_task(&self.sinkpad);
                return false;
            }
            let fps = state.framerate(&settings);
            state
                .ts
                .set_framerate(fps.numer() as u64, fps.denom() as u64);
            let target = segment.position().map_or(0, |p| p.nseconds());
            let n = state.ts.frame_at(target);
            let offset = self.frame_offset(&mut state, &settings, n);
            let (n, offset) = match offset {
                Some(o) => (n, o),
                // Past the last frame: continue from the end, which gives EOS.
                None => (
                    state.index.len() as u64,
                    state.index_next.max(state.pull_offset),
                ),
            };
            gst::debug!(
                CAT,
                imp = self,
                "Seek to {target} ns: frame {n} at byte {offset}"
            );
            if !flags.contains(gst::SeekFlags::ACCURATE) {
                let t = gst::ClockTime::from_nseconds(state.ts.offset_of(n));
                segment.set_start(t);
                segment.set_time(t);
                segment.set_position(t);
            }
            state.segment = segment;
            state.seqnum = Some(seqnum);
            state.need_segment = true;
            state.restart_at(offset);
            state.pull_offset = offset;
            state.ts.reset(0, n);
            state.frame_no = n;
            state.last_frame_end = offset;
            state.last_pts = None;
            state.x_timestamp_base = None;
        }
        drop(stream_lock);
        self.start_task(&self.sinkpad).is_ok()
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        if let gst::EventView::Seek(seek) = event.view()
            && self.state().pull
        {
            return self.perform_seek(seek);
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    /// Duration of the stream: exact once every frame is indexed (pull
    /// mode), else estimated from the upstream size in bytes and the mean
    /// frame size so far.
    fn duration(&self) -> Option<gst::ClockTime> {
        let settings = self.settings();
        let state = self.state();
        let fps = state.framerate(&settings);
        let ts = Timestamper::new(fps.numer() as u64, fps.denom() as u64);
        if state.index_complete {
            return Some(gst::ClockTime::from_nseconds(
                ts.offset_of(state.index.len() as u64),
            ));
        }
        let (frames, bytes) = (state.frame_no, state.last_frame_end);
        if frames == 0 || bytes == 0 {
            return None;
        }
        drop(state);
        let size = self.sinkpad.peer_query_duration::<gst::format::Bytes>()?;
        let est = u128::from(*size) * u128::from(frames) / u128::from(bytes);
        Some(gst::ClockTime::from_nseconds(
            ts.offset_of(u64::try_from(est).ok()?),
        ))
    }

    /// Inside decodebin (or parsebin), only what the plugin's typefinder
    /// recognised as an MJPEG stream (`video/x-mjpeg-stream`) is accepted:
    /// a still `image/jpeg` goes straight to jpegdec and stays an image, and
    /// other multipart content goes to multipartdemux. (decodebin tries
    /// parsers before decoders, whatever their rank.)
    fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::AcceptCaps(q) = query.view_mut()
            && q.caps()
                .structure(0)
                .is_none_or(|s| s.name() != crate::typefind::CAPS_NAME)
            && self.inside_autoplugger()
        {
            q.set_result(false);
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }

    fn inside_autoplugger(&self) -> bool {
        let mut parent = self.obj().parent();
        while let Some(p) = parent {
            let name = p.type_().name();
            if name.starts_with("GstDecodeBin")
                || name == "GstParseBin"
                || name == "GstURIDecodeBin"
            {
                return true;
            }
            parent = p.parent();
        }
        false
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Position(q) if q.format() == gst::Format::Time => {
                let state = self.state();
                let Some(pts) = state.last_pts else {
                    return false;
                };
                let pos = state.segment.to_stream_time(pts).unwrap_or(pts);
                q.set(pos);
                true
            }
            QueryViewMut::Duration(q) if q.format() == gst::Format::Time => {
                // A live or timed upstream knows better.
                if !self.state().pull
                    && gst::Pad::query_default(pad, Some(&*self.obj()), q.query_mut())
                {
                    return true;
                }
                match self.duration() {
                    Some(d) => {
                        q.set(d);
                        true
                    }
                    None => false,
                }
            }
            QueryViewMut::Seeking(q) if self.state().pull => {
                if q.format() != gst::Format::Time {
                    return false;
                }
                let duration = self.duration();
                q.set(true, gst::ClockTime::ZERO, duration);
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for MjpegSplit {
    const NAME: &'static str = "GstMjpegSplit";
    type Type = super::MjpegSplit;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_query(pad, query),
                )
            })
            .activate_function(|pad, parent| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(CAT, "Panic activating sink pad")),
                    |imp| imp.sink_activate(pad),
                )
            })
            .activatemode_function(|pad, parent, mode, active| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(CAT, "Panic activating sink pad")),
                    |imp| imp.sink_activatemode(pad, mode, active),
                )
            })
            .build();
        let templ = klass.pad_template("src").expect("src template");
        let srcpad = gst::Pad::builder_from_template(&templ)
            .event_function(|pad, parent, event| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .build();
        let settings = Settings::default();
        MjpegSplit {
            sinkpad,
            srcpad,
            state: Mutex::new(State::new(&settings)),
            settings: Mutex::new(settings),
        }
    }
}

impl ObjectImpl for MjpegSplit {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                gst::ParamSpecFraction::builder("framerate")
                    .nick("Frame rate")
                    .blurb(
                        "Frame rate used to timestamp frames when upstream gives no \
                         timestamps (files), and put in the caps. 0/1 = take it from \
                         the upstream caps, else 30/1",
                    )
                    .minimum(gst::Fraction::new(0, 1))
                    .maximum(gst::Fraction::new(i32::MAX, 1))
                    .default_value(DEFAULT_FRAMERATE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-frame-size")
                    .nick("Maximum frame size")
                    .blurb(
                        "Largest frame in bytes; a frame growing past it is dropped and \
                         the scan resynchronises on the next SOI (bounds memory use)",
                    )
                    .minimum(1024)
                    .default_value(DEFAULT_MAX_FRAME_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("incomplete-frames", DEFAULT_INCOMPLETE)
                    .nick("Incomplete frames")
                    .blurb(
                        "What to do with a frame whose data ends without an EOI marker \
                         (cut by a new SOI or the end of the stream)",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("timestamp-mode", DEFAULT_TIMESTAMP_MODE)
                    .nick("Timestamp mode")
                    .blurb(
                        "Where PTS come from. auto: upstream buffer timestamps when \
                         present, else for a live source the running time at which the \
                         frame's last byte arrived, else frame n at n / framerate; \
                         framerate: always counted; x-timestamp: the multipart X-Timestamp \
                         header relative to the first frame's (else as auto). PTS always \
                         strictly increase (frames arriving together are 1 ms apart)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("probe-bytes")
                    .nick("Probe bytes")
                    .blurb(
                        "A stream that has given no JPEG frame after this many bytes is not \
                         MJPEG: post an error saying what it looks like and stop (0: never). \
                         Once frames have been seen, damage is never fatal",
                    )
                    .default_value(DEFAULT_PROBE_BYTES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "Counters: format (raw, multipart, http-multipart, http-raw), parts, \
                         empty-parts, non-jpeg-parts, content-length-mismatches, \
                         fast-path-frames, frames, bytes-in, bytes-skipped, \
                         incomplete-frames, damaged-frames, dropped-incomplete, \
                         dropped-no-scan, dropped-too-large, format-changes, \
                         resolution-changes, resyncs",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "framerate" => settings.framerate = value.get().expect("type checked upstream"),
            "max-frame-size" => {
                settings.max_frame_size = value.get().expect("type checked upstream")
            }
            "incomplete-frames" => {
                settings.incomplete = value.get().expect("type checked upstream")
            }
            "timestamp-mode" => {
                settings.timestamp_mode = value.get().expect("type checked upstream")
            }
            "probe-bytes" => settings.probe_bytes = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings();
        match pspec.name() {
            "framerate" => settings.framerate.to_value(),
            "max-frame-size" => settings.max_frame_size.to_value(),
            "incomplete-frames" => settings.incomplete.to_value(),
            "stats" => {
                let state = self.state();
                state.stats.to_structure(&state.splitter).to_value()
            }
            "timestamp-mode" => settings.timestamp_mode.to_value(),
            "probe-bytes" => settings.probe_bytes.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
        obj.add_pad(&self.srcpad).expect("add src pad");
    }
}

impl GstObjectImpl for MjpegSplit {}

impl ElementImpl for MjpegSplit {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MJPEG stream splitter",
                "Codec/Parser/Video",
                "Splits raw or multipart MJPEG byte streams (files, IP cameras) into \
                 JPEG frames found by a segment-aware marker walk, each with a PTS, a \
                 duration and full caps; damaged data is skipped, never fatal",
                "mjpegsplit developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink_caps = gst::Caps::builder_full()
                .structure(gst::Structure::new_empty("image/jpeg"))
                .structure(gst::Structure::new_empty("multipart/x-mixed-replace"))
                .structure(gst::Structure::new_empty("application/octet-stream"))
                .structure(gst::Structure::new_empty("video/x-mjpeg"))
                .structure(gst::Structure::new_empty(crate::typefind::CAPS_NAME))
                .build();
            let src_caps = gst::Caps::builder("image/jpeg")
                .field("parsed", true)
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink_caps,
                )
                .expect("sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src_caps,
                )
                .expect("src template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            *self.state() = State::new(&self.settings());
        }
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            let stats = self.state().stats.clone();
            let mut state = State::new(&self.settings());
            state.stats = stats;
            *self.state() = state;
        }
        Ok(ret)
    }
}
