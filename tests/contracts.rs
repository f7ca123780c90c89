// SPDX-License-Identifier: MIT OR Apache-2.0

//! GStreamer's contracts, kept by the element: no panic or deadlock from any
//! input or bus handler, seeks of every kind, segments, X-Timestamp timing,
//! any frame rate, memory per frame, caps. One test per defect found.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const MS: u64 = 1_000_000;

fn frames() -> Vec<Vec<u8>> {
    split_concatenation(&fixture("gst-jpegenc.mjpg"))
}

/// A multipart recording whose parts carry the given X-Timestamp values.
fn multipart_with(x_timestamps: &[String]) -> Vec<u8> {
    let f = frames();
    let mut data = Vec::new();
    for (k, x) in x_timestamps.iter().enumerate() {
        let jpeg = &f[k % f.len()];
        data.extend(
            format!(
                "--b\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {x}\r\n\r\n",
                jpeg.len()
            )
            .as_bytes(),
        );
        data.extend(jpeg);
        data.extend(b"\r\n");
    }
    data
}

/// Seconds with microseconds, as cameras write X-Timestamp.
fn secs(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
}

fn push_harness(props: &[(&str, &str)]) -> Harness {
    common::push_harness(props, "multipart/x-mixed-replace")
}

fn push_all(h: &mut Harness, data: &[u8], chunk: usize) -> Vec<gst::Buffer> {
    for c in data.chunks(chunk) {
        h.push(gst::Buffer::from_slice(c.to_vec())).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    std::iter::from_fn(|| h.try_pull()).collect()
}

fn pts_ms(out: &[gst::Buffer]) -> Vec<u64> {
    out.iter().map(|b| b.pts().unwrap().mseconds()).collect()
}

#[test]
fn odd_x_timestamps_are_never_fatal() {
    for mode in ["auto", "x-timestamp", "framerate"] {
        let xs: Vec<String> = [
            "1.0",
            "18446744073.709551615",
            "99999999999999999999.9",
            "4611686018.427387904",
            "2.0",
            "-5",
            "1e12",
            "3.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut h = push_harness(&[("timestamp-mode", mode)]);
        let out = push_all(&mut h, &multipart_with(&xs), 777);
        assert_eq!(out.len(), xs.len(), "{mode}");
        assert!(out.windows(2).all(|w| w[0].pts() < w[1].pts()), "{mode}");
        // A value that is no time is no meta either.
        let metas = out
            .iter()
            .filter(|b| b.meta::<gst::meta::ReferenceTimestampMeta>().is_some())
            .count();
        assert_eq!(metas, 4, "{mode}");
    }
}

#[test]
fn x_timestamp_jumps_are_reanchored() {
    // 12.5 fps: uptime clock, a reboot, an SNTP step to the wall clock.
    let mut xs = Vec::new();
    for k in 0..5u64 {
        xs.push(secs(600_000 * MS + k * 80 * MS));
    }
    for k in 0..5u64 {
        xs.push(secs(2_000 * MS + k * 80 * MS));
    }
    for k in 0..5u64 {
        xs.push(secs(1_764_000_000_000 * MS + k * 80 * MS));
    }
    for mode in ["auto", "x-timestamp"] {
        let mut h = push_harness(&[("timestamp-mode", mode)]);
        let out = push_all(&mut h, &multipart_with(&xs), 4096);
        let expected: Vec<u64> = (0..15).map(|k| k * 80).collect();
        assert_eq!(pts_ms(&out), expected, "{mode}");
        let stats = h.element().unwrap().property::<gst::Structure>("stats");
        assert_eq!(stats.get::<u64>("clock-jumps").unwrap(), 2);
        // Once an interval was seen, durations follow the camera's.
        assert!(
            out[1..]
                .iter()
                .all(|b| b.duration() == Some(gst::ClockTime::from_mseconds(80)))
        );
    }
}

/// A live camera whose clock runs 1 % slow against the pipeline clock: the
/// PTS never fall behind the arrival times (a syncing sink would drop
/// those frames) and stay close to them.
#[test]
fn x_timestamp_live_follows_a_drifting_camera_clock() {
    init();
    let mut h = Harness::new("mjpegsplit");
    h.element()
        .unwrap()
        .set_property_from_str("timestamp-mode", "x-timestamp");
    h.use_testclock();
    h.play();
    h.set_src_caps_str("multipart/x-mixed-replace");
    let clock = h.testclock().unwrap();
    let n = 300u64;
    let xs: Vec<String> = (0..n)
        .map(|k| secs(500 * 1000 * MS + k * 80 * MS))
        .collect();
    let data = multipart_with(&xs);
    let bodies = multipart_bodies(&data);
    let mut offset = 0;
    let mut worst_early = 0u64;
    let mut last = None;
    for (k, body) in bodies.iter().enumerate() {
        // Each part arrives whole, 80.8 ms after the previous one.
        let arrival = k as u64 * 80_800_000;
        clock.set_time(gst::ClockTime::from_nseconds(arrival));
        let end = offset + memchr_find(&data[offset..], body).unwrap() + body.len();
        let mut b = gst::Buffer::from_slice(data[offset..end].to_vec());
        b.get_mut().unwrap().set_pts(gst::ClockTime::NONE);
        h.push(b).unwrap();
        offset = end;
        let out = h.pull().unwrap();
        let pts = out.pts().unwrap().nseconds();
        assert!(
            pts >= arrival,
            "frame {k} stamped {pts} before its arrival {arrival}"
        );
        if k > 10 {
            worst_early = worst_early.max(pts - arrival);
        }
        assert!(last.is_none_or(|l| pts > l));
        last = Some(pts);
    }
    assert!(worst_early < 10 * MS, "{worst_early}");
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn rates_above_1000_fps() {
    let data = fixture("gst-jpegenc.mjpg");
    let mut h = push_harness(&[("framerate", "2000/1")]);
    h.set_src_caps_str("application/octet-stream");
    let out = push_all(&mut h, &data, 100_000);
    assert!(out.len() >= 5);
    for (k, b) in out.iter().enumerate() {
        assert_eq!(b.pts().unwrap().nseconds(), k as u64 * 500_000);
        assert_eq!(b.duration().unwrap().nseconds(), 500_000);
    }
}

/// Clips played one after another (concat): each new TIME segment keeps
/// its own timestamps.
#[test]
fn new_segment_without_flush_keeps_its_timestamps() {
    init();
    let f = frames();
    let mut h = Harness::new("mjpegsplit");
    h.set_live(false);
    h.play();
    h.set_src_caps_str("image/jpeg");
    let mut got = Vec::new();
    for clip in 0..2u64 {
        let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
        seg.set_base(gst::ClockTime::from_seconds(clip));
        h.push_event(gst::event::Segment::new(&seg));
        for k in 0..10u64 {
            let mut b = gst::Buffer::from_slice(f[k as usize % f.len()].clone());
            b.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(k * 100));
            h.push(b).unwrap();
        }
    }
    h.push_event(gst::event::Eos::new());
    while let Some(b) = h.try_pull() {
        got.push(b.pts().unwrap().mseconds());
    }
    let clip: Vec<u64> = (0..10).map(|k| k * 100).collect();
    assert_eq!(got, [clip.clone(), clip].concat());
}

/// An application that reads `stats` from a bus sync handler while the
/// element posts its error (not MJPEG) or warning (empty stream).
#[test]
fn bus_sync_handler_reading_stats_does_not_deadlock() {
    init();
    let dir = TempDir::new("contracts-sync");
    let html = dir.path("page.html");
    std::fs::write(&html, b"<!DOCTYPE html><html>camera</html>".repeat(2000)).unwrap();
    let empty = dir.path("empty");
    std::fs::write(&empty, b"").unwrap();
    for (path, mode) in [
        (&html, "pull"),
        (&html, "push"),
        (&empty, "pull"),
        (&empty, "push"),
    ] {
        let queue = if mode == "push" { "! queue " } else { "" };
        let pipeline = gst::parse::launch(&format!(
            "filesrc location={path:?} {queue}! mjpegsplit name=s probe-bytes=4096 ! fakesink"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let split = pipeline.by_name("s").unwrap();
        let reads = Arc::new(AtomicUsize::new(0));
        let r = reads.clone();
        pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
            if matches!(
                msg.view(),
                gst::MessageView::Error(_) | gst::MessageView::Warning(_)
            ) {
                let _ = split.property::<gst::Structure>("stats");
                r.fetch_add(1, Ordering::SeqCst);
            }
            gst::BusSyncReply::Pass
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let msg = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(10),
                &[gst::MessageType::Error, gst::MessageType::Eos],
            )
            .expect("no deadlock");
        if path == &html {
            let gst::MessageView::Error(e) = msg.view() else {
                panic!("{mode}: {msg:?}")
            };
            assert!(e.error().message().contains("HTML page"), "{}", e.error());
            // What a person reads carries no source location.
            let debug = e.debug().unwrap_or_default();
            assert!(!debug.contains(".rs("), "{debug}");
            assert!(debug.contains("bytes-in="), "{debug}");
        } else {
            assert_eq!(msg.type_(), gst::MessageType::Eos, "{mode}");
        }
        assert!(reads.load(Ordering::SeqCst) >= 1, "{mode}");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}

/// A file of `n` frames at 12.5 fps (X-Timestamp every 80 ms).
fn recording(dir: &TempDir, n: u64) -> std::path::PathBuf {
    let xs: Vec<String> = (0..n)
        .map(|k| secs(1_000 * 1000 * MS + k * 80 * MS))
        .collect();
    let path = dir.path("camera-recording.bin");
    std::fs::write(&path, multipart_with(&xs)).unwrap();
    path
}

fn pull_harness(path: &std::path::Path) -> Harness {
    init();
    let mut h = Harness::new_parse(&format!("filesrc location={path:?} ! mjpegsplit"));
    h.play();
    h
}

/// What an appsink sample held (samples are not kept: GStreamer 1.22's
/// appsink reuses its sample object and asserts nobody else holds it).
struct Got {
    buffer: gst::Buffer,
    segment: gst::FormattedSegment<gst::ClockTime>,
    caps: Option<gst::Caps>,
}

fn got(s: gst::Sample) -> Got {
    Got {
        buffer: s.buffer_owned().unwrap(),
        segment: s
            .segment()
            .unwrap()
            .downcast_ref::<gst::ClockTime>()
            .unwrap()
            .clone(),
        caps: s.caps_owned(),
    }
}

/// Samples until the stream pauses (EOS or SEGMENT_DONE), and which.
fn pull_to_end(pipeline: &gst::Pipeline, sink: &gst_app::AppSink) -> (Vec<Got>, gst::MessageType) {
    let mut samples = Vec::new();
    while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_mseconds(500)) {
        samples.push(got(s));
    }
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(5),
            &[
                gst::MessageType::Eos,
                gst::MessageType::SegmentDone,
                gst::MessageType::Error,
            ],
        )
        .expect("end of segment");
    (samples, msg.type_())
}

fn sample_ms(samples: &[Got]) -> Vec<u64> {
    samples
        .iter()
        .map(|s| s.buffer.pts().unwrap().mseconds())
        .collect()
}

#[test]
fn file_duration_and_seeking_follow_x_timestamp() {
    let dir = TempDir::new("contracts-xts-file");
    // 125 frames at 12.5 fps: 10 s (counting at 30/1 would say 4.17 s).
    let path = recording(&dir, 125);
    let (pipeline, sink) = appsink_pipeline(&path);
    let first = got(sink.pull_sample().unwrap());
    assert_eq!(
        pipeline.query_duration::<gst::ClockTime>(),
        Some(gst::ClockTime::from_seconds(10))
    );
    let caps = first.caps.unwrap();
    assert_eq!(
        caps.structure(0)
            .unwrap()
            .get::<gst::Fraction>("framerate")
            .unwrap(),
        gst::Fraction::new(25, 2)
    );
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(5_030),
            gst::SeekType::None,
            gst::ClockTime::NONE,
        )
        .unwrap();
    let (out, end) = pull_to_end(&pipeline, &sink);
    assert_eq!(end, gst::MessageType::Eos);
    assert_eq!(out.len(), 125 - 62);
    let b = &out[0].buffer;
    assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(4_960)));
    let part = gst::meta::CustomMeta::from_buffer(b, gstmjpegsplit::PART_META).unwrap();
    assert_eq!(
        part.structure().get::<&str>("x-timestamp").unwrap(),
        secs(1_000 * 1000 * MS + 62 * 80 * MS)
    );
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn seeks_of_every_kind() {
    let dir = TempDir::new("contracts-seeks");
    let path = recording(&dir, 50); // 4 s
    let t = gst::ClockTime::from_mseconds;
    // Snapping: frames at 0, 80, 160 ms...; target 1010 ms lies in frame 12 (960 ms).
    for (flags, first) in [
        (gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE, 960),
        (gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_AFTER, 1040),
        (
            gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_NEAREST,
            1040,
        ),
        (gst::SeekFlags::KEY_UNIT, 960),
        (gst::SeekFlags::ACCURATE, 960),
    ] {
        let (pipeline, sink) = appsink_pipeline(&path);
        sink.pull_sample().unwrap();
        pipeline
            .seek(
                1.0,
                gst::SeekFlags::FLUSH | flags,
                gst::SeekType::Set,
                t(1010),
                gst::SeekType::Set,
                t(2000),
            )
            .unwrap();
        let (out, end) = pull_to_end(&pipeline, &sink);
        assert_eq!(end, gst::MessageType::Eos, "{flags:?}");
        let seg = out[0].segment.clone();
        let expected_start = if flags.contains(gst::SeekFlags::ACCURATE) {
            1010
        } else {
            first
        };
        assert_eq!(seg.start(), Some(t(expected_start)), "{flags:?}");
        let pts = sample_ms(&out);
        assert_eq!(pts[0], first, "{flags:?}");
        // The stop is honoured frame by frame: nothing at or after 2 s.
        assert_eq!(*pts.last().unwrap(), 1920, "{flags:?}");
        pipeline.set_state(gst::State::Null).unwrap();
    }

    // A segment seek ends with SEGMENT_DONE, not EOS; looping with a
    // non-flushing segment seek goes on seamlessly.
    let (pipeline, sink) = appsink_pipeline(&path);
    sink.pull_sample().unwrap();
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::SEGMENT,
            gst::SeekType::Set,
            t(800),
            gst::SeekType::Set,
            t(1600),
        )
        .unwrap();
    let (out, end) = pull_to_end(&pipeline, &sink);
    assert_eq!(end, gst::MessageType::SegmentDone);
    assert_eq!(
        sample_ms(&out),
        (10..20).map(|k| k * 80).collect::<Vec<_>>()
    );
    assert!(!sink.is_eos());
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::SEGMENT,
            gst::SeekType::Set,
            t(0),
            gst::SeekType::Set,
            t(400),
        )
        .unwrap();
    let (out, end) = pull_to_end(&pipeline, &sink);
    assert_eq!(end, gst::MessageType::SegmentDone);
    assert_eq!(sample_ms(&out), vec![0, 80, 160, 240, 320]);
    pipeline.set_state(gst::State::Null).unwrap();

    // Only the stop, or only the rate, changes (start NONE): playback goes
    // on from the position, not from the previous seek target.
    for (rate, stop, last) in [(1.0, Some(1000), 960), (2.0, None, 3920)] {
        let (pipeline, sink) = appsink_pipeline(&path);
        for _ in 0..5 {
            sink.pull_sample().unwrap();
        }
        pipeline
            .seek(
                rate,
                gst::SeekFlags::FLUSH,
                gst::SeekType::None,
                gst::ClockTime::NONE,
                if stop.is_some() {
                    gst::SeekType::Set
                } else {
                    gst::SeekType::None
                },
                stop.map(t),
            )
            .unwrap();
        let samples: Vec<Got> = std::iter::from_fn(|| {
            sink.try_pull_sample(gst::ClockTime::from_seconds(5))
                .map(got)
        })
        .collect();
        let pts: Vec<u64> = samples
            .iter()
            .map(|s| s.buffer.pts().unwrap().mseconds())
            .collect();
        let segment = samples.last().unwrap().segment.clone();
        assert!(
            pts[0] >= 5 * 80 && pts[0] <= 10 * 80,
            "rate {rate}: restarted at {}",
            pts[0]
        );
        assert_eq!(*pts.last().unwrap(), last, "rate {rate}");
        assert_eq!(segment.rate(), rate);
        pipeline.set_state(gst::State::Null).unwrap();
    }
}

