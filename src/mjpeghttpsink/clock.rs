// SPDX-License-Identifier: MIT OR Apache-2.0

//! The capture time sent as `X-Timestamp`: the camera's own, when the frame
//! carries it (mjpegsplit and mjpeghttpsrc keep it as a reference timestamp
//! meta), else the frame's running time on the Unix wall clock, anchored at
//! the first frame so that the spacing of X-Timestamps is the spacing of
//! the PTS (a client's mjpegsplit gets the pipeline's timing back).

use std::time::{SystemTime, UNIX_EPOCH};

/// The reference timestamps passed on as they are.
const CAMERA_CLOCKS: &[&str] = &["timestamp/x-unix", "timestamp/x-mjpeg-x-timestamp"];

#[derive(Debug, Default)]
pub struct WallClock {
    /// (running time, wall-clock time) of the first frame, in ns.
    anchor: Option<(u64, u64)>,
}

impl WallClock {
    pub fn reset(&mut self) {
        self.anchor = None;
    }

    /// `running` is the frame's running time; `now_running` the running time
    /// now (from the element's clock), if there is a clock.
    pub fn timestamp(
        &mut self,
        buffer: &gst::BufferRef,
        running: Option<gst::ClockTime>,
        now_running: Option<gst::ClockTime>,
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
        let Some(running) = running else {
            return Some(wall_now);
        };
        let running = running.nseconds();
        let (anchor_running, anchor_wall) = *self.anchor.get_or_insert_with(|| {
            // The frame's time on the wall clock: now, less how long ago its
            // running time was (a live frame renders at its time anyway).
            let ago = now_running.map_or(0, |n| n.nseconds().saturating_sub(running));
            (running, wall_now.saturating_sub(ago))
        });
        Some(if running >= anchor_running {
            anchor_wall + (running - anchor_running)
        } else {
            anchor_wall.saturating_sub(anchor_running - running)
        })
    }
}
