// SPDX-License-Identifier: MIT OR Apache-2.0

//! One stream per multipart/HTTP quirk, each checked byte for byte, fed
//! whole, in 1-byte and in random chunks.

use super::*;

const GRAY: &[u8] = include_bytes!("../../tests/fixtures/gray.jpg");
const RGB: &[u8] = include_bytes!("../../tests/fixtures/rgb.jpg");
const EXIF: &[u8] = include_bytes!("../../tests/fixtures/exif-thumb.jpg");
const PROGRESSIVE: &[u8] = include_bytes!("../../tests/fixtures/restart-jpegtran.jpg");
const GST_MULTIPART: &[u8] = include_bytes!("../../tests/fixtures/gst-multipartmux.mjpg");
const FFMPEG_MPJPEG: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg-mpjpeg.mjpg");

pub(crate) const FRAMES: [&[u8]; 4] = [GRAY, RGB, EXIF, PROGRESSIVE];

/// Feed `data` in pieces of the lengths `chunk` gives, honouring rewinds, then finish.
pub(crate) fn run_chunked(data: &[u8], chunk: impl FnMut() -> usize) -> (Vec<Output>, Splitter) {
    crate::properties::split_with(data, jpeg::DEFAULT_MAX_FRAME_SIZE, chunk)
}

fn frames_of<'a>(data: &'a [u8], out: &[Output]) -> Vec<&'a [u8]> {
    out.iter()
        .filter_map(|o| match o {
            Output::Frame { frame, .. } => Some(&data[frame.start as usize..frame.end as usize]),
            _ => None,
        })
        .collect()
}

/// Run whole, 1-byte and random chunkings; all must give the same outputs.
/// Returns the outputs and the splitter of the whole run.
fn check(data: &[u8]) -> (Vec<Output>, Splitter) {
    let (whole, s) = run_chunked(data, || usize::MAX / 2);
    let (ones, _) = run_chunked(data, || 1);
    assert_eq!(ones, whole, "1-byte chunks");
    for seed in 1..6u64 {
        let mut x = seed;
        let (random, _) = run_chunked(data, || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % 700 + 1
        });
        assert_eq!(random, whole, "random chunks, seed {seed}");
    }
    (whole, s)
}

fn part(headers: &str, jpeg: &[u8]) -> Vec<u8> {
    let mut v = headers.as_bytes().to_vec();
    v.extend_from_slice(jpeg);
    v
}

