// SPDX-License-Identifier: MIT OR Apache-2.0

//! Multipart through the element: exact bytes in every chunking (including
//! the re-feed after a wrong Content-Length), zero added latency, part
//! headers as metas, X-Timestamp timestamps, pull-mode seeking.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;

fn frames() -> Vec<Vec<u8>> {
    [
        "gray.jpg",
        "rgb.jpg",
        "exif-thumb.jpg",
        "restart-jpegtran.jpg",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect()
}

fn harness(props: &[(&str, &str)]) -> Harness {
    push_harness(props, "multipart/x-mixed-replace")
}

fn push_all(h: &mut Harness, data: &[u8], mut chunk: impl FnMut() -> usize) -> Vec<gst::Buffer> {
    let mut i = 0;
    while i < data.len() {
        let n = chunk().clamp(1, data.len() - i);
        h.push(gst::Buffer::from_slice(data[i..i + n].to_vec()))
            .unwrap();
        i += n;
    }
    h.push_event(gst::event::Eos::new());
    std::iter::from_fn(|| h.try_pull()).collect()
}

/// A stream with the given Content-Length error per part (None: no header).
fn stream(length_delta: Option<i64>) -> Vec<u8> {
    let mut v =
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
            .to_vec();
    for (k, f) in frames().iter().enumerate() {
        v.extend(b"--frame\r\nContent-Type: image/jpeg\r\n");
        if let Some(d) = length_delta {
            v.extend(format!("Content-Length: {}\r\n", f.len() as i64 + d).as_bytes());
        }
        v.extend(
            format!(
                "X-Timestamp: {}.{:06}\r\n\r\n",
                1_700_000_000 + k,
                250_000 * k
            )
            .as_bytes(),
        );
        v.extend(f);
        v.extend(b"\r\n");
    }
    v
}

#[test]
fn every_chunking_gives_the_exact_frames() {
    let expected = frames();
    for delta in [None, Some(0), Some(-200), Some(300)] {
        let data = stream(delta);
        let mut seed = 7u64;
        let mut random = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % 3000 + 1
        };
        for (name, out) in [
            ("whole", push_all(&mut harness(&[]), &data, || usize::MAX)),
            ("1-byte", push_all(&mut harness(&[]), &data, || 1)),
            ("random", push_all(&mut harness(&[]), &data, &mut random)),
        ] {
            let got: Vec<_> = out.iter().map(|b| buffer_bytes(b)).collect();
            assert_eq!(got, expected, "{delta:?} {name}");
        }
    }
}

#[test]
fn stats_report_format_and_length_mismatches() {
    let mut h = harness(&[]);
    push_all(&mut h, &stream(Some(-200)), || 1000);
    let s = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(s.get::<&str>("format").unwrap(), "http-multipart");
    assert_eq!(s.get::<u64>("parts").unwrap(), 4);
    assert_eq!(s.get::<u64>("content-length-mismatches").unwrap(), 4);
    assert_eq!(s.get::<u64>("frames").unwrap(), 4);
    let mut h = harness(&[]);
    push_all(&mut h, &stream(Some(0)), || 100_000);
    let s = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(s.get::<u64>("fast-path-frames").unwrap(), 4);
    assert_eq!(s.get::<u64>("content-length-mismatches").unwrap(), 0);
}

#[test]
fn part_headers_and_x_timestamp_become_metas() {
    let mut h = harness(&[]);
    let out = push_all(&mut h, &stream(Some(0)), || 4096);
    assert_eq!(out.len(), 4);
    for (k, b) in out.iter().enumerate() {
        let meta = b.meta::<gst::meta::ReferenceTimestampMeta>().unwrap();
        assert_eq!(
            meta.reference().structure(0).unwrap().name(),
            "timestamp/x-unix"
        );
        let ns = (1_700_000_000 + k as u64) * 1_000_000_000 + 250_000_000 * k as u64;
        assert_eq!(meta.timestamp(), gst::ClockTime::from_nseconds(ns));
        let part = gst::meta::CustomMeta::from_buffer(b, gstmjpegsplit::PART_META).unwrap();
        let s = part.structure();
        assert_eq!(s.get::<&str>("content-type").unwrap(), "image/jpeg");
        assert_eq!(
            s.get::<&str>("x-timestamp").unwrap(),
            format!("{}.{:06}", 1_700_000_000 + k, 250_000 * k)
        );
    }
}

#[test]
fn x_timestamp_mode_times_frames_from_the_header() {
    let mut h = harness(&[("timestamp-mode", "x-timestamp")]);
    let out = push_all(&mut h, &stream(None), || 4096);
    let pts: Vec<u64> = out.iter().map(|b| b.pts().unwrap().mseconds()).collect();
    // 1.25 s between parts, relative to the first frame.
    assert_eq!(pts, vec![0, 1250, 2500, 3750]);
}

