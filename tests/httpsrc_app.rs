// SPDX-License-Identifier: MIT OR Apache-2.0

//! `mjpeghttpsrc` as applications use it, against test cameras on
//! 127.0.0.1: an appsink nobody pulls from, an application that takes
//! longer than `stall-timeout` per frame (not a stall), state changes while
//! blocked, retrying or stalled (each under a watchdog: a hang fails),
//! `send_event(EOS)` on a PAUSED pipeline, `gst-launch-1.0 -e … ! avimux`
//! and Ctrl-C, the latency of the live recipes (no "please add queues"),
//! and OpenCV (a caps mistake, a slow reader, `release()`).

mod common;

#[path = "common/camera.rs"]
mod camera;
#[path = "common/watch.rs"]
mod watch;

use camera::{Camera, Config, Framing};
use common::*;
use gst::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use watch::{Ev, Watched, within};

fn camera(config: Config) -> Camera {
    camera::three_format_camera(config)
}

fn streaming() -> Config {
    Config {
        framing: Framing::Axis,
        frames: 100_000,
        connections: 10,
        ..Default::default()
    }
}

const FAST: &str = "retry-delay=100000000 max-retry-delay=200000000";

#[test]
fn an_appsink_nobody_pulls_from_is_no_stall_and_null_returns() {
    init();
    let cam = camera(streaming());
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location={} stall-timeout=1000000000 ! \
         appsink name=out max-buffers=1 drop=false sync=false",
        cam.url()
    ));
    w.wait_frames(2);
    // Nobody pulls for 3 stall-timeouts: the streaming thread is blocked
    // in the appsink, the camera is fine.
    std::thread::sleep(Duration::from_secs(3));
    assert!(w.statuses("stalled").is_empty(), "{:?}", w.events());
    assert_eq!(cam.accepted.load(Ordering::SeqCst), 1);
    w.set_state(gst::State::Null, "NULL while blocked in the appsink");
}

#[test]
fn an_application_slower_than_stall_timeout_is_not_a_stall() {
    init();
    let cam = camera(streaming());
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location={} stall-timeout=1000000000 ! \
         appsink name=out max-buffers=1 drop=false sync=false",
        cam.url()
    ));
    let sink = w
        .pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let mut pulled = Vec::new();
    for _ in 0..4 {
        let s = sink
            .try_pull_sample(gst::ClockTime::from_seconds(10))
            .unwrap();
        let b = s.buffer().unwrap();
        pulled.push((
            b.pts().unwrap(),
            b.flags().contains(gst::BufferFlags::DISCONT),
        ));
        // 1.5 s a frame, with a 1 s stall-timeout.
        std::thread::sleep(Duration::from_millis(1500));
    }
    let statuses: Vec<_> = w
        .events()
        .into_iter()
        .filter(|e| matches!(e, Ev::Status { .. }))
        .collect();
    assert!(statuses.is_empty(), "{statuses:?}");
    assert_eq!(cam.accepted.load(Ordering::SeqCst), 1);
    assert!(pulled.windows(2).all(|p| p[0].0 < p[1].0), "{pulled:?}");
    assert_eq!(
        pulled.iter().map(|p| p.1).collect::<Vec<_>>(),
        [true, false, false, false]
    );
    let stats = w
        .pipeline
        .by_name("src")
        .unwrap()
        .property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("stalls").unwrap(), 0);
    assert_eq!(stats.get::<u64>("disconnects").unwrap(), 0);
}

#[test]
fn state_changes_never_hang_while_retrying_or_stalled() {
    init();
    // Stalled right after the headers (a 5 s stall-timeout not reached).
    let stalled = camera(Config {
        stall_after: Some(0),
        ..streaming()
    });
    let w = Watched::start(&format!(
        "mjpeghttpsrc location={} ! fakesink name=out",
        stalled.url()
    ));
    std::thread::sleep(Duration::from_millis(500));
    w.set_state(gst::State::Paused, "PAUSED while the camera is silent");
    w.set_state(gst::State::Null, "NULL while the camera is silent");
    drop(w);
    // Connecting: a server that takes the connection and never answers
    // (the watchdog restarts the waiting source after 1 s, too).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    for wait in [100, 1300] {
        let w = Watched::start(&format!(
            "mjpeghttpsrc location=http://127.0.0.1:{silent_port}/ stall-timeout=1000000000 \
             {FAST} ! fakesink name=out"
        ));
        std::thread::sleep(Duration::from_millis(wait));
        w.set_state(gst::State::Null, "NULL while connecting");
        assert!(w.errors().is_empty(), "{:?}", w.events());
    }
    drop(silent);
    // Retrying a camera that is down, in the retry delay or connecting.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for wait in [0, 150, 400, 1000] {
        let w = Watched::start(&format!(
            "mjpeghttpsrc location=http://127.0.0.1:{port}/ {FAST} ! fakesink name=out"
        ));
        std::thread::sleep(Duration::from_millis(wait));
        w.set_state(gst::State::Ready, "READY while retrying");
        w.set_state(gst::State::Playing, "PLAYING again");
        std::thread::sleep(Duration::from_millis(wait / 2));
        w.set_state(gst::State::Null, "NULL while retrying");
        assert!(w.errors().is_empty(), "{:?}", w.events());
    }
}

