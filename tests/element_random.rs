// SPDX-License-Identifier: MIT OR Apache-2.0

//! A property test of the element itself: random pushes (chunk sizes,
//! timestamps, DISCONT), flushes, new segments, property changes, queries
//! and state changes in push mode; random seeks of every kind, queries from
//! another thread and state changes in pull mode. Checked: no panic (no
//! ERROR message), no deadlock (each run finishes under a watchdog), and
//! PTS strictly increasing within each segment downstream.
//!
//! `MJPEGSPLIT_RANDOM_SEED=n` replays one run; `MJPEGSPLIT_RANDOM_RUNS`
//! sets how many seeds are tried (default 40).

mod common;

use common::*;
use gst::prelude::*;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What went downstream, in order.
#[derive(Debug, Clone)]
enum Seen {
    Segment,
    Flush,
    Buffer(Option<gst::ClockTime>),
}

/// Record everything the element's src pad sends.
fn record(pad: &gst::Pad) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    pad.add_probe(
        gst::PadProbeType::BUFFER
            | gst::PadProbeType::EVENT_DOWNSTREAM
            | gst::PadProbeType::EVENT_FLUSH,
        move |_, info| {
            let item = match &info.data {
                Some(gst::PadProbeData::Buffer(b)) => Some(Seen::Buffer(b.pts())),
                Some(gst::PadProbeData::Event(e)) => match e.type_() {
                    gst::EventType::Segment => Some(Seen::Segment),
                    gst::EventType::FlushStop => Some(Seen::Flush),
                    _ => None,
                },
                _ => None,
            };
            if let Some(item) = item {
                s.lock().unwrap().push(item);
            }
            gst::PadProbeReturn::Ok
        },
    );
    seen
}

/// Every buffer has a PTS, strictly increasing between segments/flushes.
fn check_monotonic(seed: u64, seen: &[Seen]) {
    let mut last: Option<gst::ClockTime> = None;
    for (i, s) in seen.iter().enumerate() {
        match s {
            Seen::Segment | Seen::Flush => last = None,
            Seen::Buffer(pts) => {
                let pts = pts.unwrap_or_else(|| panic!("seed {seed}: buffer {i} without PTS"));
                assert!(
                    last.is_none_or(|l| pts > l),
                    "seed {seed}: PTS {pts} after {last:?} at item {i}"
                );
                last = Some(pts);
            }
        }
    }
}

/// A stream mixing raw frames, multipart parts (with and without
/// Content-Length, odd X-Timestamps), HTTP headers and junk.
fn stream(rng: &mut Rng) -> Vec<u8> {
    let frames = split_concatenation(&fixture("gst-jpegenc.mjpg"));
    let mut data = Vec::new();
    let n = 10 + rng.below64(30);
    for k in 0..n {
        let f = &frames[rng.below64(frames.len() as u64) as usize];
        match rng.below64(6) {
            0 => data.extend(f),
            1 => data.extend(
                format!(
                    "--b\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    f.len()
                )
                .as_bytes(),
            ),
            2 => {
                let x = match rng.below64(4) {
                    0 => format!("{}.{:06}", 100 + k / 10, (k % 10) * 100_000),
                    1 => "18446744073.709551615".to_string(),
                    2 => format!("{}", rng.next()),
                    _ => format!("{}.5", rng.below64(5)),
                };
                data.extend(
                    format!("--b\r\nContent-Type: image/jpeg\r\nX-Timestamp: {x}\r\n\r\n")
                        .as_bytes(),
                );
            }
            3 if rng.chance(30) => data.extend(
                b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=b\r\n\r\n",
            ),
            4 => data.extend((0..rng.below64(300)).map(|_| rng.next() as u8)),
            _ => {}
        }
        if data.is_empty() || rng.chance(80) {
            data.extend(f);
            data.extend(b"\r\n");
        }
    }
    data
}

/// Run `f` in a thread; a run that does not finish is a deadlock.
fn with_watchdog(seed: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("seed {seed}: deadlock (no progress in 60 s)")
        }
    }
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("MJPEGSPLIT_RANDOM_SEED") {
        return vec![s.parse().unwrap()];
    }
    let runs = std::env::var("MJPEGSPLIT_RANDOM_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    (1..=runs).collect()
}

