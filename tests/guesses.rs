// SPDX-License-Identifier: MIT OR Apache-2.0

//! Say what you see and what you guessed: a container read as raw MJPEG
//! gets one WARNING naming it and the element to use; a stream whose frame
//! rate is assumed gets one INFO saying so and how to set it; a stream that
//! carries its timing, or a rate that was set, gets neither.

mod common;

use common::*;
use gst::prelude::*;

/// Run `desc` to its end: (warnings, infos) posted by mjpegsplit, and the frames.
fn messages(desc: &str) -> (Vec<String>, Vec<String>, usize) {
    let (buffers, messages) = run_appsink(desc);
    let (mut warnings, mut infos) = (Vec::new(), Vec::new());
    for msg in &messages {
        let from_split = msg
            .src()
            .is_some_and(|s| s.name().starts_with("mjpegsplit"));
        match msg.view() {
            gst::MessageView::Warning(w) if from_split => warnings.push(w.error().to_string()),
            gst::MessageView::Info(i) if from_split => infos.push(i.error().to_string()),
            gst::MessageView::Error(e) => panic!("{desc}: {}", e.error()),
            _ => {}
        }
    }
    (warnings, infos, buffers.len())
}

#[test]
fn a_container_read_as_raw_mjpeg_is_named() {
    init();
    let dir = TempDir::new("guesses-avi");
    let avi = dir.path("clip.avi");
    run_pipeline(&format!(
        "videotestsrc num-buffers=20 ! video/x-raw,width=64,height=48,framerate=15/1 ! jpegenc ! \
         avimux ! filesink location={avi:?}"
    ));
    for src in [
        format!("filesrc location={avi:?}"),
        format!("filesrc location={avi:?} ! queue"),
    ] {
        let (warnings, _, frames) = messages(&format!(
            "{src} ! mjpegsplit ! appsink name=sink sync=false"
        ));
        assert_eq!(frames, 20, "{src}");
        assert_eq!(warnings.len(), 1, "{src}: {warnings:?}");
        assert!(
            warnings[0].contains("RIFF (AVI") && warnings[0].contains("decodebin (or avidemux)"),
            "{}",
            warnings[0]
        );
    }
}

#[test]
fn an_assumed_frame_rate_is_said_once() {
    init();
    let dir = TempDir::new("guesses-rate");
    let raw = dir.path("curl.mjpg");
    std::fs::write(&raw, fixture("gst-jpegenc.mjpg").repeat(3)).unwrap();
    for src in [
        format!("filesrc location={raw:?}"),
        format!("filesrc location={raw:?} ! queue"),
    ] {
        let (warnings, infos, frames) = messages(&format!(
            "{src} ! mjpegsplit ! appsink name=sink sync=false"
        ));
        assert!(frames > 10, "{src}: {frames}");
        assert!(warnings.is_empty(), "{src}: {warnings:?}");
        assert_eq!(infos.len(), 1, "{src}: {infos:?}");
        assert!(
            infos[0].contains("assumed 30/1 fps") && infos[0].contains("framerate=15/1"),
            "{}",
            infos[0]
        );
        // A rate that was set: nothing assumed.
        let (_, infos, _) = messages(&format!(
            "{src} ! mjpegsplit framerate=15/1 ! appsink name=sink sync=false"
        ));
        assert!(infos.is_empty(), "{src}: {infos:?}");
    }
    // Part headers that carry the timing: nothing assumed either.
    let jpeg = fixture("gray.jpg");
    let mut timed = Vec::new();
    let mut rated = Vec::new();
    for k in 0..10u64 {
        for (data, header) in [
            (
                &mut timed,
                format!("X-Timestamp: {}.{:03}", 100 + k / 10, (k % 10) * 100),
            ),
            (&mut rated, "X-Framerate: 12".to_string()),
        ] {
            data.extend(format!("--b\r\nContent-Type: image/jpeg\r\n{header}\r\n\r\n").as_bytes());
            data.extend(&jpeg);
            data.extend(b"\r\n");
        }
    }
    for (name, data) in [("x-timestamp", timed), ("x-framerate", rated)] {
        let path = dir.path(&format!("{name}.mjpg"));
        std::fs::write(&path, data).unwrap();
        let (_, infos, frames) = messages(&format!(
            "filesrc location={path:?} ! mjpegsplit ! appsink name=sink sync=false"
        ));
        assert_eq!(frames, 10, "{name}");
        assert!(infos.is_empty(), "{name}: {infos:?}");
    }
}

#[test]
fn the_transcode_example_says_the_rate_it_assumed() {
    let dir = TempDir::new("guesses-transcode");
    let raw = dir.path("curl.mjpg");
    std::fs::write(&raw, fixture("gst-jpegenc.mjpg").repeat(2)).unwrap();
    let run = |extra: &[&str], out: &str| {
        let out = std::process::Command::new(example("transcode"))
            .args(extra)
            .arg(&raw)
            .arg(dir.path(out))
            .output()
            .expect("cargo build --examples first (./dev test does)");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let text = run(&[], "a.mp4");
    assert!(
        text.contains("note: ") && text.contains("assumed 30/1 fps"),
        "{text}"
    );
    let text = run(&["--framerate", "15"], "b.mp4");
    assert!(!text.contains("assumed"), "{text}");
}
