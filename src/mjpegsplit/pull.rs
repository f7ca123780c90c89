// SPDX-License-Identifier: MIT OR Apache-2.0

//! Pull mode (files): the task that reads blocks and pushes one frame per
//! iteration, seeking (flushing or not, segment seeks with SEGMENT_DONE,
//! snapping), the segment stop frame by frame, and the duration, seeking
//! and conversion answers from the frame index.

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::imp::{CAT, MjpegSplit};
use super::index::{Index, RATE_SAMPLE};
use super::output::Out;
use super::readahead::{self, ReadAhead};
use super::stream::Context;

/// Bytes asked for per pull until the frame size is known. A thread reads
/// them ahead of the task (`readahead.rs`), so that the reads (a copy out
/// of the page cache) and the scan run on two cores.
const PULL_BLOCK: u32 = 256 * 1024;

/// Once frames have been seen, reads of about this many mean frames: a frame
/// then lies in one block two times in three (else the adapter joins it, a
/// copy) and pins a block about this many times its size, under the ratio
/// at which it would be copied out of it (`output.rs`). With 1 MiB reads
/// every 640x480 frame was copied out, on the task's core, the busier one.
const FRAMES_PER_BLOCK: u64 = 3;
const MIN_BLOCK: u64 = 64 * 1024;
const MAX_BLOCK: u64 = 1024 * 1024;

/// The read size for frames of `mean` bytes, in steps of 16 KiB (rounded
/// down: a block may not pin more than the ratio allows).
fn block_for(mean: u64) -> u32 {
    const STEP: u64 = 16 * 1024;
    let block = (mean * FRAMES_PER_BLOCK).clamp(MIN_BLOCK, MAX_BLOCK);
    (block / STEP * STEP) as u32
}

/// Files up to this size are indexed whole before the first frame is
/// pushed (their duration is then exact from the start).
const PRESCAN_BYTES: u64 = 16 * 1024 * 1024;

/// Of larger files, the first bytes indexed before the first frame is
/// pushed: the duration is estimated from them until the index grows. (Each
/// byte indexed ahead is read and scanned twice.)
const ESTIMATE_BYTES: u64 = 2 * 1024 * 1024;

/// What one task iteration did.
enum Step {
    /// Pushed or read something: go on.
    Go,
    /// The segment is done (stop reached or end of file).
    End,
}

