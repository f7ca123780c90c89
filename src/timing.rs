// SPDX-License-Identifier: MIT OR Apache-2.0

//! Frame timestamps, without GStreamer types. Every timestamp decision of the
//! element is made here:
//!
//! * [`Timestamper`]: every frame gets a PTS and a duration, PTS strictly
//!   increasing. Frame `k` after the base is counted at
//!   `base + k * fps_d / fps_n` (exact, no accumulated rounding); a time
//!   given from elsewhere (upstream, arrival, X-Timestamp) is used but never
//!   at or before the previous PTS.
//! * [`XClock`]: a camera's `X-Timestamp` clock mapped to stream time,
//!   relative to the first frame, re-anchored when the camera clock jumps (a
//!   reboot restarts an uptime clock, an SNTP sync steps it by years) and,
//!   live, kept at or after the arrival times (raised at once, lowered
//!   slowly), so that a camera clock that drifts against the pipeline clock
//!   never makes frames late.
//! * [`Policy`]: which of upstream time, arrival time, X-Timestamp or the
//!   count a frame gets.
//! * Header values: [`parse_x_timestamp`], [`parse_framerate`].

/// Smallest gap between two PTS when given times collide (frames completed
/// by one input buffer): 1 ms, so that muxers with millisecond time bases
/// (Matroska) still see distinct times; less when frames are shorter.
pub const MIN_STEP: u64 = 1_000_000;

/// Largest PTS given: far beyond any real stream, far below
/// `GST_CLOCK_TIME_NONE`, with room for segment arithmetic.
pub const MAX_TIME: u64 = 1 << 62;

/// A camera clock step larger than this between two frames is a jump of the
/// clock (reboot, SNTP sync), not a gap in the stream.
pub const MAX_CLOCK_STEP: u64 = 10 * SECOND_NS;

/// Live: the X-Timestamp spacing may differ from the arrival spacing by this
/// much before the camera clock is taken as having jumped.
pub const MAX_ARRIVAL_MISMATCH: u64 = 2 * SECOND_NS;

/// Live skew correction: the share of a (positive) difference between the
/// arrival time and the camera time taken per frame.
const SKEW_DIVISOR: i128 = 64;

const SECOND_NS: u64 = 1_000_000_000;
const SECOND: u128 = SECOND_NS as u128;

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
    /// Timestamps at `fps_n/fps_d` frames per second from 0 (30/1 for 0).
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
    /// Forgets the previous PTS: a flush, a seek or a new segment.
    pub fn reset(&mut self, base: u64, count: u64) {
        self.base = base.min(MAX_TIME);
        self.count = count;
        self.last = None;
        self.interval = None;
    }

    /// The PTS of the last frame, if any since the last reset.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Nominal duration of one frame in ns (at least 1).
    pub fn frame_duration(&self) -> u64 {
        self.offset_of(1).max(1)
    }

    /// The duration given to frames: the measured mean interval of timed
    /// frames, else the nominal one.
    pub fn duration(&self) -> u64 {
        self.interval
            .unwrap_or_else(|| self.frame_duration())
            .max(1)
    }

    /// Time (ns, from the base) of frame `count`.
    pub fn offset_of(&self, count: u64) -> u64 {
        let ns = u128::from(count) * SECOND * u128::from(self.fps_d) / u128::from(self.fps_n);
        u64::try_from(ns).unwrap_or(u64::MAX).min(MAX_TIME)
    }

    /// The frame number whose display interval holds `ns` (from base 0).
    /// PTS are rounded down to the nanosecond, so the PTS of a frame (which
    /// may be up to 1 ns before its exact start) maps back to that frame.
    pub fn frame_at(&self, ns: u64) -> u64 {
        let n = (u128::from(ns) + 1) * u128::from(self.fps_n) / (SECOND * u128::from(self.fps_d));
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    fn counted(&self, count: u64) -> u64 {
        self.base
            .saturating_add(self.offset_of(count))
            .min(MAX_TIME)
    }

    /// The time the next frame would get without a given time.
    pub fn next_counted(&self) -> u64 {
        let pts = self.counted(self.count);
        self.last.map_or(pts, |l| pts.max(l.saturating_add(1)))
    }

    /// PTS and duration (ns) of the next frame, given a time for it from
    /// elsewhere (upstream, arrival, camera clock), if any.
    pub fn next(&mut self, given: Option<u64>) -> (u64, u64) {
        let (pts, duration) = match given {
            Some(t) => {
                let step = MIN_STEP.min(self.frame_duration());
                let t = t.min(MAX_TIME);
                let pts = self.last.map_or(t, |l| t.max(l.saturating_add(step)));
                if let Some(last) = self.last {
                    let delta = pts - last;
                    self.interval = Some(self.interval.map_or(delta, |i| {
                        ((u128::from(i) * 7 + u128::from(delta)) / 8) as u64
                    }));
                }
                let duration = self.duration();
                self.base = pts.saturating_add(duration).min(MAX_TIME);
                self.count = 0;
                (pts, duration)
            }
            None => {
                let pts = self.next_counted();
                self.count = self.count.saturating_add(1);
                (pts, self.frame_duration())
            }
        };
        self.last = Some(pts.min(MAX_TIME));
        (pts.min(MAX_TIME), duration)
    }
}

