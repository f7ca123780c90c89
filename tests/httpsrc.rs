// SPDX-License-Identifier: MIT OR Apache-2.0

//! `mjpeghttpsrc` against test cameras started here on 127.0.0.1: a camera
//! that closes the connection, that is killed and restarted on its port, that
//! stalls after some frames or right after its headers, that answers 503 or
//! 401; playbin on an `mjpeg+http://` URI; OpenCV reading through a restart.
//!
//! The cameras send 15 frames per second. Each outage test prints the time
//! from the end of the outage to the next frame and the PTS across it.

mod common;

#[path = "common/camera.rs"]
mod camera;

use camera::{Camera, Config, Framing};
use common::*;
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FRAME_INTERVAL: Duration = Duration::from_millis(66);

#[derive(Debug, Clone)]
struct Frame {
    pts: gst::ClockTime,
    discont: bool,
    at: Instant,
}

#[derive(Debug, Clone)]
enum Event {
    Status {
        event: String,
        reason: String,
        retry: u32,
        at: Instant,
    },
    Error(String),
    Eos,
}

/// A frame as the probe saw it: PTS (if any), DISCONT, arrival.
type Seen = (Option<gst::ClockTime>, bool, Instant);

/// A pipeline reading a camera, recording frames and bus events.
struct Client {
    pipeline: gst::Pipeline,
    /// As the probe saw them: a frame without a PTS is recorded and found
    /// by `frames()` (a panic inside a probe would abort the test binary).
    frames: Arc<Mutex<Vec<Seen>>>,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Client {
    fn start(desc: &str) -> Client {
        init();
        let pipeline = gst::parse::launch(desc)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = pipeline
            .by_name("out")
            .or_else(|| pipeline.property::<Option<gst::Element>>("video-sink"))
            .unwrap();
        let f = frames.clone();
        sink.static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                let b = info.buffer().unwrap();
                f.lock().unwrap().push((
                    b.pts(),
                    b.flags().contains(gst::BufferFlags::DISCONT),
                    Instant::now(),
                ));
                gst::PadProbeReturn::Ok
            });
        let e = events.clone();
        pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
            let ev = match msg.view() {
                gst::MessageView::Element(m) => m.structure().and_then(|s| {
                    (s.name() == "mjpeghttpsrc-status").then(|| Event::Status {
                        event: s.get::<String>("event").unwrap(),
                        reason: s.get::<String>("reason").unwrap(),
                        retry: s.get::<u32>("retry").unwrap(),
                        at: Instant::now(),
                    })
                }),
                gst::MessageView::Error(err) => {
                    Some(Event::Error(format!("{} ({:?})", err.error(), err.debug())))
                }
                gst::MessageView::Eos(_) => Some(Event::Eos),
                _ => None,
            };
            if let Some(ev) = ev {
                e.lock().unwrap().push(ev);
            }
            gst::BusSyncReply::Drop
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        Client {
            pipeline,
            frames,
            events,
        }
    }

    fn src(url: &str, props: &str) -> Client {
        Client::start(&format!(
            "mjpeghttpsrc name=src location={url} retry-delay=200000000 max-retry-delay=1000000000 \
             {props} ! fakesink name=out sync=false"
        ))
    }

    fn frames(&self) -> Vec<Frame> {
        let seen = self.frames.lock().unwrap().clone();
        seen.into_iter()
            .enumerate()
            .map(|(i, (pts, discont, at))| Frame {
                pts: pts.unwrap_or_else(|| panic!("frame {i} has no PTS")),
                discont,
                at,
            })
            .collect()
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    fn statuses(&self, kind: &str) -> Vec<(String, u32, Instant)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Status {
                    event,
                    reason,
                    retry,
                    at,
                } if event == kind => Some((reason, retry, at)),
                _ => None,
            })
            .collect()
    }

    fn wait_frames(&self, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.frames.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "{what}: {} frames of {n}; events {:?}",
                self.frames.lock().unwrap().len(),
                self.events()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_event(&self, pred: impl Fn(&Event) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.events().iter().any(&pred) {
            assert!(Instant::now() < deadline, "{what}: {:?}", self.events());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stats(&self) -> gst::Structure {
        self.pipeline
            .by_name("src")
            .unwrap()
            .property::<gst::Structure>("stats")
    }

    /// No ERROR or EOS reached the pipeline.
    fn assert_no_error_or_eos(&self) {
        let bad: Vec<_> = self
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::Error(_) | Event::Eos))
            .collect();
        assert!(bad.is_empty(), "{bad:?}");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn assert_increasing(frames: &[Frame]) {
    assert!(
        frames.windows(2).all(|w| w[0].pts < w[1].pts),
        "PTS not strictly increasing: {:?}",
        frames.iter().map(|f| f.pts).collect::<Vec<_>>()
    );
}

/// Print what happened across the outage between frame `k - 1` and frame `k`.
fn report(name: &str, frames: &[Frame], k: usize, outage_end: Instant) {
    let before = &frames[k - 1];
    let after = &frames[k];
    eprintln!(
        "{name}: outage end -> next frame {:.0} ms; PTS {} -> {} (gap {:.3} s, arrival gap {:.3} s)",
        after.at.saturating_duration_since(outage_end).as_secs_f64() * 1000.0,
        before.pts,
        after.pts,
        (after.pts - before.pts).seconds_f64(),
        after.at.duration_since(before.at).as_secs_f64(),
    );
}

fn jpegs() -> Vec<Vec<u8>> {
    ["gray.jpg", "rgb.jpg", "exif-thumb.jpg"]
        .iter()
        .map(|n| fixture(n))
        .collect()
}

fn camera(config: Config) -> Camera {
    Camera::start(
        Config {
            interval: FRAME_INTERVAL,
            ..config
        },
        jpegs(),
        None,
    )
}

#[test]
fn camera_closing_the_connection() {
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 7,
        connections: 3,
        ..Default::default()
    });
    let client = Client::src(&cam.url(), "");
    client.wait_frames(21, "three connections");
    let frames = client.frames();
    assert_eq!(frames.len(), 21);
    assert_increasing(&frames);
    let disconts: Vec<usize> = (0..21).filter(|&i| frames[i].discont).collect();
    assert_eq!(disconts, vec![0, 7, 14]);
    assert_eq!(client.statuses("reconnected").len(), 2);
    let closed = client.statuses("disconnected");
    assert!(closed[0].0.contains("closed the connection"), "{closed:?}");
    // The server closes right after frame 7: that is the end of the outage.
    report("closed connection", &frames, 7, frames[6].at);
    report("closed connection", &frames, 14, frames[13].at);
    let stats = client.stats();
    assert_eq!(stats.get::<u64>("frames").unwrap(), 21);
    assert!(stats.get::<u64>("connects").unwrap() >= 3);
    client.assert_no_error_or_eos();
}

