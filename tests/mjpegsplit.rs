// SPDX-License-Identifier: MIT OR Apache-2.0

//! Harness tests of the element: output bytes, timestamps, caps, flags, push
//! and pull mode, seeking.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;

const MS: u64 = 1_000_000;

/// Push `data` in chunks of the sizes `chunk(n)` gives, then EOS; return the
/// output buffers.
fn push_chunked(
    h: &mut Harness,
    data: &[u8],
    mut chunk: impl FnMut(usize) -> usize,
) -> Vec<gst::Buffer> {
    let mut i = 0;
    let mut n = 0;
    while i < data.len() {
        let len = chunk(n).clamp(1, data.len() - i);
        h.push(gst::Buffer::from_slice(data[i..i + len].to_vec()))
            .unwrap();
        i += len;
        n += 1;
    }
    h.push_event(gst::event::Eos::new());
    let mut out = Vec::new();
    while let Some(b) = h.try_pull() {
        out.push(b);
    }
    out
}

/// An element in a harness that sends stream-start, caps and a TIME segment.
fn harness(props: &[(&str, &str)]) -> Harness {
    push_harness(props, "application/octet-stream")
}

fn caps_struct(h: &Harness) -> gst::Structure {
    h.sinkpad()
        .unwrap()
        .current_caps()
        .unwrap()
        .structure(0)
        .unwrap()
        .to_owned()
}

#[test]
fn raw_frames_bytes_timestamps_caps() {
    let data = fixture("gst-jpegenc.mjpg");
    let expected = split_concatenation(&data);
    assert_eq!(expected.len(), 8);
    let mut h = harness(&[("framerate", "10/1")]);
    let out = push_chunked(&mut h, &data, |_| data.len());
    assert_eq!(out.len(), 8);
    for (k, b) in out.iter().enumerate() {
        assert_eq!(buffer_bytes(b), expected[k]);
        assert_eq!(
            b.pts(),
            Some(gst::ClockTime::from_nseconds(k as u64 * 100 * MS))
        );
        assert_eq!(b.dts(), b.pts());
        assert_eq!(b.duration(), Some(gst::ClockTime::from_mseconds(100)));
        assert!(!b.flags().contains(gst::BufferFlags::CORRUPTED));
        assert_eq!(b.flags().contains(gst::BufferFlags::DISCONT), k == 0);
    }
    let s = caps_struct(&h);
    assert_eq!(s.name(), "image/jpeg");
    assert!(s.get::<bool>("parsed").unwrap());
    assert_eq!(s.get::<i32>("width").unwrap(), 160);
    assert_eq!(s.get::<i32>("height").unwrap(), 120);
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(10, 1)
    );
    assert_eq!(s.get::<i32>("sof-marker").unwrap(), 0);
    assert_eq!(s.get::<&str>("colorspace").unwrap(), "sYUV");
    // jpegenc keeps videotestsrc's full-resolution chroma here (exiftool agrees).
    assert_eq!(s.get::<&str>("sampling").unwrap(), "YCbCr-4:4:4");
    assert_eq!(
        s.get::<gst::Fraction>("pixel-aspect-ratio").unwrap(),
        gst::Fraction::new(1, 1)
    );
}

#[test]
fn framerate_from_upstream_caps_else_default() {
    let data = fixture("ffmpeg.mjpg");
    let mut h = harness(&[]);
    h.set_src_caps_str("image/jpeg, framerate=(fraction)25/2");
    let out = push_chunked(&mut h, &data, |_| 1000);
    assert_eq!(out.len(), 6);
    assert_eq!(out[5].pts(), Some(gst::ClockTime::from_nseconds(400 * MS)));
    assert_eq!(
        out[5].duration(),
        Some(gst::ClockTime::from_nseconds(80 * MS))
    );
    assert_eq!(
        caps_struct(&h).get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(25, 2)
    );

    // The property wins over caps; without either, 30/1.
    let mut h = harness(&[("framerate", "5/1")]);
    h.set_src_caps_str("image/jpeg, framerate=(fraction)25/2");
    let out = push_chunked(&mut h, &data, |_| 1000);
    assert_eq!(out[1].pts(), Some(gst::ClockTime::from_mseconds(200)));
    let mut h = harness(&[]);
    let out = push_chunked(&mut h, &data, |_| 1000);
    assert_eq!(out[3].pts(), Some(gst::ClockTime::from_nseconds(100 * MS)));
    assert_eq!(
        out[3].duration(),
        Some(gst::ClockTime::from_nseconds(33_333_333))
    );
}

