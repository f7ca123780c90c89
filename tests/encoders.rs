// SPDX-License-Identifier: MIT OR Apache-2.0

//! Installing the plugin leaves encoding pipelines as they were: encodebin
//! (what camerabin and transcodebin use) with a JPEG profile makes the same
//! elements and writes the same bytes with and without it, on every
//! GStreamer version (from 1.24 on encodebin takes a parser for
//! `image/jpeg` only if its sink template starts with `image/jpeg`, which
//! ours does not; on 1.22 it takes any parser whose pads meet the format,
//! and there mjpegsplit is a demuxer).

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
        // A registry of its own: runs with and without the plugin at once
        // would rewrite the same file.
        .env("GST_REGISTRY", dir.path(&format!("registry-{tag}.bin")))
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
    assert_eq!(with, without, "the elements encodebin made");
}

/// A camerabin still capture of `size`x`size`: the output line of
/// tests/scripts/camerabin_capture.py ("done" and the factories used).
fn camerabin(with_plugin: bool, size: u32, dir: &common::TempDir) -> (String, Vec<u8>) {
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/camerabin_capture.py");
    let tag = if with_plugin { "with" } else { "without" };
    let image = dir.path(&format!("capture-{tag}.jpg"));
    let out = Command::new("timeout")
        .args(["60", "/usr/bin/python3"])
        .arg(&script)
        .arg(&image)
        .arg(size.to_string())
        .env(
            "GST_PLUGIN_PATH",
            if with_plugin {
                plugin.as_os_str()
            } else {
                "".as_ref()
            },
        )
        .env("GST_REGISTRY", dir.path(&format!("registry-{tag}.bin")))
        .output()
        .expect("python3 (python3-gi)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = text.lines().last().unwrap_or_default().to_string();
    (last, std::fs::read(&image).unwrap_or_default())
}

#[test]
fn camerabin_captures_as_without_the_plugin() {
    let dir = common::TempDir::new("camerabin");
    // A big still, as the 3000x3000 capture.
    let (without, theirs) = camerabin(false, 3000, &dir);
    let (with, ours) = camerabin(true, 3000, &dir);
    assert!(
        without.starts_with("done ") && without.contains("jpegenc"),
        "{without}"
    );
    assert_eq!(with, without);
    // Both a decodable 3000x3000 JPEG. (Not the same bytes: which frame
    // camerabin captures, scaled from the viewfinder's or not, depends on
    // timing, with or without the plugin.)
    for (tag, jpeg) in [("with", &ours), ("without", &theirs)] {
        let path = dir.path(&format!("decode-{tag}.jpg"));
        std::fs::write(&path, jpeg).unwrap();
        let out = Command::new("djpeg")
            .arg(&path)
            .output()
            .expect("djpeg (libjpeg-turbo-progs)");
        assert!(out.status.success(), "djpeg: the capture {tag} the plugin");
        assert!(out.stdout.starts_with(b"P6\n3000 3000\n"), "{tag}");
    }
}
