// SPDX-License-Identifier: MIT OR Apache-2.0

//! Bounded memory and time on hostile input, and errors a person can act on.
//! The memory cases run `gst-launch-1.0` under `/usr/bin/time` to read its
//! peak RSS.

mod common;

use common::*;
use gst::prelude::*;
use std::io::Write;
use std::path::Path;

/// Fast deterministic bytes.
fn random_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(n);
    v
}

struct Run {
    frames: Vec<Vec<u8>>,
    peak_rss_kb: u64,
    stderr: String,
    ok: bool,
}

/// Run `gst-launch-1.0 -q ARGS` under `/usr/bin/time`: its output and peak RSS (KB).
fn gst_launch_rss(args: &[String], dir: &TempDir) -> (std::process::Output, u64) {
    let rss = dir.path("rss");
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        plugin.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (cargo build --lib; ./dev test does)"
    );
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .args(["gst-launch-1.0", "-q"])
        .args(args)
        .env("GST_PLUGIN_PATH", plugin)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&rss).unwrap();
    let kb = text.trim().lines().last().unwrap().trim().parse().unwrap();
    (out, kb)
}

/// `filesrc ! mjpegsplit ! multifilesink` in a separate process.
fn gst_launch(input: &Path, dir: &TempDir) -> Run {
    let out_dir = dir.path("frames");
    std::fs::create_dir_all(&out_dir).unwrap();
    let args = [
        "filesrc".to_string(),
        format!("location={}", input.display()),
        "!".into(),
        "mjpegsplit".into(),
        "!".into(),
        "multifilesink".into(),
        format!("location={}/%05d.jpg", out_dir.display()),
    ];
    let (out, peak_rss_kb) = gst_launch_rss(&args, dir);
    let mut names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    Run {
        frames: names.iter().map(|p| std::fs::read(p).unwrap()).collect(),
        peak_rss_kb,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout),
        ok: out.status.success(),
    }
}

/// Reference peak RSS: the same file through `filesrc ! fakesink`.
fn floor_rss(input: &Path, dir: &TempDir) -> u64 {
    let args = [
        "filesrc".to_string(),
        format!("location={}", input.display()),
        "!".into(),
        "fakesink".into(),
    ];
    let (out, kb) = gst_launch_rss(&args, dir);
    assert!(out.status.success());
    kb
}

