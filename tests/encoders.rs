// SPDX-License-Identifier: MIT OR Apache-2.0

//! Installing the plugin leaves encoding pipelines as they were: encodebin
//! (what camerabin and transcodebin use) with a JPEG profile writes the
//! same bytes with and without it, on every GStreamer version; and from
//! 1.24 on, where encodebin takes a parser for `image/jpeg` only if its sink
//! template starts with `image/jpeg`, mjpegsplit is not plugged at all
//! (1.22's encodebin plugs any parser whose pads intersect the format).

use std::process::Command;

mod common;

/// Run `videotestsrc ! encodebin profile=image/jpeg` with the plugin or
/// without: the elements encodebin made (their types) and the JPEGs written.
fn encode(with_plugin: bool, dir: &common::TempDir) -> (Vec<String>, Vec<Vec<u8>>) {
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        plugin.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (./dev test does)"
    );
    let tag = if with_plugin { "with" } else { "without" };
    let pattern = dir.path(&format!("{tag}-%d.jpg"));
    let out = Command::new("gst-launch-1.0")
        .args(["-v", "videotestsrc", "num-buffers=3", "pattern=ball", "!"])
        .args(["video/x-raw,width=320,height=240,framerate=5/1", "!"])
        .args(["encodebin", "profile=image/jpeg", "!", "multifilesink"])
        .arg(format!("location={}", pattern.display()))
        .env(
            "GST_PLUGIN_PATH",
            if with_plugin {
                plugin.as_os_str()
            } else {
                "".as_ref()
            },
        )
        .output()
        .expect("gst-launch-1.0 (gstreamer1.0-tools)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{tag} the plugin: {text}");
    let mut elements: Vec<String> = text
        .split("GstEncodeBin:encodebin0/")
        .skip(1)
        .filter_map(|rest| rest.split(':').next())
        .map(str::to_string)
        .collect();
    elements.sort();
    elements.dedup();
    let jpegs = (0..3)
        .map(|i| std::fs::read(dir.path(&format!("{tag}-{i}.jpg"))).unwrap())
        .collect();
    (elements, jpegs)
}

#[test]
fn encodebin_writes_the_same_jpegs_with_the_plugin() {
    common::init();
    let dir = common::TempDir::new("encoders");
    let (without, theirs) = encode(false, &dir);
    let (with, ours) = encode(true, &dir);
    assert!(without.iter().any(|e| e == "GstJpegEnc"), "{without:?}");
    assert_eq!(ours, theirs, "the JPEGs differ");
    if gst::version() >= (1, 24, 0, 0) {
        assert_eq!(with, without);
    } else {
        // 1.22: the only difference is mjpegsplit, passing the frames on.
        let extra: Vec<_> = with.iter().filter(|e| !without.contains(e)).collect();
        assert!(
            extra.iter().all(|e| *e == "GstMjpegSplit"),
            "{with:?} / {without:?}"
        );
    }
}
