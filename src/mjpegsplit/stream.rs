// SPDX-License-Identifier: MIT OR Apache-2.0

//! The state of one stream and the step from input bytes to what goes
//! downstream: frames found by the splitter become buffers, preceded by the
//! stream-start, caps and segment they need. Nothing here posts, pushes or
//! queries: it returns [`Out`] items that the element sends once the state
//! lock is released.

use std::collections::VecDeque;

use crate::jpeg::{self, DropReason, FrameInfo};
use crate::multipart::Output;
use crate::timing::{FrameClock, Policy};

use super::diagnostics::{self, Warned};
use super::index::Index;
use super::input::Input;
use super::output::{self, Decoration, Out, header_timing};
use super::settings::{FALLBACK_FRAMERATE, Incomplete, Settings, TimestampMode};
use super::stats::Stats;

/// How the arrival time of a frame is known, when it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Not asked yet.
    #[default]
    Unknown,
    /// A file or an app's buffers: no arrival time.
    None,
    /// A live source: the pipeline clock's running time.
    Live,
    /// An endless HTTP stream in a non-live pipeline: frames are paced at
    /// the camera's rate, learned from when they arrive (the running time;
    /// a buffering queue upstream may hold them back and release them in
    /// bursts), never stamped before they arrived, so that a syncing sink
    /// plays them at that rate.
    Endless,
}

/// What the element knows about the current frame's arrival.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// Upstream buffer time (TIME segments only).
    pub upstream_pts: Option<u64>,
    /// Arrival, stream time, if [`Arrival`] says it counts.
    pub arrival: Option<u64>,
    /// Arrival on a monotonic clock (ns since the element started).
    pub monotonic: Option<u64>,
    /// Bytes per second arriving at a buffering queue upstream.
    pub byte_rate: Option<u64>,
}

pub struct State {
    pub input: Input,
    pub policy: Policy,
    pub stats: Stats,
    warned: Warned,
    pub not_mjpeg_reported: bool,
    /// Said: the stream is a container read as raw MJPEG.
    container_reported: bool,
    /// Said: the frame rate is assumed.
    rate_reported: bool,
    /// Frame rate from upstream caps.
    pub upstream_fps: Option<gst::Fraction>,
    /// Frame rate from an X-Framerate part header.
    pub header_fps: Option<gst::Fraction>,
    /// Format and frame rate of the caps last pushed.
    out_format: Option<(FrameInfo, gst::Fraction)>,
    /// Upstream segment is TIME: its buffer timestamps are meaningful.
    pub upstream_time: bool,
    pub arrival: Arrival,
    pub segment: gst::FormattedSegment<gst::ClockTime>,
    pub need_segment: bool,
    /// Pull mode: nobody upstream sends stream-start, so we do.
    pub need_stream_start: Option<String>,
    pub seqnum: Option<gst::Seqnum>,
    /// Serialized events held back until caps and segment are out.
    pub pending_events: Vec<gst::Event>,
    pub discont: bool,
    /// Number of the next output frame, counted from the start of the stream.
    pub frame_no: u64,
    /// Byte offset just after the last output frame.
    pub last_frame_end: u64,
    /// Pull mode.
    pub pull: bool,
    pub pull_offset: u64,
    /// Pull mode: what the task pushes, one frame per iteration.
    pub queue: VecDeque<Out>,
    /// Pull mode: the end of the file was read.
    pub eof: bool,
    /// Pull mode: the number and restart offset of the next frame to push.
    pub played: (u64, u64),
    /// Pull mode: a non-flushing seek for the task to apply.
    pub pending_seek: Option<gst::event::Seek<gst::Event>>,
    /// Origin of the monotonic arrival times.
    pub started: std::time::Instant,
}

impl State {
    pub fn new(settings: &Settings) -> Self {
        State {
            input: Input::new(u64::from(settings.max_frame_size)),
            policy: Policy::new(settings.timestamp_mode.policy_mode(), 30, 1),
            stats: Stats::default(),
            warned: Warned::default(),
            not_mjpeg_reported: false,
            container_reported: false,
            rate_reported: false,
            upstream_fps: None,
            header_fps: None,
            out_format: None,
            upstream_time: false,
            arrival: Arrival::Unknown,
            segment: gst::FormattedSegment::new(),
            need_segment: true,
            need_stream_start: None,
            seqnum: None,
            pending_events: Vec::new(),
            discont: true,
            frame_no: 0,
            last_frame_end: 0,
            pull: false,
            pull_offset: 0,
            queue: VecDeque::new(),
            eof: false,
            played: (0, 0),
            pending_seek: None,
            started: std::time::Instant::now(),
        }
    }