#[test]
fn eos_sent_to_a_paused_pipeline_returns_and_ends_the_stream_once_playing() {
    init();
    let cam = camera(streaming());
    let w = Watched::start(&format!(
        "mjpeghttpsrc location={} ! fakesink name=out sync=true",
        cam.url()
    ));
    w.wait_frames(3);
    w.set_state(gst::State::Paused, "PAUSED");
    let p = w.pipeline.clone();
    let sent = within(
        "send_event(EOS) on PAUSED",
        Duration::from_secs(10),
        move || p.send_event(gst::event::Eos::new()),
    );
    assert!(sent);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !w.events().contains(&Ev::Eos),
        "a live source's EOS waits for PLAYING"
    );
    w.set_state(gst::State::Playing, "PLAYING after EOS");
    w.wait_eos();
    assert!(w.errors().is_empty(), "{:?}", w.events());
    assert!(w.statuses("disconnected").is_empty(), "{:?}", w.events());
}

#[test]
fn eos_while_the_camera_is_away_ends_the_stream() {
    init();
    let cam = camera(streaming());
    let w = Watched::start(&format!(
        "mjpeghttpsrc location={} {FAST} ! fakesink name=out",
        cam.url()
    ));
    w.wait_frames(3);
    cam.stop();
    w.wait("retrying", |e| {
        e.iter()
            .filter(|e| matches!(e, Ev::Status { event, .. } if event == "reconnecting"))
            .count()
            >= 2
    });
    let p = w.pipeline.clone();
    within(
        "send_event(EOS) while retrying",
        Duration::from_secs(10),
        move || p.send_event(gst::event::Eos::new()),
    );
    w.wait_eos();
    let n = w.statuses("reconnecting").len();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(w.statuses("reconnecting").len(), n, "no retry after EOS");
    assert!(w.errors().is_empty(), "{:?}", w.events());
}

fn plugin_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        dir.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (cargo build --lib; ./dev test does)"
    );
    dir
}

