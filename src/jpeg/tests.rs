// SPDX-License-Identifier: MIT OR Apache-2.0

use super::*;

const GST_JPEGENC: &[u8] = include_bytes!("../../tests/fixtures/gst-jpegenc.mjpg");
const FFMPEG: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg.mjpg");
const PROGRESSIVE: &[u8] = include_bytes!("../../tests/fixtures/progressive.jpg");
const RESTART_422: &[u8] = include_bytes!("../../tests/fixtures/restart-422.jpg");
const RESTART_JPEGTRAN: &[u8] = include_bytes!("../../tests/fixtures/restart-jpegtran.jpg");
const GRAY: &[u8] = include_bytes!("../../tests/fixtures/gray.jpg");
const RGB: &[u8] = include_bytes!("../../tests/fixtures/rgb.jpg");
const EXIF_THUMB: &[u8] = include_bytes!("../../tests/fixtures/exif-thumb.jpg");
const GST_MULTIPART: &[u8] = include_bytes!("../../tests/fixtures/gst-multipartmux.mjpg");
const FFMPEG_MPJPEG: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg-mpjpeg.mjpg");

const SINGLES: &[&[u8]] = &[
    PROGRESSIVE,
    RESTART_422,
    RESTART_JPEGTRAN,
    GRAY,
    RGB,
    EXIF_THUMB,
];

fn frames(events: &[Event]) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame(f) => Some(*f),
            _ => None,
        })
        .collect()
}

fn scan_chunked(data: &[u8], chunk: impl Fn(usize) -> usize, max: u64) -> Vec<Event> {
    let mut s = Scanner::new(max);
    let mut out = Vec::new();
    let mut avail = 0;
    let mut n = 0;
    while avail < data.len() {
        avail += chunk(n).clamp(1, data.len() - avail);
        n += 1;
        // Fed again from where it backs off.
        while (s.offset() as usize) < avail {
            let off = s.offset() as usize;
            s.feed(&data[off..avail], &mut out);
        }
    }
    while !s.finish(&mut out) {
        while (s.offset() as usize) < data.len() {
            let off = s.offset() as usize;
            s.feed(&data[off..], &mut out);
        }
    }
    out
}

/// A small deterministic generator, so failures can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn bytes_of<'a>(data: &'a [u8], f: &Frame) -> &'a [u8] {
    &data[f.start as usize..f.end as usize]
}

/// The frames of a raw concatenation: each part is a whole JPEG file.
fn concat(parts: &[&[u8]]) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut data = Vec::new();
    let mut ranges = Vec::new();
    for p in parts {
        let start = data.len() as u64;
        data.extend_from_slice(p);
        ranges.push((start, data.len() as u64));
    }
    (data, ranges)
}