/// A stream of `frames` written by `write(index, jpeg)`.
fn stream(prefix: &str, write: impl Fn(usize, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    for (k, f) in FRAMES.iter().enumerate() {
        v.extend(write(k, f));
    }
    v
}

fn assert_frames(data: &[u8], expected: &[&[u8]]) -> (Vec<Output>, Splitter) {
    let (out, s) = check(data);
    assert_eq!(frames_of(data, &out), expected);
    (out, s)
}

fn headers_of(out: &[Output]) -> Vec<Vec<(String, String)>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Frame { headers, .. } => Some(headers.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn standard_parts_with_length_use_the_fast_path() {
    let data = stream("", |_, f| {
        part(
            &format!(
                "--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                f.len()
            ),
            &[f, b"\r\n"].concat(),
        )
    });
    let (_, s) = assert_frames(&data, &FRAMES);
    assert_eq!(s.format(), Format::Multipart);
    assert_eq!(s.stats.parts, 4);
    assert_eq!(s.stats.fast_path_frames, 4);
    assert_eq!(s.stats.length_mismatches, 0);
}

#[test]
fn lenient_header_syntax() {
    // Names in any case, no space / many spaces / tabs after the colon,
    // padded values, LF-only lines.
    let styles = [
        "--b\r\ncontent-type:image/jpeg\r\ncontent-length:{}\r\n\r\n",
        "--b\r\nCONTENT-TYPE:    image/jpeg\r\nCONTENT-LENGTH:     {}   \r\n\r\n",
        "--b\nContent-Type:\timage/jpeg\nContent-Length:\t{}\n\n",
        "--b\r\nContent-type: image/jpeg\r\nContent-Length: {:>9}\r\n\r\n",
    ];
    for style in styles {
        let data = stream("", |_, f| {
            let h = style
                .replace("{}", &f.len().to_string())
                .replace("{:>9}", &format!("{:>9}", f.len()));
            part(&h, &[f, b"\r\n"].concat())
        });
        let (_, s) = assert_frames(&data, &FRAMES);
        assert_eq!(s.stats.fast_path_frames, 4, "{style:?}");
    }
}

#[test]
fn boundary_quirks() {
    // Boundary without leading dashes (known from the HTTP header).
    let data = stream(
        "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=myboundary\r\n\r\n",
        |_, f| {
            part(
                "myboundary\r\nContent-Type: image/jpeg\r\n\r\n",
                &[f, b"\r\n"].concat(),
            )
        },
    );
    let (_, s) = assert_frames(&data, &FRAMES);
    assert_eq!(s.format(), Format::HttpMultipart);

    // First part without a boundary line; boundary after each part (ESP32, Tasmota).
    let data = stream("", |_, f| {
        part(
            "Content-Type: image/jpeg\r\n\r\n",
            &[f, b"\r\n--frame\r\n"].concat(),
        )
    });
    let (_, s) = assert_frames(&data, &FRAMES);
    assert_eq!(s.format(), Format::Multipart);

    // Header boundary differs from the body's; quoted and with extra dashes.
    let data = stream(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=\"--other\"\r\n\r\n",
        |_, f| {
            part(
                "--real\r\nContent-Type: image/jpeg\r\n\r\n",
                &[f, b"\r\n"].concat(),
            )
        },
    );
    assert_frames(&data, &FRAMES);

    // Duplicated boundary lines (Foscam) and closing delimiters used as separators (Kasa).
    let data = stream("", |k, f| {
        let b = if k % 2 == 0 {
            "--data-boundary--\r\n--data-boundary--\r\n"
        } else {
            "--x\r\n--x--\r\n--x\r\n"
        };
        part(
            &format!(
                "{b}Content-Type:image/jpeg\r\nContent-Length:{}\r\n\r\n",
                f.len()
            ),
            f,
        )
    });
    assert_frames(&data, &FRAMES);

    // A closing boundary at the end, then nothing.
    let mut data = stream("", |_, f| {
        part("--end\r\n\r\nContent-Type: image/jpeg\r\n\r\n", f)
    });
    data.extend(b"\r\n--end--\r\n");
    assert_frames(&data, &FRAMES);
}

#[test]
fn empty_missing_type_and_non_jpeg_parts() {
    let data = stream("", |k, f| {
        let mut v = Vec::new();
        // Empty parts: Content-Length 0, and headers straight followed by a boundary.
        v.extend(b"--b\r\nContent-Type: image/jpeg\r\nContent-Length: 0\r\n\r\n\r\n");
        v.extend(b"--b\r\nContent-Type: image/jpeg\r\n\r\n\r\n");
        // A non-JPEG part that contains JPEG-like bytes, with and without a length.
        let junk = [b"<xml>\xff\xd8\xff\xe0 fake</xml>".as_slice(), GRAY].concat();
        if k % 2 == 0 {
            v.extend(
                format!(
                    "--b\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
                    junk.len()
                )
                .as_bytes(),
            );
        } else {
            v.extend(b"--b\r\nContent-Type: video/x-h264\r\n\r\n");
        }
        v.extend(&junk);
        v.extend(b"\r\n");
        // The JPEG part has no Content-Type.
        v.extend(format!("--b\r\nContent-Length: {}\r\n\r\n", f.len()).as_bytes());
        v.extend(f);
        v.extend(b"\r\n");
        v
    });
    let (_, s) = assert_frames(&data, &FRAMES);
    assert_eq!(s.stats.empty_parts, 8);
    assert_eq!(s.stats.non_jpeg_parts, 4);
}

#[test]
fn last_part_without_closing_boundary_and_leading_http_response() {
    let data = stream(
        "HTTP/1.1 200 OK\r\nServer: cam\r\nContent-Type: multipart/x-mixed-replace; boundary=--BoundaryString\r\n\r\n",
        |_, f| part("--BoundaryString\r\nContent-type: image/jpeg\r\n\r\n", f),
    );
    assert_frames(&data, &FRAMES);
    // A non-multipart response (ffserver's video/x-mjpeg): raw JPEGs follow.
    let data = stream(
        "HTTP/1.0 200 OK\r\nContent-Type: video/x-mjpeg\r\n\r\n",
        |_, f| f.to_vec(),
    );
    let (_, s) = assert_frames(&data, &FRAMES);
    assert_eq!(s.format(), Format::HttpRaw);
}

#[test]
fn content_length_mismatches_fall_back_to_the_walk() {
    for delta in [-300i64, -1, 1, 2, 500] {
        let data = stream("", |_, f| {
            let len = (f.len() as i64 + delta) as usize;
            part(
                &format!("--b\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\n\r\n"),
                &[f, b"\r\n"].concat(),
            )
        });
        let (_, s) = assert_frames(&data, &FRAMES);
        // +1 and +2 only cover the trailing CRLF: that is not a mismatch.
        let expect = if delta == 1 || delta == 2 { 0 } else { 4 };
        assert_eq!(s.stats.length_mismatches, expect, "delta {delta}");
    }
}

#[test]
fn truncated_part_ends_at_the_delimiter() {
    // The second frame is cut in its entropy data; the next part's headers
    // must not become part of it.
    let cut = &RGB[..RGB.len() - 400];
    let mut data = Vec::new();
    for f in [GRAY, cut, EXIF] {
        data.extend(b"--myboundary\r\nContent-Type: image/jpeg\r\nX-Timestamp: 1.5\r\n\r\n");
        data.extend(f);
        data.extend(b"\r\n");
    }
    let (out, _) = assert_frames(&data, &[GRAY, cut, EXIF]);
    let complete: Vec<bool> = out
        .iter()
        .filter_map(|o| match o {
            Output::Frame { frame, .. } => Some(frame.complete),
            _ => None,
        })
        .collect();
    assert_eq!(complete, vec![true, false, true]);
    // The same with a Content-Length that is right for the part as sent.
    let mut data = Vec::new();
    for f in [GRAY, cut, EXIF] {
        data.extend(format!("--myboundary\r\nContent-Length: {}\r\n\r\n", f.len()).as_bytes());
        data.extend(f);
        data.extend(b"\r\n");
    }
    assert_frames(&data, &[GRAY, cut, EXIF]);
}

#[test]
fn crlf_dashes_inside_entropy_data_do_not_cut_a_frame() {
    // A synthetic frame whose entropy data holds "\r\n--" and even "\r\n--b".
    let mut synthetic = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00,
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00,
    ];
    synthetic.extend(b"ab\r\n--cd\r\n--b");
    synthetic.extend([0xFF, 0xD9]);
    let data = [
        b"--bound\r\n\r\n".as_slice(),
        &synthetic,
        b"\r\n--bound\r\nContent-Type: image/jpeg\r\n\r\n",
        GRAY,
        b"\r\n",
    ]
    .concat();
    assert_frames(&data, &[&synthetic, GRAY]);
}

#[test]
fn part_headers_are_reported_with_their_frame() {
    let data = stream("", |k, f| {
        part(
            &format!(
                "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {}.{:06}\r\n\r\n",
                f.len(),
                1_700_000_000 + k,
                k * 1000
            ),
            &[f, b"\r\n"].concat(),
        )
    });
    let (out, _) = assert_frames(&data, &FRAMES);
    let h = headers_of(&out);
    assert_eq!(
        h[2][2],
        ("x-timestamp".to_string(), "1700000002.002000".to_string())
    );
    assert_eq!(h[0][0].0, "content-type");
}

#[test]
fn camera_and_tool_formats() {
    // ustreamer: no Content-Length, each frame followed by the next boundary.
    let data = stream("--boundarydonotcross\r\n", |_, f| {
        part(
            "Content-Type: image/jpeg\r\nX-UStreamer-Online: true\r\nX-UStreamer-Width: 96\r\n\r\n",
            &[f, b"\r\n--boundarydonotcross\r\n"].concat(),
        )
    });
    assert_frames(&data, &FRAMES);
    // ESP32 CameraWebServer: "\r\n--boundary\r\n" before each part, CL and X-Timestamp.
    let data = stream("", |k, f| {
        part(
            &format!(
                "\r\n--123456789000000000000987654321\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {k}.000100\r\n\r\n",
                f.len()
            ),
            f,
        )
    });
    assert_frames(&data, &FRAMES);
    // Foscam: no spaces, doubled boundary, Content-type.
    let data = stream("", |_, f| {
        part(
            &format!(
                "--ipcamera\r\n--ipcamera\r\nContent-Type:image/jpeg\r\nContent-Length:{}\r\n\r\n",
                f.len()
            ),
            f,
        )
    });
    assert_frames(&data, &FRAMES);
    // GStreamer multipartmux and ffmpeg -f mpjpeg recordings.
    let frames: Vec<&[u8]> = crate::test_util::multipart_bodies(GST_MULTIPART);
    assert_frames(GST_MULTIPART, &frames);
    let frames: Vec<&[u8]> = crate::test_util::multipart_bodies(FFMPEG_MPJPEG);
    let (_, s) = assert_frames(FFMPEG_MPJPEG, &frames);
    assert_eq!(s.stats.fast_path_frames, 4);
}

#[test]
fn raw_streams_are_detected() {
    let data = FRAMES.concat();
    let (_, s) = assert_frames(&data, &FRAMES);
    assert_eq!(s.format(), Format::Raw);
    let data = [b"\r\n\r\nsome trash before".as_slice(), &FRAMES.concat()].concat();
    let (_, s) = assert_frames(&data, &FRAMES);
    assert_eq!(s.format(), Format::Raw);
}

#[test]
fn header_lines_and_parts_are_bounded() {
    // A header line that never ends, then a good part: memory stays bounded
    // (the line is not kept) and the part after it is read.
    let mut data = b"--b\r\nX-Junk: ".to_vec();
    data.extend(std::iter::repeat_n(b'a', 1 << 20));
    data.extend(b"\r\n--b\r\nContent-Type: image/jpeg\r\n\r\n");
    data.extend(GRAY);
    let (out, s) = run_chunked(&data, || 4096);
    assert_eq!(frames_of(&data, &out), vec![GRAY]);
    assert!(s.line.capacity() <= 2 * MAX_LINE);
}

#[test]
fn adversarial_multipart_stays_linear() {
    // Millions of empty parts, of boundary lines, of lines starting with an SOI.
    let empty = b"--b\r\nContent-Length: 0\r\n\r\n".repeat(1_000_000);
    let (out, s) = run_chunked(&empty, || 65536);
    assert!(out.is_empty());
    assert_eq!(s.stats.empty_parts, 1_000_000);
    let boundaries = b"--b\r\n".repeat(2_000_000);
    let (out, _) = run_chunked(&boundaries, || 65536);
    assert!(out.is_empty());
    let sois = [
        b"--b\r\n\r\n".as_slice(),
        &b"\xff\xd8\r\n".repeat(2_000_000),
    ]
    .concat();
    let (out, _) = run_chunked(&sois, || 65536);
    assert!(frames_of(&sois, &out).is_empty());
}

/// Every input the fuzzers found a problem with (tests/fixtures/fuzz/) stays
/// a test. The first: a boundary line holding binary bytes (FF among them)
/// made the result depend on where the input was cut.
#[test]
fn fuzz_regressions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let (seed, max, stream) = crate::properties::fuzz_input(&input).unwrap();
        crate::properties::check_splitter(stream, seed, max)
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        crate::properties::check_scanner(stream, seed, max)
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        n += 1;
    }
    assert!(n >= 1);
}

