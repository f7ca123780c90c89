// SPDX-License-Identifier: MIT OR Apache-2.0

//! Real clients of mjpeghttpsink, each against its own server on 127.0.0.1:
//! curl, ffmpeg, OpenCV's `cv2.VideoCapture(url)` with its default backend,
//! and a headless Chromium showing `/` (scripts/chromium_view.py).

mod common;

#[path = "common/serve.rs"]
mod serve;

use common::*;
use serve::*;
use std::process::Command;

const CAPS: &str = "image/jpeg,width=320,height=240,framerate=15/1";

/// A server fed `frames` at 15 fps in a loop until the returned guard drops.
struct Looping {
    served: Served,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    feeder: Option<std::thread::JoinHandle<()>>,
}

impl Looping {
    fn start(frames: Vec<Vec<u8>>) -> Looping {
        let served = Served::start("", CAPS);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (src, s) = (served.src.clone(), stop.clone());
        let feeder = std::thread::spawn(move || {
            for f in frames.iter().cycle() {
                if s.load(std::sync::atomic::Ordering::Relaxed)
                    || src.push_buffer(gst::Buffer::from_slice(f.clone())).is_err()
                {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(66));
            }
        });
        served.wait_received(1);
        Looping {
            served,
            stop,
            feeder: Some(feeder),
        }
    }
}

impl Drop for Looping {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(f) = self.feeder.take() {
            let _ = f.join();
        }
    }
}

#[test]
fn curl_saves_the_stream_and_a_snapshot() {
    let frames = serve::frames(30, 320, 240, "ball");
    let l = Looping::start(frames.clone());
    let dir = TempDir::new("httpsink-curl");
    let out = Command::new("curl")
        .args(["-s", "--max-time", "2", "-o"])
        .arg(dir.path("stream.mjpg"))
        .arg(format!("http://127.0.0.1:{}/stream", l.served.port))
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(28), "curl stops at --max-time");
    let data = std::fs::read(dir.path("stream.mjpg")).unwrap();
    let got = multipart_bodies(&data);
    assert!(got.len() >= 20, "{} frames in 2 s", got.len());
    // Whole frames, in order (the last one may be cut by --max-time).
    let first = frames.iter().position(|f| *f == got[0]).unwrap();
    for (k, g) in got[..got.len() - 1].iter().enumerate() {
        assert_eq!(*g, frames[(first + k) % frames.len()], "frame {k}");
    }
    let status = Command::new("curl")
        .args(["-s", "-f", "-o"])
        .arg(dir.path("snap.jpg"))
        .arg(format!("http://127.0.0.1:{}/snapshot", l.served.port))
        .status()
        .unwrap();
    assert!(status.success());
    let snap = std::fs::read(dir.path("snap.jpg")).unwrap();
    assert!(
        frames.contains(&snap),
        "a snapshot is one of the frames, unchanged"
    );
}

#[test]
fn ffmpeg_reads_the_stream() {
    let frames = serve::frames(30, 320, 240, "ball");
    let l = Looping::start(frames.clone());
    let dir = TempDir::new("httpsink-ffmpeg");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(format!("http://127.0.0.1:{}/stream", l.served.port))
        .args(["-frames:v", "10", "-c", "copy", "-f", "image2"])
        .arg(dir.path("f%02d.jpg"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<Vec<u8>> = (1..=10)
        .map(|k| std::fs::read(dir.path(&format!("f{k:02}.jpg"))).unwrap())
        .collect();
    let first = frames
        .iter()
        .position(|f| *f == got[0])
        .expect("a frame sent");
    for (k, g) in got.iter().enumerate() {
        assert!(
            *g == frames[(first + k) % frames.len()],
            "ffmpeg's frame {k} is the frame sent"
        );
    }
}

#[test]
fn opencv_reads_the_stream_with_its_default_backend() {
    let frames = serve::frames(30, 320, 240, "ball");
    let l = Looping::start(frames);
    let script = format!(
        "import cv2\n\
         cap = cv2.VideoCapture('http://127.0.0.1:{}/stream')\n\
         assert cap.isOpened(), 'not opened'\n\
         print('backend', cap.getBackendName())\n\
         for _ in range(20):\n\
         \x20   ok, frame = cap.read()\n\
         \x20   print(ok, frame.shape if ok else None)\n\
         cap.release()\n",
        l.served.port
    );
    let out = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("True (240, 320, 3)").count(), 20, "{text}");
}

fn chromium(url: &str, dir: &TempDir) -> (Option<i32>, String, String) {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/chromium_view.py"
    ))
    .arg(url)
    .arg(&dir.0)
    .output()
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn chromium_shows_the_page_with_a_moving_picture() {
    let frames = serve::frames(30, 320, 240, "ball");
    let l = Looping::start(frames);
    let dir = TempDir::new("httpsink-chromium");
    let (code, out, err) = chromium(&format!("http://127.0.0.1:{}/", l.served.port), &dir);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("\"natural_width\": 320, \"natural_height\": 240"),
        "{out}"
    );
}

#[test]
fn chromium_shows_a_single_frame_at_once() {
    // Chromium paints a part when the next part's headers come: browsers get
    // them right after each frame, so the only frame there is shows.
    let frames = serve::frames(1, 320, 240, "smpte");
    let s = Served::start("", CAPS);
    s.push(&frames[0]);
    s.wait_received(1);
    let dir = TempDir::new("httpsink-chromium-still");
    let (code, out, err) = chromium(&format!("http://127.0.0.1:{}/", s.port), &dir);
    assert!(
        out.contains("\"natural_width\": 320, \"natural_height\": 240"),
        "{code:?} {out}\n{err}"
    );
    assert!(
        out.contains("\"changed_pixels\": 0"),
        "a still picture: {out}"
    );
}
