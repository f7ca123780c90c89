// SPDX-License-Identifier: MIT OR Apache-2.0

//! Frame timestamps, without GStreamer types: every frame gets a PTS and a
//! duration, and PTS are strictly increasing.
//!
//! * With no upstream time, frame `k` after the base gets
//!   `base + k * fps_d / fps_n` seconds, computed from the counter (exact, no
//!   accumulated rounding).
//! * With an upstream time (or an arrival time read from the clock), that time
//!   is used, but never at or before the previous frame's: frames that share
//!   one input buffer (and so one time) are spread [`MIN_STEP`] apart.
//!   Counting then continues from the last such time if later frames come
//!   without one. The duration of such frames is the running mean of the
//!   intervals between them (the nominal interval until there is one).

/// Smallest gap between two PTS when upstream times collide: 1 ms, so that
/// muxers with millisecond time bases (Matroska) still see distinct times.
pub const MIN_STEP: u64 = 1_000_000;

const SECOND: u128 = 1_000_000_000;

#[derive(Debug, Clone)]
pub struct Timestamper {
    fps_n: u64,
    fps_d: u64,
    base: u64,
    count: u64,
    last: Option<u64>,
    /// Mean interval between timed frames (ns), exponentially weighted.
    interval: Option<u64>,
}

impl Timestamper {
    /// Timestamps at `fps_n/fps_d` frames per second from 0.
    pub fn new(fps_n: u64, fps_d: u64) -> Self {
        let (fps_n, fps_d) = sanitize(fps_n, fps_d);
        Timestamper {
            fps_n,
            fps_d,
            base: 0,
            count: 0,
            last: None,
            interval: None,
        }
    }

    pub fn framerate(&self) -> (u64, u64) {
        (self.fps_n, self.fps_d)
    }

    /// Change the frame rate; frames counted from now on start at the time
    /// the next frame would have had.
    pub fn set_framerate(&mut self, fps_n: u64, fps_d: u64) {
        let (fps_n, fps_d) = sanitize(fps_n, fps_d);
        if (fps_n, fps_d) == (self.fps_n, self.fps_d) {
            return;
        }
        self.base = self.counted(self.count);
        self.count = 0;
        self.fps_n = fps_n;
        self.fps_d = fps_d;
    }

    /// The next counted frame is frame `count` after time `base` (ns).
    /// Forgets the previous PTS, for a flush or a seek.
    pub fn reset(&mut self, base: u64, count: u64) {
        self.base = base;
        self.count = count;
        self.last = None;
        self.interval = None;
    }

    /// Like [`Timestamper::reset`] but PTS keep increasing past the last one
    /// (a new stream section that continues the same timeline).
    pub fn rebase(&mut self, base: u64, count: u64) {
        self.base = base;
        self.count = count;
    }

    /// Nominal duration of one frame in ns.
    pub fn frame_duration(&self) -> u64 {
        self.offset_of(1)
    }

    /// Time (ns, from the base) of frame `count`.
    pub fn offset_of(&self, count: u64) -> u64 {
        let ns = u128::from(count) * SECOND * u128::from(self.fps_d) / u128::from(self.fps_n);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// The frame number whose display interval holds `ns` (from base 0).
    /// PTS are rounded down to the nanosecond, so the PTS of a frame (which
    /// may be up to 1 ns before its exact start) maps back to that frame.
    pub fn frame_at(&self, ns: u64) -> u64 {
        let n = (u128::from(ns) + 1) * u128::from(self.fps_n) / (SECOND * u128::from(self.fps_d));
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    fn counted(&self, count: u64) -> u64 {
        self.base.saturating_add(self.offset_of(count))
    }

    /// PTS and duration (ns) of the next frame, given the upstream time of
    /// the data that completed it, if any.
    pub fn next(&mut self, upstream: Option<u64>) -> (u64, u64) {
        let duration = self.frame_duration();
        let floor = self.last.map(|l| l.saturating_add(MIN_STEP));
        let (pts, duration) = match upstream {
            Some(t) => {
                let pts = floor.map_or(t, |f| t.max(f));
                if let Some(last) = self.last {
                    let delta = pts - last;
                    self.interval = Some(self.interval.map_or(delta, |i| (i * 7 + delta) / 8));
                }
                let duration = self.interval.unwrap_or(duration).max(1);
                self.base = pts.saturating_add(duration);
                self.count = 0;
                (pts, duration)
            }
            None => {
                let pts = self.counted(self.count);
                self.count += 1;
                (floor.map_or(pts, |f| pts.max(f)), duration)
            }
        };
        self.last = Some(pts);
        (pts, duration)
    }
}

fn sanitize(n: u64, d: u64) -> (u64, u64) {
    if n == 0 || d == 0 { (30, 1) } else { (n, d) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_timestamps_do_not_drift() {
        let mut t = Timestamper::new(30000, 1001);
        let mut prev = None;
        for k in 0..100_000u64 {
            let (pts, dur) = t.next(None);
            assert_eq!(pts, (k as u128 * 1_001_000_000_000 / 30000) as u64);
            assert_eq!(dur, 33_366_666);
            assert!(prev.is_none_or(|p| pts > p));
            prev = Some(pts);
        }
        // Frame 3 of a 30/1 stream is shown from 0.1 s to 0.1333 s.
        let t = Timestamper::new(30, 1);
        assert_eq!(t.frame_at(100_000_000), 3);
        assert_eq!(t.frame_at(133_333_332), 3);
        assert_eq!(t.frame_at(133_333_333), 4); // the PTS of frame 4
        assert_eq!(t.frame_at(t.offset_of(7)), 7);
    }

    #[test]
    fn upstream_times_are_used_but_never_repeated() {
        let mut t = Timestamper::new(10, 1);
        assert_eq!(t.next(Some(5_000_000_000)).0, 5_000_000_000);
        // Three frames completed by the same input buffer.
        assert_eq!(t.next(Some(5_200_000_000)).0, 5_200_000_000);
        assert_eq!(t.next(Some(5_200_000_000)).0, 5_201_000_000);
        assert_eq!(t.next(Some(5_200_000_000)).0, 5_202_000_000);
        // Time going backwards upstream is clamped too.
        assert_eq!(t.next(Some(1)).0, 5_203_000_000);
        // Without upstream time, counting continues one (measured) interval later.
        let (pts, dur) = t.next(None);
        let expected_interval = {
            let mut i = 200_000_000u64; // 5.0 -> 5.2
            for d in [1_000_000u64, 1_000_000, 1_000_000] {
                i = (i * 7 + d) / 8;
            }
            i
        };
        assert_eq!(pts, 5_203_000_000 + expected_interval);
        assert_eq!(dur, 100_000_000);
        // Timed frames get the mean interval as duration.
        let mut t = Timestamper::new(30, 1);
        assert_eq!(t.next(Some(0)).1, 33_333_333);
        assert_eq!(t.next(Some(100_000_000)).1, 100_000_000);
        assert_eq!(t.next(Some(200_000_000)).1, 100_000_000);
        t.rebase(0, 0);
        assert_eq!(t.next(None).0, 200_000_000 + MIN_STEP);
    }

    #[test]
    fn framerate_change_and_reset() {
        let mut t = Timestamper::new(0, 0);
        assert_eq!(t.framerate(), (30, 1));
        t.next(None);
        t.next(None);
        t.set_framerate(10, 1);
        assert_eq!(t.next(None).0, 66_666_666);
        assert_eq!(t.next(None).0, 166_666_666);
        t.reset(0, 50);
        assert_eq!(t.next(None), (5_000_000_000, 100_000_000));
    }
}
