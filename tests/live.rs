// SPDX-License-Identifier: MIT OR Apache-2.0

//! Live sources: arrival timestamps, resets, and real HTTP servers started
//! here on 127.0.0.1 (ffmpeg, and a test camera replaying camera behaviour).

mod common;

#[path = "common/camera.rs"]
mod camera;

use camera::{Camera, Config, Framing};
use common::*;
use gst::prelude::*;
use gst_check::Harness;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn live_harness() -> Harness {
    init();
    let mut h = Harness::new("mjpegsplit");
    h.use_testclock();
    h.play();
    h.set_src_caps_str("multipart/x-mixed-replace");
    h
}

#[test]
fn live_frames_get_their_arrival_time() {
    let f = fixture("gray.jpg");
    let mut h = live_harness();
    h.set_time(gst::ClockTime::from_seconds(1)).unwrap();
    h.push(gst::Buffer::from_slice(f.clone())).unwrap();
    // Three frames (and a half) arrive in one read at 1.2 s.
    h.set_time(gst::ClockTime::from_mseconds(1200)).unwrap();
    let mut burst = f.repeat(3);
    burst.extend(&f[..100]);
    h.push(gst::Buffer::from_slice(burst)).unwrap();
    h.set_time(gst::ClockTime::from_mseconds(1400)).unwrap();
    h.push(gst::Buffer::from_slice(f[100..].to_vec())).unwrap();
    let out: Vec<_> = std::iter::from_fn(|| h.try_pull()).collect();
    let pts: Vec<u64> = out.iter().map(|b| b.pts().unwrap().mseconds()).collect();
    assert_eq!(pts, vec![1000, 1200, 1201, 1202, 1400]);
    // Durations follow the measured interval.
    assert_eq!(out[1].duration(), Some(gst::ClockTime::from_mseconds(200)));
    // No frame rate was configured: the caps say variable.
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(0, 1)
    );
    // The latency query is answered (live, from upstream).
    let mut q = gst::query::Latency::new();
    assert!(h.sinkpad().unwrap().peer_query(&mut q));
    assert!(q.result().0);
}

#[test]
fn reconnect_resets_detection_and_keeps_time_increasing() {
    let f = fixture("rgb.jpg");
    let mut h = live_harness();
    h.set_time(gst::ClockTime::from_seconds(1)).unwrap();
    let mut first = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=a\r\n\r\n--a\r\nContent-Type: image/jpeg\r\n\r\n".to_vec();
    first.extend(&f);
    first.extend(b"\r\n--a\r\nContent-Type: image/jpeg\r\n\r\n");
    first.extend(&f[..1500]); // the camera drops here
    h.push(gst::Buffer::from_slice(first)).unwrap();
    // The application restarts the source: new stream-start, segment, and a
    // new HTTP response with another boundary.
    h.set_time(gst::ClockTime::from_seconds(3)).unwrap();
    h.push_event(gst::event::StreamStart::new("reconnected"));
    h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
        gst::ClockTime,
    >::new()));
    let mut second =
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=b\r\n\r\n".to_vec();
    for _ in 0..2 {
        second.extend(format!("--b\r\nContent-Length: {}\r\n\r\n", f.len()).as_bytes());
        second.extend(&f);
        second.extend(b"\r\n");
    }
    let mut b = gst::Buffer::from_slice(second);
    b.get_mut().unwrap().set_flags(gst::BufferFlags::DISCONT);
    h.push(b).unwrap();
    h.push_event(gst::event::Eos::new());
    let out: Vec<_> = std::iter::from_fn(|| h.try_pull()).collect();
    // The cut frame is lost, and only it.
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|b| buffer_bytes(b) == f));
    let pts: Vec<u64> = out.iter().map(|b| b.pts().unwrap().mseconds()).collect();
    assert_eq!(pts, vec![1000, 3000, 3001]);
    assert!(out[1].flags().contains(gst::BufferFlags::DISCONT));
    assert!(!out[2].flags().contains(gst::BufferFlags::DISCONT));
    let stats = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("dropped-incomplete").unwrap(), 1);
    assert_eq!(stats.get::<&str>("format").unwrap(), "http-multipart");
}

struct Received {
    bytes: Vec<u8>,
    pts: Option<gst::ClockTime>,
    flags: gst::BufferFlags,
    at: Instant,
}

