// SPDX-License-Identifier: MIT OR Apache-2.0

//! Issue 12, point 2: a camera URL read the way most people write it
//! (`souphttpsrc location=… ! mjpegsplit`, without `is-live=true`, so the
//! pipeline is not live) plays at the camera's rate: a sink that drops late
//! frames renders at least 90 % of them. Also `mjpeghttpsrc` (live) for
//! comparison. The test camera on 127.0.0.1 sends 15 frames per second.

mod common;

#[path = "common/camera.rs"]
mod camera;

use camera::{Camera, Config, Framing};
use common::*;
use gst::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const FRAMES: usize = 45;

/// Frames rendered by `fakesink sync=true max-lateness=20ms` behind `source`.
fn rendered(source: &str) -> usize {
    init();
    let cam = Camera::start(
        Config {
            framing: Framing::Axis,
            frames: FRAMES,
            interval: Duration::from_millis(66),
            ..Default::default()
        },
        vec![fixture("gray.jpg"), fixture("rgb.jpg")],
        None,
    );
    let desc = format!(
        "{} ! jpegdec ! fakesink name=out sync=true max-lateness=20000000 signal-handoffs=true",
        source.replace("URL", &cam.url())
    );
    let pipeline = gst::parse::launch(&desc).unwrap();
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("out")
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    sink.connect("handoff", false, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        None
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline && cam.jpegs.lock().unwrap().len() < FRAMES {
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => panic!("{}", e.error()),
                _ => {}
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    pipeline.set_state(gst::State::Null).unwrap();
    let n = count.load(Ordering::SeqCst);
    eprintln!("{source}: {n} of {FRAMES} frames rendered");
    n
}

#[test]
fn mjpeghttpsrc_renders_every_frame() {
    let n = rendered("mjpeghttpsrc location=URL");
    assert!(n * 10 >= FRAMES * 9, "{n} of {FRAMES}");
}

/// Point 2 of issue 12 (the splitter's timestamps in a non-live pipeline).
/// Fails before that change (3 of 45 rendered): run with `--ignored`.
#[test]
#[ignore = "issue 12 point 2: needs mjpegsplit's non-live HTTP timestamps (lead)"]
fn non_live_souphttpsrc_renders_at_the_camera_rate() {
    let n = rendered("souphttpsrc location=URL ! mjpegsplit");
    assert!(n * 10 >= FRAMES * 9, "{n} of {FRAMES}");
}
