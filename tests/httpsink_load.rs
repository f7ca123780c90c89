// SPDX-License-Identifier: MIT OR Apache-2.0

//! mjpeghttpsink under load and under attack: 100 clients at 15 fps get
//! every frame, a slow client skips frames and stays within a second while
//! the others lose nothing, and stalled, garbage, oversized and slowloris
//! connections are closed without costing the pipeline or the other clients.

mod common;

#[path = "common/serve.rs"]
mod serve;

use serve::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn a_hundred_clients_at_15_fps_get_every_frame() {
    let frames = frames(46, 160, 120, "ball");
    let s = Served::start(
        "max-clients=150",
        "image/jpeg,width=160,height=120,framerate=15/1",
    );
    s.push(&frames[0]);
    s.wait_received(1);
    let clients: Vec<_> = (0..100)
        .map(|_| read_all(StreamClient::open(s.port, "/stream")))
        .collect();
    wait_for("100 clients", || {
        json_number(&s.state(), "clients_count") == Some(100.0)
    });
    s.feed(frames[1..].to_vec(), 15.0).join().unwrap();
    s.eos();
    for (k, c) in clients.into_iter().enumerate() {
        let got = c.join().unwrap();
        assert_eq!(
            indices(&got, &frames),
            (0..frames.len()).collect::<Vec<_>>(),
            "client {k}: every frame, exactly"
        );
    }
    assert!(s.errors().is_empty());
}

/// Which of `frames` each of `got` is (`usize::MAX` for bytes never sent).
fn indices(got: &[Vec<u8>], frames: &[Vec<u8>]) -> Vec<usize> {
    got.iter()
        .map(|g| frames.iter().position(|f| f == g).unwrap_or(usize::MAX))
        .collect()
}

/// A client that reads `rate` bytes a second through a 16 KiB receive buffer.
fn slow_reader(port: u16, rate: usize, until: Instant) -> std::thread::JoinHandle<Vec<Part>> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt
        .block_on(socket.connect(([127, 0, 0, 1], port).into()))
        .unwrap()
        .into_std()
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let throttled = Throttled {
        inner: stream,
        rate,
        start: Instant::now(),
        read: 0,
    };
    std::thread::spawn(move || {
        let mut c = StreamClient::open_throttled(throttled, "/stream");
        let mut parts = Vec::new();
        while Instant::now() < until {
            match c.next_part() {
                Some(p) => parts.push(p),
                None => break,
            }
        }
        parts
    })
}

#[test]
fn a_slow_client_skips_frames_and_stays_within_a_second() {
    // 640x480 noise: about 150 KB a frame, 2 MB/s at 15 fps; the slow client
    // reads two frames' worth a second.
    let frames = frames(90, 640, 480, "snow");
    let size = frames.iter().map(Vec::len).sum::<usize>() / frames.len();
    let s = Served::start("", "image/jpeg,width=640,height=480,framerate=15/1");
    s.push(&frames[0]);
    s.wait_received(1);
    let fast_reader = read_all(StreamClient::open(s.port, "/stream"));
    let until = Instant::now() + Duration::from_millis(5500);
    let slow = slow_reader(s.port, 2 * size, until);
    let started = Instant::now();
    let feeder = s.feed(frames[1..].to_vec(), 15.0);
    std::thread::sleep(until - Duration::from_secs(1) - Instant::now());
    let state = s.state();
    let parts = slow.join().unwrap();
    feeder.join().unwrap();
    let feed_time = started.elapsed();
    s.eos();
    let fast_got = fast_reader.join().unwrap();
    assert_eq!(
        indices(&fast_got, &frames),
        (0..frames.len()).collect::<Vec<_>>(),
        "the fast client lost nothing"
    );
    // The pipeline never waited: 89 frames at 15 fps took their 5.9 s.
    assert!(
        feed_time < Duration::from_millis(7000),
        "feeding took {feed_time:?}"
    );
    // Each frame the slow client got: which one it was, and how late it
    // came against the moment that frame reached the sink.
    let received = s.received.lock().unwrap().clone();
    let index = |data: &[u8]| frames.iter().position(|f| f == data).expect("a frame sent");
    let got: Vec<usize> = parts.iter().map(|p| index(&p.data)).collect();
    assert!(got.len() >= 3, "the slow client got {got:?}");
    assert!(got.windows(2).all(|w| w[1] > w[0]), "in order: {got:?}");
    assert!(
        got.windows(2).any(|w| w[1] > w[0] + 1),
        "it skipped frames: {got:?}"
    );
    for p in &parts[1..] {
        let k = index(&p.data);
        let pts = |i: usize| received[i].1;
        // The newest frame at the sink when this one arrived.
        let at = p.at.duration_since(started).as_secs_f64();
        let newest = ((at * 15.0) as usize).min(received.len() - 1);
        let lag = (pts(newest).saturating_sub(pts(k))).seconds_f64();
        assert!(
            lag < 1.0,
            "frame {k} arrived {lag:.2} s behind the newest ({newest}); got {got:?}"
        );
    }
    // /state shows it: two clients, the slow one skipping, about a frame
    // queued for it at most.
    assert_eq!(json_number(&state, "clients_count"), Some(2.0), "{state}");
    let clients: Vec<&str> = state.split("{\"id\":").skip(1).collect();
    let slow_state = clients
        .iter()
        .find(|c| json_number(c, "frames_skipped").unwrap() > 0.0)
        .unwrap_or_else(|| panic!("no client skipped: {state}"));
    let queued = json_number(slow_state, "bytes_queued").unwrap() as usize;
    assert!(
        queued <= 2 * size,
        "{queued} bytes queued for the slow client: {state}"
    );
}

