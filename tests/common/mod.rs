// SPDX-License-Identifier: MIT OR Apache-2.0
#![allow(dead_code)]

use gst::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub fn init() {
    use std::sync::Once;
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstmjpegsplit::plugin_register_static().expect("register plugin");
    });
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A file in a per-test temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mjpegsplit-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Split the JPEG files of a raw concatenation made by an encoder (each frame
/// is SOI..EOI with nothing between), using the scanner-independent fact that
/// every frame starts with `FF D8 FF` right after the previous `FF D9`.
pub fn split_concatenation(data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut start = 0;
    let mut i = 2;
    while i + 3 <= data.len() {
        if data[i - 2..i] == [0xFF, 0xD9] && data[i..i + 3] == [0xFF, 0xD8, 0xFF] {
            frames.push(data[start..i].to_vec());
            start = i;
        }
        i += 1;
    }
    frames.push(data[start..].to_vec());
    frames
}

/// JPEG bodies of a multipart stream, found by its Content-Length headers.
pub fn multipart_bodies(data: &[u8]) -> Vec<Vec<u8>> {
    let text_pos = |hay: &[u8], needle: &[u8]| {
        hay.windows(needle.len())
            .position(|w| w.eq_ignore_ascii_case(needle))
    };
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(k) = text_pos(rest, b"content-length:") {
        let line = &rest[k + 15..];
        let eol = line.iter().position(|&b| b == b'\r').unwrap();
        let len: usize = std::str::from_utf8(&line[..eol])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let body = text_pos(line, b"\r\n\r\n").unwrap() + 4;
        out.push(line[body..body + len].to_vec());
        rest = &line[body + len..];
    }
    out
}

pub fn buffer_bytes(b: &gst::BufferRef) -> Vec<u8> {
    b.map_readable().unwrap().to_vec()
}

/// Set `pipeline` playing, call `feed`, wait for EOS (panics on an error
/// message), then stop it.
pub fn play_to_eos(pipeline: &gst::Element, feed: impl FnOnce()) {
    pipeline.set_state(gst::State::Playing).unwrap();
    feed();
    let bus = pipeline.bus().unwrap();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                pipeline.set_state(gst::State::Null).unwrap();
                panic!("{}: {} ({:?})", pipeline.name(), e.error(), e.debug());
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
}

/// Run a pipeline description to EOS; panics on an error message.
pub fn run_pipeline(desc: &str) -> gst::Element {
    let pipeline = gst::parse::launch(desc).unwrap();
    play_to_eos(&pipeline, || {});
    pipeline
}

/// Frames and presentation span of the video track of an MP4: the frames
/// the decoder gives, the span the file's video samples cover (their PTS and
/// durations as the demuxer reads them: decoders of 1.26+ leave decoded
/// frames without a duration).
pub fn mp4_frames_and_span(path: &str) -> (usize, gst::ClockTime) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={path:?} ! qtdemux name=demux ! h264parse ! avdec_h264 ! fakesink name=sink"
    ))
    .unwrap();
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    // Recorded in the probes, checked below: a panic inside a probe cannot
    // unwind through GStreamer's C frames and aborts the test binary.
    let samples = Arc::new(Mutex::new(Vec::new()));
    let s = samples.clone();
    bin.by_name("demux")
        .unwrap()
        .connect_pad_added(move |_, pad| {
            if !pad.name().starts_with("video") {
                return;
            }
            let s = s.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(b) = info.buffer() {
                    s.lock().unwrap().push((b.pts(), b.duration()));
                }
                gst::PadProbeReturn::Ok
            });
        });
    let decoded = Arc::new(Mutex::new(Vec::new()));
    let d = decoded.clone();
    bin.by_name("sink")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                d.lock().unwrap().push(b.pts());
            }
            gst::PadProbeReturn::Ok
        });
    play_to_eos(&pipeline, || {});
    let samples: Vec<_> = samples
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, &(p, d))| match (p, d) {
            (Some(p), Some(d)) => (p, d),
            _ => panic!("{path}: sample {i} has PTS {p:?}, duration {d:?}"),
        })
        .collect();
    let decoded = decoded.lock().unwrap().clone();
    assert!(
        decoded.iter().all(Option::is_some),
        "{path}: a decoded frame without PTS: {decoded:?}"
    );
    // Decoded frames come out in presentation order, strictly increasing.
    assert!(
        decoded.windows(2).all(|w| w[0] < w[1]),
        "{path}: {decoded:?}"
    );
    let lo = samples.iter().map(|(p, _)| *p).min().unwrap();
    let hi = samples.iter().map(|(p, d)| *p + *d).max().unwrap();
    (decoded.len(), hi - lo)
}