impl MjpegSplit {
    pub(super) fn sink_activate(&self, pad: &gst::Pad) -> Result<(), gst::LoggableError> {
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

    pub(super) fn sink_activatemode(
        &self,
        pad: &gst::Pad,
        mode: gst::PadMode,
        active: bool,
    ) -> Result<(), gst::LoggableError> {
        if mode != gst::PadMode::Pull {
            return Ok(());
        }
        if !active {
            pad.stop_task()?;
            *self.readahead() = None;
            return Ok(());
        }
        // In pull mode no caps event comes: the peer's caps (a typefinder's,
        // a capsfilter's frame rate) are read here.
        let caps = pad.peer_query_caps(None);
        let id = self.srcpad.create_stream_id(&*self.obj(), Some("mjpeg"));
        {
            let mut state = self.state();
            if !caps.is_any() && !caps.is_empty() {
                self.upstream_caps(&mut state, &caps);
            }
            state.pull = true;
            state.need_stream_start = Some(id.to_string());
            state.upstream_time = false;
            state.arrival = super::stream::Arrival::None;
            state.segment = gst::FormattedSegment::new();
            state.need_segment = true;
        }
        *self.readahead() = Some(ReadAhead::start(pad.clone(), PULL_BLOCK));
        self.start_task()?;
        Ok(())
    }

    fn readahead(&self) -> std::sync::MutexGuard<'_, Option<ReadAhead>> {
        self.readahead.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_task(&self) -> Result<(), glib::BoolError> {
        let weak = self.obj().downgrade();
        self.sinkpad.start_task(move || {
            if let Some(element) = weak.upgrade() {
                element.imp().pull_loop();
            }
        })
    }

    fn pull_loop(&self) {
        // A bug must not take the application down: it becomes an error.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step()))
            .unwrap_or_else(|_| {
                self.post_error("Internal error in mjpegsplit (a bug: please report it)");
                Err(gst::FlowError::Error)
            });
        let err = match result {
            Ok(Step::Go) => return,
            Ok(Step::End) => gst::FlowError::Eos,
            Err(e) => e,
        };
        gst::debug!(CAT, imp = self, "Pausing task: {err:?}");
        let _ = self.sinkpad.pause_task();
        match err {
            gst::FlowError::Flushing => {}
            gst::FlowError::Eos => self.end_segment(),
            // Already reported where it happened.
            gst::FlowError::Error => self.push_eos(),
            _ => {
                self.post_error(&format!(
                    "Streaming stopped: downstream refused the frames ({err:?}); the \
                     downstream element's own error says why"
                ));
                self.push_eos();
            }
        }
    }

    /// Push what is queued up to and including one frame, else read a block.
    fn step(&self) -> Result<Step, gst::FlowError> {
        let pending = self.state().pending_seek.take();
        if let Some(seek) = pending {
            self.apply_seek(&seek);
        }
        let mut items = Vec::new();
        {
            let mut state = self.state();
            while let Some(item) = state.queue.pop_front() {
                if let Out::Buffer(b) = &item {
                    let stop = state.segment.stop();
                    if stop.is_some_and(|s| b.pts().is_some_and(|p| p >= s)) {
                        state.queue.clear();
                        drop(state);
                        self.push_out(items)?;
                        return Ok(Step::End);
                    }
                    state.segment.set_position(b.pts());
                    state.played = (state.played.0 + 1, b.offset_end());
                    items.push(item);
                    break;
                }
                items.push(item);
            }
        }
        if !items.is_empty() {
            self.push_out(items)?;
            return Ok(Step::Go);
        }
        if self.state().eof {
            return Ok(Step::End);
        }
        self.read_block()
    }

    fn read_block(&self) -> Result<Step, gst::FlowError> {
        let settings = self.settings();
        let (offset, first) = {
            let state = self.state();
            let first = state.frame_no == 0 && !self.index().prescanned;
            (state.pull_offset, first)
        };
        if first {
            // The caps rate of X-Timestamp timed files comes from the first
            // frames; a small file is indexed whole, so its duration is
            // exact; a larger one's is estimated from its first bytes.
            let size = self
                .sinkpad
                .peer_query_duration::<gst::format::Bytes>()
                .map(|s| *s);
            let prescan = match size {
                Some(s) if s > PRESCAN_BYTES => ESTIMATE_BYTES,
                _ => PRESCAN_BYTES,
            };
            // Never more than that (and the read that crosses it), frames
            // or not: a source that is no MJPEG may not end.
            self.extend_index(|i, read| {
                read <= PRESCAN_BYTES && (i.len() < RATE_SAMPLE as u64 || i.next < prescan)
            });
            self.index().prescanned = true;
        }
        let result = match self.readahead().as_mut() {
            Some(r) => r.next(offset),
            None => readahead::pull(&self.sinkpad, offset, PULL_BLOCK).map(|b| (b, None)),
        };
        let mut out = Vec::new();
        let (ok, block) = {
            let mut state = self.state();
            let mut index = self.index();
            let ok = match result {
                Ok((buffer, hints)) => {
                    state.pull_offset = offset + buffer.size() as u64;
                    state.push_buffer(
                        &settings,
                        buffer,
                        hints,
                        Context::default(),
                        Some(&mut index),
                        &mut out,
                    )
                }
                Err(gst::FlowError::Eos) => {
                    state.drain(&settings, Some(&mut index), &mut out);
                    if state.frame_no == index.len() {
                        index.complete = true;
                    }
                    state.finish(&mut out);
                    state.eof = true;
                    true
                }
                Err(e) => return Err(e),
            };
            // Errors are posted at once; everything else goes frame by frame.
            let (now, queued): (Vec<Out>, Vec<Out>) =
                out.into_iter().partition(|o| matches!(o, Out::Error(_)));
            state.queue.extend(queued);
            out = now;
            let frames = state.stats.frames;
            let block = (frames >= 4).then(|| block_for(state.stats.bytes_in / frames));
            (ok, block)
        };
        if let (Some(block), Some(r)) = (block, self.readahead().as_ref()) {
            r.set_block(block);
        }
        self.push_out(out)?;
        if ok {
            Ok(Step::Go)
        } else {
            Err(gst::FlowError::Error)
        }
    }
    fn post_error(&self, msg: &str) {
        let msg = gst::message::Error::builder(gst::StreamError::Failed, msg)
            .src(&*self.obj())
            .build();
        let _ = self.obj().post_message(msg);
    }

    /// The segment is over: SEGMENT_DONE for a segment seek, else EOS.
    fn end_segment(&self) {
        let (segment, seqnum) = {
            let state = self.state();
            (state.segment.clone(), state.seqnum)
        };
        if segment.flags().contains(gst::SegmentFlags::SEGMENT) {
            let pos = segment
                .stop()
                .or(segment.position())
                .unwrap_or(gst::ClockTime::ZERO);
            let mut msg = gst::message::SegmentDone::builder(pos).src(&*self.obj());
            let mut ev = gst::event::SegmentDone::builder(pos);
            if let Some(s) = seqnum {
                msg = msg.seqnum(s);
                ev = ev.seqnum(s);
            }
            let _ = self.obj().post_message(msg.build());
            self.srcpad.push_event(ev.build());
        } else {
            self.push_eos();
        }
    }

    fn push_eos(&self) {
        let mut out = Vec::new();
        let seqnum = {
            let mut state = self.state();
            state.finish(&mut out);
            state.seqnum
        };
        let _ = self.push_out(out);
        let mut eos = gst::event::Eos::builder();
        if let Some(seqnum) = seqnum {
            eos = eos.seqnum(seqnum);
        }
        self.srcpad.push_event(eos.build());
    }

    /// Scan ahead (no other lock held) while `want` says so.
    fn extend_index(&self, want: impl FnMut(&Index, u64) -> bool) {
        let settings = self.settings();
        let base_fps = {
            let state = self.state();
            state
                .upstream_fps
                .unwrap_or(super::settings::FALLBACK_FRAMERATE)
        };
        let mut index = self.index();
        index.scan(
            &settings,
            base_fps,
            |pos| readahead::pull(&self.sinkpad, pos, PULL_BLOCK),
            want,
        );
    }

    pub(super) fn perform_seek(&self, event: &gst::event::Seek) -> bool {
        let (rate, flags, _, start, _, stop) = event.get();
        if self.to_time(start).is_none() || self.to_time(stop).is_none() {
            gst::debug!(CAT, imp = self, "Only TIME and DEFAULT seeks are supported");
            return false;
        }
        if rate <= 0.0 {
            gst::debug!(CAT, imp = self, "Reverse playback is not supported");
            return false;
        }
        if !flags.contains(gst::SeekFlags::FLUSH) {
            // Applied by the task once the frame it is pushing is out: the
            // caller never waits for a sink (a prerolled one waits forever).
            self.state().pending_seek = Some(event.to_owned());
            return self.start_task().is_ok();
        }
        let seqnum = event.seqnum();
        let ev = gst::event::FlushStart::builder().seqnum(seqnum).build();
        self.srcpad.push_event(ev.clone());
        self.sinkpad.push_event(ev);
        // The task pushes at most one frame per iteration: this returns fast.
        let _ = self.sinkpad.pause_task();
        let stream_lock = self.sinkpad.stream_lock();
        let ev = gst::event::FlushStop::builder(true).seqnum(seqnum).build();
        self.sinkpad.push_event(ev.clone());
        self.srcpad.push_event(ev);
        self.state().pending_seek = None;
        let ok = self.apply_seek(event);
        if !ok {
            // The flush dropped the segment downstream and what was queued:
            // go on from the frame being played, with a new segment.
            let mut state = self.state();
            let (n, offset) = state.played;
            state.restart_pull(n, offset);
        }
        drop(stream_lock);
        self.start_task().is_ok() && ok
    }

    /// Move to where `event` says, with the task stopped or from the task.
    fn apply_seek(&self, event: &gst::event::Seek) -> bool {
        let (rate, flags, start_type, start, stop_type, stop) = event.get();
        let (Some(start), Some(stop)) = (self.to_time(start), self.to_time(stop)) else {
            return false;
        };
        let seqnum = event.seqnum();
        let (mut segment, current) = {
            let state = self.state();
            (state.segment.clone(), state.played)
        };
        // Seeks relative to the end need the duration.
        segment.set_duration(self.duration());
        // What gst_segment_do_seek will compute: it asserts start <= stop.
        let duration = segment.duration();
        let resolve = |t: gst::SeekType, v: Option<gst::ClockTime>, cur: Option<gst::ClockTime>| {
            let r = match t {
                gst::SeekType::Set => v,
                gst::SeekType::End => Some(duration? + v?),
                _ => cur,
            };
            r.map(|r| duration.map_or(r, |d| r.min(d)))
        };
        let new_start = resolve(start_type, start, segment.start());
        let new_stop = resolve(stop_type, stop, segment.stop());
        if new_start.zip(new_stop).is_some_and(|(a, b)| a > b)
            || (start_type == gst::SeekType::End && new_start.is_none())
            || (stop_type == gst::SeekType::End && stop.is_some() && new_stop.is_none())
        {
            gst::debug!(CAT, imp = self, "Seek to an impossible range");
            return false;
        }
        if segment
            .do_seek(rate, flags, start_type, start, stop_type, stop)
            .is_none()
        {
            return false;
        }
        // Only the stop or the rate changes: go on from where we are.
        let (n, offset) = if start_type == gst::SeekType::None {
            current
        } else {
            let target = segment.position().map_or(0, |p| p.nseconds());
            let (n, offset, pts) = self.seek_frame(target, flags);
            if !flags.contains(gst::SeekFlags::ACCURATE)
                && let Some(t) = pts
            {
                let t = gst::ClockTime::from_nseconds(t);
                segment.set_start(t);
                segment.set_time(t);
                segment.set_position(t);
            }
            (n, offset)
        };
        gst::debug!(
            CAT,
            imp = self,
            "Seek: frame {n} at byte {offset} (playing {current:?}), {segment:?}"
        );
        {
            let mut state = self.state();
            state.segment = segment;
            state.seqnum = Some(seqnum);
            state.restart_pull(n, offset);
        }
        true
    }

    /// The frame a seek to `target` starts at (its number, restart offset
    /// and PTS), after the snap flags; past the end, the end.
    fn seek_frame(&self, target: u64, flags: gst::SeekFlags) -> (u64, u64, Option<u64>) {
        // Index up to the first frame after the target.
        self.extend_index(|i, _| !i.frame_at(target).1);
        let index = self.index();
        let (at, _) = index.frame_at(target);
        let k = at.unwrap_or(0);
        let here = index.entry(k);
        let next = index.entry(k + 1);
        let after = flags.contains(gst::SeekFlags::SNAP_AFTER);
        let before = flags.contains(gst::SeekFlags::SNAP_BEFORE);
        let pick = match (here, next) {
            (Some((_, p)), Some(_)) if after && !before && p < target => k + 1,
            (Some((_, p)), Some((_, q))) if after && before && q - target < target - p => k + 1,
            _ => k,
        };
        match index.entry(pick) {
            Some((offset, pts)) => (pick, offset, Some(pts)),
            None => (index.len(), index.next, None),
        }
    }

    /// A seek position in TIME (DEFAULT = frame numbers are converted).
    fn to_time(&self, v: gst::GenericFormattedValue) -> Option<Option<gst::ClockTime>> {
        match v {
            gst::GenericFormattedValue::Time(t) => Some(t),
            gst::GenericFormattedValue::Default(f) => Some(match f {
                None => None,
                Some(f) => self
                    .convert(
                        gst::GenericFormattedValue::Default(Some(f)),
                        gst::Format::Time,
                    )
                    .and_then(|v| match v {
                        gst::GenericFormattedValue::Time(t) => t,
                        _ => None,
                    }),
            }),
            _ => None,
        }
    }

    /// Duration: exact once every frame is indexed, else estimated from the
    /// upstream size in bytes and the indexed part.
    pub(super) fn duration(&self) -> Option<gst::ClockTime> {
        if !self.state().pull {
            let size = self.sinkpad.peer_query_duration::<gst::format::Bytes>()?;
            let d = self.state().estimate_duration(*size)?;
            return Some(gst::ClockTime::from_nseconds(d));
        }
        let (exact, indexed) = {
            let index = self.index();
            (index.duration(), index.len() > 0)
        };
        if let Some(d) = exact {
            return Some(gst::ClockTime::from_nseconds(d));
        }
        if !indexed {
            return None;
        }
        let size = self.sinkpad.peer_query_duration::<gst::format::Bytes>()?;
        let d = self.index().estimate(*size)?;
        Some(gst::ClockTime::from_nseconds(d))
    }

    /// Duration in frames: exact once every frame is indexed, else the
    /// estimated duration at the indexed frames' mean rate.
    pub(super) fn duration_frames(&self) -> Option<u64> {
        let exact = {
            let index = self.index();
            index.duration().map(|_| index.len())
        };
        if exact.is_some() {
            return exact;
        }
        let d = self.duration()?.nseconds();
        let index = self.index();
        let (time, _) = index.extent()?;
        u64::try_from(u128::from(d) * u128::from(index.len()) / u128::from(time.max(1))).ok()
    }

    /// Conversions between bytes, time and frame numbers, from the index
    /// (no scanning: indexed frames exactly, beyond them by the mean).
    pub(super) fn convert(
        &self,
        src: gst::GenericFormattedValue,
        dest: gst::Format,
    ) -> Option<gst::GenericFormattedValue> {
        use gst::GenericFormattedValue as V;
        if src.format() == dest {
            return Some(src);
        }
        let index = self.index();
        let (time, bytes) = index.extent()?;
        let frames = index.len();
        let scale = |v: u64, num: u64, den: u64| -> Option<u64> {
            u64::try_from(u128::from(v) * u128::from(num) / u128::from(den.max(1))).ok()
        };
        // Everything through time first.
        let t = match src {
            V::Time(t) => t?.nseconds(),
            V::Default(f) => {
                let f = *f?;
                match index.entry(f) {
                    Some((_, pts)) => pts,
                    None => scale(f, time, frames)?,
                }
            }
            V::Bytes(b) => scale(*b?, time, bytes)?,
            _ => return None,
        };
        Some(match dest {
            gst::Format::Time => V::Time(Some(gst::ClockTime::from_nseconds(t))),
            gst::Format::Default => {
                let f = match index.frame_at(t) {
                    (Some(f), true) => f,
                    _ => scale(t, frames, time)?,
                };
                V::Default(Some(gst::format::Default::from_u64(f)))
            }
            gst::Format::Bytes => {
                V::Bytes(Some(gst::format::Bytes::from_u64(scale(t, bytes, time)?)))
            }
            _ => return None,
        })
    }
}
