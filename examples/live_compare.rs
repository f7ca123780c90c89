// SPDX-License-Identifier: MIT OR Apache-2.0

//! Compare mjpegsplit, multipartdemux and jpegparse on live HTTP MJPEG served
//! by the test camera on 127.0.0.1:
//!
//! * a bursting server (4 frames per TCP write, with Content-Length): how many
//!   frames come out without a PTS, or with a PTS not after the previous one
//!   (souphttpsrc do-timestamp=true, as the multipartdemux docs advise);
//! * a server without Content-Length that writes each part's boundary when the
//!   part starts, one frame every 200 ms: the delay from the server writing a
//!   frame's last byte to the frame leaving the element.
//!
//! ```text
//! cargo run --release --example live_compare
//! ```

#[path = "../tests/common/camera.rs"]
mod camera;

use camera::{Camera, Config, Framing};
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn frames() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    ["gray.jpg", "rgb.jpg", "exif-thumb.jpg", "progressive.jpg"]
        .iter()
        .map(|n| std::fs::read(dir.join(n)).expect("fixture"))
        .collect()
}

/// Frames out of `element` for the stream at `url`: (PTS, time out).
fn run(element: &str, url: &str) -> Vec<(Option<gst::ClockTime>, Instant)> {
    let pipeline = gst::parse::launch(&format!(
        "souphttpsrc location={url} is-live=true do-timestamp=true ! {element} ! appsink name=out sync=false"
    ))
    .expect("pipeline")
    .downcast::<gst::Bin>()
    .expect("bin");
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let pts = sample.buffer().and_then(|b| b.pts());
                g.lock().unwrap().push((pts, Instant::now()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).expect("play");
    let bus = pipeline.bus().expect("bus");
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                eprintln!("{element}: {}", e.error());
                break;
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    std::mem::take(&mut *got.lock().unwrap())
}

fn main() {
    gst::init().expect("init");
    gstmjpegsplit::plugin_register_static().expect("register");
    println!(
        "| element | burst: frames out | PTS missing | PTS not increasing | no-CL: frames out | delay median | delay max |"
    );
    println!("|---|---|---|---|---|---|---|");
    for element in ["mjpegsplit", "multipartdemux", "jpegparse"] {
        let burst = Config {
            framing: Framing::Axis,
            frames: 40,
            burst: 4,
            interval: Duration::from_millis(100),
            ..Default::default()
        };
        let cam = Camera::start(burst, frames(), None);
        let out = run(element, &cam.url());
        drop(cam);
        let missing = out.iter().filter(|(p, _)| p.is_none()).count();
        let mut not_increasing = 0;
        let mut last = None;
        for (p, _) in &out {
            if let Some(p) = p {
                if last.is_some_and(|l| *p <= l) {
                    not_increasing += 1;
                }
                last = Some(*p);
            }
        }

        let slow = Config {
            framing: Framing::NoLengthBoundaryFirst,
            frames: 10,
            interval: Duration::from_millis(200),
            ..Default::default()
        };
        let cam = Camera::start(slow, frames(), None);
        let out2 = run(element, &cam.url());
        let sent = cam.sent.lock().unwrap().clone();
        drop(cam);
        let mut delays: Vec<f64> = out2
            .iter()
            .zip(&sent)
            .map(|((_, at), s)| at.saturating_duration_since(*s).as_secs_f64() * 1000.0)
            .collect();
        delays.sort_by(|a, b| a.total_cmp(b));
        let median = delays.get(delays.len() / 2).copied().unwrap_or(f64::NAN);
        let max = delays.last().copied().unwrap_or(f64::NAN);
        println!(
            "| {element} | {}/40 | {missing} | {not_increasing} | {}/10 | {median:.1} ms | {max:.1} ms |",
            out.len(),
            out2.len()
        );
    }
}
