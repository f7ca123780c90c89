// SPDX-License-Identifier: MIT OR Apache-2.0

//! The sink pad links after the usual byte sources: tcpclientsrc (a server
//! started here on 127.0.0.1) and appsrc, with and without caps.

mod common;

use common::*;
use gst::prelude::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Run `desc` (ending in `appsink name=out`) to EOS and return the frames.
fn collect(desc: &str, feed: impl FnOnce(&gst::Bin)) -> Vec<(Vec<u8>, gst::ClockTime)> {
    init();
    let pipeline = gst::parse::launch(desc)
        .unwrap()
        .downcast::<gst::Bin>()
        .unwrap();
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let f = frames.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let b = sample.buffer().unwrap();
                f.lock().unwrap().push((buffer_bytes(b), b.pts()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    play_to_eos(pipeline.upcast_ref(), || feed(&pipeline));
    // Checked here, not in the callback (a panic there aborts the binary).
    let frames = frames.lock().unwrap().clone();
    frames
        .into_iter()
        .enumerate()
        .map(|(i, (bytes, pts))| (bytes, pts.unwrap_or_else(|| panic!("frame {i} has no PTS"))))
        .collect()
}

#[test]
fn tcpclientsrc() {
    let data = fixture("ffmpeg-mpjpeg.mjpg").repeat(3);
    let bodies = multipart_bodies(&data);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        // Uneven writes, as a network delivers them.
        for chunk in data.chunks(777) {
            conn.write_all(chunk).unwrap();
        }
    });
    let frames = collect(
        &format!(
            "tcpclientsrc host=127.0.0.1 port={port} ! mjpegsplit ! appsink name=out sync=false"
        ),
        |_| {},
    );
    server.join().unwrap();
    assert_eq!(
        frames.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
        bodies
    );
    assert!(frames.windows(2).all(|w| w[0].1 < w[1].1));
}

#[test]
fn appsrc_with_and_without_caps() {
    let data = fixture("gst-jpegenc.mjpg");
    let expected = split_concatenation(&data);
    for caps in [
        "",
        "caps=image/jpeg",
        "caps=multipart/x-mixed-replace",
        "caps=application/octet-stream",
    ] {
        let desc = format!(
            "appsrc name=src {caps} ! mjpegsplit framerate=8/1 ! appsink name=out sync=false"
        );
        let d = data.clone();
        let frames = collect(&desc, move |bin| {
            let src = bin
                .by_name("src")
                .unwrap()
                .downcast::<gst_app::AppSrc>()
                .unwrap();
            for chunk in d.chunks(1000) {
                src.push_buffer(gst::Buffer::from_slice(chunk.to_vec()))
                    .unwrap();
            }
            src.end_of_stream().unwrap();
        });
        assert_eq!(
            frames.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
            expected,
            "{caps}"
        );
        assert_eq!(frames[7].1, gst::ClockTime::from_mseconds(875), "{caps}");
    }
}
