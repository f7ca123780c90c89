// SPDX-License-Identifier: MIT OR Apache-2.0

//! The reconnect logic of `mjpeghttpsrc`: what the pads and the bus handler
//! report (data, frames delivered downstream, the end of a connection,
//! errors), a watchdog for camera stalls, and the thread that restarts the
//! HTTP source and delivers an EOS the application sent.
//!
//! The restart runs on its own thread, never a streaming thread and never
//! the application's: it sets the source to NULL, waits the retry delay,
//! and brings the source back to the bin's state. The watchdog counts only
//! the camera's silence: time the streaming thread spends in a push
//! downstream (a slow application, a full appsink, a paused sink) is not a
//! stall, and no restart starts while a push is under way, so stopping the
//! source never waits for a thread blocked downstream.

use super::diagnose::{self, Diagnosis, Probe};
use gst::glib;
use gst::prelude::*;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Settings read by the supervisor (a copy is taken at each decision).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub stall_timeout: Duration,
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// -1: forever.
    pub max_retries: i32,
    pub restart_on_eos: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            stall_timeout: Duration::from_secs(5),
            retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(5),
            max_retries: -1,
            restart_on_eos: true,
        }
    }
}

impl Policy {
    /// Delay before attempt `retry` (1-based): doubles from `retry_delay`, bounded.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.retry_delay
            .saturating_mul(factor)
            .min(self.max_retry_delay.max(self.retry_delay))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub connects: u64,
    pub disconnects: u64,
    pub stalls: u64,
    pub retries: u64,
    pub frames: u64,
    pub bytes: u64,
    pub last_error: String,
    pub last_retry_reason: String,
}

/// Why a restart was asked for.
#[derive(Debug, Clone)]
pub struct Cause {
    pub reason: String,
    /// The source gave no reason: find it (DNS, refused, TLS, redirects).
    pub diagnose: bool,
}

#[derive(Debug)]
pub struct Inner {
    pub policy: Policy,
    pub stats: Stats,
    /// The supervisor thread must end.
    stop: bool,
    /// The bin is PLAYING (the watchdog runs only then).
    playing: bool,
    /// A restart was asked for.
    pending: Option<Cause>,
    /// Between a disconnect and the source being started again: its EOS and
    /// errors belong to the connection that is gone, its data is dropped.
    restarting: bool,
    /// The stream is ending (EOS from the application or from downstream):
    /// no more restarts.
    pub eos_requested: bool,
    /// An EOS from the application waits for the supervisor to deliver it.
    eos_pending: bool,
    /// A fatal error was posted: no more restarts.
    pub failed: bool,
    last_data: Instant,
    /// Pushes downstream under way (the streaming thread is in one).
    in_push: u32,
    /// The next buffer from the source starts a new connection.
    new_connection: bool,
    /// Connections made so far (a connection counts at its first byte).
    connection: u64,
    /// Consecutive failed attempts (reset by a frame downstream accepted).
    retry: u32,
    pub frame_seen: bool,
    conn_bytes: u64,
    conn_frames: u64,
    /// The connection's Content-Type is a camera's (multipart, JPEG).
    pub conn_camera_type: bool,
    /// The same, from the caps before the first byte of a connection.
    pub next_camera_type: bool,
    pub stream_started: bool,
    pub segment_sent: bool,
}

impl Inner {
    fn new(policy: Policy, stats: Stats) -> Self {
        Inner {
            policy,
            stats,
            stop: false,
            playing: false,
            pending: None,
            restarting: false,
            eos_requested: false,
            eos_pending: false,
            failed: false,
            last_data: Instant::now(),
            in_push: 0,
            new_connection: true,
            connection: 0,
            retry: 0,
            frame_seen: false,
            conn_bytes: 0,
            conn_frames: 0,
            conn_camera_type: false,
            next_camera_type: false,
            stream_started: false,
            segment_sent: false,
        }
    }

    /// The current connection is being replaced: its data goes nowhere.
    pub fn discarding(&self) -> bool {
        self.restarting || self.pending.is_some()
    }
}

/// What happened to a buffer from the HTTP source.
pub enum DataEvent {
    /// Part of the current connection.
    More,
    /// The first of a connection (mark it DISCONT); `reconnect` when one came before.
    First { reconnect: bool },
    /// The connection is being replaced: drop it.
    Drop,
}

