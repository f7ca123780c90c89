// SPDX-License-Identifier: MIT OR Apache-2.0

//! Recordings play at the rate they carry, with no property set: the
//! `X-Timestamp` part headers of mjpg-streamer, ustreamer or an ESP32-CAM
//! (relative to the first frame), else an `X-Framerate` header. Through
//! mjpegsplit alone, playbin, gst-play-1.0, gst-discoverer, decodebin and
//! gst-transcoder-1.0, and in the demo's own recording. None of the rates
//! here is the default 30/1.

mod common;

#[path = "common/autoplug.rs"]
mod autoplug;

use autoplug::*;
use common::*;
use std::path::PathBuf;

/// An `X-Timestamp` header line: the camera's uptime clock at `us`.
fn stamp(us: u64) -> String {
    format!("X-Timestamp: {}.{:06}\r\n", us / 1_000_000, us % 1_000_000)
}

struct Recording {
    path: PathBuf,
    frames: usize,
    /// Span of the frames (last timestamp + one frame).
    duration_ms: u64,
    /// The rate an `X-Framerate` header gives, if any.
    framerate: Option<&'static str>,
}

fn recordings(dir: &TempDir) -> Vec<Recording> {
    let jpegs = jpeg_frames(45);
    // mjpg-streamer with X-Framerate: 15 fps from 1234.5 s of uptime.
    let cam15 = multipart(&jpegs, |k| {
        stamp(1_234_500_000 + k as u64 * 1_000_000 / 15) + "X-Framerate: 15\r\n"
    });
    // ESP32-CAM: X-Timestamp only, 12.5 fps (80 ms apart).
    let esp32 = multipart(&jpegs[..30], |k| stamp(87_000_000 + k as u64 * 80_000));
    // X-Framerate only: 10 fps.
    let ten = multipart(&jpegs[..30], |_| "X-Framerate: 10\r\n".into());
    // `curl -i` of the first.
    let curl_i = [
        &b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=boundarydonotcross\r\n\r\n"[..],
        &cam15,
    ]
    .concat();
    let files = [
        ("cam15.bin", cam15, 45, 3000, Some("15/1")),
        ("esp32", esp32, 30, 2400, None),
        ("ten.raw", ten, 30, 3000, Some("10/1")),
        ("capture", curl_i, 45, 3000, Some("15/1")),
    ];
    files
        .into_iter()
        .map(|(name, data, frames, duration_ms, framerate)| {
            let path = dir.path(name);
            std::fs::write(&path, data).unwrap();
            Recording {
                path,
                frames,
                duration_ms,
                framerate,
            }
        })
        .collect()
}

#[test]
fn mjpegsplit_times_frames_by_their_x_timestamp_by_default() {
    init();
    let jpegs = jpeg_frames(20);
    // 15 fps, then the camera stalls for a second after frame 9.
    let us =
        |k: usize| 1_234_500_000 + k as u64 * 1_000_000 / 15 + if k >= 10 { 1_000_000 } else { 0 };
    let data = multipart(&jpegs, |k| stamp(us(k)));
    let dir = TempDir::new("real-rate-stall");
    let path = dir.path("stall.bin");
    std::fs::write(&path, data).unwrap();
    let pts: Vec<gst::ClockTime> = appsink_buffers(&format!(
        "filesrc location={path:?} ! mjpegsplit ! appsink name=sink sync=false"
    ))
    .iter()
    .map(|b| b.pts().unwrap())
    .collect();
    let want: Vec<gst::ClockTime> = (0..20)
        .map(|k| gst::ClockTime::from_useconds(us(k) - us(0)))
        .collect();
    assert_eq!(pts, want);
}

#[test]
fn discoverer_reports_the_recorded_duration() {
    let dir = TempDir::new("real-rate-discover");
    let home = TempDir::new("real-rate-discover-home");
    for r in recordings(&dir) {
        let report = discover(&r.path, true, &home);
        assert_eq!(topology(&report), ["video: JPEG"], "{:?}: {report}", r.path);
        // To within the rounding of microsecond timestamps (1/15 s).
        let duration = clock_time(field(&report, "Duration").unwrap());
        assert_span(duration, r.duration_ms, &r.path);
        if let Some(fps) = r.framerate {
            assert_eq!(field(&report, "Frame rate"), Some(fps), "{:?}", r.path);
        }
    }
}

#[test]
fn playbin_plays_recordings_at_their_rate_and_seeks() {
    let dir = TempDir::new("real-rate-playbin");
    for r in recordings(&dir) {
        let p = preroll(&r.path, Some(gst::ClockTime::from_seconds(2)));
        assert!(p.has("mjpegsplit"), "{:?}: {:?}", r.path, p.factories);
        assert_span(p.duration.unwrap(), r.duration_ms, &r.path);
        assert_eq!(
            p.position_after_seek,
            Some(gst::ClockTime::from_seconds(2)),
            "{:?}",
            r.path
        );
    }
}

#[test]
fn gst_play_plays_recordings_to_their_recorded_end() {
    let dir = TempDir::new("real-rate-gst-play");
    let home = TempDir::new("real-rate-gst-play-home");
    for r in &recordings(&dir)[..2] {
        let line = gst_play(&r.path, &home);
        // gst-play-1.0 shows tenths, rounded down: 0:00:02.9 for 2.999999 s.
        let shown = clock_time(&format!("{}00000000", line.rsplit("/ ").next().unwrap()));
        let want = gst::ClockTime::from_mseconds(r.duration_ms);
        assert!(
            shown <= want && want - shown <= gst::ClockTime::from_mseconds(101),
            "{:?}: {line}",
            r.path
        );
    }
}

#[test]
fn decodebin_and_gst_transcoder_keep_the_recorded_rate() {
    init();
    let dir = TempDir::new("real-rate-transcode");
    let home = TempDir::new("real-rate-transcode-home");
    for r in recordings(&dir) {
        let mp4 = dir.path("decodebin.mp4");
        run_pipeline(&format!(
            "filesrc location={:?} ! decodebin ! videoconvert ! x264enc speed-preset=ultrafast ! \
             mp4mux ! filesink location={mp4:?}",
            r.path
        ));
        let (frames, span) = mp4_frames_and_span(mp4.to_str().unwrap());
        assert_eq!(frames, r.frames, "{:?}", r.path);
        assert_span(span, r.duration_ms, &r.path);

        let mp4 = dir.path("transcoder.mp4");
        let _ = std::fs::remove_file(&mp4);
        transcode_to_mp4(&r.path, &mp4, &home);
        let (frames, span) = mp4_frames_and_span(mp4.to_str().unwrap());
        assert_transcoded(frames, span, r.frames, r.duration_ms, &r.path);
    }
}

#[test]
fn the_demo_recording_carries_its_rate() {
    let dir = TempDir::new("real-rate-demo");
    let home = TempDir::new("real-rate-demo-home");
    let input = dir.path("sample.mjpg");
    let output = dir.path("sample.mp4");
    // What `./dev demo` runs, for 3 s: no --framerate.
    let out = std::process::Command::new(example("transcode"))
        .args(["--generate", "3", "--quality", "35"])
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sample.mp4: 45 frames, 3.000 s of H.264"),
        "{stdout}"
    );
    let report = discover(&input, true, &home);
    let duration = clock_time(field(&report, "Duration").unwrap());
    assert_span(duration, 3000, &input);
}