fn appsink_pipeline(path: &std::path::Path) -> (gst::Pipeline, gst_app::AppSink) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={path:?} ! mjpegsplit name=split ! appsink name=out sync=false max-buffers=1"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    (pipeline, sink)
}

/// The task pushes one frame per iteration: a non-flushing seek waits for
/// at most the frame being pushed, not a whole read block.
#[test]
fn non_flushing_seek_waits_for_one_frame_at_most() {
    let dir = TempDir::new("contracts-nonflush");
    let path = recording(&dir, 200);
    let (pipeline, sink) = appsink_pipeline(&path);
    sink.pull_sample().unwrap();
    // Old-segment frames the element pushes once the seek has reached it.
    let src = pipeline
        .by_name("split")
        .unwrap()
        .static_pad("src")
        .unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let late = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    src.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && ev.type_() == gst::EventType::Seek
        {
            s.store(1, Ordering::SeqCst);
        }
        gst::PadProbeReturn::Ok
    });
    let (s, l) = (seen.clone(), late.clone());
    src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(gst::PadProbeData::Buffer(b)) = &info.data
            && s.load(Ordering::SeqCst) == 1
            && b.pts().is_none_or(|p| p.mseconds() < 8_000)
        {
            l.fetch_add(1, Ordering::SeqCst);
        }
        gst::PadProbeReturn::Ok
    });
    let p = pipeline.clone();
    let seeker = std::thread::spawn(move || {
        p.seek(
            1.0,
            gst::SeekFlags::SEGMENT,
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(8_000),
            gst::SeekType::None,
            gst::ClockTime::NONE,
        )
        .is_ok()
    });
    // Nothing is pulled until the seek has reached the element (and had
    // time to wait for the task): the task is blocked on the full sink.
    for _ in 0..5000 {
        if seen.load(Ordering::SeqCst) == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut new = Vec::new();
    while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
        let pts = s.buffer().unwrap().pts().unwrap().mseconds();
        if pts >= 8_000 {
            new.push(pts);
            if new.len() == 3 {
                break;
            }
        }
    }
    assert!(seeker.join().unwrap());
    // At most the frame being pushed when the seek came (the old element
    // pushed the rest of its 2 MiB read block first).
    let late = late.load(Ordering::SeqCst);
    assert!(late <= 1, "{late} frames of the old segment after the seek");
    assert_eq!(new, vec![8_000, 8_080, 8_160]);
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn convert_latency_and_seeking_queries() {
    let dir = TempDir::new("contracts-queries");
    let path = recording(&dir, 50);
    let mut h = pull_harness(&path);
    for _ in 0..50 {
        h.pull().unwrap();
    }
    let pad = h.element().unwrap().static_pad("src").unwrap();
    let convert = |src: gst::GenericFormattedValue, dest: gst::Format| {
        let mut q = gst::query::Convert::new(src, dest);
        assert!(pad.query(&mut q), "{src:?} to {dest:?}");
        q.result().1
    };
    let f = convert(
        gst::ClockTime::from_mseconds(1000).into(),
        gst::Format::Default,
    );
    assert_eq!(f, gst::format::Default::from_u64(12).into());
    let t = convert(gst::format::Default::from_u64(25).into(), gst::Format::Time);
    assert_eq!(t, gst::ClockTime::from_mseconds(2000).into());
    let size = std::fs::metadata(&path).unwrap().len();
    let b = convert(gst::ClockTime::from_seconds(4).into(), gst::Format::Bytes);
    // The end of the last frame (its part's CRLF follows).
    assert_eq!(b, gst::format::Bytes::from_u64(size - 2).into());
    let mut q = gst::query::Seeking::new(gst::Format::Time);
    assert!(pad.query(&mut q));
    assert_eq!(
        q.result(),
        (
            true,
            gst::GenericFormattedValue::from(gst::ClockTime::ZERO),
            gst::GenericFormattedValue::from(gst::ClockTime::from_seconds(4))
        )
    );
    let mut q = gst::query::Latency::new();
    assert!(pad.query(&mut q));
    assert!(!q.result().0);
}