fn write_case(dir: &TempDir, name: &str, parts: &[&[u8]]) -> std::path::PathBuf {
    let path = dir.path(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for p in parts {
        f.write_all(p).unwrap();
    }
    path
}

const MIB: usize = 1024 * 1024;

#[test]
fn hostile_inputs_keep_memory_bounded_and_good_frames_exact() {
    let good_a = fixture("exif-thumb.jpg");
    let good_b = fixture("rgb.jpg");
    let dir = TempDir::new("bounded");
    // 1. 256 MiB of random bytes between two good frames.
    let noise = random_bytes(256 * MIB, 0x9E37_79B9_7F4A_7C15);
    // 2. A frame that never ends: headers, then 256 MiB of entropy data without EOI.
    let sos = memchr::memmem::find(&good_a, &[0xFF, 0xDA]).unwrap();
    let header =
        &good_a[..sos + 2 + usize::from(u16::from_be_bytes([good_a[sos + 2], good_a[sos + 3]]))];
    let mut endless = noise.clone();
    for b in endless.iter_mut() {
        if *b == 0xFF {
            *b = 0x7F; // no marker at all
        }
    }
    // 3. A multipart header line that never ends, and a header block that never ends.
    let long_line: Vec<u8> = [b"--b\r\nX-Junk: ".as_slice(), &vec![b'a'; 256 * MIB]].concat();
    let many_headers = b"X-Header: value\r\n".repeat(16 * MIB / 17 * 4);
    let cases: Vec<(&str, Vec<&[u8]>)> = vec![
        ("noise", vec![&good_a, &noise, &good_b]),
        ("endless-frame", vec![&good_a, header, &endless, &good_b]),
        (
            "endless-line",
            vec![
                b"--b\r\n\r\n",
                &good_a,
                b"\r\n",
                &long_line,
                b"\r\n--b\r\n\r\n",
                &good_b,
            ],
        ),
        (
            "endless-headers",
            vec![
                b"--b\r\n\r\n",
                &good_a,
                b"\r\n--b\r\n",
                &many_headers,
                b"\r\n--b\r\n\r\n",
                &good_b,
            ],
        ),
    ];
    for (name, parts) in cases {
        let input = write_case(&dir, &format!("{name}.mjpg"), &parts);
        let floor = floor_rss(&input, &dir);
        let run = gst_launch(&input, &dir);
        std::fs::remove_file(&input).unwrap();
        eprintln!(
            "{name}: peak RSS {} KB (filesrc ! fakesink: {floor} KB)",
            run.peak_rss_kb
        );
        assert!(run.ok, "{name}: {}", run.stderr);
        assert!(!run.stderr.contains("ERROR"), "{name}: {}", run.stderr);
        assert_eq!(
            run.frames.first(),
            Some(&good_a),
            "{name}: first good frame"
        );
        assert_eq!(run.frames.last(), Some(&good_b), "{name}: last good frame");
        // Nothing invented out of the noise.
        assert_eq!(run.frames.len(), 2, "{name}: {} frames", run.frames.len());
        // The default max-frame-size (16 MiB) bounds what is held.
        assert!(
            run.peak_rss_kb < floor + 40 * 1024,
            "{name}: peak RSS {} KB vs {floor} KB",
            run.peak_rss_kb
        );
        std::fs::remove_dir_all(dir.path("frames")).unwrap();
    }
}

fn error_of(desc: &str) -> Option<String> {
    init();
    let pipeline = gst::parse::launch(desc).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut error = None;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                error = Some(e.error().to_string());
                break;
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    error
}

#[test]
fn plainly_not_mjpeg_gives_one_clear_error() {
    let dir = TempDir::new("not-mjpeg");
    let page = dir.path("401.html");
    std::fs::write(
        &page,
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cam\"\r\nContent-Type: text/html\r\n\r\n<html><body>401</body></html>",
    )
    .unwrap();
    let e = error_of(&format!(
        "filesrc location={page:?} ! mjpegsplit ! fakesink"
    ))
    .unwrap();
    assert!(
        e.contains("No JPEG frame") && e.contains("'HTTP/1.1 401 Unauthorized'"),
        "{e}"
    );

    let mp4 = dir.path("clip.mp4");
    run_pipeline(&format!(
        "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48 ! x264enc ! mp4mux ! filesink location={mp4:?}"
    ));
    let e = error_of(&format!("filesrc location={mp4:?} ! mjpegsplit ! fakesink")).unwrap();
    assert!(e.contains("MP4/QuickTime"), "{e}");

    // A stream that goes on: the error comes after probe-bytes, not at the end.
    let text = dir.path("text.txt");
    std::fs::write(&text, "not a camera\n".repeat(400_000)).unwrap();
    let e = error_of(&format!(
        "filesrc location={text:?} blocksize=4096 ! queue ! mjpegsplit probe-bytes=65536 ! fakesink"
    ))
    .unwrap();
    assert!(
        e.contains("first 65536 bytes") && e.contains("'not a camera"),
        "{e}"
    );

    // Once frames were seen, damage is never fatal.
    let mut data = fixture("gray.jpg");
    data.extend(random_bytes(MIB, 7));
    data.extend(fixture("gray.jpg"));
    let ok = dir.path("ok.mjpg");
    std::fs::write(&ok, data).unwrap();
    assert_eq!(
        error_of(&format!(
            "filesrc location={ok:?} ! mjpegsplit probe-bytes=1024 ! fakesink"
        )),
        None
    );
}

/// Pull-mode sources that never end (fakesrc activates in pull mode): the
/// first frames are indexed from at most 16 MiB, so an endless source that
/// is no MJPEG gets its error, and one that gives empty buffers ends.
#[test]
fn endless_pull_sources_end_in_a_message() {
    for (desc, probe) in [
        ("fakesrc sizetype=fixed sizemax=4096 filltype=random", 65536),
        ("fakesrc sizetype=fixed sizemax=100 filltype=zero", 8 * MIB),
    ] {
        let started = std::time::Instant::now();
        let e = error_of(&format!(
            "{desc} ! mjpegsplit probe-bytes={probe} ! fakesink"
        ))
        .unwrap_or_else(|| panic!("{desc}: no error"));
        assert!(e.contains("No JPEG frame in the first"), "{desc}: {e}");
        // Not a timed test: this only tells a bounded scan from none.
        assert!(started.elapsed().as_secs() < 25, "{desc}");
    }
    // Empty buffers, forever: the end of the stream (an empty one).
    init();
    let pipeline = gst::parse::launch("fakesrc ! mjpegsplit ! fakesink").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut warned = false;
    let mut end = None;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Warning(w) => {
                warned |= w
                    .error()
                    .to_string()
                    .contains("ended before any data arrived")
            }
            gst::MessageView::Eos(_) | gst::MessageView::Error(_) => {
                end = Some(msg.type_());
                break;
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(end, Some(gst::MessageType::Eos));
    assert!(warned);
}

#[test]
fn each_kind_of_damage_is_reported_once() {
    init();
    let good = fixture("rgb.jpg");
    let cut = &good[..good.len() - 300];
    let big = fixture("ffmpeg.mjpg"); // six frames of about 6 KB
    let mut data = Vec::new();
    for _ in 0..10 {
        data.extend(&good);
        data.extend(cut);
        data.extend(&big);
    }
    let pipeline =
        gst::parse::launch("appsrc name=src ! mjpegsplit max-frame-size=4096 ! fakesink")
            .unwrap()
            .downcast::<gst::Bin>()
            .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    for chunk in data.chunks(3000) {
        src.push_buffer(gst::Buffer::from_slice(chunk.to_vec()))
            .unwrap();
    }
    src.end_of_stream().unwrap();
    let bus = pipeline.bus().unwrap();
    let mut warnings = Vec::new();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    // 10 cut frames and 60 oversized ones: one warning for each kind.
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("cut short") && w.contains("repaired"))
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("max-frame-size (4096 bytes)"))
    );
}