#[test]
fn camera_killed_and_restarted_on_its_port() {
    let cam = camera(Config {
        framing: Framing::MjpgStreamer,
        frames: 1000,
        ..Default::default()
    });
    let port = cam.port;
    let client = Client::src(&cam.url(), "");
    client.wait_frames(8, "before the kill");
    cam.stop();
    let n = client.frames().len();
    // Down for 1.5 s: connections are refused, the delay backs off.
    std::thread::sleep(Duration::from_millis(1500));
    let reconnecting = client.statuses("reconnecting");
    assert!(reconnecting.len() >= 2, "{reconnecting:?}");
    assert!(reconnecting.windows(2).all(|w| w[0].1 < w[1].1));
    let restarted = Instant::now();
    let cam = camera(Config {
        framing: Framing::MjpgStreamer,
        frames: 1000,
        port: Some(port),
        ..Default::default()
    });
    client.wait_frames(n + 8, "after the restart");
    let frames = client.frames();
    assert_increasing(&frames);
    assert!(frames[n].discont);
    assert!(frames[n + 1..].iter().all(|f| !f.discont));
    report("killed and restarted", &frames, n, restarted);
    // Back off is bounded by max-retry-delay (1 s) plus the connection.
    assert!(frames[n].at.duration_since(restarted) < Duration::from_secs(3));
    client.assert_no_error_or_eos();
    drop(client);
    drop(cam);
}

#[test]
fn camera_stalling_after_some_frames() {
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 9,
        stall_after: Some(5),
        connections: 2,
        ..Default::default()
    });
    let client = Client::src(&cam.url(), "stall-timeout=1000000000");
    client.wait_frames(5 + 9, "stall then reconnect");
    let frames = client.frames();
    assert_eq!(frames.len(), 14);
    assert_increasing(&frames);
    assert!(frames[5].discont);
    let stalled = client.statuses("stalled");
    assert_eq!(stalled.len(), 1);
    // Detected after stall-timeout, not right away (the watchdog counts
    // from the last bytes at the source, a little before the frame left).
    let after = stalled[0].2.duration_since(frames[4].at);
    assert!(after >= Duration::from_millis(900), "{after:?}");
    report(
        "stall after 5 frames (stall detected)",
        &frames,
        5,
        stalled[0].2,
    );
    eprintln!(
        "stall after 5 frames: last frame -> stall detected {:.0} ms",
        after.as_secs_f64() * 1000.0
    );
    assert_eq!(client.stats().get::<u64>("stalls").unwrap(), 1);
    client.assert_no_error_or_eos();
}

