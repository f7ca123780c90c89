// SPDX-License-Identifier: MIT OR Apache-2.0

//! A property test of `mjpeghttpsrc` as applications drive it: random state
//! changes, EOS, flushing seeks and flushes, queries, an application that
//! stops pulling (a blocking appsink) or pulls slowly, and a camera on
//! 127.0.0.1 that drops, stalls and restarts on its port. Checked: every
//! step returns (a watchdog thread fails the run on a hang) and no ERROR
//! reaches the bus (nothing here is fatal: the URL is good, max-retries is
//! -1).
//!
//! `MJPEGHTTPSRC_RANDOM_SEED=n` replays one run; `MJPEGHTTPSRC_RANDOM_RUNS`
//! sets how many seeds are tried (default 4, a few seconds; 200 pass under
//! G_DEBUG=fatal_warnings); `MJPEGHTTPSRC_RANDOM_TRACE=1` prints each
//! operation drawn.

mod common;

#[path = "common/camera.rs"]
mod camera;
#[path = "common/watch.rs"]
mod watch;

use camera::{Camera, Config, Framing};
use common::*;
use gst::prelude::*;
use std::time::Duration;
use watch::{Watched, within};

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("MJPEGHTTPSRC_RANDOM_SEED") {
        return vec![s.parse().unwrap()];
    }
    let runs = std::env::var("MJPEGHTTPSRC_RANDOM_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4);
    (1..=runs).collect()
}

fn camera(rng: &mut Rng, port: Option<u16>) -> Camera {
    let framing =
        [Framing::Axis, Framing::MjpgStreamer, Framing::NoLength][rng.below64(3) as usize];
    let jpegs = ["gray.jpg", "rgb.jpg", "exif-thumb.jpg"]
        .iter()
        .map(|n| fixture(n))
        .collect();
    Camera::start(
        Config {
            framing,
            frames: 5 + rng.below64(60) as usize,
            connections: 1000,
            interval: Duration::from_millis(30 + rng.below64(40)),
            stall_after: rng.chance(30).then(|| rng.below64(4) as usize),
            port,
            ..Default::default()
        },
        jpegs,
        None,
    )
}

#[test]
fn random_operations_never_hang_or_fail() {
    init();
    for seed in seeds() {
        eprintln!("seed {seed}");
        within(
            &format!("seed {seed}: the run"),
            Duration::from_secs(120),
            move || run(seed),
        );
    }
}

fn run(seed: u64) {
    let mut rng = Rng::seeded(seed);
    let mut cam = Some(camera(&mut rng, None));
    let port = cam.as_ref().unwrap().port;
    let sink = [
        "appsink name=out max-buffers=1 drop=false sync=false",
        "appsink name=out max-buffers=1 drop=true sync=false",
        "appsink name=out max-buffers=2 sync=true",
    ][rng.below64(3) as usize];
    let middle = ["", "queue max-size-buffers=2 ! ", "identity ! "][rng.below64(3) as usize];
    let stall = 300 + rng.below64(700);
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location=http://127.0.0.1:{port}/v retry-delay=50000000 \
         max-retry-delay=200000000 stall-timeout={}000000 ! {middle}{sink}",
        stall
    ));
    let appsink = w
        .pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let step = |what: &str, f: Box<dyn FnOnce() + Send>| {
        within(&format!("seed {seed}: {what}"), Duration::from_secs(20), f);
    };
    for _ in 0..12 {
        let p = w.pipeline.clone();
        let op = rng.below64(100);
        if std::env::var_os("MJPEGHTTPSRC_RANDOM_TRACE").is_some() {
            eprintln!("op {op}");
        }
        match op {
            0..=19 => {
                let state = [
                    gst::State::Null,
                    gst::State::Ready,
                    gst::State::Paused,
                    gst::State::Playing,
                    gst::State::Playing,
                ][rng.below64(5) as usize];
                step(
                    &format!("set_state({state:?})"),
                    Box::new(move || {
                        let _ = p.set_state(state);
                    }),
                );
            }
            20..=27 => step(
                "send_event(EOS)",
                Box::new(move || {
                    p.send_event(gst::event::Eos::new());
                }),
            ),
            28..=33 => step(
                "a flushing seek",
                Box::new(move || {
                    let _ = p.seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::ZERO);
                }),
            ),
            34..=38 => step(
                "flush-start, flush-stop",
                Box::new(move || {
                    p.send_event(gst::event::FlushStart::new());
                    p.send_event(gst::event::FlushStop::new(true));
                }),
            ),
            39..=45 => step(
                "queries and stats",
                Box::new(move || {
                    let mut q = gst::query::Latency::new();
                    let _ = p.query(&mut q);
                    let _ = p.query_position::<gst::ClockTime>();
                    let src = p.by_name("src").unwrap();
                    let _ = src.property::<gst::Structure>("stats");
                }),
            ),
            46..=57 => {
                // The camera goes away (and maybe comes back at once).
                if let Some(c) = cam.take() {
                    step("camera stop", Box::new(move || c.stop()));
                }
                if rng.chance(50) {
                    cam = Some(camera(&mut rng, Some(port)));
                }
            }
            58..=64 => {
                if cam.is_none() {
                    cam = Some(camera(&mut rng, Some(port)));
                }
            }
            65..=74 => {
                // The application does not pull for a while.
                std::thread::sleep(Duration::from_millis(rng.below64(900)));
            }
            _ => {
                for _ in 0..rng.below64(6) {
                    let _ = appsink.try_pull_sample(gst::ClockTime::from_mseconds(40));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below64(150)));
    }
    let p = w.pipeline.clone();
    step(
        "set_state(NULL) at the end",
        Box::new(move || {
            let _ = p.set_state(gst::State::Null);
        }),
    );
    let errors = w.errors();
    assert!(errors.is_empty(), "seed {seed}: {errors:?}");
    drop(w);
    if let Some(c) = cam {
        c.stop();
    }
}
