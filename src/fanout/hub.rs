// SPDX-License-Identifier: MIT OR Apache-2.0

//! The latest frame and the clients reading it.

use super::pacing::FpsMeter;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Notify, watch};

/// One frame as it came into the sink.
#[derive(Debug)]
pub struct Frame {
    /// 1 for the first frame published, then one more each time.
    pub seq: u64,
    pub data: Bytes,
    /// The `X-Timestamp` value (capture time), in nanoseconds.
    pub timestamp_ns: Option<u64>,
    /// The frame rate of the caps it came with (`15/1`), for `X-Framerate`.
    pub framerate: Option<String>,
    pub arrived: Instant,
}

/// What every client sees: the newest frame and whether the stream ended.
#[derive(Debug, Clone, Default)]
pub(super) struct Latest {
    pub frame: Option<Arc<Frame>>,
    /// The frame before `frame`: a client that keeps up but was late by one
    /// frame (its task ran after two frames came) still gets it.
    pub previous: Option<Arc<Frame>>,
    pub ended: bool,
}

/// Events for the application (the element posts them as messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    /// The first stream client came (there was none before).
    FirstClient { address: String },
    /// The last stream client went.
    NoClients,
}

/// Bytes of one connection: handed to it, and taken by its socket. The
/// server counts what the socket takes (which also holds the HTTP framing:
/// the response head, chunk sizes); a stream counts what it hands out.
#[derive(Debug, Default)]
pub struct Traffic {
    pub handed: AtomicU64,
    pub written: AtomicU64,
    /// Set when a stream hands out bytes; cleared by the server (with a
    /// wake-up on `drained`) once a write took everything it was offered,
    /// that is when the server's own buffer is empty again.
    pub unwritten: AtomicBool,
    pub drained: Notify,
    /// `handed` and `written` when the server's buffer was last empty.
    handed_at_drain: AtomicU64,
    written_at_drain: AtomicU64,
    /// Stream clients on this connection now (0 or 1).
    streams: AtomicU64,
}

impl Traffic {
    /// Whether the connection serves something now: a stream, or bytes
    /// that wait for the client. (One that does not may be closed to make
    /// room when the server has as many connections as it takes.)
    pub fn busy(&self) -> bool {
        self.streams.load(Ordering::Acquire) > 0 || self.unwritten.load(Ordering::Acquire)
    }

    /// The server's buffer is empty: the socket took all it was offered.
    pub fn all_written(&self) {
        self.handed_at_drain
            .store(self.handed.load(Ordering::Acquire), Ordering::Relaxed);
        self.written_at_drain
            .store(self.written.load(Ordering::Acquire), Ordering::Relaxed);
        if self.unwritten.swap(false, Ordering::AcqRel) {
            self.drained.notify_one();
        }
    }

    /// Bytes handed out that the socket has not taken (counted from the
    /// last time everything was written, so the HTTP framing the socket
    /// also took never adds up).
    pub fn queued(&self) -> u64 {
        let since = |n: &AtomicU64, at: &AtomicU64| {
            n.load(Ordering::Relaxed)
                .saturating_sub(at.load(Ordering::Relaxed))
        };
        since(&self.handed, &self.handed_at_drain)
            .saturating_sub(since(&self.written, &self.written_at_drain))
    }
}

/// Who a client is (for `/state`, the stats and the messages).
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub address: String,
    pub user_agent: String,
    /// The rate cap the client asked for (`?fps=`), if any.
    pub max_fps: Option<f64>,
}

/// A client's figures at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientStats {
    pub id: u64,
    pub address: String,
    pub user_agent: String,
    pub max_fps: Option<f64>,
    pub frames_sent: u64,
    pub frames_skipped: u64,
    pub bytes_sent: u64,
    pub bytes_queued: u64,
    pub fps: f64,
    pub seconds: f64,
}

pub(super) struct Client {
    pub id: u64,
    pub info: ClientInfo,
    pub started: Instant,
    pub traffic: Arc<Traffic>,
    pub frames_sent: AtomicU64,
    pub frames_skipped: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub fps: Mutex<FpsMeter>,
}

type Listener = Box<dyn Fn(HubEvent) + Send + Sync>;

