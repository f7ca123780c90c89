// SPDX-License-Identifier: MIT OR Apache-2.0

//! The capture time sent as `X-Timestamp`: the camera's own, when the frame
//! carries it (mjpegsplit and mjpeghttpsrc keep it as a reference timestamp
//! meta), else the frame's clock time (base time + running time) on the
//! Unix wall clock: the offset between the two clocks is taken once, so the
//! spacing of X-Timestamps is the spacing of the PTS (a client's mjpegsplit
//! gets the pipeline's timing back), and a pause (a new base time) moves
//! them on with the wall clock. With `sync=false` they follow the PTS, so a
//! file served faster than its rate has them ahead of the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// The reference timestamps passed on as they are.
const CAMERA_CLOCKS: &[&str] = &["timestamp/x-unix", "timestamp/x-mjpeg-x-timestamp"];

#[derive(Debug, Default)]
pub struct WallClock {
    /// Wall-clock time minus the pipeline clock's time, in ns, taken at the
    /// first frame: a frame's capture time is then its clock time (base
    /// time + running time) plus this, across pauses and seeks alike.
    offset: Option<i128>,
    /// Without a clock: (running time, wall-clock time) of the first frame.
    anchor: Option<(u64, u64)>,
}

impl WallClock {
    pub fn reset(&mut self) {
        *self = WallClock::default();
    }

    /// `running` is the frame's running time; `clock` the element's clock
    /// time now and its base time, if it has a clock.
    pub fn timestamp(
        &mut self,
        buffer: &gst::BufferRef,
        running: Option<gst::ClockTime>,
        clock: Option<(gst::ClockTime, gst::ClockTime)>,
    ) -> Option<u64> {
        for meta in buffer.iter_meta::<gst::meta::ReferenceTimestampMeta>() {
            let caps = meta.reference();
            if caps
                .structure(0)
                .is_some_and(|s| CAMERA_CLOCKS.contains(&s.name().as_str()))
            {
                return Some(meta.timestamp().nseconds());
            }
        }
        let wall_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos() as u64;
        let Some(running) = running.map(gst::ClockTime::nseconds) else {
            return Some(wall_now);
        };
        if let Some((now, base)) = clock {
            let offset = *self
                .offset
                .get_or_insert_with(|| i128::from(wall_now) - i128::from(now.nseconds()));
            let t = offset + i128::from(base.nseconds()) + i128::from(running);
            return u64::try_from(t).ok();
        }
        let (anchor_running, anchor_wall) = *self.anchor.get_or_insert((running, wall_now));
        Some(if running >= anchor_running {
            anchor_wall + (running - anchor_running)
        } else {
            anchor_wall.saturating_sub(anchor_running - running)
        })
    }
}