/// Run `souphttpsrc ! mjpegsplit ! appsink` against `url` until EOS, with
/// `on_frame` called for each frame. With `reconnect`, one EOS of the source
/// is swallowed and the source restarted (as the recorder example does).
fn receive(
    url: &str,
    reconnect: bool,
    on_frame: impl Fn(usize) + Send + Sync + 'static,
) -> Vec<Received> {
    init();
    let pipeline = gst::parse::launch(&format!(
        "souphttpsrc name=src location={url} is-live=true ! mjpegsplit ! appsink name=out sync=false"
    ))
    .unwrap()
    .downcast::<gst::Bin>()
    .unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let b = sample.buffer().unwrap();
                let mut g = g.lock().unwrap();
                g.push(Received {
                    bytes: buffer_bytes(b),
                    pts: b.pts(),
                    flags: b.flags(),
                    at: Instant::now(),
                });
                on_frame(g.len() - 1);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    if reconnect {
        let src = pipeline.by_name("src").unwrap();
        let restarted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let weak = src.downgrade();
        src.static_pad("src").unwrap().add_probe(
            gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                let is_eos = matches!(info.event().map(|e| e.type_()), Some(gst::EventType::Eos));
                if is_eos && !restarted.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let weak = weak.clone();
                    std::thread::spawn(move || {
                        if let Some(src) = weak.upgrade() {
                            src.set_state(gst::State::Null).unwrap();
                            src.sync_state_with_parent().unwrap();
                        }
                    });
                    return gst::PadProbeReturn::Handled;
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    play_to_eos(pipeline.upcast_ref(), || {});
    std::mem::take(&mut *got.lock().unwrap())
}

fn camera_frames() -> Vec<Vec<u8>> {
    [
        "gray.jpg",
        "rgb.jpg",
        "exif-thumb.jpg",
        "restart-jpegtran.jpg",
        "progressive.jpg",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect()
}

fn assert_strictly_increasing(frames: &[Received]) {
    assert!(
        frames.iter().all(|f| f.pts.is_some()),
        "a frame without PTS"
    );
    assert!(
        frames.windows(2).all(|w| w[0].pts < w[1].pts),
        "PTS not strictly increasing"
    );
}

#[test]
fn camera_formats_through_souphttpsrc() {
    let cases = [
        (
            "axis",
            Config {
                framing: Framing::Axis,
                ..Default::default()
            },
        ),
        (
            "mjpg-streamer",
            Config {
                framing: Framing::MjpgStreamer,
                ..Default::default()
            },
        ),
        (
            "esp32",
            Config {
                framing: Framing::Esp32,
                chunked: true,
                ..Default::default()
            },
        ),
        (
            "no length",
            Config {
                framing: Framing::NoLength,
                ..Default::default()
            },
        ),
        (
            "burst of 6 per write",
            Config {
                framing: Framing::Axis,
                burst: 6,
                frames: 30,
                ..Default::default()
            },
        ),
        (
            "1-byte drip",
            Config {
                framing: Framing::NoLength,
                drip: true,
                frames: 3,
                ..Default::default()
            },
        ),
    ];
    for (name, config) in cases {
        let n = config.frames;
        let cam = Camera::start(config, camera_frames(), None);
        let got = receive(&cam.url(), false, |_| {});
        let sent = cam.jpegs.lock().unwrap().clone();
        assert_eq!(got.len(), n, "{name}");
        assert!(
            got.iter().zip(&sent).all(|(g, s)| &g.bytes == s),
            "{name}: bytes"
        );
        assert_strictly_increasing(&got);
    }
}

#[test]
fn dropped_connection_loses_one_frame_and_marks_discont() {
    let config = Config {
        framing: Framing::MjpgStreamer,
        frames: 5,
        drop_in_frame: Some((3, 700)),
        connections: 2,
        ..Default::default()
    };
    let cam = Camera::start(config, camera_frames(), None);
    let got = receive(&cam.url(), true, |_| {});
    let sent = cam.jpegs.lock().unwrap().clone();
    // 3 frames before the drop, the cut one lost, 5 after reconnecting.
    assert_eq!(sent.len(), 8);
    assert_eq!(got.len(), 8);
    assert!(got.iter().zip(&sent).all(|(g, s)| &g.bytes == s));
    assert_strictly_increasing(&got);
    assert!(got[3].flags.contains(gst::BufferFlags::DISCONT));
    assert!(
        got[4..]
            .iter()
            .all(|g| !g.flags.contains(gst::BufferFlags::DISCONT))
    );
}

/// Each frame must leave the element before the server writes the next one:
/// the server waits for the client's word (up to 5 s) after each frame.
#[test]
fn frames_leave_without_waiting_for_the_next_one() {
    for framing in [
        Framing::NoLength,
        Framing::NoLengthBoundaryFirst,
        Framing::Axis,
    ] {
        let (tx, rx) = std::sync::mpsc::channel();
        let config = Config {
            framing,
            frames: 10,
            interval: Duration::from_millis(200),
            ..Default::default()
        };
        let cam = Camera::start(config, camera_frames(), Some(rx));
        let tx = Mutex::new(tx);
        let got = receive(&cam.url(), false, move |_| {
            let _ = tx.lock().unwrap().send(());
        });
        let sent = cam.sent.lock().unwrap().clone();
        assert_eq!(got.len(), 10);
        let delays: Vec<f64> = got
            .iter()
            .zip(&sent)
            .map(|(g, s)| g.at.duration_since(*s).as_secs_f64() * 1000.0)
            .collect();
        // Well under the 200 ms between frames: no frame waited for the next.
        let worst = delays.iter().cloned().fold(0.0, f64::max);
        eprintln!(
            "{framing:?}: delay from last byte written to frame out: max {worst:.2} ms, all {delays:.2?}"
        );
        assert!(
            worst < 200.0,
            "{framing:?}: a frame waited for the next one ({worst} ms)"
        );
    }
}

/// Whether a socket listens on 127.0.0.1:`port` (from /proc/net/tcp).
fn listening(port: u16) -> bool {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle))
}

#[test]
fn ffmpeg_http_server() {
    init();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut ffmpeg = std::process::Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
        ])
        .args([
            "-frames:v",
            "50",
            "-c:v",
            "mjpeg",
            "-q:v",
            "5",
            "-f",
            "mpjpeg",
            "-listen",
            "1",
        ])
        .arg(format!("http://127.0.0.1:{port}/"))
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("ffmpeg");
    // Wait until it listens (without connecting: it serves one client only).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listening(port) {
        assert!(Instant::now() < deadline, "ffmpeg did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = receive(&format!("http://127.0.0.1:{port}/"), false, |_| {});
    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();
    assert_eq!(got.len(), 50);
    assert!(
        got.iter()
            .all(|g| g.bytes.starts_with(&[0xFF, 0xD8]) && g.bytes.ends_with(&[0xFF, 0xD9]))
    );
    assert_strictly_increasing(&got);
    // -re paces frames at 25 fps: arrival times span about two seconds
    // (FFmpeg 6.1+ sends its first 0.5 s at once: -readrate_initial_burst).
    let span = got[49].pts.unwrap() - got[0].pts.unwrap();
    assert!(span > gst::ClockTime::from_mseconds(1_000), "{span}");
}

