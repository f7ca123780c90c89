// SPDX-License-Identifier: MIT OR Apache-2.0

//! Defaults that agree: `probe-bytes` (8 MiB) is below `max-frame-size`
//! (16 MiB), and a frame in progress within `max-frame-size` never counts
//! against it, so a stream of 13 MB frames (a timelapse of big photos) is
//! MJPEG, pulled and pushed; and when every frame seen was too large, the
//! error says so, not "not an MJPEG stream".

mod common;

use common::*;
use gst::prelude::*;

/// A decodable JPEG of about 13.1 MB: `gray.jpg` with 200 full comment
/// segments after its SOI.
fn big_jpeg() -> Vec<u8> {
    let gray = fixture("gray.jpg");
    let mut v = gray[..2].to_vec();
    for k in 0..200u32 {
        v.extend([0xFF, 0xFE, 0xFF, 0xFF]);
        v.extend(std::iter::repeat_n(b'a' + (k % 26) as u8, 65533));
    }
    v.extend(&gray[2..]);
    v
}

/// Run `desc` (a source, `mjpegsplit name=split`, an appsink named `sink`)
/// to its end: the frames' sizes and the first error, if any.
fn run(desc: &str) -> (Vec<usize>, Option<String>) {
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
    let mut sizes = Vec::new();
    let mut error = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Until the end of the stream or an error (which ends no appsink).
    while error.is_none() && !sink.is_eos() && std::time::Instant::now() < deadline {
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
            sizes.push(sample.buffer().map_or(0, |b| b.size()));
        }
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(e) = msg.view() {
                error.get_or_insert(e.error().to_string());
            }
        }
    }
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::ZERO) {
        sizes.push(sample.buffer().map_or(0, |b| b.size()));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    (sizes, error)
}

#[test]
fn frames_bigger_than_probe_bytes_are_mjpeg() {
    let dir = TempDir::new("big-frames");
    let big = big_jpeg();
    assert!(big.len() > 13_000_000);
    let path = dir.path("timelapse.mjpg");
    std::fs::write(&path, big.repeat(2)).unwrap();
    for (mode, src) in [
        ("pulled", format!("filesrc location={path:?}")),
        (
            "pushed",
            format!("filesrc location={path:?} blocksize=65536 ! queue"),
        ),
    ] {
        let (sizes, error) = run(&format!(
            "{src} ! mjpegsplit name=split ! appsink name=sink sync=false"
        ));
        assert_eq!(error, None, "{mode}");
        assert_eq!(sizes, vec![big.len(), big.len()], "{mode}");
    }
}

#[test]
fn only_too_large_frames_say_so() {
    let dir = TempDir::new("too-large");
    let path = dir.path("timelapse.mjpg");
    std::fs::write(&path, big_jpeg().repeat(2)).unwrap();
    for (mode, src) in [
        ("pulled", format!("filesrc location={path:?}")),
        (
            "pushed",
            format!("filesrc location={path:?} blocksize=65536 ! queue"),
        ),
    ] {
        let (sizes, error) = run(&format!(
            "{src} ! mjpegsplit name=split max-frame-size=4194304 ! appsink name=sink sync=false"
        ));
        assert!(sizes.is_empty(), "{mode}: {sizes:?}");
        let error = error.unwrap_or_default();
        assert!(
            error.contains("larger than max-frame-size (4194304 bytes)")
                && !error.contains("not an MJPEG stream"),
            "{mode}: {error}"
        );
    }
}