#[test]
fn counted_timestamps_do_not_drift() {
    // 30000/1001 fps over 3000 frames: PTS computed from the frame number.
    let frame = fixture("gray.jpg");
    let data = frame.repeat(3000);
    let mut h = harness(&[("framerate", "30000/1001")]);
    let out = push_chunked(&mut h, &data, |_| 65536);
    assert_eq!(out.len(), 3000);
    let last = out.last().unwrap().pts().unwrap().nseconds();
    assert_eq!(last, 2999 * 1001 * 1_000_000_000 / 30000);
}

#[test]
fn chunking_invariance() {
    let mut data = fixture("gst-multipartmux.mjpg");
    data.extend(fixture("ffmpeg.mjpg"));
    data.extend(fixture("exif-thumb.jpg"));
    data.extend(fixture("progressive.jpg"));
    let whole: Vec<_> = push_chunked(&mut harness(&[]), &data, |_| data.len())
        .iter()
        .map(|b| (buffer_bytes(b), b.pts()))
        .collect();
    assert_eq!(whole.len(), 5 + 6 + 2);
    let mut seed = 12345u64;
    let mut random = move |_| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (seed >> 40) as usize % 5000 + 1
    };
    let mut one = |_| 1usize;
    let mut seven = |_| 7usize;
    let chunkings: [&mut dyn FnMut(usize) -> usize; 3] = [&mut one, &mut seven, &mut random];
    for chunks in chunkings {
        let got: Vec<_> = push_chunked(&mut harness(&[]), &data, chunks)
            .iter()
            .map(|b| (buffer_bytes(b), b.pts()))
            .collect();
        assert_eq!(got, whole);
    }
}

#[test]
fn multipart_recording_outputs_only_jpeg_bytes() {
    for name in ["gst-multipartmux.mjpg", "ffmpeg-mpjpeg.mjpg"] {
        let data = fixture(name);
        let bodies = multipart_bodies(&data);
        let out = push_chunked(&mut harness(&[]), &data, |_| 4096);
        let got: Vec<_> = out.iter().map(|b| buffer_bytes(b)).collect();
        assert_eq!(got, bodies, "{name}");
        // Part headers skipped between frames do not make frames DISCONT.
        assert!(
            out[1..]
                .iter()
                .all(|b| !b.flags().contains(gst::BufferFlags::DISCONT))
        );
    }
}

#[test]
fn resolution_change_renegotiates() {
    let a = fixture("gst-jpegenc.mjpg");
    let b = fixture("ffmpeg.mjpg");
    let mut h = harness(&[]);
    h.push(gst::Buffer::from_slice(a)).unwrap();
    for _ in 0..8 {
        h.pull().unwrap();
    }
    assert_eq!(caps_struct(&h).get::<i32>("width").unwrap(), 160);
    h.push(gst::Buffer::from_slice(b)).unwrap();
    let first = h.pull().unwrap();
    assert_eq!(
        first.pts(),
        Some(gst::ClockTime::from_nseconds(8 * 33_333_333 + 2))
    );
    let s = caps_struct(&h);
    assert_eq!(
        (
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap()
        ),
        (176, 144)
    );
    let stats = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("format-changes").unwrap(), 1);
    assert_eq!(stats.get::<u64>("resolution-changes").unwrap(), 1);
}

fn truncated_stream() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let good = fixture("rgb.jpg");
    let cut = good[..good.len() - 500].to_vec();
    let mut data = good.clone();
    data.extend(&cut);
    data.extend(&good);
    data.extend(&cut); // cut by the end of the stream
    (data, good, cut)
}

#[test]
fn incomplete_frames_are_repaired_and_flagged() {
    let (data, good, cut) = truncated_stream();
    let mut h = harness(&[]);
    let out = push_chunked(&mut h, &data, |_| 3000);
    assert_eq!(out.len(), 4);
    let mut repaired = cut.clone();
    repaired.extend([0xFF, 0xD9]);
    for (k, b) in out.iter().enumerate() {
        let broken = k % 2 == 1;
        assert_eq!(&buffer_bytes(b), if broken { &repaired } else { &good });
        assert_eq!(b.flags().contains(gst::BufferFlags::CORRUPTED), broken);
        assert_eq!(
            b.pts(),
            Some(gst::ClockTime::from_nseconds(k as u64 * 1_000_000_000 / 30))
        );
    }
    let stats = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("incomplete-frames").unwrap(), 2);
    assert_eq!(stats.get::<u64>("resyncs").unwrap(), 2);
    assert_eq!(stats.get::<u64>("frames").unwrap(), 4);
    assert_eq!(stats.get::<&str>("format").unwrap(), "raw");
    assert_eq!(stats.get::<u64>("bytes-in").unwrap(), data.len() as u64);
}

