// SPDX-License-Identifier: MIT OR Apache-2.0

//! `insert-dht`: frames without Huffman tables (as USB webcams and AVI1
//! recordings send them) get the standard tables of the JPEG spec; frames
//! with tables stay byte-identical. Checked on real frames: a libjpeg-turbo
//! frame made with the standard tables, then with its DHT segments taken
//! out (and, as in MJPEG AVI files, its JFIF header replaced by an AVI1
//! one), decoded before and after by djpeg, Pillow and ffmpeg: the pixels
//! are those of the original.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `jpeg`'s segments before the first SOS, each as (marker code, bytes).
fn segments(jpeg: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 2;
    while jpeg[pos + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        out.push((jpeg[pos + 1], &jpeg[pos..pos + 2 + len]));
        pos += 2 + len;
    }
    out
}

/// `jpeg` rebuilt without its DHT segments, and with `app0` (a whole APP0
/// segment) in place of its JFIF one when given.
fn without_dht(jpeg: &[u8], app0: Option<&[u8]>) -> Vec<u8> {
    let segs = segments(jpeg);
    let header: usize = 2 + segs.iter().map(|(_, b)| b.len()).sum::<usize>();
    let mut out = jpeg[..2].to_vec();
    for (code, bytes) in segs {
        match (code, app0) {
            (0xC4, _) => {}
            (0xE0, Some(a)) => out.extend_from_slice(a),
            _ => out.extend_from_slice(bytes),
        }
    }
    out.extend_from_slice(&jpeg[header..]);
    out
}

/// The RGB pixels of a JPEG file as djpeg, Pillow and ffmpeg decode it.
fn decoded(path: &Path) -> [(&'static str, Vec<u8>); 3] {
    let djpeg = run(Command::new("djpeg").args(["-pnm"]).arg(path));
    let pillow = run(Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys; from PIL import Image; \
             sys.stdout.buffer.write(Image.open(sys.argv[1]).convert('RGB').tobytes())",
        ])
        .arg(path));
    let ffmpeg = run(Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]));
    [("djpeg", djpeg), ("Pillow", pillow), ("ffmpeg", ffmpeg)]
}

#[test]
fn frames_without_tables_get_the_standard_ones() {
    init();
    let dir = TempDir::new("dht");
    let ppm = dir.path("in.ppm");
    run(Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .args(["testsrc2=size=320x240", "-frames:v", "1", "-y"])
        .arg(&ppm));
    // libjpeg-turbo's cjpeg codes baseline frames with the standard tables.
    let original = run(Command::new("cjpeg")
        .args(["-quality", "85", "-sample", "2x2"])
        .arg(&ppm));
    let dht_count = |j: &[u8]| segments(j).iter().filter(|(c, _)| *c == 0xC4).count();
    assert!(dht_count(&original) > 0);
    let bare = without_dht(&original, None);
    let avi1_app0: &[u8] = &[
        0xFF, 0xE0, 0x00, 0x10, b'A', b'V', b'I', b'1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let avi1 = without_dht(&original, Some(avi1_app0));
    assert_eq!(dht_count(&bare), 0);
    assert_eq!(dht_count(&avi1), 0);

    let stream = dir.path("stream.mjpg");
    std::fs::write(
        &stream,
        [original.clone(), bare.clone(), avi1.clone()].concat(),
    )
    .unwrap();
    let buffers = appsink_buffers(&format!(
        "filesrc location={stream:?} ! mjpegsplit insert-dht=true ! appsink name=sink sync=false"
    ));
    assert_eq!(buffers.len(), 3);
    let has_meta =
        |b: &gst::Buffer| gst::meta::CustomMeta::from_buffer(b, gstmjpegsplit::DHT_META).is_ok();
    let bytes: Vec<Vec<u8>> = buffers.iter().map(|b| buffer_bytes(b)).collect();
    // A frame with tables: byte-identical, no meta.
    assert!(bytes[0] == original);
    assert!(!has_meta(&buffers[0]));
    let reference = dir.path("original.jpg");
    std::fs::write(&reference, &original).unwrap();
    let want = decoded(&reference);
    for (k, (name, input)) in [(1, ("bare", &bare)), (2, ("avi1", &avi1))] {
        let fixed = &bytes[k];
        assert!(
            has_meta(&buffers[k]),
            "{name}: no {}",
            gstmjpegsplit::DHT_META
        );
        assert_eq!(dht_count(fixed), 1, "{name}: one DHT");
        assert_eq!(fixed.len(), input.len() + 420, "{name}");
        let path = dir.path(&format!("{name}-fixed.jpg"));
        std::fs::write(&path, fixed).unwrap();
        for ((decoder, got), (_, reference)) in decoded(&path).iter().zip(&want) {
            assert!(!reference.is_empty());
            assert!(
                got == reference,
                "{name}: {decoder} pixels differ from the original's"
            );
        }
        // Taken again, the fixed frame stays as it is.
        assert_eq!(gstmjpegsplit::jpeg::dht::with_standard_dht(fixed), None);
    }

    // Off (the default): every frame as it came.
    let plain = appsink_buffers(&format!(
        "filesrc location={stream:?} ! mjpegsplit ! appsink name=sink sync=false"
    ));
    let plain: Vec<Vec<u8>> = plain.iter().map(|b| buffer_bytes(b)).collect();
    assert!(plain == [original, bare, avi1]);
}
