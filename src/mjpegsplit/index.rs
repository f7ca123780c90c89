// SPDX-License-Identifier: MIT OR Apache-2.0

//! Files (pull mode): the frame index, which gives every frame its byte
//! offset and its time (counted, or from the camera's X-Timestamp headers),
//! and answers seeks, durations and conversions from it.

use crate::multipart::Output;
use crate::timing::{FrameClock, Mode, Policy};

use super::input::Input;
use super::settings::{Settings, TimestampMode};

/// Frames looked at to estimate the frame rate of X-Timestamp timed files.
pub const RATE_SAMPLE: usize = 16;

pub struct Index {
    /// By frame number: where scanning restarts to find that frame (the end
    /// of the previous frame, so that its part headers are read again).
    offsets: Vec<u64>,
    /// By frame number: its PTS.
    times: Vec<u64>,
    /// Where scanning resumes to extend the index: the end of its last frame.
    pub next: u64,
    pub complete: bool,
    /// The first bytes were indexed before the first frame went out.
    pub prescanned: bool,
    policy: Policy,
    /// Whether frames carried X-Timestamp headers (and are timed by them).
    x_timed: bool,
}

impl Index {
    pub fn new(settings: &Settings) -> Self {
        // A file is never live: auto means X-Timestamp when the stream has
        // it, unless a frame rate was configured to count frames at.
        let mode = match settings.timestamp_mode {
            TimestampMode::Framerate => Mode::Framerate,
            TimestampMode::Auto if settings.configured_framerate().is_some() => Mode::Framerate,
            _ => Mode::XTimestamp,
        };
        Index {
            offsets: Vec::new(),
            times: Vec::new(),
            next: 0,
            complete: false,
            prescanned: false,
            policy: Policy::new(mode, 30, 1),
            x_timed: false,
        }
    }