#[test]
fn camera_stalling_right_after_its_headers() {
    let cam = camera(Config {
        framing: Framing::MjpgStreamer,
        frames: 9,
        stall_after: Some(0),
        connections: 2,
        ..Default::default()
    });
    let started = Instant::now();
    let client = Client::src(&cam.url(), "stall-timeout=1500000000");
    client.wait_frames(9, "after the stall");
    let frames = client.frames();
    assert_eq!(frames.len(), 9);
    assert_increasing(&frames);
    assert!(frames[0].discont);
    let stalled = client.statuses("stalled");
    assert_eq!(stalled.len(), 1);
    assert!(stalled[0].2.duration_since(started) >= Duration::from_millis(1500));
    eprintln!(
        "stall after headers: start -> stall detected {:.0} ms; stall detected -> first frame {:.0} ms; first PTS {}",
        stalled[0].2.duration_since(started).as_secs_f64() * 1000.0,
        frames[0].at.duration_since(stalled[0].2).as_secs_f64() * 1000.0,
        frames[0].pts
    );
    client.assert_no_error_or_eos();
}

#[test]
fn camera_answering_503_then_streaming() {
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 9,
        status: Some((503, 2)),
        connections: 3,
        ..Default::default()
    });
    let client = Client::src(&cam.url(), "");
    client.wait_frames(9, "after two 503");
    let frames = client.frames();
    assert_eq!(frames.len(), 9);
    assert_increasing(&frames);
    let down = client.statuses("disconnected");
    assert!(down.len() >= 2, "{down:?}");
    assert!(down[0].0.contains("503"), "{down:?}");
    let up = client.statuses("reconnecting");
    eprintln!(
        "503 twice: last retry posted -> first frame {:.0} ms; first PTS {}; reasons {:?}",
        frames[0].at.duration_since(up[1].2).as_secs_f64() * 1000.0,
        frames[0].pts,
        down.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    let stats = client.stats();
    assert!(
        stats.get::<String>("last-error").unwrap().contains("503"),
        "{stats}"
    );
    client.assert_no_error_or_eos();
}

#[test]
fn unusable_urls_are_a_clear_error() {
    for (code, expect) in [(401, "set user-id and user-pw"), (404, "404")] {
        let cam = camera(Config {
            status: Some((code, 1)),
            connections: 1,
            ..Default::default()
        });
        let client = Client::src(&cam.url(), "");
        client.wait_event(|e| matches!(e, Event::Error(_)), "an error");
        let error = client
            .events()
            .into_iter()
            .find_map(|e| match e {
                Event::Error(t) => Some(t),
                _ => None,
            })
            .unwrap();
        eprintln!("{code}: {error}");
        assert!(error.contains(&code.to_string()), "{error}");
        assert!(error.contains(expect), "{error}");
        assert!(client.statuses("reconnecting").is_empty());
        assert!(client.frames().is_empty());
    }
}

#[test]
fn playbin_plays_an_mjpeg_http_uri() {
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 9,
        ..Default::default()
    });
    let uri = format!("mjpeg+{}", cam.url());
    let client = Client::start(&format!(
        "playbin uri={uri} video-sink=\"fakesink name=out sync=true\" audio-sink=fakesink"
    ));
    client.wait_frames(9, "playbin");
    std::thread::sleep(Duration::from_millis(300));
    let frames = client.frames();
    assert_eq!(frames.len(), 9);
    assert_increasing(&frames);
    // jpegdec decoded them: the sink got raw video of the camera's size.
    let sink = client.pipeline.property::<gst::Element>("video-sink");
    let caps = sink.static_pad("sink").unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.name(), "video/x-raw");
    assert_eq!(s.get::<i32>("width").unwrap(), 96);
    client.assert_no_error_or_eos();
    // And the URI handler gives the URI back.
    let src = gst::Element::make_from_uri(gst::URIType::Src, &uri, None).unwrap();
    assert_eq!(src.factory().unwrap().name(), "mjpeghttpsrc");
    assert_eq!(
        src.dynamic_cast_ref::<gst::URIHandler>().unwrap().uri(),
        Some(uri.into())
    );
}

#[test]
fn opencv_reads_through_a_camera_restart() {
    let has_cv = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import cv2"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_cv && std::env::var_os("CI").is_none() {
        eprintln!("python3-opencv not installed: skipped (CI installs it)");
        return;
    }
    let plugin_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        plugin_dir.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (cargo build --lib; ./dev test does)"
    );
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 8,
        ..Default::default()
    });
    let port = cam.port;
    let child = std::process::Command::new("/usr/bin/python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/opencv_camera.py"))
        .arg(cam.url())
        .args(["--frames", "16"])
        .env("GST_PLUGIN_PATH", plugin_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cam.jpegs.lock().unwrap().len() < 8 {
        assert!(Instant::now() < deadline, "camera not read");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The camera restarts: gone for 0.7 s, back on its port.
    cam.stop();
    std::thread::sleep(Duration::from_millis(700));
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 8,
        port: Some(port),
        ..Default::default()
    });
    let out = child.wait_with_output().unwrap();
    drop(cam);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("read 16 frames of 96x64"), "{stdout}");
}

