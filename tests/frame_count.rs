// SPDX-License-Identifier: MIT OR Apache-2.0

//! The duration in frames (DEFAULT format) is answered for files, so that
//! OpenCV's `CAP_PROP_FRAME_COUNT` is the number of frames, not -1.

mod common;

use common::*;
use gst::prelude::*;

fn recording(dir: &TempDir, frames: usize) -> std::path::PathBuf {
    let path = dir.path("rec.mjpg");
    let jpegs = [fixture("gray.jpg"), fixture("rgb.jpg")];
    let data: Vec<u8> = (0..frames).flat_map(|k| jpegs[k % 2].clone()).collect();
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn the_duration_in_frames_is_the_frame_count() {
    init();
    let dir = TempDir::new("frame-count");
    let path = recording(&dir, 37);
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={path:?} ! mjpegsplit ! fakesink"
    ))
    .unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    let frames = pipeline.query_duration::<gst::format::Default>();
    let time = pipeline.query_duration::<gst::ClockTime>();
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(frames.map(|f| *f), Some(37));
    // 37 frames at the assumed 30/1.
    assert_eq!(time.map(|t| t.useconds()), Some(1_233_333));
}

#[test]
fn opencv_counts_the_frames_of_a_file() {
    let has_cv = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import cv2"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_cv && std::env::var_os("CI").is_none() {
        eprintln!("python3-opencv not installed: skipped (CI installs it)");
        return;
    }
    let dir = TempDir::new("frame-count-cv");
    let path = recording(&dir, 37);
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    let script = format!(
        "import cv2\n\
         cap = cv2.VideoCapture('filesrc location={} ! mjpegsplit ! jpegdec ! videoconvert ! \
         video/x-raw,format=BGR ! appsink sync=false', cv2.CAP_GSTREAMER)\n\
         print(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))\n\
         n = 0\n\
         while cap.read()[0]:\n    n += 1\n\
         print(n)\n",
        path.display()
    );
    let out = std::process::Command::new("timeout")
        .args(["60", "/usr/bin/python3", "-c", &script])
        .env("GST_PLUGIN_PATH", &plugin)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["37", "37"],
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