#[test]
fn opencv_example_reads_the_camera() {
    let has_cv = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import cv2"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_cv && std::env::var_os("CI").is_none() {
        eprintln!("python3-opencv not installed: skipped (CI installs it)");
        return;
    }
    let cam = Camera::start(
        Config {
            framing: Framing::Axis,
            frames: 10,
            ..Default::default()
        },
        camera_frames()[..1].to_vec(),
        None,
    );
    let plugin_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        plugin_dir.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (cargo build --lib; ./dev test does)"
    );
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/opencv_camera.py"))
        .arg(cam.url())
        .args(["--frames", "10"])
        .env("GST_PLUGIN_PATH", plugin_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("read 10 frames of 96x64"), "{stdout}");
}

#[test]
fn recorder_example_reconnects_and_finalises_on_ctrl_c() {
    init();
    let config = Config {
        framing: Framing::MjpgStreamer,
        frames: 10,
        drop_in_frame: Some((4, 500)),
        connections: 2,
        interval: Duration::from_millis(30),
        ..Default::default()
    };
    let cam = Camera::start(config, camera_frames()[..2].to_vec(), None);
    let dir = TempDir::new("recorder");
    let output = dir.path("rec.mp4");
    let child = std::process::Command::new(example("camera_recorder"))
        .arg(cam.url())
        .arg(&output)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // 4 frames, the drop, a reconnection, 10 frames.
    let deadline = Instant::now() + Duration::from_secs(30);
    while cam.jpegs.lock().unwrap().len() < 14 {
        assert!(Instant::now() < deadline, "camera not read");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let out = interrupt(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("recorded 14 frames"), "{stdout}\n{stderr}");
    assert!(stderr.contains("reconnecting"), "{stderr}");
    // The MP4 is finalised and holds every frame, in increasing time.
    let (frames, span) = mp4_frames_and_span(output.to_str().unwrap());
    assert_eq!(frames, 14);
    assert!(span > gst::ClockTime::from_mseconds(300), "{span}");
}