    pub fn len(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// Add the next frame: found by scanning from `restart`, ending at `end`.
    fn add(&mut self, restart: u64, end: u64, x_timestamp: Option<u64>, fps: gst::Fraction) {
        let (n, d) = (fps.numer() as u64, fps.denom() as u64);
        if self.policy.ts.framerate() != (n, d) {
            self.policy.ts.set_framerate(n, d);
        }
        self.x_timed |= x_timestamp.is_some() && self.policy.mode != Mode::Framerate;
        let (pts, _) = self.policy.next(FrameClock {
            x_timestamp,
            ..Default::default()
        });
        self.offsets.push(restart);
        self.times.push(pts);
        self.next = end;
    }

    /// PTS and duration of frame `n` (found from `restart`), adding it to the
    /// index if it is the next one.
    pub fn time_of(
        &mut self,
        n: u64,
        (restart, end): (u64, u64),
        x_timestamp: Option<u64>,
        fps: gst::Fraction,
    ) -> (u64, u64) {
        let Ok(i) = usize::try_from(n) else {
            return (0, 1);
        };
        if i >= self.times.len() {
            self.add(restart, end, x_timestamp, fps);
        }
        let i = i.min(self.times.len() - 1);
        let pts = self.times[i];
        let duration = match self.times.get(i + 1) {
            Some(&next) => next - pts,
            None => self.policy.ts.duration(),
        };
        (pts, duration)
    }

    /// The frame rate for caps: `fps`, or for X-Timestamp timed frames the
    /// mean rate of the first frames, as a fraction over 1000.
    pub fn caps_framerate(&self, fps: gst::Fraction) -> gst::Fraction {
        if !self.x_timed || self.times.len() < 2 {
            return fps;
        }
        let k = self.times.len().min(RATE_SAMPLE) - 1;
        let span = self.times[k] - self.times[0];
        if span == 0 {
            return fps;
        }
        let milli_fps = (k as u128 * 1_000_000_000_000 / u128::from(span)) as i64;
        match i32::try_from((milli_fps + 500) / 1000 * 1000) {
            // Within 0.1 % of a whole rate: that rate.
            Ok(whole) if (i64::from(whole) - milli_fps).abs() * 1000 <= milli_fps => {
                gst::Fraction::new(whole / 1000, 1)
            }
            _ => i32::try_from(milli_fps).map_or(fps, |m| gst::Fraction::new(m.max(1), 1000)),
        }
    }

    /// Restart offset and PTS of frame `n`, if indexed.
    pub fn entry(&self, n: u64) -> Option<(u64, u64)> {
        let i = usize::try_from(n).ok()?;
        Some((*self.offsets.get(i)?, *self.times.get(i)?))
    }

    /// The last indexed frame whose PTS is at or before `t`, and whether
    /// a later frame is indexed (so that the answer is final).
    pub fn frame_at(&self, t: u64) -> (Option<u64>, bool) {
        let after = self.times.partition_point(|&p| p <= t);
        let known = after < self.times.len() || self.complete;
        (after.checked_sub(1).map(|i| i as u64), known)
    }

    /// End time of the stream, once every frame is indexed.
    pub fn duration(&self) -> Option<u64> {
        if !self.complete {
            return None;
        }
        // Where a next frame would start (exact when counted).
        Some(self.policy.ts.next_counted())
    }

    /// Estimated duration of a stream of `size` bytes from the indexed part:
    /// frames in proportion to bytes (counted), or time (X-Timestamp timed).
    pub fn estimate(&self, size: u64) -> Option<u64> {
        let (time, bytes) = self.extent().filter(|&(_, b)| b > 0)?;
        estimate(
            &self.policy.ts,
            self.x_timed,
            (self.len(), time, bytes),
            size,
        )
    }

    /// Time and bytes of the indexed part, for estimates.
    pub fn extent(&self) -> Option<(u64, u64)> {
        self.times.last()?;
        Some((self.policy.ts.next_counted(), self.next))
    }

    /// Extend the index by scanning from `next` with `pull` (a pull_range)
    /// until `want` (given the index and the bytes read so far) says enough
    /// or the stream ends.
    pub fn scan(
        &mut self,
        settings: &Settings,
        base_fps: gst::Fraction,
        mut pull: impl FnMut(u64) -> Result<gst::Buffer, gst::FlowError>,
        mut want: impl FnMut(&Index, u64) -> bool,
    ) {
        // The same input path as playback: bytes the splitter asks for
        // again (a wrong Content-Length) are still held.
        let mut input = Input::new(u64::from(settings.max_frame_size));
        input.restart_at(self.next);
        let mut outputs = Vec::new();
        let mut header_fps = None;
        let from = self.next;
        while want(self, input.end() - from) && !self.complete {
            outputs.clear();
            let at_end = match pull(input.end()) {
                Ok(buffer) => {
                    if input.push(buffer, None, &mut outputs).is_err() {
                        return;
                    }
                    false
                }
                Err(gst::FlowError::Eos) => {
                    input.drain(&mut outputs);
                    true
                }
                Err(_) => return,
            };
            for o in &outputs {
                let Output::Frame { frame, headers, .. } = o else {
                    continue;
                };
                if !frame.complete && settings.incomplete == super::Incomplete::Drop {
                    continue;
                }
                let (x, fps) = super::output::header_timing(headers);
                header_fps = fps.or(header_fps);
                let rate = settings
                    .configured_framerate()
                    .or(header_fps)
                    .unwrap_or(base_fps);
                let restart = self.next;
                self.add(restart, frame.end, x, rate);
            }
            self.complete |= at_end;
            input.release();
        }
    }
}

/// A stream of `size` bytes whose first `bytes` held `frames` frames
/// lasting `time`: its duration, counted frames quantised to the rate.
pub fn estimate(
    ts: &crate::timing::Timestamper,
    timed: bool,
    (frames, time, bytes): (u64, u64, u64),
    size: u64,
) -> Option<u64> {
    if bytes == 0 || frames == 0 {
        return None;
    }
    if timed {
        return u64::try_from(u128::from(size) * u128::from(time) / u128::from(bytes)).ok();
    }
    let n = u128::from(size) * u128::from(frames) / u128::from(bytes);
    Some(ts.offset_of(u64::try_from(n).ok()?))
}
