// SPDX-License-Identifier: MIT OR Apache-2.0

//! Rate caps (`?fps=N`) and frame-rate meters, on given instants so that
//! they are tested without waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At most `fps` frames a second, on a steady grid: a 5 fps cap on a 15 fps
/// camera sends every third frame, not 4 or 6 of them in some seconds.
#[derive(Debug, Clone)]
pub struct RateCap {
    fps: f64,
    interval: Duration,
    next: Option<Instant>,
}

/// The rates a cap may have (`?fps=`): one frame in 1000 s to 1000 a second.
pub const MIN_FPS: f64 = 0.001;
pub const MAX_FPS: f64 = 1000.0;

impl RateCap {
    /// `None` for a rate outside `MIN_FPS..=MAX_FPS` (or not a number).
    pub fn new(fps: f64) -> Option<Self> {
        if !(MIN_FPS..=MAX_FPS).contains(&fps) {
            return None;
        }
        Some(RateCap {
            fps,
            interval: Duration::from_secs_f64(1.0 / fps),
            next: None,
        })
    }

    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// When a frame may be sent, if not now.
    pub fn wait_until(&self, now: Instant) -> Option<Instant> {
        self.next.filter(|&n| n > now)
    }

    /// A frame went out at `now`. The grid is kept while frames come in time
    /// (so that jitter does not lower the rate) and restarts after a gap.
    pub fn sent(&mut self, now: Instant) {
        let next = match self.next {
            Some(n) if now < n + self.interval => n + self.interval,
            _ => now + self.interval,
        };
        self.next = Some(next);
    }
}

/// Frames a second over the last two seconds.
#[derive(Debug, Default)]
pub struct FpsMeter {
    times: VecDeque<Instant>,
}

const WINDOW: Duration = Duration::from_secs(2);
/// A meter keeps at most this many instants (a 250 fps stream's window).
const MAX_TIMES: usize = 500;

impl FpsMeter {
    pub fn tick(&mut self, now: Instant) {
        self.prune(now);
        if self.times.len() == MAX_TIMES {
            self.times.pop_front();
        }
        self.times.push_back(now);
    }

    pub fn fps(&mut self, now: Instant) -> f64 {
        self.prune(now);
        match (self.times.front(), self.times.back()) {
            (Some(first), Some(last)) if self.times.len() >= 2 && last > first => {
                (self.times.len() - 1) as f64 / (*last - *first).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn prune(&mut self, now: Instant) {
        while self
            .times
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > WINDOW)
        {
            self.times.pop_front();
        }
    }
}

/// A caps frame rate (`30000/1001`, `15/1`, `15`) as a number.
pub fn fraction(f: &str) -> Option<f64> {
    let (n, d) = f.split_once('/').unwrap_or((f, "1"));
    let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (d > 0.0 && n.is_finite()).then(|| n / d)
}

/// A rate for `X-Framerate` and `/state`: at most three decimals.
pub fn rate_text(fps: f64) -> String {
    let s = format!("{fps:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
