// SPDX-License-Identifier: MIT OR Apache-2.0

//! playbin/decodebin pick mjpegsplit for MJPEG streams (through the
//! plugin's typefinder), play them at their frame rate, seek and report the
//! duration; still JPEGs and other multipart content are left alone.

mod common;

use common::*;
use gst::prelude::*;

struct Played {
    /// Factories of the elements in the pipeline at the end (decodebin may
    /// try an element and drop it).
    factories: Vec<String>,
    /// Pipeline clock running time from PLAYING to EOS.
    running: gst::ClockTime,
    duration: Option<gst::ClockTime>,
    position_after_seek: Option<gst::ClockTime>,
}

fn play(path: &std::path::Path, seek_to: Option<gst::ClockTime>) -> Played {
    init();
    let playbin = gst::ElementFactory::make("playbin").build().unwrap();
    playbin.set_property("uri", format!("file://{}", path.display()));
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", true)
        .build()
        .unwrap();
    playbin.set_property("video-sink", &sink);
    let bus = playbin.bus().unwrap();
    playbin.set_state(gst::State::Paused).unwrap();
    assert_eq!(
        playbin.state(gst::ClockTime::from_seconds(10)).0,
        Ok(gst::StateChangeSuccess::Success)
    );
    let duration = playbin.query_duration::<gst::ClockTime>();
    let mut position_after_seek = None;
    if let Some(t) = seek_to {
        playbin
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, t)
            .unwrap();
        playbin.state(gst::ClockTime::from_seconds(10)).0.unwrap();
        position_after_seek = playbin.query_position::<gst::ClockTime>();
    }
    playbin.set_state(gst::State::Playing).unwrap();
    playbin.state(gst::ClockTime::from_seconds(10)).0.unwrap();
    let mut running = gst::ClockTime::ZERO;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Eos(_) => {
                let clock = playbin.clock().unwrap();
                running = clock.time() - playbin.base_time().unwrap();
                break;
            }
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    let factories = playbin
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .iterate_recurse()
        .into_iter()
        .filter_map(|e| e.ok()?.factory().map(|f| f.name().to_string()))
        .collect();
    playbin.set_state(gst::State::Null).unwrap();
    Played {
        factories,
        running,
        duration,
        position_after_seek,
    }
}

/// 60 identical frames: 2 s at the default 30/1.
fn recordings(dir: &TempDir) -> Vec<std::path::PathBuf> {
    let frame = fixture("gray.jpg");
    let raw = dir.path("raw.mjpg");
    std::fs::write(&raw, frame.repeat(60)).unwrap();
    let mut mp =
        b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=x\r\n\r\n".to_vec();
    for _ in 0..60 {
        mp.extend(
            format!(
                "--x\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                frame.len()
            )
            .as_bytes(),
        );
        mp.extend(&frame);
        mp.extend(b"\r\n");
    }
    let multipart = dir.path("curl-i.mjpg");
    std::fs::write(&multipart, mp).unwrap();
    vec![raw, multipart]
}

#[test]
fn playbin_plays_mjpeg_recordings_at_their_frame_rate() {
    let dir = TempDir::new("playbin");
    for path in recordings(&dir) {
        let p = play(&path, None);
        assert!(
            p.factories.iter().any(|f| f == "mjpegsplit"),
            "{:?}",
            p.factories
        );
        assert_eq!(
            p.duration,
            Some(gst::ClockTime::from_seconds(2)),
            "{path:?}"
        );
        // Real time on the pipeline clock: 2 s of video take 2 s.
        assert!(
            p.running >= gst::ClockTime::from_mseconds(1950)
                && p.running < gst::ClockTime::from_seconds(4),
            "{path:?}: {}",
            p.running
        );
    }
}

#[test]
fn playbin_seeks() {
    let dir = TempDir::new("playbin-seek");
    for path in recordings(&dir) {
        let p = play(&path, Some(gst::ClockTime::from_seconds(1)));
        assert_eq!(
            p.position_after_seek,
            Some(gst::ClockTime::from_seconds(1)),
            "{path:?}"
        );
        // The second half plays in real time.
        assert!(
            p.running >= gst::ClockTime::from_mseconds(950)
                && p.running < gst::ClockTime::from_mseconds(1800),
            "{path:?}: {}",
            p.running
        );
    }
}

#[test]
fn still_jpegs_stay_images_and_other_multipart_content_is_left_alone() {
    let dir = TempDir::new("left-alone");
    // decodebin may plug mjpegsplit as the parser of a still JPEG (as it
    // plugs jpegparse in GStreamer 1.24+): it must stay an image.
    let still = dir.path("still.jpg");
    std::fs::write(&still, fixture("exif-thumb.jpg")).unwrap();
    let p = play(&still, None);
    assert!(
        p.factories.iter().any(|f| f == "jpegdec"),
        "{:?}",
        p.factories
    );
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    for (with, path) in [(true, plugin.to_str().unwrap()), (false, "")] {
        let out = std::process::Command::new("gst-discoverer-1.0")
            .arg(&still)
            .env("GST_PLUGIN_PATH", path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("video(image) #0") && text.contains("Duration: 0:00:00.000000000"),
            "plugin {with}: {text}"
        );
    }

    let png = dir.path("png.multipart");
    run_pipeline(&format!(
        "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48 ! pngenc ! multipartmux ! filesink location={png:?}"
    ));
    let p = play(&png, None);
    assert!(
        !p.factories.iter().any(|f| f == "mjpegsplit"),
        "{:?}",
        p.factories
    );
    assert!(
        p.factories.iter().any(|f| f == "multipartdemux"),
        "{:?}",
        p.factories
    );
}

#[test]
fn discoverer_reports_the_duration() {
    let dir = TempDir::new("discoverer");
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        plugin.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (./dev test does)"
    );
    for path in recordings(&dir) {
        let out = std::process::Command::new("gst-discoverer-1.0")
            .arg(&path)
            .env("GST_PLUGIN_PATH", &plugin)
            .output()
            .expect("gst-discoverer-1.0 (gstreamer1.0-plugins-base-apps)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Duration: 0:00:02.000000000"),
            "{path:?}: {text}"
        );
    }
}