#[test]
fn frames_do_not_pin_their_read_block_and_caps_are_complete() {
    let dir = TempDir::new("contracts-memory");
    let path = recording(&dir, 30);
    let mut h = pull_harness(&path);
    for _ in 0..30 {
        let b = h.pull().unwrap();
        let pinned: usize = b.iter_memories().map(|m| m.maxsize()).sum();
        assert!(pinned <= 4 * b.size(), "{} bytes pin {pinned}", b.size());
    }
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.get::<&str>("interlace-mode").unwrap(), "progressive");
    assert_eq!(s.get::<&str>("colorimetry").unwrap(), "1:4:0:0");
    assert!(s.get::<bool>("parsed").unwrap());
}

/// A part header holding a NUL byte (found by tests/element_random.rs: it
/// panicked in the meta) is left out of the meta; the frame comes out.
#[test]
fn part_header_with_a_nul_byte() {
    let f = frames();
    let mut data = Vec::new();
    for (k, jpeg) in f.iter().take(3).enumerate() {
        data.extend(
            format!(
                "--b\r\nContent-Type: image/jpeg\r\nX-Odd: a\0b\r\nX-Frame: {k}\r\nContent-Length: {}\r\n\r\n",
                jpeg.len()
            )
            .as_bytes(),
        );
        data.extend(jpeg);
        data.extend(b"\r\n");
    }
    let dir = TempDir::new("contracts-nul");
    let path = dir.path("nul.bin");
    std::fs::write(&path, &data).unwrap();
    let (pipeline, sink) = appsink_pipeline(&path);
    let (out, end) = pull_to_end(&pipeline, &sink);
    assert_eq!(end, gst::MessageType::Eos);
    assert_eq!(out.len(), 3);
    for (k, g) in out.iter().enumerate() {
        let part = gst::meta::CustomMeta::from_buffer(&g.buffer, gstmjpegsplit::PART_META).unwrap();
        assert_eq!(
            part.structure().get::<&str>("x-frame").unwrap(),
            k.to_string()
        );
        assert!(!part.structure().has_field("x-odd"));
    }
    pipeline.set_state(gst::State::Null).unwrap();
}

