// SPDX-License-Identifier: MIT OR Apache-2.0

//! One client's stream: the newest frame each time its connection can take
//! more, at most at its rate cap, then the close delimiter at the end.

use super::hub::{ClientHandle, ClientInfo, Frame, Hub, Latest, Traffic};
use super::pacing::RateCap;
use super::parts::Multipart;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::watch;

/// The longest a stream waits for the server to have written its last bytes.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

pub struct FrameStream {
    handle: ClientHandle,
    rx: watch::Receiver<Latest>,
    multipart: Multipart,
    early_headers: bool,
    cap: Option<RateCap>,
    last_seq: u64,
    pending: VecDeque<Bytes>,
    opened: bool,
    closed: bool,
}

impl FrameStream {
    /// A new stream client of `hub`. With `early_headers` (for browsers) each part's headers go out right
    /// after the previous frame, without Content-Length and X-Timestamp
    /// (which are not known yet), so that Chromium shows each frame when it
    /// comes instead of one frame late.
    pub fn new(
        hub: &Arc<Hub>,
        info: ClientInfo,
        traffic: Arc<Traffic>,
        multipart: Multipart,
        early_headers: bool,
    ) -> Self {
        let cap = info.max_fps.and_then(RateCap::new);
        // Subscribe first: a frame published while joining is not missed.
        let rx = hub.subscribe();
        let handle = hub.join(info, traffic);
        FrameStream {
            handle,
            rx,
            multipart,
            early_headers,
            cap,
            last_seq: 0,
            pending: VecDeque::new(),
            opened: false,
            closed: false,
        }
    }

    pub fn id(&self) -> u64 {
        self.handle.client.id
    }

    /// The connection's byte counts (the server tells it what was written).
    pub fn traffic(&self) -> &Arc<Traffic> {
        &self.handle.client.traffic
    }

    /// The next bytes to send; `None` once the stream is over. The first
    /// call gives the latest frame at once (if there is one).
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        let chunk = self.next_unaccounted().await?;
        let client = &self.handle.client;
        client.traffic.unwritten.store(true, Ordering::Release);
        client
            .traffic
            .handed
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        client
            .bytes_sent
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Some(chunk)
    }

    async fn next_unaccounted(&mut self) -> Option<Bytes> {
        if !self.opened {
            self.opened = true;
            if self.early_headers {
                self.pending.push_back(self.multipart.early_head());
            }
            return Some(self.multipart.opening());
        }
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(chunk);
            }
            if self.closed {
                return None;
            }
            // Choose the next frame only once the previous one has left the
            // server: a frame picked while the last one still waits would
            // be that much older when it arrives.
            self.drained().await;
            let latest = self.rx.borrow_and_update().clone();
            if let Some(frame) = self.next_frame(&latest) {
                if !latest.ended
                    && let Some(cap) = &self.cap
                    && let Some(at) = cap.wait_until(Instant::now())
                {
                    // Wait out the cap (or the end of the stream, which
                    // sends the last frame at once), then take the newest.
                    let sleep = tokio::time::sleep_until(at.into());
                    tokio::pin!(sleep);
                    loop {
                        tokio::select! {
                            _ = &mut sleep => break,
                            changed = self.rx.changed() => {
                                if changed.is_err() || self.rx.borrow().ended {
                                    break;
                                }
                            }
                        }
                    }
                    continue;
                }
                self.queue_frame(&frame);
                continue;
            }
            if latest.ended {
                self.closed = true;
                return Some(self.multipart.closing());
            }
            if self.rx.changed().await.is_err() {
                // The hub is gone: end the stream properly.
                self.closed = true;
                return Some(self.multipart.closing());
            }
        }
    }

    /// The frame to send next: the newest, or the one before it for a client
    /// that is one frame late (it had every frame so far, and its task ran
    /// only after two more came: a scheduling hiccup, not a slow client).
    /// A capped client always takes the newest.
    fn next_frame(&self, latest: &Latest) -> Option<Arc<Frame>> {
        let newest = latest.frame.as_ref().filter(|f| f.seq > self.last_seq)?;
        match &latest.previous {
            Some(p)
                if self.cap.is_none()
                    && self.last_seq > 0
                    && p.seq == self.last_seq + 1
                    && newest.seq == self.last_seq + 2 =>
            {
                Some(p.clone())
            }
            _ => Some(newest.clone()),
        }
    }

    /// Waits until the server wrote everything handed out (at most
    /// `DRAIN_WAIT`: a server that never says so delays, never stops, a
    /// stream).
    async fn drained(&self) {
        let traffic = &self.handle.client.traffic;
        let deadline = tokio::time::Instant::now() + DRAIN_WAIT;
        while traffic.unwritten.load(Ordering::Acquire) {
            if tokio::time::timeout_at(deadline, traffic.drained.notified())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    fn queue_frame(&mut self, frame: &Frame) {
        let client = &self.handle.client;
        if self.last_seq > 0 && frame.seq > self.last_seq + 1 {
            client
                .frames_skipped
                .fetch_add(frame.seq - self.last_seq - 1, Ordering::Relaxed);
        }
        self.last_seq = frame.seq;
        let now = Instant::now();
        if let Some(cap) = &mut self.cap {
            cap.sent(now);
        }
        client.frames_sent.fetch_add(1, Ordering::Relaxed);
        client.fps.lock().unwrap().tick(now);
        if !self.early_headers {
            // A capped client is told its own rate when it is below the
            // stream's.
            let framerate = match (&self.cap, frame.framerate.as_deref()) {
                (Some(cap), f)
                    if f.and_then(super::pacing::fraction)
                        .is_none_or(|r| cap.fps() < r) =>
                {
                    Some(super::pacing::rate_text(cap.fps()))
                }
                (_, f) => f.map(str::to_string),
            };
            self.pending.push_back(self.multipart.head(
                frame.data.len(),
                frame.timestamp_ns,
                framerate.as_deref(),
            ));
        }
        self.pending.push_back(frame.data.clone());
        self.pending.push_back(self.multipart.part_end());
        if self.early_headers {
            self.pending.push_back(self.multipart.early_head());
        }
    }
}

impl std::fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameStream")
            .field("id", &self.id())
            .field("last_seq", &self.last_seq)
            .finish()
    }
}
