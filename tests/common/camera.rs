// SPDX-License-Identifier: MIT OR Apache-2.0

//! A test MJPEG camera: an HTTP server on 127.0.0.1 that replays what real
//! cameras send (Axis, mjpg-streamer, ESP32-CAM part formats, no
//! Content-Length, chunked transfer, bursts, a 1-byte drip, a connection
//! dropped mid-frame). It records when the last byte of each frame was
//! written. Shared by the tests and the `live_compare` example.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `--myboundary`, Content-Type and Content-Length.
    Axis,
    /// `--boundarydonotcross`, Content-Type, Content-Length, X-Timestamp.
    MjpgStreamer,
    /// `\r\n--123456789000000000000987654321\r\n` before each part, CL and X-Timestamp.
    Esp32,
    /// ustreamer-like: no Content-Length, the boundary written right after each frame.
    NoLength,
    /// No Content-Length, the boundary written at the start of each part
    /// (so a boundary-scanning client learns a frame ended only when the next part starts).
    NoLengthBoundaryFirst,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub framing: Framing,
    /// Frames sent per connection.
    pub frames: usize,
    /// Frames per write (1: one write per frame).
    pub burst: usize,
    /// Write one byte at a time.
    pub drip: bool,
    /// HTTP/1.1 chunked transfer encoding.
    pub chunked: bool,
    /// Pause between writes.
    pub interval: Duration,
    /// On the first connection, close after this many bytes of this frame.
    pub drop_in_frame: Option<(usize, usize)>,
    /// Connections served before the server stops.
    pub connections: usize,
    /// On the first connection, after this many frames (0: right after the
    /// response headers), send nothing more until the client goes away.
    pub stall_after: Option<usize>,
    /// Answer the first `n` connections with this HTTP status and a short body
    /// (200: an HTML page).
    pub status: Option<(u16, usize)>,
    /// Listen on this port (a camera restarted on the port it had).
    pub port: Option<u16>,
    /// Answer every request with a 302 to the same URL (a redirect loop).
    pub redirect_loop: bool,
    /// Ask for these Basic credentials (`user:password`): 401 until they come.
    pub basic_auth: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            framing: Framing::MjpgStreamer,
            frames: 12,
            burst: 1,
            drip: false,
            chunked: false,
            interval: Duration::from_millis(20),
            drop_in_frame: None,
            connections: 1,
            stall_after: None,
            status: None,
            port: None,
            redirect_loop: false,
            basic_auth: None,
        }
    }
}