#[test]
fn incomplete_frames_pass_or_drop() {
    let (data, good, cut) = truncated_stream();
    let out = push_chunked(
        &mut harness(&[("incomplete-frames", "pass")]),
        &data,
        |_| 3000,
    );
    assert_eq!(out.len(), 4);
    assert_eq!(buffer_bytes(&out[1]), cut);
    assert!(out[1].flags().contains(gst::BufferFlags::CORRUPTED));

    let mut h = harness(&[("incomplete-frames", "drop")]);
    let out = push_chunked(&mut h, &data, |_| 3000);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|b| buffer_bytes(b) == good));
    // The frame after a dropped one is DISCONT; timestamps stay contiguous.
    assert!(out[1].flags().contains(gst::BufferFlags::DISCONT));
    assert_eq!(
        out[1].pts(),
        Some(gst::ClockTime::from_nseconds(33_333_333))
    );
    let stats = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("dropped-incomplete").unwrap(), 2);
}

#[test]
fn oversized_frames_are_dropped_and_stream_continues() {
    let good = fixture("gray.jpg");
    let big = fixture("ffmpeg.mjpg"); // frames of ~6 KB
    let mut data = good.clone();
    data.extend(&big);
    data.extend(&good);
    let mut h = harness(&[("max-frame-size", "3000")]);
    let out = push_chunked(&mut h, &data, |_| 1024);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|b| buffer_bytes(b) == good));
    let stats = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("dropped-too-large").unwrap(), 6);
}

#[test]
fn upstream_timestamps_are_used_and_never_repeated() {
    let frame = fixture("gray.jpg");
    let mut h = harness(&[]);
    // Three frames in one buffer, then one frame split over two buffers.
    let mut three = frame.repeat(3);
    three.extend(&frame[..100]);
    let mut b = gst::Buffer::from_slice(three);
    b.get_mut()
        .unwrap()
        .set_pts(gst::ClockTime::from_seconds(10));
    h.push(b).unwrap();
    let mut b = gst::Buffer::from_slice(frame[100..].to_vec());
    b.get_mut()
        .unwrap()
        .set_pts(gst::ClockTime::from_mseconds(10_500));
    h.push(b).unwrap();
    // A buffer without a timestamp: counted on from the last one.
    h.push(gst::Buffer::from_slice(frame.clone())).unwrap();
    let pts: Vec<u64> = (0..5)
        .map(|_| h.pull().unwrap().pts().unwrap().mseconds())
        .collect();
    // The last one: counted on by the mean interval so far ((7 * 1 + 498) / 8 ms).
    assert_eq!(pts, vec![10_000, 10_001, 10_002, 10_500, 10_563]);
}

#[test]
fn garbage_only_stream_warns_and_ends() {
    let mut h = harness(&[]);
    let out = push_chunked(&mut h, b"<html>401 Unauthorized</html>", |_| 100);
    assert!(out.is_empty());
    let mut saw_eos = false;
    while let Some(ev) = h.try_pull_event() {
        saw_eos |= ev.type_() == gst::EventType::Eos;
    }
    assert!(saw_eos);
}

// ---- Pull mode (filesrc) ----

fn write_file(dir: &TempDir, name: &str, data: &[u8]) -> String {
    let path = dir.path(name);
    std::fs::write(&path, data).unwrap();
    path.to_str().unwrap().to_string()
}

fn pull_harness(path: &str, props: &str) -> Harness {
    init();
    let mut h = Harness::new_parse(&format!("filesrc location={path:?} ! mjpegsplit {props}"));
    h.play();
    h
}

#[test]
fn pull_mode_file_with_duration_and_position() {
    let dir = TempDir::new("pull");
    let data = fixture("gst-jpegenc.mjpg").repeat(10);
    let frames = split_concatenation(&data);
    let path = write_file(&dir, "rec.mjpg", &data);
    let mut h = pull_harness(&path, "framerate=10/1");
    let out = pull_until_eos(&mut h);
    assert_eq!(out.len(), 80);
    for (k, b) in out.iter().enumerate() {
        assert_eq!(buffer_bytes(b), frames[k]);
        // Only the first frame is DISCONT, though filesrc's first block is.
        assert_eq!(b.flags().contains(gst::BufferFlags::DISCONT), k == 0);
        assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(k as u64 * 100)));
    }
    let pad = h.sinkpad().unwrap();
    assert_eq!(
        pad.peer_query_duration::<gst::ClockTime>(),
        Some(gst::ClockTime::from_seconds(8))
    );
    assert_eq!(
        pad.peer_query_position::<gst::ClockTime>(),
        Some(gst::ClockTime::from_mseconds(7900))
    );
    let mut q = gst::query::Seeking::new(gst::Format::Time);
    assert!(pad.peer_query(&mut q));
    assert!(q.result().0);
}