#[test]
fn single_files_are_one_complete_frame() {
    for data in SINGLES {
        let ev = scan_all(data, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let f = frames(&ev)[0];
        assert_eq!((f.start, f.end), (0, data.len() as u64));
        assert!(f.complete && !f.damaged);
        assert_eq!((f.info.width, f.info.height), (96, 64));
    }
}

#[test]
fn sof_facts() {
    let info = |d: &[u8]| frames(&scan_all(d, DEFAULT_MAX_FRAME_SIZE))[0].info;
    let p = info(PROGRESSIVE);
    assert_eq!(p.sof, 2);
    assert_eq!(p.components, 3);
    assert_eq!(p.sampling_name(), Some("YCbCr-4:2:0"));
    assert_eq!(p.colorspace(), Some("sYUV"));
    // jpegtran: progressive with restart intervals (RSTn in every scan).
    assert_eq!(info(RESTART_JPEGTRAN).sof, 2);
    let r = info(RESTART_422);
    assert_eq!(r.sof, 0);
    assert_eq!(r.sampling_name(), Some("YCbCr-4:2:2"));
    let g = info(GRAY);
    assert_eq!(
        (g.components, g.colorspace(), g.sampling_name()),
        (1, Some("GRAY"), Some("GRAYSCALE"))
    );
    let rgb = info(RGB);
    assert_eq!(
        (rgb.colorspace(), rgb.sampling_name()),
        (Some("sRGB"), Some("RGB"))
    );
    assert_eq!(info(EXIF_THUMB).precision, 8);
    let e = info(GST_JPEGENC);
    assert_eq!((e.width, e.height, e.sof), (160, 120, 0));
    assert_eq!(e.pixel_aspect_ratio(), Some((1, 1)));
    let f = info(FFMPEG);
    assert_eq!((f.width, f.height), (176, 144));
}

#[test]
fn exif_thumbnail_is_not_a_frame_bound() {
    // The fixture holds a nested SOI..EOI inside APP1.
    assert_eq!(
        memchr::memmem::find_iter(EXIF_THUMB, &[0xFF, 0xD8]).count(),
        2
    );
    let (data, ranges) = concat(&[EXIF_THUMB, EXIF_THUMB, GRAY, EXIF_THUMB]);
    let got: Vec<_> = frames(&scan_all(&data, DEFAULT_MAX_FRAME_SIZE))
        .iter()
        .map(|f| (f.start, f.end))
        .collect();
    assert_eq!(got, ranges);
}

#[test]
fn encoder_streams() {
    // gst jpegenc: 8 frames, ffmpeg: 6 frames, back to back with nothing between.
    for (data, n) in [(GST_JPEGENC, 8), (FFMPEG, 6)] {
        let f = frames(&scan_all(data, DEFAULT_MAX_FRAME_SIZE));
        assert_eq!(f.len(), n);
        assert_eq!(f[0].start, 0);
        assert_eq!(f.last().unwrap().end, data.len() as u64);
        for w in f.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert!(f.iter().all(|f| f.complete && !f.damaged));
    }
}

#[test]
fn multipart_bodies_skip_part_headers() {
    for (data, n) in [(GST_MULTIPART, 5), (FFMPEG_MPJPEG, 4)] {
        let bodies = crate::test_util::multipart_bodies(data);
        assert_eq!(bodies.len(), n);
        let f = frames(&scan_all(data, DEFAULT_MAX_FRAME_SIZE));
        let got: Vec<_> = f.iter().map(|f| bytes_of(data, f)).collect();
        assert_eq!(got, bodies);
    }
}

#[test]
fn chunking_invariance() {
    let mut all = Vec::new();
    for p in [GST_JPEGENC, FFMPEG, GST_MULTIPART, FFMPEG_MPJPEG]
        .iter()
        .chain(SINGLES)
    {
        all.extend_from_slice(p);
        all.extend_from_slice(b"\r\n--junk\xff\xff\xd8\r\n");
    }
    let whole = scan_all(&all, DEFAULT_MAX_FRAME_SIZE);
    assert_eq!(frames(&whole).len(), 8 + 6 + 5 + 4 + SINGLES.len());
    assert_eq!(scan_chunked(&all, |_| 1, DEFAULT_MAX_FRAME_SIZE), whole);
    assert_eq!(scan_chunked(&all, |_| 7, DEFAULT_MAX_FRAME_SIZE), whole);
    for seed in 0..20 {
        let rng = std::cell::RefCell::new(Lcg(seed));
        let chunked = scan_chunked(
            &all,
            |_| (rng.borrow_mut().next() % 3000) as usize + 1,
            DEFAULT_MAX_FRAME_SIZE,
        );
        assert_eq!(chunked, whole, "seed {seed}");
    }
    // The same holds with a small frame-size limit, where drops happen.
    let whole = scan_all(&all, 3000);
    assert!(whole.iter().any(|e| matches!(
        e,
        Event::Dropped {
            reason: DropReason::TooLarge,
            ..
        }
    )));
    assert_eq!(scan_chunked(&all, |_| 1, 3000), whole);
    assert_eq!(scan_chunked(&all, |n| n % 13 + 1, 3000), whole);
}

#[test]
fn garbage_padding_and_false_soi_are_skipped() {
    let mut data = b"HTTP/1.1 200 OK\r\n\r\n\xff\xd8 not a jpeg \xff\xff\xff".to_vec();
    let a = data.len() as u64;
    data.extend_from_slice(GRAY);
    let b = data.len() as u64;
    data.extend_from_slice(&[0xFF; 100]);
    data.extend_from_slice(&[0x00; 10]);
    let c = data.len() as u64;
    data.extend_from_slice(RGB);
    let d = data.len() as u64;
    data.extend_from_slice(b"trailing\xff");
    let f = frames(&scan_all(&data, DEFAULT_MAX_FRAME_SIZE));
    assert_eq!(
        f.iter().map(|f| (f.start, f.end)).collect::<Vec<_>>(),
        vec![(a, b), (c, d)]
    );
}

#[test]
fn truncated_frames() {
    // Frame cut in its entropy data, then a good frame.
    let cut = &GRAY[..GRAY.len() - 300];
    let (data, _) = concat(&[cut, RGB]);
    let ev = scan_all(&data, DEFAULT_MAX_FRAME_SIZE);
    let f = frames(&ev);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].start, f[0].end, f[0].complete),
        (0, cut.len() as u64, false)
    );
    assert_eq!(
        (f[1].start, f[1].end, f[1].complete),
        (cut.len() as u64, data.len() as u64, true)
    );

    // Frame cut before its SOS (between two segments): dropped, the next one is fine.
    // (A cut inside a segment's payload makes the walk skip the declared length,
    // so the next frame may be lost too: lengths are what keep thumbnails safe.)
    let sos = memchr::memmem::find(GRAY, &[0xFF, 0xDA]).unwrap();
    let (data, _) = concat(&[&GRAY[..sos], RGB]);
    let ev = scan_all(&data, DEFAULT_MAX_FRAME_SIZE);
    assert_eq!(ev.len(), 2);
    assert!(matches!(
        ev[0],
        Event::Dropped {
            start: 0,
            reason: DropReason::NoScan,
            ..
        }
    ));
    assert_eq!(frames(&ev)[0].len(), RGB.len() as u64);

    // Stream ends inside the entropy data: reported as incomplete.
    let (data, _) = concat(&[RGB, cut]);
    let f = frames(&scan_all(&data, DEFAULT_MAX_FRAME_SIZE));
    assert_eq!(f.len(), 2);
    assert!(f[0].complete && !f[1].complete);
    assert_eq!(f[1].end, data.len() as u64);

    // A frame with only tables (no SOF/SOS) is not a picture.
    let f = frames(&scan_all(b"\xff\xd8\xff\xfe\x00\x04hi\xff\xd9", 100));
    assert!(f.is_empty());
}