pub struct Hub {
    latest: watch::Sender<Latest>,
    clients: Mutex<BTreeMap<u64, Arc<Client>>>,
    next_id: AtomicU64,
    frames_in: AtomicU64,
    listener: Mutex<Option<Arc<Listener>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            latest: watch::Sender::new(Latest::default()),
            clients: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            frames_in: AtomicU64::new(0),
            listener: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("frames_in", &self.frames_in())
            .field("clients", &self.client_count())
            .finish()
    }
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Called for each event, in order, on the thread where a client came
    /// or went and under the hub's lock: it must not call into the hub
    /// (queue the event and return).
    pub fn set_listener(&self, listener: impl Fn(HubEvent) + Send + Sync + 'static) {
        *self.listener.lock().unwrap() = Some(Arc::new(Box::new(listener)));
    }

    /// Makes `data` the latest frame and wakes the clients. Never waits.
    pub fn publish(
        &self,
        data: Bytes,
        timestamp_ns: Option<u64>,
        framerate: Option<String>,
    ) -> u64 {
        let seq = self.frames_in.fetch_add(1, Ordering::Relaxed) + 1;
        let frame = Arc::new(Frame {
            seq,
            data,
            timestamp_ns,
            framerate,
            arrived: Instant::now(),
        });
        self.latest.send_modify(|l| {
            l.previous = l.frame.replace(frame);
            l.ended = false;
        });
        seq
    }

    /// The stream ended (EOS): every client gets the close delimiter once it
    /// has the last frame. The last frame stays for snapshots.
    pub fn end(&self) {
        self.latest
            .send_if_modified(|l| !std::mem::replace(&mut l.ended, true));
    }

    /// Data flows again (after a flush): new frames go to new clients.
    pub fn reopen(&self) {
        self.latest
            .send_if_modified(|l| std::mem::take(&mut l.ended));
    }

    /// Forgets the latest frame (the element stopped).
    pub fn clear(&self) {
        self.latest.send_replace(Latest {
            frame: None,
            previous: None,
            ended: true,
        });
    }

    pub fn latest(&self) -> Option<Arc<Frame>> {
        self.latest.borrow().frame.clone()
    }

    pub fn is_ended(&self) -> bool {
        self.latest.borrow().ended
    }

    pub fn frames_in(&self) -> u64 {
        self.frames_in.load(Ordering::Relaxed)
    }

    /// Stream clients now.
    pub fn client_count(&self) -> usize {
        self.clients.lock().unwrap().len()
    }

    pub fn clients(&self) -> Vec<ClientStats> {
        let now = Instant::now();
        let clients: Vec<Arc<Client>> = self.clients.lock().unwrap().values().cloned().collect();
        clients.iter().map(|c| c.stats(now)).collect()
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Latest> {
        self.latest.subscribe()
    }

    /// Registers a stream client; it is removed when the returned handle drops.
    pub(super) fn join(self: &Arc<Self>, info: ClientInfo, traffic: Arc<Traffic>) -> ClientHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let address = info.address.clone();
        let client = Arc::new(Client {
            id,
            info,
            started: Instant::now(),
            traffic,
            frames_sent: AtomicU64::new(0),
            frames_skipped: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            fps: Mutex::new(FpsMeter::default()),
        });
        client.traffic.streams.fetch_add(1, Ordering::AcqRel);
        {
            // Under the lock, so that the events come in the order of the
            // changes they tell of.
            let mut clients = self.clients.lock().unwrap();
            clients.insert(id, client.clone());
            if clients.len() == 1 {
                self.emit(HubEvent::FirstClient { address });
            }
        }
        ClientHandle {
            hub: self.clone(),
            client,
        }
    }

    fn leave(&self, id: u64) {
        let mut clients = self.clients.lock().unwrap();
        if clients.remove(&id).is_some() && clients.is_empty() {
            self.emit(HubEvent::NoClients);
        }
    }

    fn emit(&self, event: HubEvent) {
        let listener = self.listener.lock().unwrap().clone();
        if let Some(l) = listener {
            l(event);
        }
    }
}

impl Client {
    fn stats(&self, now: Instant) -> ClientStats {
        ClientStats {
            id: self.id,
            address: self.info.address.clone(),
            user_agent: self.info.user_agent.clone(),
            max_fps: self.info.max_fps,
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            frames_skipped: self.frames_skipped.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_queued: self.traffic.queued(),
            fps: self.fps.lock().unwrap().fps(now),
            seconds: now.saturating_duration_since(self.started).as_secs_f64(),
        }
    }
}

/// A registered client; dropping it removes the client.
pub(super) struct ClientHandle {
    hub: Arc<Hub>,
    pub client: Arc<Client>,
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.client.traffic.streams.fetch_sub(1, Ordering::AcqRel);
        self.hub.leave(self.client.id);
    }
}