    /// The frame rate frames are counted at: configured, else the stream's
    /// (X-Framerate header, upstream caps), else 30/1.
    pub fn framerate(&self, settings: &Settings) -> gst::Fraction {
        settings
            .configured_framerate()
            .or(self.header_fps)
            .or(self.upstream_fps)
            .unwrap_or(FALLBACK_FRAMERATE)
    }

    /// Estimated duration from the frames so far and the stream size.
    pub fn estimate_duration(&self, size: u64) -> Option<u64> {
        let end = self.policy.ts.next_counted();
        let timed = self.upstream_time || self.arrival == Arrival::Live;
        let ts = crate::timing::Timestamper::new(
            self.policy.ts.framerate().0,
            self.policy.ts.framerate().1,
        );
        let (frames, bytes) = (self.frame_no, self.last_frame_end);
        super::index::estimate(&ts, timed, (frames, end, bytes), size)
    }

    /// The position: the PTS of the last frame output.
    pub fn position(&self) -> Option<gst::ClockTime> {
        self.segment.position()
    }

    /// Scan one input buffer (with its marker hints, in pull mode) and
    /// collect what it completes.
    pub fn push_buffer(
        &mut self,
        settings: &Settings,
        buffer: gst::Buffer,
        hints: Option<crate::jpeg::Hints>,
        ctx: Context,
        index: Option<&mut Index>,
        out: &mut Vec<Out>,
    ) -> bool {
        self.stats.bytes_in += buffer.size() as u64;
        self.input
            .splitter
            .set_max_frame_size(u64::from(settings.max_frame_size));
        let mut outputs = Vec::new();
        if self.input.push(buffer, hints, &mut outputs).is_err() {
            out.push(Out::Error("Cannot read an input buffer".into()));
            return false;
        }
        self.handle_outputs(settings, outputs, ctx, index, out);
        self.input.release();
        self.after_scan(settings, false, out)
    }

    /// The stream ended: output a frame cut short, then what is held back.
    pub fn drain(&mut self, settings: &Settings, index: Option<&mut Index>, out: &mut Vec<Out>) {
        let mut outputs = Vec::new();
        self.input.drain(&mut outputs);
        self.handle_outputs(settings, outputs, Context::default(), index, out);
        let end = self.input.end();
        self.input.discard_to(end);
        self.after_scan(settings, true, out);
    }

    /// Damage warnings, and the not-MJPEG error. False when the stream must stop.
    fn after_scan(&mut self, settings: &Settings, at_end: bool, out: &mut Vec<Out>) -> bool {
        self.stats.bytes_skipped = self.input.skipped;
        let warnings = diagnostics::new_damage(
            &mut self.warned,
            &self.stats,
            &self.input.splitter.stats,
            settings,
        );
        out.extend(warnings.into_iter().map(Out::Warning));
        // The bytes of a frame in progress, while it is within
        // max-frame-size, do not count against probe-bytes: a 14 MB photo
        // is no reason to call the stream "not MJPEG" at 8 MiB.
        let in_progress = self
            .input
            .splitter
            .frame_start()
            .map(|start| self.stats.bytes_in.saturating_sub(start))
            .filter(|&n| n <= u64::from(settings.max_frame_size))
            .unwrap_or(0);
        let probed =
            settings.probe_bytes > 0 && self.stats.bytes_in - in_progress >= settings.probe_bytes;
        if self.stats.frames > 0 || self.not_mjpeg_reported || !(probed || at_end) {
            return true;
        }
        self.not_mjpeg_reported = true;
        if self.stats.dropped_too_large > 0 {
            out.push(Out::Error(diagnostics::only_too_large(
                self.stats.dropped_too_large,
                settings.max_frame_size,
            )));
            return false;
        }
        match diagnostics::not_mjpeg(&self.input.head, self.stats.bytes_in, at_end) {
            Some(msg) => {
                out.push(Out::Error(msg));
                false
            }
            None => {
                out.push(Out::Warning(diagnostics::EMPTY_STREAM.into()));
                true
            }
        }
    }