fn assert_no_error(seed: u64, bus: &gst::Bus) {
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Error(e) = msg.view()
            // A stream section without a single frame is reported as such.
            && !e.error().matches(gst::StreamError::WrongType)
        {
            panic!("seed {seed}: ERROR {} ({:?})", e.error(), e.debug());
        }
    }
}

#[test]
fn push_mode_random_operations() {
    init();
    for seed in seeds() {
        with_watchdog(seed, move || push_run(seed));
    }
}

fn push_run(seed: u64) {
    let mut rng = Rng::seeded(seed);
    let data = stream(&mut rng);
    let mut h = gst_check::Harness::new("mjpegsplit");
    let element = h.element().unwrap();
    element.set_property("probe-bytes", 0u64);
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    let seen = record(&element.static_pad("src").unwrap());
    h.set_live(rng.chance(30));
    if rng.chance(30) {
        h.use_testclock();
    }
    h.play();
    h.set_src_caps_str(
        [
            "multipart/x-mixed-replace",
            "application/octet-stream",
            "image/jpeg",
        ][rng.below64(3) as usize],
    );
    let mut i = 0;
    let mut pts = 0u64;
    while i < data.len() {
        match rng.below64(100) {
            0..=69 => {
                let max = if rng.chance(20) { 7 } else { 6000 };
                let len = (1 + rng.below64(max) as usize).min(data.len() - i);
                let mut b = gst::Buffer::from_slice(data[i..i + len].to_vec());
                {
                    let b = b.get_mut().unwrap();
                    if rng.chance(50) {
                        pts += rng.below64(100_000_000);
                        b.set_pts(gst::ClockTime::from_nseconds(if rng.chance(5) {
                            rng.below64(1 << 40)
                        } else {
                            pts
                        }));
                    }
                    if rng.chance(3) {
                        b.set_flags(gst::BufferFlags::DISCONT);
                    }
                }
                let _ = h.push(b);
                i += len;
            }
            70..=74 => {
                h.push_event(gst::event::FlushStart::new());
                h.push_event(gst::event::FlushStop::new(true));
                let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
                seg.set_start(gst::ClockTime::from_nseconds(rng.below64(1 << 34)));
                h.push_event(gst::event::Segment::new(&seg));
            }
            75..=79 => {
                if rng.chance(50) {
                    let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
                    seg.set_start(gst::ClockTime::from_nseconds(rng.below64(1 << 34)));
                    seg.set_base(gst::ClockTime::from_nseconds(rng.below64(1 << 34)));
                    h.push_event(gst::event::Segment::new(&seg));
                } else {
                    let seg = gst::FormattedSegment::<gst::format::Bytes>::new();
                    h.push_event(gst::event::Segment::new(&seg));
                }
            }
            80..=84 => {
                let _ = element.property::<gst::Structure>("stats");
                let pad = element.static_pad("src").unwrap();
                let _ = pad.query_position::<gst::ClockTime>();
                let _ = pad.query_duration::<gst::ClockTime>();
                let mut q = gst::query::Latency::new();
                let _ = pad.query(&mut q);
                let mut q = gst::query::Seeking::new(gst::Format::Time);
                let _ = pad.query(&mut q);
            }
            85..=89 => {
                let props: [(&str, &[&str]); 4] = [
                    ("max-frame-size", &["1024", "100000", "16777216"]),
                    ("incomplete-frames", &["repair", "pass", "drop"]),
                    ("framerate", &["0/1", "15/1", "2000/1", "1/1000"]),
                    ("timestamp-mode", &["auto", "framerate", "x-timestamp"]),
                ];
                let (name, values) = props[rng.below64(4) as usize];
                element
                    .set_property_from_str(name, values[rng.below64(values.len() as u64) as usize]);
            }
            90..=92 => {
                let _ = h.push_event(gst::event::Eos::new());
            }
            93..=95 => {
                // Down to PAUSED or READY and back: everything restarts.
                let state = [gst::State::Ready, gst::State::Paused][rng.below64(2) as usize];
                let _ = element.set_state(state);
                let _ = element.set_state(gst::State::Playing);
            }
            _ => {
                h.push_event(gst::event::Eos::new());
                let _ = h.push_upstream_event(gst::event::Seek::new(
                    1.0,
                    gst::SeekFlags::FLUSH,
                    gst::SeekType::Set,
                    gst::ClockTime::ZERO,
                    gst::SeekType::None,
                    gst::ClockTime::NONE,
                ));
            }
        }
        while h.try_pull().is_some() {}
    }
    h.push_event(gst::event::Eos::new());
    while h.try_pull().is_some() {}
    check_monotonic(seed, &seen.lock().unwrap());
    assert_no_error(seed, &bus);
}