/// A stream whose reads are held to `rate` bytes a second.
pub struct Throttled {
    inner: TcpStream,
    rate: usize,
    start: Instant,
    read: usize,
}

impl Read for Throttled {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let allowed_at = self.start + Duration::from_secs_f64(self.read as f64 / self.rate as f64);
        if let Some(wait) = allowed_at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let want = buf.len().min(4096);
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n;
        Ok(n)
    }
}

impl Write for Throttled {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn hostile_connections_cost_nothing_else() {
    let frames = frames(60, 640, 480, "snow");
    let s = Served::start(
        "client-timeout=2",
        "image/jpeg,width=640,height=480,framerate=15/1",
    );
    s.push(&frames[0]);
    s.wait_received(1);
    // Clients that ask for a snapshot (200 KB) through a 4 KiB receive
    // buffer and never read.
    let snapshots: Vec<std::net::TcpStream> = (0..5)
        .map(|_| {
            let sock =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            sock.set_recv_buffer_size(4096).unwrap();
            sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], s.port)).into())
                .unwrap();
            let mut t: std::net::TcpStream = sock.into();
            t.write_all(b"GET /snapshot HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            t
        })
        .collect();
    // A client that asks for the stream and never reads.
    let mut stalled = connect(s.port);
    stalled
        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Connections that send nothing, half a request, a byte a second, garbage,
    // a header flood.
    let idle: Vec<TcpStream> = (0..50).map(|_| connect(s.port)).collect();
    let mut half = connect(s.port);
    half.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut drip = connect(s.port);
    let dripper = std::thread::spawn(move || {
        let start = Instant::now();
        for b in b"GET /stream HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if drip.write_all(&[*b]).is_err() {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        start.elapsed()
    });
    let mut garbage = connect(s.port);
    garbage
        .write_all(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ])
        .unwrap();
    garbage.write_all(b"\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = garbage.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 400 Bad Request"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let mut flood = connect(s.port);
    let mut big = b"GET /stream HTTP/1.1\r\n".to_vec();
    for k in 0..400 {
        big.extend(format!("X-Flood-{k}: {}\r\n", "x".repeat(40)).as_bytes());
    }
    let _ = flood.write_all(&big);
    let mut answer = Vec::new();
    let _ = flood.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // Meanwhile a normal client gets every frame and the pipeline is on time.
    let reader = read_all(StreamClient::open(s.port, "/stream"));
    let started = Instant::now();
    s.feed(frames[1..].to_vec(), 15.0).join().unwrap();
    let fed = started.elapsed();
    // By now (4 s): the stalled client was closed after client-timeout, the
    // silent and half-sent requests after the 5 s header timeout.
    std::thread::sleep(Duration::from_millis(1500));
    let state = s.state();
    assert_eq!(
        json_number(&state, "clients_count"),
        Some(1.0),
        "only the normal client: {state}"
    );
    s.eos();
    let got = reader.join().unwrap();
    assert_eq!(
        indices(&got, &frames),
        (0..frames.len()).collect::<Vec<_>>(),
        "the normal client lost nothing"
    );
    assert!(
        fed < Duration::from_millis(4800),
        "feeding 59 frames took {fed:?}"
    );
    for (what, mut c) in [
        ("silent", idle.into_iter().next().unwrap()),
        ("half a request", half),
    ] {
        let mut rest = Vec::new();
        let r = c.read_to_end(&mut rest);
        assert!(r.is_ok() || rest.is_empty(), "{what}: {r:?}");
        assert!(
            !rest.starts_with(b"HTTP/1.1 200"),
            "{what}: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
    for mut t in snapshots {
        // Closed by the server after client-timeout: what it had, then the end.
        t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let end = t.read_to_end(&mut got);
        assert!(
            end.is_ok()
                || end
                    .as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "a stalled snapshot reader is closed: {end:?}"
        );
        assert!(
            got.len() < frames[0].len(),
            "it could not have read the whole snapshot"
        );
    }
    let dripped = dripper.join().unwrap();
    assert!(
        dripped < Duration::from_secs(15),
        "a byte every 300 ms kept its connection {dripped:?}"
    );
    // The stalled connection is closed (its buffered bytes, then the end).
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut sink = Vec::new();
    let end = stalled.read_to_end(&mut sink);
    assert!(
        end.is_ok()
            || end
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the stalled client is closed: {end:?}"
    );
    assert!(s.errors().is_empty());
}

#[test]
fn clients_never_hold_the_buffers_of_a_source_pool() {
    use gst::prelude::*;
    // A source with a pool of two buffers (a capture device, a hardware
    // decoder): the sink must give each back although clients still read
    // frames (here one that never reads, and the latest two kept for others).
    let frames = frames(12, 320, 240, "ball");
    let size = frames.iter().map(Vec::len).max().unwrap();
    let s = Served::start("", "image/jpeg,width=320,height=240,framerate=15/1");
    let pool = gst::BufferPool::new();
    let mut config = pool.config();
    config.set_params(None, size as u32, 2, 2);
    pool.set_config(config).unwrap();
    pool.set_active(true).unwrap();
    let mut stalled = connect(s.port);
    stalled
        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = StreamClient::open(s.port, "/stream");
    for (k, f) in frames.iter().enumerate() {
        let params =
            gst::BufferPoolAcquireParams::with_flags(gst::BufferPoolAcquireFlags::DONTWAIT);
        let mut b = pool.acquire_buffer(Some(&params)).unwrap_or_else(|e| {
            panic!("frame {k}: the pool is empty ({e:?}): the sink holds its buffers")
        });
        {
            let b = b.get_mut().unwrap();
            b.set_size(f.len());
            b.copy_from_slice(0, f).unwrap();
        }
        s.src.push_buffer(b).unwrap();
        s.wait_served(f);
        assert_eq!(&reader.next_part().unwrap().data, f);
    }
    drop(stalled);
    pool.set_active(false).unwrap();
}

#[test]
fn clients_that_reset_their_connection_kill_no_process() {
    // gst-launch-1.0 is a C program: a SIGPIPE kills it (Rust test binaries
    // ignore the signal, so the server is run in it).
    let port = common::free_port();
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    let mut child = common::Killed(Some(
        std::process::Command::new("gst-launch-1.0")
            .arg("-q")
            .args(
                "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! \
                 jpegenc ! mjpeghttpsink"
                    .split_whitespace(),
            )
            .arg(format!("port={port}"))
            .env("GST_PLUGIN_PATH", &plugin)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let server = child.0.as_mut().unwrap();
    common::wait_listening(port, server);
    let mut alive = |what: &str| {
        let status = server.try_wait().unwrap();
        assert!(status.is_none(), "gst-launch-1.0 ended {what}: {status:?}");
    };
    // Clients that send their request and go at once: the answer is
    // written to a socket the client closed (or reset) before hyper reads
    // the end of its request.
    for k in 0..600 {
        let path = ["/stream", "/snapshot", "/stream?fps=1000", "/"][k % 4];
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
            alive(&format!("after {k} clients that left"));
            panic!("refused after {k} clients");
        };
        if k % 3 == 0 {
            socket2::SockRef::from(&c)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
        let _ = c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        drop(c);
        if k % 50 == 49 {
            alive(&format!("after {} clients that left", k + 1));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    alive("after 600 clients that left");
    let mut c = StreamClient::open(port, "/stream");
    assert_eq!(c.status, 200);
    assert!(c.next_part().is_some());
    alive("serving");
}

#[test]
fn idle_connections_never_lock_a_client_out() {
    // max-clients=1: 65 connections at most. A stream client, then 100
    // connections that send nothing: each new one closes the oldest idle
    // one, never the stream; a snapshot then is answered at once (before,
    // the silent ones held every place until the 5 s header timeout).
    let frames = frames(40, 64, 48, "ball");
    let s = Served::start(
        "max-clients=1",
        "image/jpeg,width=64,height=48,framerate=15/1",
    );
    s.push(&frames[0]);
    s.wait_served(&frames[0]);
    let viewer = read_all(StreamClient::open(s.port, "/stream"));
    let silent: Vec<TcpStream> = (0..100).map(|_| connect(s.port)).collect();
    let silent_since = Instant::now();
    let feeder = s.feed(frames[1..].to_vec(), 15.0);
    let t = Instant::now();
    let (status, _, body) = get(s.port, "/snapshot", &[]);
    assert_eq!(status, 200);
    assert!(frames.contains(&body));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // The oldest silent ones were closed, the newest are open.
    let closed = |mut c: &TcpStream| {
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match c.read(&mut [0u8; 1]) {
            Ok(n) => n == 0,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    };
    assert!(closed(&silent[0]), "the oldest silent connection is open");
    // (Unless the 5 s header timeout came first, on a loaded machine.)
    let open = !closed(&silent[99]);
    assert!(
        open || silent_since.elapsed() > Duration::from_secs(4),
        "the newest silent connection was closed"
    );
    feeder.join().unwrap();
    s.eos();
    assert_eq!(viewer.join().unwrap(), frames, "the stream lost frames");
}