pub struct Camera {
    pub port: u16,
    /// When the last byte of each frame was written, in sending order.
    pub sent: Arc<Mutex<Vec<Instant>>>,
    /// The JPEGs sent, in order (all connections).
    pub jpegs: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// The request headers of each connection, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Camera {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/video.mjpg", self.port)
    }

    /// Start serving `frames` (cycled). With `gate`, frame k+1 is written only
    /// after the gate receives a message (the client got frame k), or after 5 s.
    /// Stop serving: an open connection is closed after the frame being sent.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    pub fn start(config: Config, frames: Vec<Vec<u8>>, gate: Option<Receiver<()>>) -> Camera {
        let listener = TcpListener::bind(("127.0.0.1", config.port.unwrap_or(0))).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let jpegs = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, j, st) = (sent.clone(), jpegs.clone(), stop.clone());
        let (acc, req) = (accepted.clone(), requests.clone());
        let handle = std::thread::spawn(move || {
            let started = Instant::now();
            let mut served = 0;
            let mut counter = 0usize;
            while served < config.connections && !st.load(Ordering::Relaxed) {
                if started.elapsed() > Duration::from_secs(60) {
                    break;
                }
                match listener.accept() {
                    Ok((conn, _)) => {
                        acc.fetch_add(1, Ordering::SeqCst);
                        let first = served == 0;
                        served += 1;
                        let mut head_read = false;
                        if config.redirect_loop || config.basic_auth.is_some() {
                            let Ok(head) = read_head(&conn) else { continue };
                            req.lock().unwrap().push(head.clone());
                            head_read = true;
                            if config.redirect_loop {
                                let _ = answer_redirect(conn, &head);
                                continue;
                            }
                            if let Some(auth) = &config.basic_auth {
                                let want = format!("authorization: basic {}", base64(auth));
                                if !head
                                    .to_ascii_lowercase()
                                    .contains(&want.to_ascii_lowercase())
                                {
                                    let _ = answer_401(conn);
                                    continue;
                                }
                            }
                        }
                        if let Some((code, n)) = config.status
                            && served <= n
                        {
                            let _ = answer_status(conn, code);
                            continue;
                        }
                        let _ = serve(
                            conn,
                            head_read,
                            &config,
                            &frames,
                            first,
                            &mut counter,
                            &s,
                            &j,
                            gate.as_ref(),
                            &st,
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Camera {
            port,
            sent,
            jpegs,
            accepted,
            requests,
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn part(framing: Framing, k: usize, jpeg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, micros) = (ts.as_secs(), ts.subsec_micros());
    let head = match framing {
        Framing::Axis => format!(
            "--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        ),
        Framing::MjpgStreamer => format!(
            "Content-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {secs}.{micros:06}\r\n\r\n",
            jpeg.len()
        ),
        Framing::Esp32 => format!(
            "\r\n--123456789000000000000987654321\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {k}.{micros:06}\r\n\r\n",
            jpeg.len()
        ),
        Framing::NoLength => "Content-Type: image/jpeg\r\n\r\n".to_string(),
        Framing::NoLengthBoundaryFirst => {
            "--boundarydonotcross\r\nContent-Type: image/jpeg\r\n\r\n".to_string()
        }
    };
    let tail: &[u8] = match framing {
        Framing::Axis => b"\r\n",
        Framing::MjpgStreamer => b"\r\n--boundarydonotcross\r\n",
        Framing::Esp32 => b"",
        Framing::NoLength => b"\r\n--boundarydonotcross\r\n",
        Framing::NoLengthBoundaryFirst => b"\r\n",
    };
    let mut v = head.into_bytes();
    v.extend_from_slice(jpeg);
    (v, tail.to_vec())
}

#[allow(clippy::too_many_arguments)]
fn serve(
    conn: TcpStream,
    head_read: bool,
    config: &Config,
    frames: &[Vec<u8>],
    first: bool,
    counter: &mut usize,
    sent: &Mutex<Vec<Instant>>,
    jpegs: &Mutex<Vec<Vec<u8>>>,
    gate: Option<&Receiver<()>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    if !head_read {
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                break;
            }
        }
    }
    let mut conn = conn;
    let boundary = match config.framing {
        Framing::Axis => "myboundary",
        Framing::Esp32 => "123456789000000000000987654321",
        _ => "boundarydonotcross",
    };
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary={boundary}\r\nCache-Control: no-cache\r\nConnection: close\r\n"
    );
    if config.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    if matches!(config.framing, Framing::MjpgStreamer | Framing::NoLength) {
        write_body(&mut conn, config, b"--boundarydonotcross\r\n")?;
    }
    let mut k = 0;
    while k < config.frames && !stop.load(Ordering::Relaxed) {
        if first && config.stall_after == Some(k) {
            return stall(&mut conn, stop);
        }
        // One write holds `burst` frames.
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for _ in 0..config.burst.max(1) {
            if k >= config.frames {
                break;
            }
            let jpeg = &frames[*counter % frames.len()];
            let (p, tail) = part(config.framing, k, jpeg);
            if first && config.drop_in_frame.is_some_and(|(f, _)| f == k) {
                let cut = config.drop_in_frame.map_or(0, |(_, b)| b);
                buf.extend_from_slice(&p[..p.len() - jpeg.len() + cut.min(jpeg.len())]);
                write_body(&mut conn, config, &buf)?;
                return Ok(()); // dropped mid-frame
            }
            buf.extend_from_slice(&p);
            ends.push(buf.len());
            buf.extend_from_slice(&tail);
            jpegs.lock().unwrap().push(jpeg.clone());
            *counter += 1;
            k += 1;
        }
        if config.drip {
            for b in buf.chunks(1) {
                write_body(&mut conn, config, b)?;
            }
        } else {
            write_body(&mut conn, config, &buf)?;
        }
        let now = Instant::now();
        sent.lock().unwrap().extend(ends.iter().map(|_| now));
        if let Some(g) = gate {
            match g.recv_timeout(Duration::from_secs(5)) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
        std::thread::sleep(config.interval);
    }
    if config.chunked {
        conn.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}

/// Send nothing until the client closes the connection (or the server stops).
fn stall(conn: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    use std::io::Read;
    conn.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        match conn.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Answer with an HTTP error status (401 asks for Basic credentials).
fn answer_status(conn: TcpStream, code: u16) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    if code == 200 {
        // Not a camera stream: a web page.
        let body = "<!DOCTYPE html><html><body>Camera login</body></html>\n";
        let mut conn = conn;
        return conn.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    let reason = match code {
        401 => "Unauthorized",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let body = format!("{code} {reason}\n");
    let auth = if code == 401 {
        "WWW-Authenticate: Basic realm=\"camera\"\r\n"
    } else {
        ""
    };
    let mut conn = conn;
    conn.write_all(
        format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn write_body(conn: &mut TcpStream, config: &Config, data: &[u8]) -> std::io::Result<()> {
    if config.chunked {
        conn.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
        conn.write_all(data)?;
        conn.write_all(b"\r\n")
    } else {
        conn.write_all(data)
    }
}

/// The request line and headers, read byte by byte (nothing of the
/// connection is left in a buffer).
fn read_head(conn: &TcpStream) -> std::io::Result<String> {
    use std::io::Read;
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let mut conn = conn;
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        if conn.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// A 302 back to the path asked for.
fn answer_redirect(mut conn: TcpStream, head: &str) -> std::io::Result<()> {
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    conn.write_all(
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

fn answer_401(mut conn: TcpStream) -> std::io::Result<()> {
    let body = "401 Unauthorized\n";
    conn.write_all(
        format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"camera\"\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

pub fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A camera of `config` sending gray, RGB and EXIF-thumbnail frames (three
/// JPEG formats) every 66 ms (the interval is 66 ms, whatever
/// `config` says).
pub fn three_format_camera(config: Config) -> Camera {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let jpegs = ["gray.jpg", "rgb.jpg", "exif-thumb.jpg"]
        .iter()
        .map(|n| std::fs::read(fixtures.join(n)).unwrap())
        .collect();
    Camera::start(
        Config {
            interval: Duration::from_millis(66),
            ..config
        },
        jpegs,
        None,
    )
}