#[test]
fn pull_mode_random_seeks_queries_and_state_changes() {
    init();
    let dir = Arc::new(TempDir::new("element-random"));
    for seed in seeds().into_iter().take(pull_runs()) {
        let dir = dir.clone();
        with_watchdog(seed, move || pull_run(seed, &dir));
    }
}

fn pull_run(seed: u64, dir: &TempDir) {
    let mut rng = Rng::seeded(seed);
    let path = dir.path(&format!("rec-{seed}.dat"));
    std::fs::write(&path, stream(&mut rng)).unwrap();
    let sink_props =
        ["sync=false", "sync=true", "sync=false max-buffers=1"][rng.below64(3) as usize];
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={path:?} ! mjpegsplit name=s probe-bytes=0 ! appsink name=out {sink_props}"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let split = pipeline.by_name("s").unwrap();
    let seen = record(&split.static_pad("src").unwrap());
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    // Another thread asks questions all along.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asker = {
        let (split, stop) = (split.clone(), stop.clone());
        std::thread::spawn(move || {
            let pad = split.static_pad("src").unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = split.property::<gst::Structure>("stats");
                let _ = pad.query_position::<gst::ClockTime>();
                let _ = pad.query_duration::<gst::ClockTime>();
                let mut q = gst::query::Convert::new(
                    gst::ClockTime::from_mseconds(500),
                    gst::Format::Bytes,
                );
                let _ = pad.query(&mut q);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    pipeline.set_state(gst::State::Paused).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    for _ in 0..12 {
        match rng.below64(10) {
            0..=5 => {
                let mut flags = gst::SeekFlags::empty();
                for f in [
                    gst::SeekFlags::FLUSH,
                    gst::SeekFlags::KEY_UNIT,
                    gst::SeekFlags::ACCURATE,
                    gst::SeekFlags::SEGMENT,
                    gst::SeekFlags::SNAP_BEFORE,
                    gst::SeekFlags::SNAP_AFTER,
                ] {
                    if rng.chance(40) {
                        flags |= f;
                    }
                }
                if flags.intersects(gst::SeekFlags::SNAP_BEFORE | gst::SeekFlags::SNAP_AFTER) {
                    // GStreamer ignores SNAP flags without KEY_UNIT, with a warning.
                    flags |= gst::SeekFlags::KEY_UNIT;
                }
                let t = |rng: &mut Rng| gst::ClockTime::from_mseconds(rng.below64(3000));
                let types = [gst::SeekType::Set, gst::SeekType::None, gst::SeekType::End];
                let (st, sp) = (
                    types[rng.below64(3) as usize],
                    types[rng.below64(3) as usize],
                );
                let rate = [1.0, 2.0, 0.5, -1.0][rng.below64(4) as usize];
                let (a, b) = (t(&mut rng), t(&mut rng));
                let _ = pipeline.seek(rate, flags, st, a, sp, b);
            }
            6 | 7 => {
                let state = [gst::State::Playing, gst::State::Paused, gst::State::Ready]
                    [rng.below64(3) as usize];
                let _ = pipeline.set_state(state);
            }
            _ => {}
        }
        // Take a few frames (appsink may be blocked on max-buffers).
        for _ in 0..rng.below64(8) {
            if sink
                .try_pull_sample(gst::ClockTime::from_mseconds(20))
                .is_none()
            {
                break;
            }
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    asker.join().unwrap();
    check_monotonic(seed, &seen.lock().unwrap());
    assert_no_error(seed, &pipeline.bus().unwrap());
}

/// Pull runs are slower (pipelines, a sink): half as many.
fn pull_runs() -> usize {
    seeds().len().div_ceil(2)
}
