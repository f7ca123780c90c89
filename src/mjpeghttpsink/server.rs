// SPDX-License-Identifier: MIT OR Apache-2.0

//! The HTTP server: one tokio runtime with one worker thread shared by every
//! mjpeghttpsink (as gst-plugins-rs's network elements run theirs), a
//! listener per element, a task per connection served by hyper, and a
//! watchdog per connection for clients that stop reading.
//!
//! What bounds a client: `TCP_NOTSENT_LOWAT` (the socket takes more only
//! once less than `NOTSENT_LOWAT` of what it holds is unsent), hyper's
//! smallest write buffer, and the stream choosing its next frame only once
//! hyper has written the last one (`Traffic::all_written`), so that a slow
//! client has about one frame in flight and skips to the newest frame each
//! time. (A small `SO_SNDBUF`
//! bounds it too, but also stalls fast clients: with one segment in flight
//! the receiver delays its ACK by up to 40 ms, and 150 KB frames at 15 fps
//! then lose every fourth frame on loopback.) Headers within
//! `HEADER_TIMEOUT` and `MAX_HEADER_BYTES`.

use super::CAT;
use super::routes::{self, Context};
use crate::fanout::Traffic;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, mpsc};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinSet};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(1)
        .thread_name("mjpeghttpsink")
        .build()
        .expect("a tokio runtime for mjpeghttpsink")
});

/// Unsent bytes a client's socket holds before it takes more.
const NOTSENT_LOWAT: u32 = 8 * 1024;
/// hyper's smallest write (and read) buffer.
const MAX_BUF: usize = 8192;
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_HEADER_BYTES: usize = 8192;
const MAX_HEADERS: usize = 64;
/// Connections beyond max-clients + this make room by closing the oldest
/// that serves nothing, else are closed at once (the extra ones get a 503
/// or are short requests: snapshots, state, the page).
const EXTRA_CONNECTIONS: usize = 64;

pub struct Server {
    local: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    done: mpsc::Receiver<()>,
}