#[test]
fn damaged_header_resyncs_to_next_marker() {
    // Overwrite the marker after the first segment with junk.
    let mut bad = GRAY.to_vec();
    let seg_len = u16::from_be_bytes([bad[4], bad[5]]) as usize;
    let next = 4 + seg_len;
    assert_eq!(bad[next], 0xFF);
    bad.splice(next..next, *b"junk");
    let f = frames(&scan_all(&bad, DEFAULT_MAX_FRAME_SIZE));
    assert_eq!(f.len(), 1);
    assert!(f[0].complete && f[0].damaged);
    assert_eq!(f[0].len(), bad.len() as u64);
}

#[test]
fn too_large_frames_are_dropped_and_resynced() {
    let big_header = {
        // SOI, a 60000-byte COM segment, then a frame body: too big for 10000.
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xFE, 0xEA, 0x62];
        v.resize(6 + 60000, b'x');
        v.extend_from_slice(&GRAY[2..]);
        v
    };
    let (data, _) = concat(&[RGB, &big_header, GRAY]);
    let ev = scan_all(&data, 10_000);
    assert_eq!(ev.len(), 3);
    let start = RGB.len() as u64;
    assert_eq!(
        ev[1],
        Event::Dropped {
            start,
            end: start + 10_000,
            reason: DropReason::TooLarge
        }
    );
    let f = frames(&ev);
    assert_eq!(f.len(), 2);
    assert_eq!(bytes_of(&data, &f[1]), GRAY);
}

#[test]
fn fill_bytes_before_markers() {
    // FF fill bytes before every marker in the header.
    let mut v = vec![0xFF, 0xD8];
    let mut i = 2;
    let sos = memchr::memmem::find(GRAY, &[0xFF, 0xDA]).unwrap();
    while i < sos {
        let len = u16::from_be_bytes([GRAY[i + 2], GRAY[i + 3]]) as usize;
        v.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
        v.extend_from_slice(&GRAY[i..i + 2 + len]);
        i += 2 + len;
    }
    v.extend_from_slice(&GRAY[sos..]);
    let f = frames(&scan_all(&v, DEFAULT_MAX_FRAME_SIZE));
    assert_eq!(f.len(), 1);
    assert!(f[0].complete && !f[0].damaged);
    assert_eq!(f[0].info.width, 96);
}

#[test]
fn adversarial_inputs_stay_linear() {
    // These would take minutes if any byte were looked at more than a few times.
    let ffs = vec![0xFF; 8 << 20];
    assert!(scan_all(&ffs, DEFAULT_MAX_FRAME_SIZE).is_empty());
    let sois: Vec<u8> = [0xFF, 0xD8].repeat(1 << 20);
    let ev = scan_all(&sois, DEFAULT_MAX_FRAME_SIZE);
    assert!(frames(&ev).is_empty());
    let mut endless = GRAY[..GRAY.len() - 2].to_vec();
    endless.resize(32 << 20, 0x55);
    let ev = scan_all(&endless, 1 << 20);
    assert!(matches!(
        ev[0],
        Event::Dropped {
            reason: DropReason::TooLarge,
            ..
        }
    ));
}