/// The recorder keeps what it recorded when the camera goes away for good,
/// and survives its stdout and stderr being closed (a `tee` killed by
/// Ctrl-C): the MP4 is finalised with every frame.
#[test]
fn recorder_survives_an_outage_and_closed_pipes() {
    init();
    let cam = camera(Config {
        framing: Framing::MjpgStreamer,
        frames: 11,
        ..Default::default()
    });
    let dir = TempDir::new("recorder-pipes");
    let output = dir.path("rec.mp4");
    let mut child = std::process::Command::new(example("camera_recorder"))
        .arg(cam.url())
        .arg(&output)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cam.jpegs.lock().unwrap().len() < 11 {
        assert!(Instant::now() < deadline, "camera not read");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The camera is gone; the reader of the recorder's output too.
    cam.stop();
    drop(child.stdout.take());
    drop(child.stderr.take());
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let (frames, span) = mp4_frames_and_span(output.to_str().unwrap());
    assert_eq!(frames, 11);
    assert!(span > gst::ClockTime::from_mseconds(500), "{span}");
}

#[test]
fn a_web_page_is_a_clear_error() {
    let cam = camera(Config {
        status: Some((200, 1)),
        connections: 1,
        ..Default::default()
    });
    let client = Client::src(&cam.url(), "");
    client.wait_event(|e| matches!(e, Event::Error(_)), "an error");
    let error = format!("{:?}", client.events());
    eprintln!("web page: {error}");
    assert!(error.contains("<!DOCTYPE html>"), "{error}");
    assert!(client.statuses("reconnecting").is_empty());
    assert!(client.frames().is_empty());
}

#[test]
fn max_retries_gives_up_with_an_error() {
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 4,
        ..Default::default()
    });
    let client = Client::src(&cam.url(), "max-retries=3");
    client.wait_event(|e| matches!(e, Event::Error(_)), "an error");
    assert_eq!(client.frames().len(), 4);
    let retries: Vec<u32> = client
        .statuses("reconnecting")
        .iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(retries, vec![1, 2, 3]);
    let error = format!("{:?}", client.events());
    assert!(error.contains("3 attempts in a row failed"), "{error}");
    drop(cam);
}

/// `gst-launch-1.0 -e` and applications end the stream by sending EOS to
/// the pipeline: it comes out after the frames, and nothing restarts.
#[test]
fn eos_sent_to_the_pipeline_ends_the_stream() {
    let cam = camera(Config {
        framing: Framing::Esp32,
        frames: 1000,
        chunked: true,
        ..Default::default()
    });
    let client = Client::src(&cam.url(), "");
    client.wait_frames(6, "before EOS");
    client.pipeline.send_event(gst::event::Eos::new());
    client.wait_event(|e| matches!(e, Event::Eos), "EOS");
    std::thread::sleep(Duration::from_millis(500));
    assert!(client.statuses("disconnected").is_empty());
    assert!(!client.events().iter().any(|e| matches!(e, Event::Error(_))));
    assert_increasing(&client.frames());
}

/// `transcode URL out.mp4` on a camera that stalls mid-stream: the source
/// reconnects after the default stall-timeout (5 s) and the recording goes
/// on; Ctrl-C finalises an MP4 holding the frames of both connections.
#[test]
fn transcode_goes_on_through_a_stall() {
    init();
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 9,
        stall_after: Some(6),
        connections: 2,
        ..Default::default()
    });
    let dir = TempDir::new("transcode-stall");
    let output = dir.path("cam.mp4");
    // --camera: the camera's two connections are the recording's (the
    // transcoder does not ask the server first).
    let child = std::process::Command::new(example("transcode"))
        .arg("--camera")
        .arg(cam.url())
        .arg(&output)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cam.jpegs.lock().unwrap().len() < 15 {
        assert!(Instant::now() < deadline, "camera not read again");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let out = interrupt(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let (frames, _) = mp4_frames_and_span(output.to_str().unwrap());
    assert_eq!(frames, 15, "{stdout}{stderr}");
}

#[test]
fn restart_on_eos_false_ends_with_the_connection() {
    let cam = camera(Config {
        framing: Framing::NoLength,
        frames: 5,
        ..Default::default()
    });
    let client = Client::src(&cam.url(), "restart-on-eos=false");
    client.wait_event(|e| matches!(e, Event::Eos), "EOS");
    assert_eq!(client.frames().len(), 5);
    assert!(client.statuses("disconnected").is_empty());
    assert!(!client.events().iter().any(|e| matches!(e, Event::Error(_))));
}
