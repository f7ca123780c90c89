// SPDX-License-Identifier: MIT OR Apache-2.0

//! End to end: `filesrc ! mjpegsplit ! jpegdec ! x264enc ! mp4mux` writes an
//! MP4 with every frame and the right duration, for raw, multipart and
//! `curl -i` recordings.

mod common;

use common::*;

fn transcode(input: &str, output: &str, framerate: &str) {
    run_pipeline(&format!(
        "filesrc location={input:?} ! mjpegsplit framerate={framerate} ! jpegdec ! videoconvert ! \
         x264enc speed-preset=ultrafast ! mp4mux ! filesink location={output:?}"
    ));
}

#[test]
fn recordings_transcode_to_mp4_with_every_frame() {
    init();
    let dir = TempDir::new("e2e");
    let raw = fixture("gst-jpegenc.mjpg").repeat(5); // 40 frames
    let multipart = fixture("ffmpeg-mpjpeg.mjpg").repeat(5); // 20 frames
    let mut curl_i =
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=ffmpeg\r\n\r\n"
            .to_vec();
    curl_i.extend(&multipart);
    for (name, data, frames, fps, seconds) in [
        ("raw", raw, 40, "10/1", 4.0),
        ("multipart", multipart.clone(), 20, "5/1", 4.0),
        ("curl-i", curl_i, 20, "20/1", 1.0),
    ] {
        let input = dir.path(&format!("{name}.mjpg"));
        std::fs::write(&input, data).unwrap();
        let output = dir.path(&format!("{name}.mp4"));
        transcode(input.to_str().unwrap(), output.to_str().unwrap(), fps);
        let (n, span) = mp4_frames_and_span(output.to_str().unwrap());
        assert_eq!(n, frames, "{name}");
        assert!(
            (span.seconds_f64() - seconds).abs() < 1e-3,
            "{name}: {span}"
        );
    }
}
