// SPDX-License-Identifier: MIT OR Apache-2.0

//! The reconnect logic of `mjpeghttpsrc`: what the pad probes and the bus
//! handler report (data, frames, the end of a connection, errors), a
//! watchdog for stalls, and the thread that restarts the HTTP source.
//!
//! The restart runs on its own thread, never a streaming thread: it sets the
//! source to NULL (which unblocks and joins its streaming thread), waits the
//! retry delay, and brings the source back to the bin's state.

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

#[derive(Debug)]
pub struct Inner {
    pub policy: Policy,
    pub stats: Stats,
    /// The supervisor thread must end.
    stop: bool,
    /// The bin is PLAYING (the watchdog runs only then).
    playing: bool,
    /// A restart was asked for, with this reason.
    pending: Option<String>,
    /// Between a disconnect and the source being started again: its EOS and
    /// errors belong to the connection that is gone.
    restarting: bool,
    /// The application ended the stream: no more restarts.
    pub eos_requested: bool,
    /// A fatal error was posted: no more restarts.
    pub failed: bool,
    last_data: Instant,
    /// The next buffer from the source starts a new connection.
    new_connection: bool,
    /// Connections made so far (a connection counts at its first byte).
    connection: u64,
    /// Consecutive failed attempts (reset by the first frame of a connection).
    retry: u32,
    pub frame_seen: bool,
    conn_bytes: u64,
    conn_frames: u64,
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
            failed: false,
            last_data: Instant::now(),
            new_connection: true,
            connection: 0,
            retry: 0,
            frame_seen: false,
            conn_bytes: 0,
            conn_frames: 0,
            stream_started: false,
            segment_sent: false,
        }
    }
}

/// What happened to a buffer from the HTTP source.
pub enum DataEvent {
    /// Part of the current connection.
    More,
    /// The first of a connection (mark it DISCONT); `reconnect` when one came before.
    First { reconnect: bool },
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
        inner.last_data = Instant::now();
        inner.stats.bytes += len as u64;
        if !inner.new_connection {
            inner.conn_bytes += len as u64;
            return DataEvent::More;
        }
        inner.new_connection = false;
        inner.conn_bytes = len as u64;
        inner.conn_frames = 0;
        inner.connection += 1;
        inner.stats.connects += 1;
        DataEvent::First {
            reconnect: inner.connection > 1,
        }
    }

    pub fn on_frame(&self) {
        let mut inner = self.lock();
        inner.stats.frames += 1;
        inner.frame_seen = true;
        inner.conn_frames += 1;
        inner.retry = 0;
    }

    /// The source ended its stream. Returns true when the EOS must be kept
    /// from downstream (a restart follows).
    pub fn on_source_eos(&self) -> bool {
        let mut inner = self.lock();
        if inner.eos_requested || inner.failed || !inner.policy.restart_on_eos {
            return false;
        }
        // A first connection that gave bytes but no frame and ended is not an
        // MJPEG stream: let mjpegsplit see the end and say what it got.
        if !inner.frame_seen && inner.conn_bytes > 0 && inner.conn_frames == 0 {
            return false;
        }
        self.request_locked(&mut inner, "the server closed the connection");
        true
    }

    /// Ask for a restart (ignored while one is under way).
    pub fn request(&self, reason: &str) {
        let mut inner = self.lock();
        self.request_locked(&mut inner, reason);
    }

    fn request_locked(&self, inner: &mut Inner, reason: &str) {
        if inner.restarting
            || inner.pending.is_some()
            || inner.eos_requested
            || inner.failed
            || inner.stop
        {
            return;
        }
        inner.pending = Some(reason.to_string());
        inner.stats.disconnects += 1;
        inner.stats.last_retry_reason = reason.to_string();
        self.cond.notify_all();
    }

    pub fn restarting(&self) -> bool {
        let inner = self.lock();
        inner.restarting || inner.pending.is_some()
    }

    /// Wait `d`, or less when stopped. Returns false when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut inner = self.lock();
        while !inner.stop {
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
        false
    }

    /// Wait for a restart request or a stall; returns its reason, and whether
    /// it was a stall, or None when stopped.
    fn next_restart(&self) -> Option<(String, bool)> {
        let mut inner = self.lock();
        loop {
            if inner.stop {
                return None;
            }
            if let Some(reason) = inner.pending.take() {
                inner.restarting = true;
                return Some((reason, false));
            }
            let mut wait = Duration::from_secs(1);
            if inner.playing && !inner.eos_requested {
                let idle = inner.last_data.elapsed();
                let limit = inner.policy.stall_timeout;
                if idle >= limit {
                    let reason = format!("no data for {:.1} s", idle.as_secs_f64());
                    inner.stats.stalls += 1;
                    inner.stats.disconnects += 1;
                    inner.stats.last_retry_reason = reason.clone();
                    inner.restarting = true;
                    return Some((reason, true));
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

/// The supervisor thread: restarts `source` (a child of `bin`) when asked or
/// when it stalls. `give_up` is called when `max-retries` is exhausted.
pub fn run(
    shared: Arc<Shared>,
    bin: glib::WeakRef<gst::Bin>,
    source: gst::Element,
    give_up: impl Fn(&gst::Bin, &str),
) {
    while let Some((reason, stalled)) = shared.next_restart() {
        let Some(bin) = bin.upgrade() else { return };
        let post = |s: gst::Structure| {
            let _ = bin.post_message(gst::message::Element::builder(s).src(&bin).build());
        };
        if stalled {
            gst::warning!(crate::mjpeghttpsrc::CAT, obj = bin, "stalled: {reason}");
            post(status("stalled", &reason, 0, Duration::ZERO));
        }
        gst::info!(
            crate::mjpeghttpsrc::CAT,
            obj = bin,
            "disconnected: {reason}"
        );
        post(status("disconnected", &reason, 0, Duration::ZERO));
        let _ = source.set_state(gst::State::Null);
        let (retry, delay, max) = {
            let mut inner = shared.lock();
            inner.retry += 1;
            inner.stats.retries += 1;
            (
                inner.retry,
                inner.policy.delay(inner.retry),
                inner.policy.max_retries,
            )
        };
        if max >= 0 && retry > max as u32 {
            give_up(&bin, &reason);
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
            inner.restarting = false;
            inner.new_connection = true;
            inner.last_data = Instant::now();
        }
        if source.sync_state_with_parent().is_err() {
            shared.request("the source could not be restarted");
        }
    }
}