#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    cond: Condvar,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            inner: Mutex::new(Inner::new(Policy::default(), Stats::default())),
            cond: Condvar::new(),
        }
    }
}

/// What to do with a push downstream.
pub enum Push {
    Go,
    Drop,
    Eos,
}

enum Action {
    Restart { cause: Cause, stalled: bool },
    Eos,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fresh state for a new start (the policy is kept).
    pub fn reset(&self) {
        let mut inner = self.lock();
        let policy = inner.policy;
        *inner = Inner::new(policy, Stats::default());
    }

    pub fn set_playing(&self, playing: bool) {
        let mut inner = self.lock();
        inner.playing = playing;
        inner.last_data = Instant::now();
        self.cond.notify_all();
    }

    pub fn stop(&self) {
        self.lock().stop = true;
        self.cond.notify_all();
    }

    pub fn on_data(&self, len: usize) -> DataEvent {
        let mut inner = self.lock();
        if inner.discarding() {
            return DataEvent::Drop;
        }
        inner.last_data = Instant::now();
        inner.stats.bytes += len as u64;
        if !inner.new_connection {
            inner.conn_bytes += len as u64;
            return DataEvent::More;
        }
        inner.new_connection = false;
        inner.conn_bytes = len as u64;
        inner.conn_frames = 0;
        inner.conn_camera_type = std::mem::take(&mut inner.next_camera_type);
        inner.connection += 1;
        inner.stats.connects += 1;
        DataEvent::First {
            reconnect: inner.connection > 1,
        }
    }

    /// A push downstream starts: go on, drop the frame (the connection is
    /// being replaced: a restart must not wait for it), or answer EOS (the
    /// application's EOS, taken by the streaming thread: the source then
    /// pushes EOS itself, as basesrc does for its queued EOS).
    pub fn push_start(&self, buffer: bool) -> Push {
        let mut inner = self.lock();
        if buffer && inner.eos_pending {
            inner.eos_pending = false;
            self.cond.notify_all();
            return Push::Eos;
        }
        if buffer && inner.discarding() {
            return Push::Drop;
        }
        inner.in_push += 1;
        Push::Go
    }

    /// A push downstream returned: `delivered` when it was a frame that
    /// downstream accepted. The time spent in it was not the camera's.
    pub fn push_end(&self, delivered: bool) {
        let mut inner = self.lock();
        inner.in_push = inner.in_push.saturating_sub(1);
        inner.last_data = Instant::now();
        if delivered {
            inner.stats.frames += 1;
            inner.frame_seen = true;
            inner.conn_frames += 1;
            inner.retry = 0;
        }
        self.cond.notify_all();
    }

    /// The stream ends (EOS downstream, a downstream error): no restart.
    /// True unless a fatal error was already posted.
    pub fn end(&self, failed: bool) -> bool {
        let mut inner = self.lock();
        let first = !inner.failed;
        if failed {
            inner.failed = true;
        } else {
            inner.eos_requested = true;
        }
        inner.pending = None;
        self.cond.notify_all();
        first
    }

    /// The application sent EOS: the supervisor delivers it. False when it
    /// was already asked for.
    pub fn request_eos(&self) -> bool {
        let mut inner = self.lock();
        if inner.eos_requested || inner.failed {
            return false;
        }
        inner.eos_requested = true;
        inner.eos_pending = true;
        inner.pending = None;
        self.cond.notify_all();
        true
    }

    /// The source ended its stream. Returns true when the EOS must be kept
    /// from downstream (a restart follows).
    pub fn on_source_eos(&self) -> bool {
        let mut inner = self.lock();
        // The application's EOS not delivered yet: the supervisor sends it
        // (before any frame, mjpegsplit would call a cut connection "not
        // MJPEG" at this EOS).
        if inner.discarding() || inner.eos_pending {
            return true;
        }
        if inner.eos_requested || inner.failed {
            return false;
        }
        if !inner.policy.restart_on_eos {
            return false;
        }
        // A first connection that gave bytes but no frame and ended, and
        // whose Content-Type is not a camera's, is not an MJPEG stream: let
        // mjpegsplit see the end and say what it got.
        if !inner.frame_seen
            && !inner.conn_camera_type
            && inner.conn_bytes > 0
            && inner.conn_frames == 0
        {
            return false;
        }
        self.request_locked(&mut inner, "the server closed the connection", false);
        true
    }

