// SPDX-License-Identifier: MIT OR Apache-2.0
#![allow(dead_code)]

//! mjpeghttpsink under test: a live `appsrc ! mjpeghttpsink` on 127.0.0.1
//! with a free port, frames pushed by the test, the element's messages kept;
//! and a strict HTTP client that reads its stream part by part.

use gst::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames that reached the sink's pad: (bytes, PTS).
pub type Received = Arc<Mutex<Vec<(Vec<u8>, gst::ClockTime)>>>;

pub struct Served {
    pub pipeline: gst::Pipeline,
    pub src: gst_app::AppSrc,
    pub sink: gst::Element,
    pub port: u16,
    /// What reached the sink's pad: (bytes, PTS).
    pub received: Received,
    /// Element messages and errors, as they were posted.
    pub messages: Arc<Mutex<Vec<gst::Message>>>,
}

impl Served {
    /// `appsrc ! mjpeghttpsink port=0 PROPS`, playing. `caps` are the frames'.
    pub fn start(props: &str, caps: &str) -> Served {
        crate::common::init();
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=src is-live=true format=time do-timestamp=true caps=\"{caps}\" ! \
             mjpeghttpsink name=sink port=0 {props}"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let src = pipeline
            .by_name("src")
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        let sink = pipeline.by_name("sink").unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let r = received.clone();
        sink.static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(b) = info.buffer() {
                    r.lock().unwrap().push((
                        crate::common::buffer_bytes(b),
                        b.pts().unwrap_or(gst::ClockTime::ZERO),
                    ));
                }
                gst::PadProbeReturn::Ok
            });
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = messages.clone();
        pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
            if matches!(
                msg.view(),
                gst::MessageView::Element(_)
                    | gst::MessageView::Error(_)
                    | gst::MessageView::Warning(_)
            ) {
                m.lock().unwrap().push(msg.clone());
            }
            gst::BusSyncReply::Drop
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        let port = sink.property::<u32>("port") as u16;
        assert_ne!(port, 0, "the port chosen is readable after start");
        Served {
            pipeline,
            src,
            sink,
            port,
            received,
            messages,
        }
    }

    /// Sets the pipeline playing and waits until it is (a live appsrc
    /// refuses buffers with FLUSHING until then on 1.26+).
    pub fn play(&self) {
        self.pipeline.set_state(gst::State::Playing).unwrap();
        let _ = self.pipeline.state(gst::ClockTime::from_seconds(5));
        wait_for("the pipeline playing", || {
            self.src.current_state() == gst::State::Playing
        });
    }

    /// Waits until `/snapshot` gives `frame` (it has been rendered).
    pub fn wait_served(&self, frame: &[u8]) {
        wait_for("the frame served", || {
            let (status, _, body) = get(self.port, "/snapshot?", &[]);
            status == 200 && body == frame
        });
    }

    pub fn push(&self, frame: &[u8]) {
        self.src
            .push_buffer(gst::Buffer::from_slice(frame.to_vec()))
            .unwrap();
    }

    /// Pushes `frames` at `fps` on a thread.
    pub fn feed(&self, frames: Vec<Vec<u8>>, fps: f64) -> std::thread::JoinHandle<()> {
        let src = self.src.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            for (k, f) in frames.into_iter().enumerate() {
                let at = start + Duration::from_secs_f64(k as f64 / fps);
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                if src.push_buffer(gst::Buffer::from_slice(f)).is_err() {
                    return;
                }
            }
        })
    }

    /// Waits until the sink has had `n` frames.
    pub fn wait_received(&self, n: usize) {
        wait_for(&format!("{n} frames at the sink"), || {
            self.received.lock().unwrap().len() >= n
        });
    }

    pub fn eos(&self) {
        let _ = self.src.end_of_stream();
    }

    pub fn state(&self) -> String {
        let (status, _, body) = get(self.port, "/state", &[]);
        assert_eq!(status, 200);
        String::from_utf8(body).unwrap()
    }

    /// The names of the element messages posted so far.
    pub fn message_names(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| m.structure().map(|s| s.name().to_string()))
            .collect()
    }

    pub fn errors(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| match m.view() {
                gst::MessageView::Error(e) => Some(format!("{} ({:?})", e.error(), e.debug())),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// `souphttpsrc ! mjpegsplit ! appsink` reading `/stream` on `port`, playing.
pub fn read_back(port: u16) -> (gst::Pipeline, gst_app::AppSink) {
    let pipeline = gst::parse::launch(&format!(
        "souphttpsrc location=http://127.0.0.1:{port}/stream ! mjpegsplit ! \
         appsink name=sink sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let appsink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    (pipeline, appsink)
}

/// Polls `cond` for up to 20 s.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "waited 20 s for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The number after `"key":` in a JSON text (the first one).
pub fn json_number(doc: &str, key: &str) -> Option<f64> {
    let at = doc.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &doc[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// `n` different JPEG frames of `w`x`h` from videotestsrc `pattern`.
pub fn frames(n: usize, w: u32, h: u32, pattern: &str) -> Vec<Vec<u8>> {
    crate::common::appsink_buffers(&format!(
        "videotestsrc num-buffers={n} pattern={pattern} ! video/x-raw,width={w},height={h} ! \
         jpegenc ! appsink name=sink sync=false"
    ))
    .iter()
    .map(|b| crate::common::buffer_bytes(b))
    .collect()
}

pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// A whole response: status, headers (names in lower case), body (chunked
/// bodies joined). For responses that end.
pub fn get(port: u16, path: &str, headers: &[&str]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    request(port, "GET", path, headers)
}

pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = connect(port);
    let mut all = vec!["Connection: close"];
    all.extend_from_slice(headers);
    s.write_all(request_head(method, path, &all).as_bytes())
        .unwrap();
    let mut r = BufReader::new(s);
    let (status, hdrs) = read_head(&mut r);
    let mut body = Vec::new();
    if method != "HEAD" {
        if header(&hdrs, "transfer-encoding") == Some("chunked") {
            Dechunk::new(r).read_to_end(&mut body).unwrap();
        } else if let Some(n) = header(&hdrs, "content-length") {
            body.resize(n.parse().unwrap(), 0);
            r.read_exact(&mut body).unwrap();
        } else {
            r.read_to_end(&mut body).unwrap();
        }
    }
    (status, hdrs, body)
}

/// A request's head: its line, Host, `headers`, the blank line.
pub fn request_head(method: &str, path: &str, headers: &[&str]) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req + "\r\n"
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

pub fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split(' ')
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    (status, headers)
}

/// The body of a chunked response.
pub struct Dechunk<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Dechunk<R> {
    pub fn new(inner: R) -> Self {
        Dechunk {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Read for Dechunk<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.is_empty() {
                return Ok(0);
            }
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk line {line:?}")))?;
            if size == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let want = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(0);
        }
        self.left -= n;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
            assert_eq!(&crlf, b"\r\n", "chunk not followed by CRLF");
        }
        Ok(n)
    }
}

/// Reads `c`'s first part here (so that its first frame is the one there
/// is now), then every other part on a thread, to the end of the stream.
pub fn read_all(mut c: StreamClient) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    let first = c.next_part().expect("a first frame");
    std::thread::spawn(move || {
        let mut got = vec![first.data];
        while let Some(p) = c.next_part() {
            got.push(p.data);
        }
        got
    })
}

pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

/// One part of a stream.
#[derive(Debug, Clone)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
    pub at: Instant,
}

impl Part {
    pub fn x_timestamp_us(&self) -> Option<u64> {
        let v = header(&self.headers, "x-timestamp")?;
        let (s, us) = v.split_once('.')?;
        assert_eq!(us.len(), 6, "X-Timestamp {v:?}");
        Some(s.parse::<u64>().ok()? * 1_000_000 + us.parse::<u64>().ok()?)
    }
}

/// A strict reader of our `/stream`: the boundary after each frame, exact
/// Content-Lengths, the empty part and close delimiter at the end.
pub struct StreamClient {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<Dechunk<BufReader<Box<dyn ReadWrite>>>>,
    delimiter: String,
    pub ended: bool,
}

impl StreamClient {
    pub fn open(port: u16, path: &str) -> StreamClient {
        Self::open_with(connect(port), path, &[])
    }

    pub fn open_with(stream: TcpStream, path: &str, headers: &[&str]) -> StreamClient {
        Self::open_io(Box::new(stream), path, headers)
    }

    /// Over any byte stream (a throttled one, say).
    pub fn open_throttled(stream: impl ReadWrite + 'static, path: &str) -> StreamClient {
        Self::open_io(Box::new(stream), path, &[])
    }

    fn open_io(stream: Box<dyn ReadWrite>, path: &str, headers: &[&str]) -> StreamClient {
        let mut s = stream;
        let mut all = vec!["User-Agent: test-client"];
        all.extend_from_slice(headers);
        s.write_all(request_head("GET", path, &all).as_bytes())
            .unwrap();
        let mut r = BufReader::new(s);
        let (status, hdrs) = read_head(&mut r);
        let boundary = header(&hdrs, "content-type")
            .and_then(|t| t.split_once("boundary="))
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        let mut reader = BufReader::new(Dechunk::new(r));
        let delimiter = format!("--{boundary}");
        if status == 200 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(
                line,
                format!("{delimiter}\r\n"),
                "the stream opens with the delimiter"
            );
        }
        StreamClient {
            status,
            headers: hdrs,
            reader,
            delimiter,
            ended: false,
        }
    }

    /// The next part, `None` at the close delimiter (or a closed connection).
    pub fn next_part(&mut self) -> Option<Part> {
        if self.ended {
            return None;
        }
        let mut headers = Vec::new();
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            if self.reader.read_line(&mut line).ok()? == 0 {
                self.ended = true;
                return None;
            }
            let l = line.trim_end_matches("\r\n");
            if l.is_empty() {
                if first {
                    // The empty part before the close delimiter.
                    line.clear();
                    self.reader.read_line(&mut line).ok()?;
                    assert_eq!(line, format!("{}--\r\n", self.delimiter));
                    self.ended = true;
                    return None;
                }
                break;
            }
            first = false;
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header {l:?}"));
            headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
        }
        let len: usize = header(&headers, "content-length").unwrap().parse().unwrap();
        let mut data = vec![0; len];
        self.reader.read_exact(&mut data).ok()?;
        let at = Instant::now();
        line.clear();
        self.reader.read_line(&mut line).ok()?;
        assert_eq!(line, "\r\n", "CRLF right after the frame");
        line.clear();
        self.reader.read_line(&mut line).ok()?;
        assert_eq!(
            line,
            format!("{}\r\n", self.delimiter),
            "the delimiter after the frame"
        );
        Some(Part { headers, data, at })
    }
}