/// Parts with Content-Length and X-Timestamp, as an ESP32 or mjpg-streamer sends them.
fn timed_parts(boundary: &str) -> Vec<u8> {
    stream("", |k, f| {
        part(
            &format!(
                "--{boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {}.5\r\n\r\n",
                f.len(),
                100 + k
            ),
            &[f, b"\r\n"].concat(),
        )
    })
}

/// Every frame has its part's X-Timestamp and came by the Content-Length fast path.
fn assert_timed_parts(out: &[Output]) {
    let timed: Vec<(String, bool)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Frame {
                headers, by_length, ..
            } => Some((
                headers
                    .iter()
                    .find(|(n, _)| n == "x-timestamp")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
                *by_length,
            )),
            _ => None,
        })
        .collect();
    let expected: Vec<(String, bool)> = (0..FRAMES.len())
        .map(|k| (format!("{}.5", 100 + k), true))
        .collect();
    assert_eq!(timed, expected);
}

#[test]
fn a_second_http_response_is_detected_again() {
    // `curl -i --digest`: a 401 challenge with a body, then the stream.
    let body = "<html><body>401 Unauthorized</body></html>\n";
    let challenge = format!(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"abc\"\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let ok =
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\r\n";
    let data = [
        challenge.as_bytes(),
        ok.as_bytes(),
        &timed_parts("myboundary"),
    ]
    .concat();
    let (out, s) = assert_frames(&data, &FRAMES);
    assert_timed_parts(&out);
    assert_eq!(s.format(), Format::HttpMultipart);
    assert_eq!(s.stats.fast_path_frames, 4);
    // `curl -i -L`: a 302 without a body (and one whose body has no length).
    for redirect in [
        "HTTP/1.1 302 Found\r\nLocation: /video\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.0 302 Found\r\nLocation: /video\r\n\r\n<a href=\"/video\">moved</a>\r\n",
    ] {
        let data = [
            redirect.as_bytes(),
            ok.as_bytes(),
            &timed_parts("myboundary"),
        ]
        .concat();
        let (out, s) = assert_frames(&data, &FRAMES);
        assert_timed_parts(&out);
        assert_eq!(s.format(), Format::HttpMultipart);
    }
    // A raw stream, then a reconnection that records a new multipart response.
    let data = [
        "HTTP/1.0 200 OK\r\nContent-Type: video/x-mjpeg\r\n\r\n".as_bytes(),
        GRAY,
        b"\r\n",
        ok.as_bytes(),
        &timed_parts("myboundary"),
    ]
    .concat();
    let (out, s) = assert_frames(&data, &[&[GRAY][..], &FRAMES].concat());
    assert_timed_parts(&out[1..]);
    assert_eq!(s.format(), Format::HttpMultipart);
}

#[test]
fn a_stream_joined_in_the_middle_of_a_part_becomes_multipart() {
    // The tail of a part (entropy data, its EOI), then whole parts.
    let tail = &RGB[RGB.len() - 700..];
    let data = [tail, b"\r\n", &timed_parts("frame")].concat();
    let (out, s) = assert_frames(&data, &FRAMES);
    assert_timed_parts(&out);
    assert_eq!(s.format(), Format::Multipart);
    assert_eq!(s.stats.fast_path_frames, 4);
    // Garbage without any FF before the first boundary.
    let data = [b"\x01\x02garbage\r\n".as_slice(), &timed_parts("frame")].concat();
    let (out, _) = assert_frames(&data, &FRAMES);
    assert_timed_parts(&out);
}

#[test]
fn a_delimiter_at_the_declared_end_keeps_the_damage_in_its_part() {
    // Part 1 holds a JPEG cut inside its APP1 (EXIF) segment, with an exact
    // Content-Length (and then without one): the APP1 length points far
    // into part 2, whose frame and headers must come out intact.
    let cut = &EXIF[..300];
    for with_length in [true, false] {
        let mut data = Vec::new();
        for (k, body) in [cut, GRAY, RGB].iter().enumerate() {
            data.extend(format!("--b\r\nContent-Type: image/jpeg\r\nX-Part: {k}\r\n").as_bytes());
            if with_length {
                data.extend(format!("Content-Length: {}\r\n", body.len()).as_bytes());
            }
            data.extend(b"\r\n");
            data.extend_from_slice(body);
            data.extend(b"\r\n");
        }
        let (out, s) = check(&data);
        let complete: Vec<(&[u8], String)> = out
            .iter()
            .filter_map(|o| match o {
                Output::Frame { frame, headers, .. } if frame.complete => Some((
                    &data[frame.start as usize..frame.end as usize],
                    headers
                        .iter()
                        .find(|(n, _)| n == "x-part")
                        .unwrap()
                        .1
                        .clone(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            complete,
            vec![(GRAY, "1".to_string()), (RGB, "2".to_string())],
            "with length: {with_length}"
        );
        if with_length {
            // The delimiter confirmed the length: no fallback to the walk.
            assert_eq!(s.stats.length_mismatches, 0);
            assert_eq!(s.stats.fast_path_frames, 2);
        }
    }
}

/// Frames holding the stream's own boundary line in a segment payload, as
/// ffmpeg's mpjpeg muxer writes a frame whose comment holds it: the
/// Content-Length and the segment walk agree on where each part ends, so
/// every part is whole.
#[test]
fn the_boundary_inside_a_segment_payload_costs_no_frame() {
    let line = b"\r\n--myboundary\r\nContent-Type: image/jpeg\r\n\r\n";
    let frames: Vec<Vec<u8>> = vec![
        crate::properties::with_segment(GRAY, 0xFE, line, false),
        crate::properties::with_segment(RGB, 0xE1, &[b"Exif\0\0".as_slice(), line].concat(), false),
        crate::properties::with_segment(EXIF, 0xFE, line, true),
        crate::properties::with_segment(PROGRESSIVE, 0xEC, b"--myboundary--\r\n", false),
        // In the entropy data, right before the EOI.
        [
            &[
                0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11,
                0x00, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00,
            ][..],
            b"ab\r\n--myboundary\r\nContent-Type: image/jpeg\r\n\r\n",
            &[0xFF, 0xD9],
        ]
        .concat(),
        GRAY.to_vec(),
    ];
    let expected: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    // With an exact Content-Length, without one, and with lengths off by
    // some bytes either way.
    for (name, delta) in [
        ("exact", Some(0i64)),
        ("none", None),
        ("long", Some(7)),
        ("short", Some(-5)),
    ] {
        let mut data = Vec::new();
        for f in &frames {
            data.extend(b"--myboundary\r\nContent-Type: image/jpeg\r\n");
            if let Some(d) = delta {
                data.extend(format!("Content-Length: {}\r\n", f.len() as i64 + d).as_bytes());
            }
            data.extend(b"\r\n");
            data.extend(f);
            data.extend(b"\r\n");
        }
        data.extend(b"--myboundary--\r\n");
        let (out, _) = check(&data);
        let got = frames_of(&data, &out);
        let lens = |v: &[&[u8]]| v.iter().map(|f| f.len()).collect::<Vec<_>>();
        assert_eq!(
            lens(&got),
            lens(&expected),
            "Content-Length {name}: frame sizes"
        );
        assert!(got == expected, "Content-Length {name}: frame bytes");
    }
}

/// The outputs of a stream fed whole and in 1-byte pieces (the same).
fn run_whole_and_in_bytes(data: &[u8]) -> Vec<Output> {
    let (whole, _) = run_chunked(data, || usize::MAX / 2);
    let (ones, _) = run_chunked(data, || 1);
    assert_eq!(ones, whole, "1-byte chunks");
    whole
}

/// A part cut inside a COM whose length ends exactly at (or one byte into)
/// the delimiter of the part after next: the frame is broken at the first
/// delimiter line it swallowed, and the part in between comes out whole.
#[test]
fn a_segment_running_up_to_a_later_delimiter_costs_no_part() {
    let mut failures = Vec::new();
    for cl in [None, Some(200usize)] {
        // The COM ends at the line end before the delimiter, or one byte into it.
        for split in [0usize, 1] {
            let mid = [
                b"abc".as_slice(),
                b"\r\n--b\r\n\r\n",
                GRAY,
                &b"\r\n--"[..2 + split],
            ]
            .concat();
            let len = u16::try_from(mid.len() + 2).unwrap().to_be_bytes();
            let p1 = [&[0xFF, 0xD8, 0xFF, 0xFE, len[0], len[1]][..], b"abc"].concat();
            let hdr = match cl {
                Some(l) => format!("--b\r\nContent-Length: {l}\r\n\r\n"),
                None => "--b\r\n\r\n".to_string(),
            };
            let data = [
                hdr.as_bytes(),
                &p1,
                b"\r\n--b\r\n\r\n",
                GRAY,
                b"\r\n--b\r\n\r\n",
                RGB,
                b"\r\n--b--\r\n",
            ]
            .concat();
            let out = run_whole_and_in_bytes(&data);
            let got = frames_of(&data, &out);
            if got != vec![GRAY, RGB] {
                failures.push(format!("cl {cl:?} split {split}: {} frames", got.len()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// A part cut inside its EXIF thumbnail's entropy data (inside APP1): the
/// back-off goes to the delimiter line, not to the thumbnail's SOI before
/// it (which is in the same part), so no thumbnail comes out as a frame.
#[test]
fn a_part_cut_in_its_exif_thumbnail_gives_no_thumbnail() {
    let data = [
        b"--b\r\n\r\n".as_slice(),
        &EXIF[..900],
        b"\r\n--b\r\n\r\n",
        GRAY,
        b"\r\n--b--\r\n",
    ]
    .concat();
    let out = run_whole_and_in_bytes(&data);
    let got = frames_of(&data, &out);
    assert!(
        got == vec![GRAY],
        "{} frames, sizes {:?}",
        got.len(),
        got.iter().map(|f| f.len()).collect::<Vec<_>>()
    );
}

/// the stream ends inside a segment that swallowed the delimiter
/// and two more parts (the back-off comes from `finish`).
#[test]
fn a_segment_swallowing_the_rest_of_the_stream() {
    let p1 = [&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF][..], b"Exif\0\0"].concat();
    let data = [
        b"--b\r\n\r\n".as_slice(),
        &p1,
        b"\r\n--b\r\n\r\n",
        GRAY,
        b"\r\n--b\r\n\r\n",
        GRAY,
    ]
    .concat();
    let out = run_whole_and_in_bytes(&data);
    assert!(frames_of(&data, &out) == vec![GRAY, GRAY]);
}

/// The stream ends inside a segment that swallowed the delimiter, a cut part
/// and a whole one: `finish` backs off to the delimiter, the re-feed
/// rewinds again (the delimiter re-walk of the cut frame); fed everything
/// again before the next `finish`, as `Input::drain` now does, both frames
/// come out.
#[test]
fn finishing_after_a_delimiter_backoff_feeds_everything_again() {
    let p1 = [&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF][..], b"Exif\0\0"].concat();
    let data = [
        b"--b\r\n\r\n".as_slice(),
        &p1,
        b"\r\n--b\r\n\r\n",
        &GRAY[..GRAY.len() - 100],
        b"\r\n--b\r\n\r\n",
        GRAY,
    ]
    .concat();
    let contract = run_whole_and_in_bytes(&data);
    let mut s = Splitter::default();
    let mut drained = Vec::new();
    while (s.offset() as usize) < data.len() {
        let off = s.offset() as usize;
        s.feed(&data[off..], &mut drained);
    }
    // As Input::drain: after a failed finish, every byte again up to the end.
    while !s.finish(&mut drained) {
        while (s.offset() as usize) < data.len() {
            let off = s.offset() as usize;
            s.feed(&data[off..], &mut drained);
        }
    }
    assert_eq!(frames_of(&data, &contract).len(), 2);
    assert!(frames_of(&data, &drained) == frames_of(&data, &contract));
}