    fn handle_outputs(
        &mut self,
        settings: &Settings,
        outputs: Vec<Output>,
        ctx: Context,
        mut index: Option<&mut Index>,
        out: &mut Vec<Out>,
    ) {
        for output in outputs {
            match output {
                Output::Frame { frame, headers, .. } => {
                    let Some(buffer) = self.input.take(frame.start, frame.end) else {
                        // Bytes already released; cannot happen with a consistent splitter.
                        continue;
                    };
                    self.output_frame(settings, &frame, &headers, buffer, ctx, &mut index, out);
                }
                Output::Dropped { reason, .. } => {
                    match reason {
                        DropReason::NoScan => self.stats.dropped_no_scan += 1,
                        DropReason::TooLarge => self.stats.dropped_too_large += 1,
                    }
                    self.stats.resyncs += 1;
                    self.discont = true;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn output_frame(
        &mut self,
        settings: &Settings,
        frame: &jpeg::Frame,
        headers: &[(String, String)],
        mut buffer: gst::Buffer,
        ctx: Context,
        index: &mut Option<&mut Index>,
        out: &mut Vec<Out>,
    ) {
        if !frame.complete {
            self.stats.incomplete += 1;
        }
        if frame.damaged {
            self.stats.damaged += 1;
        }
        if !frame.complete || frame.damaged {
            self.stats.resyncs += 1;
        }
        if !frame.complete && settings.incomplete == Incomplete::Drop {
            self.stats.dropped_incomplete += 1;
            self.input.skipped += frame.len();
            self.discont = true;
            return;
        }
        if !frame.complete && settings.incomplete == Incomplete::Repair {
            buffer.append(gst::Buffer::from_slice([0xFF, 0xD9]));
        }
        if settings.insert_dht
            && let Some(fixed) = output::with_standard_dht(&buffer)
        {
            buffer = fixed;
            self.stats.dht_inserted += 1;
        }
        let (x_timestamp, header_fps) = header_timing(headers);
        self.header_fps = header_fps.or(self.header_fps);

        let fps = self.framerate(settings);
        if !std::mem::replace(&mut self.container_reported, true)
            && let Some(c) = crate::containers::container(&self.input.head)
        {
            out.push(Out::Warning(diagnostics::container_read_as_raw(c)));
        }
        // Counted at the fallback rate: nothing in the stream timed it.
        let counted = x_timestamp.is_none()
            && ctx.upstream_pts.is_none()
            && !matches!(self.arrival, Arrival::Live | Arrival::Endless)
            && settings.configured_framerate().is_none()
            && self.header_fps.is_none()
            && self.upstream_fps.is_none();
        if counted && !std::mem::replace(&mut self.rate_reported, true) {
            out.push(Out::Info(diagnostics::assumed_framerate(fps)));
        }
        let (pts, duration, caps_fps) = match index.as_deref_mut() {
            // A file: the index gives each frame its time, the same whether
            // it is played or scanned for a seek.
            Some(index) => {
                let at = (self.last_frame_end, frame.end);
                let (pts, duration) = index.time_of(self.frame_no, at, x_timestamp, fps);
                (pts, duration, index.caps_framerate(fps))
            }
            None => {
                self.policy
                    .set_framerate(fps.numer() as u64, fps.denom() as u64);
                // A configured rate counts frames over the camera's clock.
                let counted = settings.configured_framerate().is_some()
                    && settings.timestamp_mode == TimestampMode::Auto;
                let clock = FrameClock {
                    upstream: ctx.upstream_pts,
                    arrival: ctx.arrival,
                    x_timestamp: x_timestamp.filter(|_| !counted),
                    paced: ctx.monotonic.filter(|_| self.arrival == Arrival::Endless),
                };
                let jumps = self.policy.xclock.jumps;
                if let Some(rate) = ctx.byte_rate.filter(|&r| r > 0)
                    && self.stats.frames >= 2
                {
                    // A buffering queue upstream measures the network rate:
                    // with the bytes per frame, the camera's frame interval.
                    let per_frame = u128::from(self.stats.bytes_in) / u128::from(self.stats.frames);
                    let interval = per_frame * 1_000_000_000 / u128::from(rate);
                    self.policy
                        .rate
                        .measured(u64::try_from(interval).unwrap_or(u64::MAX));
                }
                let (pts, duration) = self.policy.next(clock);
                self.stats.clock_jumps += self.policy.xclock.jumps - jumps;
                // Timed by arrival with no rate given: variable rate, 0/1.
                let variable = self.arrival != Arrival::None
                    && settings.configured_framerate().is_none()
                    && self.header_fps.is_none()
                    && self.upstream_fps.is_none();
                let caps_fps = if variable {
                    gst::Fraction::new(0, 1)
                } else {
                    fps
                };
                (pts, duration, caps_fps)
            }
        };

        self.prelude(frame.info, caps_fps, out);
        let decoration = Decoration {
            frame,
            headers,
            x_timestamp,
            pts,
            duration,
            discont: std::mem::take(&mut self.discont),
        };
        let buffer = output::frame_buffer(buffer, &decoration);
        self.frame_no += 1;
        self.last_frame_end = frame.end;
        if !self.pull {
            // Pull mode: when the task pushes it (frames are queued first).
            self.segment
                .set_position(gst::ClockTime::from_nseconds(pts));
        }
        self.stats.frames += 1;
        out.push(Out::Buffer(buffer));
    }

    /// Stream-start, caps, segment and held-back events, where due.
    fn prelude(&mut self, info: FrameInfo, caps_fps: gst::Fraction, out: &mut Vec<Out>) {
        self.stream_start(out);
        if self
            .out_format
            .is_none_or(|(old, f)| !old.same_format(&info) || f != caps_fps)
        {
            if let Some((old, _)) = self.out_format
                && !old.same_format(&info)
            {
                self.stats.format_changes += 1;
                if (old.width, old.height) != (info.width, info.height) {
                    self.stats.resolution_changes += 1;
                }
            }
            let caps = output::caps_for(&info, caps_fps);
            out.push(Out::Event(gst::event::Caps::new(&caps)));
            self.out_format = Some((info, caps_fps));
        }
        self.segment_event(out);
        out.extend(self.pending_events.drain(..).map(Out::Event));
    }

    fn stream_start(&mut self, out: &mut Vec<Out>) {
        if let Some(id) = self.need_stream_start.take() {
            let ev = gst::event::StreamStart::builder(&id)
                .group_id(gst::GroupId::next())
                .build();
            out.push(Out::Event(ev));
        }
    }

    fn segment_event(&mut self, out: &mut Vec<Out>) {
        if std::mem::take(&mut self.need_segment) {
            let mut ev = gst::event::Segment::builder(&self.segment);
            if let Some(seqnum) = self.seqnum {
                ev = ev.seqnum(seqnum);
            }
            out.push(Out::Event(ev.build()));
        }
    }

    /// At the end of the stream: held-back events go out.
    pub fn finish(&mut self, out: &mut Vec<Out>) {
        self.stream_start(out);
        self.segment_event(out);
        out.extend(self.pending_events.drain(..).map(Out::Event));
    }

    /// Pull mode: go on from frame `n`, found by scanning from `offset`,
    /// in a new segment (after a seek or a flush).
    pub fn restart_pull(&mut self, n: u64, offset: u64) {
        self.need_segment = true;
        self.queue.clear();
        self.eof = false;
        self.input.restart_at(offset);
        self.discont = true;
        self.pull_offset = offset;
        self.frame_no = n;
        self.last_frame_end = offset;
        self.played = (n, offset);
    }

    /// Input continues as a new stream section (a reconnect, a new
    /// segment): a partial frame is dropped (and counted) and format
    /// detection runs again. Nothing happens when nothing was read since
    /// the last one.
    pub fn new_section(&mut self) {
        if !self.input.started() {
            return;
        }
        if self.input.splitter.in_frame() {
            self.stats.incomplete += 1;
            self.stats.dropped_incomplete += 1;
            self.stats.resyncs += 1;
        }
        let end = self.input.end();
        self.input.discard_to(end);
        self.input.restart_at(end);
        self.discont = true;
    }
}