    /// Ask for a restart (ignored while one is under way).
    pub fn request(&self, reason: &str, diagnose: bool) {
        let mut inner = self.lock();
        self.request_locked(&mut inner, reason, diagnose);
    }

    fn request_locked(&self, inner: &mut Inner, reason: &str, diagnose: bool) {
        if inner.discarding() || inner.eos_requested || inner.failed || inner.stop {
            return;
        }
        inner.pending = Some(Cause {
            reason: reason.to_string(),
            diagnose,
        });
        self.cond.notify_all();
    }

    pub fn restarting(&self) -> bool {
        self.lock().discarding()
    }

    /// Wait `d`, or less when stopped or an EOS is to be delivered.
    /// Returns false when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut inner = self.lock();
        while !inner.stop && !inner.eos_pending {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            inner = self
                .cond
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        !inner.stop
    }

    /// Wait for a diagnosis; None when stopped (the probe thread is left
    /// to finish by itself).
    fn wait_diagnosis(&self, rx: std::sync::mpsc::Receiver<Diagnosis>) -> Option<Diagnosis> {
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(d) => return Some(d),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if self.lock().stop {
                        return None;
                    }
                }
            }
        }
    }

    /// Wait for something to do: a restart, a stall, an EOS to deliver;
    /// None when stopped.
    fn next_action(&self) -> Option<Action> {
        let mut inner = self.lock();
        loop {
            if inner.stop {
                return None;
            }
            if inner.eos_pending {
                return Some(Action::Eos);
            }
            if let Some(cause) = inner.pending.take() {
                inner.restarting = true;
                return Some(Action::Restart {
                    cause,
                    stalled: false,
                });
            }
            let mut wait = Duration::from_secs(1);
            let watching = inner.playing && !inner.eos_requested && !inner.failed;
            // Blocked downstream: the camera is not being read, not silent.
            if watching && inner.in_push == 0 {
                let idle = inner.last_data.elapsed();
                let limit = inner.policy.stall_timeout;
                if idle >= limit {
                    let reason = format!("no data for {:.1} s", idle.as_secs_f64());
                    inner.stats.stalls += 1;
                    inner.restarting = true;
                    return Some(Action::Restart {
                        cause: Cause {
                            reason,
                            diagnose: false,
                        },
                        stalled: true,
                    });
                }
                wait = wait.min(limit - idle);
            }
            inner = self
                .cond
                .wait_timeout(inner, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

pub fn status(event: &str, reason: &str, retry: u32, delay: Duration) -> gst::Structure {
    gst::Structure::builder("mjpeghttpsrc-status")
        .field("event", event)
        .field("reason", reason)
        .field("retry", retry)
        .field("delay", delay.as_nanos() as u64)
        .build()
}

/// Posts an ERROR from the bin with a reason.
pub type PostError = Box<dyn Fn(&gst::Bin, &str) + Send>;

/// What the supervisor needs from the element.
pub struct Hooks {
    /// `max-retries` ran out (the last reason).
    pub give_up: PostError,
    /// A permanent failure before the first frame (the reason).
    pub fatal: PostError,
    /// How to probe the camera when the source gives no reason.
    pub probe: Option<Probe>,
    /// Scrubs secrets out of the reasons.
    pub scrub: Box<dyn Fn(&str) -> String + Send>,
    /// mjpegsplit's sink pad (EOS when the source cannot take it).
    pub split_sink: gst::Pad,
    /// The bin's src pad (EOS before any frame).
    pub src_pad: gst::Pad,
}

/// The supervisor thread: restarts `source` (a child of `bin`) when asked or
/// when it stalls, and delivers the application's EOS.
pub fn run(shared: Arc<Shared>, bin: glib::WeakRef<gst::Bin>, source: gst::Element, hooks: Hooks) {
    let cat = *crate::mjpeghttpsrc::CAT;
    while let Some(action) = shared.next_action() {
        let Some(bin) = bin.upgrade() else { return };
        let (cause, stalled) = match action {
            Action::Eos => {
                drop(bin);
                if !deliver_eos(&shared, &source, &hooks.split_sink, &hooks.src_pad) {
                    return;
                }
                continue;
            }
            Action::Restart { cause, stalled } => (cause, stalled),
        };
        let post = |s: gst::Structure| {
            let _ = bin.post_message(gst::message::Element::builder(s).src(&bin).build());
        };
        let mut reason = (hooks.scrub)(&cause.reason);
        if stalled {
            gst::warning!(cat, obj = bin, "stalled: {reason}");
            post(status("stalled", &reason, 0, Duration::ZERO));
        }
        let _ = source.set_state(gst::State::Null);
        if cause.diagnose
            && let Some(probe) = &hooks.probe
        {
            let Some(d) = shared.wait_diagnosis(diagnose::spawn(probe.clone())) else {
                return;
            };
            reason = (hooks.scrub)(&d.reason);
            let first = !shared.lock().frame_seen;
            if d.permanent && first {
                gst::info!(cat, obj = bin, "fatal: {reason}");
                shared.end(true);
                (hooks.fatal)(&bin, &reason);
                return;
            }
        }
        let (retry, delay, max) = {
            let mut inner = shared.lock();
            inner.stats.disconnects += 1;
            inner.stats.last_retry_reason = reason.clone();
            if cause.diagnose {
                inner.stats.last_error = reason.clone();
            }
            inner.retry += 1;
            inner.stats.retries += 1;
            (
                inner.retry,
                inner.policy.delay(inner.retry),
                inner.policy.max_retries,
            )
        };
        gst::info!(cat, obj = bin, "disconnected: {reason}");
        post(status("disconnected", &reason, 0, Duration::ZERO));
        if max >= 0 && retry > max as u32 {
            shared.end(true);
            (hooks.give_up)(&bin, &reason);
            return;
        }
        post(status("reconnecting", &reason, retry, delay));
        drop(bin);
        if !shared.sleep(delay) {
            return;
        }
        {
            let mut inner = shared.lock();
            if inner.stop {
                return;
            }
            if inner.eos_pending {
                continue;
            }
            inner.restarting = false;
            inner.new_connection = true;
            inner.last_data = Instant::now();
        }
        if source.sync_state_with_parent().is_err() {
            shared.request("the source could not be restarted", false);
        }
    }
}

/// The application's EOS. The streaming thread takes it at its next frame
/// (see `push_start`); when none comes (a silent camera, a source being
/// restarted, a live source in PAUSED) and no push is under way, the source
/// is stopped and the EOS sent into mjpegsplit from here. Never through
/// the source's send_event: that holds its state lock while waiting for a
/// streaming thread that a PAUSED sink may block, and the bin's state
/// change then waits for that lock. False when stopped.
fn deliver_eos(
    shared: &Shared,
    source: &gst::Element,
    split_sink: &gst::Pad,
    src_pad: &gst::Pad,
) -> bool {
    let cat = *crate::mjpeghttpsrc::CAT;
    let patience = Instant::now() + Duration::from_millis(300);
    {
        let mut inner = shared.lock();
        loop {
            if inner.stop {
                return false;
            }
            if !inner.eos_pending {
                gst::info!(cat, obj = source, "EOS taken by the streaming thread");
                return true;
            }
            // A push under way (blocked downstream): its thread takes the
            // EOS when it returns with the next frame.
            if Instant::now() >= patience && inner.in_push == 0 {
                inner.eos_pending = false;
                inner.restarting = true;
                break;
            }
            inner = shared
                .cond
                .wait_timeout(inner, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
    gst::info!(cat, obj = source, "EOS sent from the supervisor");
    source.set_locked_state(true);
    let _ = source.set_state(gst::State::Null);
    if !shared.lock().frame_seen {
        // Not a frame yet: mjpegsplit would call the bytes of a cut
        // connection "not MJPEG" at this EOS. It has sent nothing
        // downstream: the stream starts and ends here.
        src_pad.push_event(gst::event::StreamStart::new("mjpeghttpsrc"));
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        src_pad.push_event(gst::event::Segment::new(&segment));
        src_pad.push_event(gst::event::Eos::new());
        return true;
    }
    split_sink.send_event(gst::event::Eos::new());
    true
}