#[test]
fn retain_from_tracks_the_open_frame() {
    let mut s = Scanner::default();
    let mut out = Vec::new();
    s.feed(b"abc\xff", &mut out);
    assert_eq!(s.retain_from(), 3);
    s.feed(&GRAY[1..100], &mut out);
    assert!(s.in_frame());
    assert_eq!(s.retain_from(), 3);
    s.feed(&GRAY[100..], &mut out);
    assert_eq!(frames(&out).len(), 1);
    assert!(!s.in_frame());
    assert_eq!(s.retain_from(), 3 + GRAY.len() as u64);
}

/// Feed `data` whole (again from wherever the scanner backs off).
fn scan_with(s: &mut Scanner, data: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        while (s.offset() as usize) < data.len() {
            let off = s.offset() as usize;
            s.feed(&data[off..], &mut out);
        }
        if s.finish(&mut out) {
            return out;
        }
    }
}

#[test]
fn a_frame_cut_inside_its_exif_segment_does_not_take_the_next_one() {
    // The APP1 segment (with its EXIF thumbnail) is cut in the middle: its
    // length runs into the next frame, which must come out intact.
    let app1 = 20;
    for cut in [app1 + 3, app1 + 100, 300, 600, 900] {
        let (data, ranges) = concat(&[&EXIF_THUMB[..cut], GRAY, RGB]);
        let f = frames(&scan_all(&data, DEFAULT_MAX_FRAME_SIZE));
        let got: Vec<(u64, u64)> = f
            .iter()
            .filter(|f| f.complete)
            .map(|f| (f.start, f.end))
            .collect();
        assert!(
            got.contains(&ranges[1]) && got.contains(&ranges[2]),
            "cut {cut}: {got:?}"
        );
        // Chunking does not matter.
        assert_eq!(
            scan_chunked(&data, |n| 1 + n % 7, DEFAULT_MAX_FRAME_SIZE),
            scan_all(&data, DEFAULT_MAX_FRAME_SIZE)
        );
    }
}

#[test]
fn a_truncated_frame_at_the_end_of_the_stream_gives_back_the_soi_it_swallowed() {
    // A frame cut in its DQT, then a good frame cut in its entropy data by the
    // end of the stream: the DQT length swallowed the good frame's SOI.
    let dqt = memchr::memmem::find(GRAY, &[0xFF, 0xDB]).unwrap();
    let (data, ranges) = concat(&[&RGB[..dqt + 30], &GRAY[..GRAY.len() - 10]]);
    let ev = scan_all(&data, DEFAULT_MAX_FRAME_SIZE);
    let f = frames(&ev);
    assert_eq!(
        f.last().map(|f| (f.start, f.complete)),
        Some((ranges[1].0, false))
    );
}

#[test]
fn backing_off_stays_linear() {
    // SOIs everywhere, each with an APP1 length running 64 KiB over the next
    // ones: backing off to each would walk every byte ~10000 times.
    let unit = [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF];
    let data = unit.repeat((8 << 20) / unit.len());
    let mut s = Scanner::default();
    let ev = scan_with(&mut s, &data);
    assert!(frames(&ev).is_empty());
    // It does back off, as far as the budget lets it.
    assert!(s.rescanned() > data.len() as u64, "{}", s.rescanned());
    assert!(s.rescanned() <= 4 * data.len() as u64, "{}", s.rescanned());
    // The same with an EOI closing every second SOI.
    let unit = [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 0xFF, 0xD9];
    let data = unit.repeat((8 << 20) / unit.len());
    let mut s = Scanner::default();
    scan_with(&mut s, &data);
    assert!(s.rescanned() <= 4 * data.len() as u64, "{}", s.rescanned());
}

#[test]
fn hints_change_no_event() {
    // Good frames of every kind, damage (cut frames, flipped bytes, junk)
    // and the frame-size limit.
    let mut all = Vec::new();
    let mut rng = Lcg(99);
    for round in 0..6 {
        for p in [GST_JPEGENC, FFMPEG, GST_MULTIPART, FFMPEG_MPJPEG]
            .iter()
            .chain(SINGLES)
        {
            let mut p = p.to_vec();
            if round > 0 {
                let k = (rng.next() as usize) % p.len();
                match rng.next() % 3 {
                    0 => p.truncate(k),
                    1 => p[k] ^= 0xFF,
                    _ => p
                        .splice(k..k, [0xFF, 0xD9, 0xFF, 0x00, 0xFF])
                        .for_each(drop),
                }
            }
            all.extend_from_slice(&p);
        }
    }
    for max in [DEFAULT_MAX_FRAME_SIZE, 3000] {
        let plain = scan_chunked(&all, |_| 4096, max);
        for seed in 0..20 {
            let mut chunks = crate::properties::Chunks::new(seed);
            let hinted = crate::properties::scan_hinted(&all, max, &mut chunks);
            assert_eq!(hinted, plain, "seed {seed} max {max}");
        }
    }
}