/// The frame leaves in the push that carries its last byte, not later.
#[test]
fn zero_added_latency() {
    let f = fixture("rgb.jpg");
    let styles: [(&str, &str, &[u8], usize); 5] = [
        (
            "content-length",
            "--b\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\n\r\n",
            b"\r\n",
            0,
        ),
        (
            "length with CRLF",
            "--b\r\nContent-Type: image/jpeg\r\nContent-Length: {len2}\r\n\r\n",
            b"\r\n",
            2,
        ),
        (
            "no length",
            "--b\r\nContent-Type: image/jpeg\r\n\r\n",
            b"\r\n",
            0,
        ),
        ("LF only", "--b\nContent-Type: image/jpeg\n\n", b"\n", 0),
        (
            "CRLF before the next part",
            "\r\n--b\r\nContent-Type: image/jpeg\r\n\r\n",
            b"",
            0,
        ),
    ];
    for (name, header, trailer, extra) in styles {
        let header = header
            .replace("{len}", &f.len().to_string())
            .replace("{len2}", &(f.len() + 2).to_string());
        let mut h = harness(&[]);
        for _ in 0..2 {
            let mut part = header.as_bytes().to_vec();
            part.extend(&f);
            // Everything but the frame's last byte (and the declared trailer).
            let last = part.len() - 1;
            h.push(gst::Buffer::from_slice(part[..last].to_vec()))
                .unwrap();
            assert!(h.try_pull().is_none(), "{name}: frame out too early");
            let mut rest = part[last..].to_vec();
            rest.extend(&trailer[..extra]);
            h.push(gst::Buffer::from_slice(rest)).unwrap();
            let b = h
                .try_pull()
                .unwrap_or_else(|| panic!("{name}: frame held back"));
            assert_eq!(buffer_bytes(&b), f, "{name}");
            h.push(gst::Buffer::from_slice(trailer[extra..].to_vec()))
                .unwrap();
        }
    }
}

#[test]
fn truncated_part_is_repaired_without_the_next_headers() {
    let good = fixture("gray.jpg");
    let cut = fixture("rgb.jpg")[..2000].to_vec();
    let mut data = Vec::new();
    for f in [&good, &cut, &good] {
        data.extend(b"--myboundary\r\nContent-Type: image/jpeg\r\n\r\n");
        data.extend(f.as_slice());
        data.extend(b"\r\n");
    }
    let out = push_all(&mut harness(&[]), &data, || 512);
    assert_eq!(out.len(), 3);
    let mut repaired = cut.clone();
    repaired.extend([0xFF, 0xD9]);
    assert_eq!(buffer_bytes(&out[1]), repaired);
    assert!(out[1].flags().contains(gst::BufferFlags::CORRUPTED));
    assert_eq!(buffer_bytes(&out[2]), good);
}

#[test]
fn pull_mode_seek_in_a_multipart_recording_keeps_part_headers() {
    let dir = TempDir::new("mp-seek");
    let mut data = Vec::new();
    let f = frames();
    for k in 0..40usize {
        let jpeg = &f[k % 4];
        data.extend(
            format!(
                "--b\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {k}.5\r\n\r\n",
                jpeg.len()
            )
            .as_bytes(),
        );
        data.extend(jpeg);
        data.extend(b"\r\n");
    }
    let path = dir.path("rec.mjpg");
    std::fs::write(&path, &data).unwrap();
    init();
    let mut h = Harness::new_parse(&format!(
        "filesrc location={path:?} ! mjpegsplit framerate=10/1"
    ));
    h.play();
    h.pull().unwrap();
    let seek = gst::event::Seek::new(
        1.0,
        gst::SeekFlags::FLUSH,
        gst::SeekType::Set,
        gst::ClockTime::from_mseconds(2500),
        gst::SeekType::None,
        gst::ClockTime::NONE,
    );
    let seqnum = seek.seqnum();
    assert!(h.push_upstream_event(seek));
    loop {
        let ev = h.pull_event().unwrap();
        if ev.type_() == gst::EventType::Segment && ev.seqnum() == seqnum {
            break;
        }
    }
    let out = pull_until_eos(&mut h);
    let out = &out[out.len() - 15..];
    assert_eq!(out[0].pts(), Some(gst::ClockTime::from_mseconds(2500)));
    assert_eq!(buffer_bytes(&out[0]), f[25 % 4]);
    let part = gst::meta::CustomMeta::from_buffer(&out[0], gstmjpegsplit::PART_META).unwrap();
    assert_eq!(part.structure().get::<&str>("x-timestamp").unwrap(), "25.5");
}