#[test]
fn pull_mode_seek_lands_on_the_right_frame() {
    let dir = TempDir::new("seek");
    let data = fixture("gst-jpegenc.mjpg").repeat(10);
    let frames = split_concatenation(&data);
    let path = write_file(&dir, "rec.mjpg", &data);
    for (target_ms, flags, first_pts_ms) in [
        (2500, gst::SeekFlags::FLUSH, 2500),
        (3550, gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, 3500),
        (500, gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, 500),
    ] {
        let mut h = pull_harness(&path, "framerate=10/1");
        h.pull().unwrap();
        let seek = gst::event::Seek::new(
            1.0,
            flags,
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(target_ms),
            gst::SeekType::None,
            gst::ClockTime::NONE,
        );
        let seqnum = seek.seqnum();
        assert!(h.push_upstream_event(seek));
        // The segment after the seek carries its seqnum and starts at the
        // target (accurate) or at the frame shown at the target.
        loop {
            let ev = h.pull_event().unwrap();
            if let gst::EventView::Segment(s) = ev.view()
                && ev.seqnum() == seqnum
            {
                let seg = s.segment().downcast_ref::<gst::ClockTime>().unwrap();
                let want = if flags.contains(gst::SeekFlags::ACCURATE) {
                    target_ms
                } else {
                    first_pts_ms
                };
                assert_eq!(seg.start(), Some(gst::ClockTime::from_mseconds(want)));
                break;
            }
        }
        let out = pull_until_eos(&mut h);
        let skip = out.len() - (80 - first_pts_ms as usize / 100);
        let out = &out[skip..];
        let n = first_pts_ms as usize / 100;
        assert_eq!(
            out[0].pts(),
            Some(gst::ClockTime::from_mseconds(first_pts_ms)),
            "{target_ms}"
        );
        assert_eq!(buffer_bytes(&out[0]), frames[n]);
        assert!(out[0].flags().contains(gst::BufferFlags::DISCONT));
        assert_eq!(out.len(), 80 - n);
        assert_eq!(buffer_bytes(out.last().unwrap()), frames[79]);
    }
}

#[test]
fn push_mode_from_file_through_queue() {
    let dir = TempDir::new("push");
    let data = fixture("ffmpeg-mpjpeg.mjpg").repeat(5);
    let bodies = multipart_bodies(&data);
    let path = write_file(&dir, "rec.mjpg", &data);
    init();
    let mut h = Harness::new_parse(&format!(
        "filesrc location={path:?} blocksize=4096 ! queue ! mjpegsplit framerate=4/1"
    ));
    h.play();
    let out = pull_until_eos(&mut h);
    assert_eq!(
        out.iter().map(|b| buffer_bytes(b)).collect::<Vec<_>>(),
        bodies
    );
    assert_eq!(out[19].pts(), Some(gst::ClockTime::from_mseconds(4750)));
    // Estimated from the byte size upstream and the mean frame size.
    assert_eq!(
        h.sinkpad().unwrap().peer_query_duration::<gst::ClockTime>(),
        Some(gst::ClockTime::from_seconds(5))
    );
}

#[test]
fn frames_inside_one_input_buffer_are_not_copied() {
    init();
    let frame = fixture("gray.jpg");
    let mut data = b"--boundary\r\nContent-Type: image/jpeg\r\n\r\n".to_vec();
    data.extend(&frame);
    data.extend(b"\r\n--boundary\r\n\r\n");
    data.extend(&frame);
    let input = gst::Buffer::from_slice(data);
    let in_map = input.map_readable().unwrap();
    let in_range = in_map.as_ptr_range();
    let mut h = harness(&[]);
    h.push(input.clone()).unwrap();
    // The second half of a frame split over two buffers needs one copy.
    h.push(gst::Buffer::from_slice(frame[..50].to_vec()))
        .unwrap();
    h.push(gst::Buffer::from_slice(frame[50..].to_vec()))
        .unwrap();
    for k in 0..3 {
        let out = h.pull().unwrap();
        let map = out.map_readable().unwrap();
        assert_eq!(map.as_slice(), &frame[..]);
        let inside = in_range.contains(&map.as_ptr());
        assert_eq!(inside, k < 2, "frame {k}");
    }
}

#[test]
fn pull_mode_takes_the_frame_rate_of_a_capsfilter() {
    let dir = TempDir::new("capsfilter");
    let path = write_file(&dir, "rec.mjpg", &fixture("gray.jpg").repeat(5));
    init();
    let mut h = Harness::new_parse(&format!(
        "filesrc location={path:?} ! image/jpeg,framerate=10/1 ! mjpegsplit"
    ));
    h.play();
    let out = pull_until_eos(&mut h);
    assert_eq!(out.len(), 5);
    assert_eq!(out[3].pts(), Some(gst::ClockTime::from_mseconds(300)));
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    assert_eq!(
        caps.structure(0)
            .unwrap()
            .get::<gst::Fraction>("framerate")
            .unwrap(),
        gst::Fraction::new(10, 1)
    );
}