/// Wait for EOS on a harness's sink, then take every buffer it got.
/// mjpegsplit in a push-mode harness, file-like (not live), with `props`
/// set and `caps` on its input.
pub fn push_harness(props: &[(&str, &str)], caps: &str) -> gst_check::Harness {
    init();
    let mut h = gst_check::Harness::new("mjpegsplit");
    for (k, v) in props {
        h.element().unwrap().set_property_from_str(k, v);
    }
    // The harness reports a live upstream by default.
    h.set_live(false);
    h.play();
    h.set_src_caps_str(caps);
    h
}

/// The path of an example program (built by `cargo build --examples`).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// Run `desc`, whose appsink is named `sink`, to its end (EOS, or an
/// ERROR, which ends no appsink; 60 s at most): the buffers it got (not the
/// samples: 1.22's appsink asserts when samples are held) and every bus
/// message.
pub fn run_appsink(desc: &str) -> (Vec<gst::Buffer>, Vec<gst::Message>) {
    init();
    let pipeline = gst::parse::launch(desc).unwrap();
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let (mut buffers, mut messages) = (Vec::new(), Vec::new());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut failed = false;
    while !failed && !sink.is_eos() && std::time::Instant::now() < deadline {
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
            buffers.push(sample.buffer_owned().unwrap());
        }
        while let Some(msg) = bus.pop() {
            failed |= matches!(msg.view(), gst::MessageView::Error(_));
            messages.push(msg);
        }
    }
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::ZERO) {
        buffers.push(sample.buffer_owned().unwrap());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    messages.extend(std::iter::from_fn(|| bus.pop()));
    (buffers, messages)
}

/// The buffers of [`run_appsink`].
pub fn appsink_buffers(desc: &str) -> Vec<gst::Buffer> {
    run_appsink(desc).0
}

pub fn pull_until_eos(h: &mut gst_check::Harness) -> Vec<gst::Buffer> {
    loop {
        let ev = h.pull_event().unwrap();
        if ev.type_() == gst::EventType::Eos {
            break;
        }
    }
    std::iter::from_fn(|| h.try_pull()).collect()
}

/// Send SIGINT (Ctrl-C) to a child process and wait for it.
pub fn interrupt(child: std::process::Child) -> std::process::Output {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait_with_output().unwrap()
}

/// A small deterministic random generator (xorshift) for property tests:
/// a failing seed replays the same run.
pub struct Rng(pub u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn seeded(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n` (0 for n = 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `0..n`, for u64 ranges.
    pub fn below64(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below64(100) < percent
    }
}

/// A free TCP port on 127.0.0.1 (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on 127.0.0.1:`port`, `child` still running.
pub fn wait_listening(port: u16, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let status = child.try_wait().unwrap();
        assert!(
            status.is_none(),
            "the server ended before it listened: {status:?}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A child process, killed and reaped when dropped unless taken out.
pub struct Killed(pub Option<std::process::Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A decodable JPEG of about 13.1 MB (over 8 MiB): `gray.jpg` with 200 full
/// comment segments of `fill` after its SOI.
pub fn big_jpeg(fill: u8) -> Vec<u8> {
    let gray = fixture("gray.jpg");
    let mut v = gray[..2].to_vec();
    for _ in 0..200 {
        v.extend([0xFF, 0xFE, 0xFF, 0xFF]);
        v.extend(std::iter::repeat_n(fill, 65533));
    }
    v.extend(&gray[2..]);
    v
}