impl Server {
    /// Listens on `address:port` and serves `ctx` until [`Server::stop`].
    pub fn start(address: &str, port: u16, ctx: Arc<Context>) -> Result<Server, String> {
        let addr = (address, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve the address {address:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("the address {address:?} resolves to nothing"))?;
        let _guard = RUNTIME.enter();
        let listener = bind(addr).map_err(|e| {
            if e.kind() == io::ErrorKind::AddrInUse {
                format!(
                    "port {port} on {address} is taken ({e}): another program (or element) \
                     serves on it. Set the port property to another number, or port=0 for a \
                     free one"
                )
            } else if e.kind() == io::ErrorKind::PermissionDenied {
                format!("cannot listen on {addr} ({e}): ports below 1024 need privileges; use a port above 1023")
            } else {
                format!("cannot listen on {addr}: {e}")
            }
        })?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let (shutdown, stop) = oneshot::channel();
        let (done_tx, done) = mpsc::channel();
        RUNTIME.spawn(async move {
            accept(listener, ctx, stop).await;
            let _ = done_tx.send(());
        });
        Ok(Server {
            local,
            shutdown: Some(shutdown),
            done,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Closes the port and every connection; returns once they are closed.
    pub fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if self.done.recv_timeout(Duration::from_secs(5)).is_err() {
            gst::warning!(CAT, "the server on {} took over 5 s to stop", self.local);
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Restarting right after a stop must not fail on connections in
    // TIME_WAIT; a port another socket listens on is still refused.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept(
    listener: tokio::net::TcpListener,
    ctx: Arc<Context>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    // Open connections, oldest first, with what each one serves.
    let mut open: BTreeMap<u64, (AbortHandle, Arc<Traffic>)> = BTreeMap::new();
    let mut next = 0u64;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let limit = ctx.access().max_clients + EXTRA_CONNECTIONS;
                    if open.len() >= limit && !make_room(&mut open, limit, peer) {
                        gst::info!(CAT, "{peer}: closed at once, {limit} connections serve");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    if let Err(e) = socket2::SockRef::from(&stream).set_tcp_notsent_lowat(NOTSENT_LOWAT) {
                        gst::debug!(CAT, "{peer}: TCP_NOTSENT_LOWAT: {e}");
                    }
                    let traffic = Arc::new(Traffic::default());
                    let task = connections.spawn(serve(stream, peer, ctx.clone(), traffic.clone()));
                    open.insert(next, (task, traffic));
                    next += 1;
                }
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    gst::warning!(CAT, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// At the connection limit: closes the oldest connection that serves
/// nothing (silent, sending its headers slowly, idle between requests), so
/// that such connections can never lock a client out; `false` if every
/// connection serves a stream or has bytes waiting for its client.
fn make_room(
    open: &mut BTreeMap<u64, (AbortHandle, Arc<Traffic>)>,
    limit: usize,
    peer: SocketAddr,
) -> bool {
    open.retain(|_, (task, _)| !task.is_finished());
    if open.len() < limit {
        return true;
    }
    let Some(oldest_idle) = open
        .iter()
        .find(|(_, (_, traffic))| !traffic.busy())
        .map(|(k, _)| *k)
    else {
        return false;
    };
    if let Some((task, _)) = open.remove(&oldest_idle) {
        task.abort();
    }
    gst::info!(
        CAT,
        "{peer}: the oldest idle connection closed to make room"
    );
    true
}

async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<Context>, traffic: Arc<Traffic>) {
    let client_timeout = ctx.access().client_timeout;
    let io = TokioIo::new(Counted {
        inner: stream,
        traffic: traffic.clone(),
    });
    let t = traffic.clone();
    let service = service_fn(move |req| {
        std::future::ready(Ok::<_, Infallible>(routes::handle(&req, &ctx, peer, &t)))
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BUF)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .writev(true)
        .serve_connection(io, service);
    tokio::select! {
        r = conn => if let Err(e) = r {
            gst::debug!(CAT, "{peer}: connection ended: {e}");
        },
        _ = stalled(&traffic, client_timeout) => {
            gst::info!(CAT, "{peer}: closed, it took no byte for {:?}", client_timeout.unwrap_or_default());
        }
    }
}

/// Returns when bytes (of any response) have waited for the client for
/// `timeout` without it taking any.
async fn stalled(traffic: &Traffic, timeout: Option<Duration>) {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    let tick = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut written = traffic.written.load(Ordering::Relaxed);
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = traffic.written.load(Ordering::Relaxed);
        if now != written || !traffic.unwritten.load(Ordering::Acquire) {
            written = now;
            since = Instant::now();
        } else if since.elapsed() >= timeout {
            return;
        }
    }
}

/// A TCP stream that counts the bytes its socket took.
struct Counted {
    inner: TcpStream,
    traffic: Arc<Traffic>,
}

impl Counted {
    /// Counts a write of `offered` bytes; when it took them all, the
    /// server's buffer is empty and the stream may choose its next frame.
    /// A write the socket did not take whole (any response: a snapshot, the
    /// state) marks bytes waiting, which the stalled-client watchdog sees.
    fn count(&self, r: &Poll<io::Result<usize>>, offered: usize) {
        match r {
            Poll::Ready(Ok(n)) => {
                self.traffic.written.fetch_add(*n as u64, Ordering::Relaxed);
                if *n == offered {
                    self.traffic.all_written();
                } else {
                    self.traffic.unwritten.store(true, Ordering::Release);
                }
            }
            Poll::Pending => self.traffic.unwritten.store(true, Ordering::Release),
            Poll::Ready(Err(_)) => {}
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.count(&r, buf.len());
        r
    }

    /// `sendmsg` with `MSG_NOSIGNAL`, not `writev` (tokio's): writing to a
    /// socket the client has reset raises SIGPIPE, whose default kills the
    /// process (gst-launch-1.0, any C host) on a client that merely left.
    /// (Plain writes are `send` with `MSG_NOSIGNAL` in the standard library.)
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = loop {
            match this.inner.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => break Poll::Ready(Err(e)),
                Poll::Pending => break Poll::Pending,
            }
            let sent = this.inner.try_io(tokio::io::Interest::WRITABLE, || {
                socket2::SockRef::from(&this.inner)
                    .send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
            });
            match sent {
                // Readiness was stale: it is cleared, wait again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => break Poll::Ready(r),
            }
        };
        this.count(&r, bufs.iter().map(|b| b.len()).sum());
        r
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