#[test]
fn gst_launch_e_to_avimux_finishes_the_file_at_ctrl_c() {
    init();
    let cam = camera(streaming());
    let dir = TempDir::new("launch-avimux");
    let out = dir.path("camera.avi");
    let child = std::process::Command::new("gst-launch-1.0")
        .arg("-e")
        .args([
            "mjpeghttpsrc",
            &format!("location={}", cam.url()),
            "framerate=15/1",
        ])
        .args(["!", "avimux", "!", "filesink"])
        .arg(format!("location={}", out.display()))
        .env("GST_PLUGIN_PATH", plugin_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cam.jpegs.lock().unwrap().len() < 10 {
        assert!(Instant::now() < deadline, "camera not read");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out_of = within(
        "gst-launch -e at Ctrl-C",
        Duration::from_secs(20),
        move || interrupt(child),
    );
    let stdout = String::from_utf8_lossy(&out_of.stdout);
    assert!(
        out_of.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out_of.stderr)
    );
    assert!(stdout.contains("EOS on shutdown"), "{stdout}");
    let avi = std::fs::read(&out).unwrap();
    // The index avimux writes at EOS, and every JPEG frame the camera sent
    // before Ctrl-C.
    assert!(
        avi.windows(4).any(|w| w == b"idx1"),
        "no index: not finished"
    );
    let frames = appsink_buffers(&format!(
        "filesrc location={} ! avidemux ! appsink name=sink sync=false",
        out.display()
    ));
    assert!(frames.len() >= 10, "{} frames", frames.len());
}

#[test]
fn the_live_recipes_print_no_latency_warning() {
    init();
    let cam = camera(streaming());
    for tail in [
        "jpegdec ! videoconvert ! fakevideosink name=out",
        "jpegdec ! videoconvert ! fakesink name=out sync=true",
        "queue ! jpegdec ! videoconvert ! fakevideosink name=out",
    ] {
        let w = Watched::start(&format!(
            "mjpeghttpsrc name=src location={} ! {tail}",
            cam.url()
        ));
        w.wait_frames(8);
        assert!(w.warnings().is_empty(), "{tail}: {:?}", w.warnings());
        assert!(w.errors().is_empty(), "{tail}: {:?}", w.errors());
        let src = w.pipeline.by_name("src").unwrap();
        let mut q = gst::query::Latency::new();
        assert!(src.static_pad("src").unwrap().query(&mut q));
        let (live, min, max) = q.result();
        assert!(live);
        assert_eq!(min, gst::ClockTime::ZERO);
        assert_eq!(max, gst::ClockTime::NONE);
    }
    // Only the unbounded wait is ours: what the elements after it add
    // still counts (a queue that first holds 50 ms).
    let w = Watched::start(&format!(
        "mjpeghttpsrc location={} ! queue min-threshold-time=50000000 ! fakesink name=out sync=true",
        cam.url()
    ));
    w.wait_frames(3);
    let mut q = gst::query::Latency::new();
    let sink = w.pipeline.by_name("out").unwrap();
    assert!(sink.static_pad("sink").unwrap().peer_query(&mut q));
    assert_eq!(
        q.result(),
        (
            true,
            gst::ClockTime::from_mseconds(50),
            gst::ClockTime::NONE
        )
    );
}

/// A python3 + OpenCV script's output, run under a watchdog. `failing`:
/// OpenCV 4.6 drops a pipeline whose open failed without setting it to
/// NULL (GStreamer's "Trying to dispose element … in PLAYING" CRITICAL,
/// OpenCV's own), so G_DEBUG=fatal_warnings is not passed on then.
fn opencv(script: &str, failing: bool) -> Option<String> {
    let has_cv = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import cv2"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_cv {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs python3-opencv"
        );
        eprintln!("python3-opencv not installed: skipped");
        return None;
    }
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    if failing {
        cmd.env_remove("G_DEBUG");
    }
    let child = cmd
        .args(["-c", script])
        .env("GST_PLUGIN_PATH", plugin_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = within("the OpenCV script", Duration::from_secs(40), move || {
        child.wait_with_output().unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(stdout)
}

#[test]
fn opencv_a_caps_mistake_fails_at_once() {
    init();
    let cam = camera(streaming());
    let script = format!(
        r#"
import cv2
cap = cv2.VideoCapture("mjpeghttpsrc location={} ! jpegdec ! video/x-raw,format=BGR ! appsink", cv2.CAP_GSTREAMER)
ok = cap.isOpened() and cap.read()[0]
print("read", ok)
cap.release()
print("released")
"#,
        cam.url()
    );
    let Some(out) = opencv(&script, true) else {
        return;
    };
    assert!(out.contains("read False\nreleased"), "{out}");
    assert_eq!(cam.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn opencv_a_slow_reader_is_not_a_stall_and_release_returns() {
    init();
    let cam = camera(streaming());
    // OpenCV's appsink holds one frame: the streaming thread blocks while
    // the program sleeps (a cv2.waitKey(0), a slow model).
    let script = format!(
        r#"
import cv2, time
cap = cv2.VideoCapture("mjpeghttpsrc location={} stall-timeout=1000000000 ! jpegdec ! videoconvert ! video/x-raw,format=BGR ! appsink", cv2.CAP_GSTREAMER)
n = 0
for _ in range(3):
    ok, frame = cap.read()
    n += ok
    time.sleep(2.5)
print("read", n)
cap.release()
print("released")
"#,
        cam.url()
    );
    let Some(out) = opencv(&script, false) else {
        return;
    };
    assert!(out.contains("read 3\nreleased"), "{out}");
    assert_eq!(cam.accepted.load(Ordering::SeqCst), 1, "no reconnect");
}

#[test]
fn the_opencv_example_shows_no_password() {
    init();
    let cam = camera(Config {
        status: Some((401, 20)),
        connections: 20,
        ..Default::default()
    });
    let has_cv = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import cv2"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_cv {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs python3-opencv"
        );
        return;
    }
    let child = std::process::Command::new("/usr/bin/python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/opencv_camera.py"))
        .arg(format!(
            "http://admin:hunter22@127.0.0.1:{}/video.mjpg",
            cam.port
        ))
        .args(["--retries", "1"])
        // OpenCV's failed open: see opencv().
        .env_remove("G_DEBUG")
        .env("GST_PLUGIN_PATH", plugin_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = within("the OpenCV example", Duration::from_secs(40), move || {
        child.wait_with_output().unwrap()
    });
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("the camera wants credentials (HTTP 401)"),
        "{all}"
    );
    assert!(!all.contains("hunter22"), "{all}");
}