fn sanitize(n: u64, d: u64) -> (u64, u64) {
    if n == 0 || d == 0 { (30, 1) } else { (n, d) }
}

/// A camera's X-Timestamp clock mapped to stream time.
#[derive(Debug, Clone, Default)]
pub struct XClock {
    /// Camera time and stream time of the anchor frame.
    anchor: Option<(u64, u64)>,
    /// Camera time, stream time (before skew) and arrival of the last frame.
    last: Option<(u64, u64, Option<u64>)>,
    /// Live: stream time to add so that frames follow their arrival.
    skew: Option<i128>,
    /// Times the clock was re-anchored after a jump.
    pub jumps: u64,
}

impl XClock {
    /// Forget everything: the next frame becomes the anchor.
    pub fn reset(&mut self) {
        let jumps = self.jumps;
        *self = XClock::default();
        self.jumps = jumps;
    }

    /// Stream time of the frame whose X-Timestamp is `x` (ns). `arrival`:
    /// live, when the frame arrived (stream time); `next`: the time the frame
    /// would get otherwise (the next counted time), where an anchor starts.
    pub fn map(&mut self, x: u64, arrival: Option<u64>, next: u64) -> u64 {
        let start = arrival.unwrap_or(next);
        let jumped = match self.last {
            None => true,
            Some((lx, _, la)) => {
                let step = x.checked_sub(lx);
                let mismatch = match (step, arrival, la) {
                    (Some(s), Some(a), Some(la)) => s.abs_diff(a.saturating_sub(la)),
                    _ => 0,
                };
                step.is_none_or(|s| s > MAX_CLOCK_STEP) || mismatch > MAX_ARRIVAL_MISMATCH
            }
        };
        if jumped {
            if self.last.is_some() {
                self.jumps += 1;
            }
            self.anchor = Some((x, start));
            self.skew = None;
        }
        let (x0, t0) = self.anchor.unwrap_or((x, start));
        let t = t0.saturating_add(x - x0.min(x)).min(MAX_TIME);
        self.last = Some((x, t, arrival));
        let Some(a) = arrival else {
            return t;
        };
        let delta = i128::from(a) - i128::from(t);
        let skew = match self.skew {
            // Arriving earlier than the camera clock says: creep towards it,
            // a little per frame (network jitter comes and goes).
            Some(s) if delta < s => s + (delta - s) / SKEW_DIVISOR,
            // Later: the frame would be late downstream, follow at once.
            _ => delta,
        };
        self.skew = Some(skew);
        u64::try_from(i128::from(t) + skew)
            .unwrap_or(0)
            .min(MAX_TIME)
    }
}

/// The frame interval of a stream whose frames arrive at the camera's pace
/// only part of the time (an HTTP camera behind a buffering queue: frames
/// come one by one, then in a burst after a pause): intervals far from the
/// current estimate (bursts, waits) are ignored.
#[derive(Debug, Clone, Default)]
pub struct RateEstimate {
    last: Option<u64>,
    first: Vec<u64>,
    /// The estimated interval between frames (ns).
    pub interval: Option<u64>,
    /// The interval comes from [`RateEstimate::measured`].
    external: bool,
}

impl RateEstimate {
    /// Intervals before a first estimate (their median).
    const FIRST: usize = 3;

    /// The interval measured elsewhere (from the network byte rate): it
    /// wins over what arrivals say.
    pub fn measured(&mut self, interval: u64) {
        if (1_000_000..=10 * SECOND_NS).contains(&interval) {
            self.interval = Some(self.interval.map_or(interval, |i| {
                ((u128::from(i) * 7 + u128::from(interval)) / 8) as u64
            }));
            self.external = true;
        }
    }

    /// A frame arrived at `arrival` (ns, monotonic).
    pub fn observe(&mut self, arrival: u64) {
        if self.external {
            return;
        }
        let Some(delta) = self
            .last
            .replace(arrival)
            .map(|l| arrival.saturating_sub(l))
        else {
            return;
        };
        // 1000 fps to 1 frame in 10 s.
        if !(1_000_000..=10 * SECOND_NS).contains(&delta) {
            return;
        }
        match self.interval {
            None => {
                self.first.push(delta);
                if self.first.len() == Self::FIRST {
                    self.first.sort_unstable();
                    self.interval = Some(self.first[Self::FIRST / 2]);
                }
            }
            Some(i) if delta >= i / 2 && delta <= i * 2 => {
                self.interval = Some(((u128::from(i) * 15 + u128::from(delta)) / 16) as u64);
            }
            Some(_) => {}
        }
    }
}