/// A recording that simply ends inside its last frame gets the cut-short
/// warning, not a wrong-Content-Length one.
#[test]
fn a_recording_cut_mid_frame_is_not_a_content_length_problem() {
    init();
    let data = fixture("gst-multipartmux.mjpg");
    let dir = TempDir::new("contracts-cut");
    let path = dir.path("cut.bin");
    std::fs::write(&path, &data[..data.len() - 300]).unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={path:?} ! mjpegsplit ! fakesink"
    ))
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut warnings = Vec::new();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(10)) {
        match msg.view() {
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("cut short"), "{warnings:?}");
}

/// Ctrl-C before the first frame in `gst-launch-1.0 -e … ! mp4mux` (a
/// camera that accepted the connection but sent nothing): a clean end, no
/// GStreamer-CRITICAL lines (an ERROR for the empty stream used to race
/// the muxer's shutdown).
#[test]
fn ctrl_c_before_the_first_frame_is_clean() {
    let plugin_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    if !plugin_dir.join("libgstmjpegsplit.so").exists() {
        eprintln!("build the plugin first (cargo build --lib; ./dev test does): skipped");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
        }
    });
    let dir = TempDir::new("contracts-ctrlc");
    let out = dir.path("o.mp4");
    let child = std::process::Command::new("gst-launch-1.0")
        .arg("-e")
        .args(
            format!(
                "souphttpsrc location=http://127.0.0.1:{port}/video is-live=true ! mjpegsplit ! \
                 jpegdec ! videoconvert ! x264enc ! mp4mux ! filesink location={}",
                out.display()
            )
            .split_whitespace(),
        )
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let output = interrupt(child);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("CRITICAL"), "{text}");
    assert!(!text.contains("ERROR"), "{text}");
}
