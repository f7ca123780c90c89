// SPDX-License-Identifier: MIT OR Apache-2.0

//! Typefinding on what is there: in push mode (HTTP in playbin, gst-play,
//! uridecodebin, gst-transcoder) the length is unknown and the typefind
//! element holds only the bytes that have arrived, from 2 KiB on. A camera
//! stream (multipart, or an HTTP response with a multipart body) whose first
//! part is a JPEG is recognised on the first 2–4 KiB, before GStreamer's
//! multipart typefinder sends it to multipartdemux; other multipart content
//! and a still JPEG are left to GStreamer's typefinders.

mod common;

use common::*;
use gst::prelude::*;
use std::sync::{Arc, Mutex};

/// The caps `typefind` finds once the first `n` bytes of `data` were pushed
/// (more bytes follow later, as from a camera): None if it waits for more.
fn type_of_first(data: &[u8], n: usize) -> Option<String> {
    init();
    let pipeline = gst::parse::launch(
        "appsrc name=src format=bytes ! typefind name=tf ! fakesink async=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let found = Arc::new(Mutex::new(None));
    let f = found.clone();
    pipeline
        .by_name("tf")
        .unwrap()
        .connect("have-type", false, move |args| {
            if let Ok(caps) = args[2].get::<gst::Caps>() {
                *f.lock().unwrap() = Some(caps.to_string());
            }
            None
        });
    pipeline.set_state(gst::State::Playing).unwrap();
    src.push_buffer(gst::Buffer::from_slice(data[..n].to_vec()))
        .unwrap();
    // The typefind element works in the streaming thread: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while found.lock().unwrap().is_none() && std::time::Instant::now() < deadline {
        let appsrc_level = src.current_level_bytes();
        if appsrc_level == 0 {
            std::thread::sleep(std::time::Duration::from_millis(200));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let got = found.lock().unwrap().clone();
    pipeline.set_state(gst::State::Null).unwrap();
    got
}

fn camera_stream(http: bool, length: bool) -> Vec<u8> {
    let jpeg = fixture("exif-thumb.jpg");
    let mut data = Vec::new();
    if http {
        data.extend(
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=cam\r\n\r\n",
        );
    }
    for _ in 0..4 {
        data.extend(b"--cam\r\nContent-Type: image/jpeg\r\n");
        if length {
            data.extend(format!("Content-Length: {}\r\n", jpeg.len()).as_bytes());
        }
        data.extend(b"\r\n");
        data.extend(&jpeg);
        data.extend(b"\r\n");
    }
    data
}

#[test]
fn a_camera_stream_is_recognised_on_its_first_kilobytes() {
    for (http, length) in [(false, true), (false, false), (true, true), (true, false)] {
        let data = camera_stream(http, length);
        // One part is 2.9 KiB: from 2 KiB on, less than a whole frame.
        for n in [2048, 2500, 3000, 4000, 4095, 6000] {
            let caps = type_of_first(&data, n);
            assert!(
                caps.as_deref().is_some_and(
                    |c| c.starts_with("image/jpeg") && c.contains("mjpeg-stream=(boolean)true")
                ),
                "http {http}, length {length}, first {n} bytes: {caps:?}"
            );
        }
    }
}

#[test]
fn other_multipart_content_and_stills_are_left_alone() {
    init();
    // PNG parts: GStreamer's multipart typefinder decides.
    let dir = TempDir::new("typefind-push");
    let path = dir.path("png.multipart");
    run_pipeline(&format!(
        "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48 ! pngenc ! multipartmux ! \
         filesink location={path:?}"
    ));
    let data = std::fs::read(&path).unwrap();
    let caps = type_of_first(&data, 3000.min(data.len()));
    assert!(
        caps.as_deref()
            .is_some_and(|c| c.starts_with("multipart/x-mixed-replace")),
        "{caps:?}"
    );
    // The start of a single JPEG: a still to GStreamer's JPEG typefinder.
    let still = fixture("exif-thumb.jpg");
    let caps = type_of_first(&still, 2500);
    assert!(
        caps.as_deref()
            .is_some_and(|c| c.starts_with("image/jpeg") && !c.contains("mjpeg-stream")),
        "{caps:?}"
    );
}

#[path = "common/camera.rs"]
mod camera;

/// A camera of small frames (1.3 KiB: an ESP32-CAM at QVGA sends 3–8 KiB),
/// one every 50 ms: the typefind element of playbin sees the first two
/// parts (under 4 KiB) and must decide on them.
fn small_frame_camera(framing: camera::Framing, frames: usize) -> camera::Camera {
    camera::Camera::start(
        camera::Config {
            framing,
            frames,
            interval: std::time::Duration::from_millis(50),
            ..Default::default()
        },
        vec![fixture("gray.jpg")],
        None,
    )
}

#[test]
fn playbin_plugs_mjpegsplit_for_a_camera_of_small_frames() {
    init();
    for framing in [camera::Framing::Axis, camera::Framing::NoLength] {
        let cam = small_frame_camera(framing, 40);
        let playbin = gst::ElementFactory::make("playbin").build().unwrap();
        playbin.set_property("uri", cam.url());
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("signal-handoffs", true)
            .build()
            .unwrap();
        playbin.set_property("video-sink", &sink);
        let frames = Arc::new(Mutex::new(0usize));
        let f = frames.clone();
        sink.connect("handoff", false, move |_| {
            *f.lock().unwrap() += 1;
            None
        });
        let factories = Arc::new(Mutex::new(Vec::new()));
        let fs = factories.clone();
        playbin
            .downcast_ref::<gst::Bin>()
            .unwrap()
            .connect_deep_element_added(move |_, _, e| {
                if let Some(f) = e.factory() {
                    fs.lock().unwrap().push(f.name().to_string());
                }
            });
        playbin.set_state(gst::State::Playing).unwrap();
        let bus = playbin.bus().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while *frames.lock().unwrap() < 20 && std::time::Instant::now() < deadline {
            if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) {
                match msg.view() {
                    gst::MessageView::Error(e) => panic!("{framing:?}: {}", e.error()),
                    gst::MessageView::Eos(_) => break,
                    _ => {}
                }
            }
        }
        playbin.set_state(gst::State::Null).unwrap();
        let factories = factories.lock().unwrap().clone();
        assert!(
            factories.iter().any(|f| f == "mjpegsplit")
                && !factories.iter().any(|f| f == "multipartdemux"),
            "{framing:?}: {factories:?}"
        );
        assert!(
            *frames.lock().unwrap() >= 20,
            "{framing:?}: {} frames",
            frames.lock().unwrap()
        );
    }
}