/// Where the time of a frame comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Upstream time, else the camera's X-Timestamp, else arrival time
    /// (live), else counted.
    Auto,
    /// Always counted at the frame rate.
    Framerate,
    /// The X-Timestamp, else as `Auto`.
    XTimestamp,
}

/// What is known of one frame's time when it is output.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameClock {
    /// The upstream buffer time of the data that completed the frame.
    pub upstream: Option<u64>,
    /// When the frame arrived (stream time), for live or endless streams.
    pub arrival: Option<u64>,
    /// The frame's X-Timestamp header (ns of the camera clock).
    pub x_timestamp: Option<u64>,
    /// An endless stream in a non-live pipeline: when the frame arrived on
    /// a monotonic clock, to learn the camera's rate from. Frames are paced
    /// at that rate, never before `arrival` (the running time, while
    /// playing).
    pub paced: Option<u64>,
}

/// All the timestamp state of one stream.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    pub ts: Timestamper,
    pub xclock: XClock,
    pub rate: RateEstimate,
}

impl Policy {
    pub fn new(mode: Mode, fps_n: u64, fps_d: u64) -> Self {
        Policy {
            mode,
            ts: Timestamper::new(fps_n, fps_d),
            xclock: XClock::default(),
            rate: RateEstimate::default(),
        }
    }

    /// Restart at stream time `base`, frame `count` (flush, seek, segment).
    pub fn reset(&mut self, base: u64, count: u64) {
        self.ts.reset(base, count);
        self.xclock.reset();
    }

    /// Count frames at `fps_n/fps_d`.
    pub fn set_framerate(&mut self, fps_n: u64, fps_d: u64) {
        self.ts.set_framerate(fps_n, fps_d);
    }

    /// PTS and duration of the next frame.
    pub fn next(&mut self, clock: FrameClock) -> (u64, u64) {
        let x = clock.x_timestamp.map(|x| {
            let next = self.ts.next_counted();
            // Skew against arrival only live (paced arrivals may be bursts).
            let arrival = clock.arrival.filter(|_| clock.paced.is_none());
            self.xclock.map(x, arrival, next)
        });
        // Paced: one learned interval after the previous frame, or when it
        // arrived if that is later (a burst is spread out at the camera's
        // rate; a frame that comes late is not made late downstream).
        let paced = clock.paced.map(|monotonic| {
            self.rate.observe(monotonic);
            let step = self
                .rate
                .interval
                .unwrap_or_else(|| self.ts.frame_duration());
            match (self.ts.last(), clock.arrival) {
                (Some(l), a) => Some(a.unwrap_or(0).max(l.saturating_add(step))),
                (None, a) => a,
            }
        });
        let arrival = match paced {
            Some(p) => p,
            None => clock.arrival,
        };
        let given = match self.mode {
            Mode::Framerate => None,
            Mode::Auto => clock.upstream.or(x).or(arrival),
            Mode::XTimestamp => x.or(clock.upstream).or(arrival),
        };
        self.ts.next(given)
    }
}

/// `X-Timestamp: 1700000000.123456` (seconds with a fraction) in ns; `None`
/// for anything else or a value past [`MAX_TIME`].
pub fn parse_x_timestamp(value: &str) -> Option<u64> {
    let value = value.trim();
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let digits = &frac[..frac.len().min(9)];
    let ns = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().ok()? * 10u64.pow(9 - digits.len() as u32)
    };
    secs.checked_mul(SECOND_NS)?
        .checked_add(ns)
        .filter(|&t| t <= MAX_TIME)
}

/// A frame rate header (`X-Framerate: 15`, `12.5`, `30000/1001`) as a
/// fraction; `None` for anything else or a rate outside 1/1000..100000.
pub fn parse_framerate(value: &str) -> Option<(u64, u64)> {
    let value = value.trim();
    let (n, d) = if let Some((n, d)) = value.split_once('/') {
        (n.trim().parse::<u64>().ok()?, d.trim().parse::<u64>().ok()?)
    } else {
        let (int, frac) = value.split_once('.').unwrap_or((value, ""));
        if int.is_empty() || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let d = 10u64.pow(frac.len() as u32);
        let n = int.parse::<u64>().ok()?.checked_mul(d)? + frac.parse::<u64>().unwrap_or(0);
        let g = gcd(n, d);
        (n / g.max(1), d / g.max(1))
    };
    let (n128, d128) = (u128::from(n), u128::from(d));
    if n == 0 || d == 0 || n128 > 100_000 * d128 || n128 * 1000 < d128 {
        return None;
    }
    Some((n, d))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests;
