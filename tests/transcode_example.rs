// SPDX-License-Identifier: MIT OR Apache-2.0

//! The transcoder example does what its name says (issue 19): a file on a
//! web server is read once and a camera still reconnects, a named pipe is
//! read in push mode, containers go to decodebin with their timing and
//! audio. Real runs of the built example (`cargo build --examples`) against
//! the test camera and a web server started here on 127.0.0.1.

mod common;

#[path = "common/camera.rs"]
mod camera;
#[path = "common/examples.rs"]
mod examples;
#[path = "common/http_file.rs"]
mod http_file;

use camera::{Camera, Config, Framing};
use common::*;
use examples::*;
use http_file::{FileServer, Length};
use std::path::Path;
use std::process::Command;

#[test]
fn transcoder_reads_a_file_on_a_web_server_once() {
    for (length, why) in [
        (
            Length::Given,
            "the server gives its length (Content-Length: ",
        ),
        (
            Length::Close,
            "not a multipart stream (application/octet-stream) and no Content-Length",
        ),
    ] {
        let data = recording();
        let server = FileServer::start(data.clone(), "application/octet-stream", length);
        let dir = TempDir::new("transcoder-http-file");
        let output = dir.path("out.mkv");
        let url = server.url("rec.mjpg");
        let out = run_example(
            "transcode",
            &[
                "--framerate".as_ref(),
                "16".as_ref(),
                url.as_ref(),
                output.as_os_str(),
            ],
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{length:?}\n{stdout}{stderr}");
        assert!(
            stdout.contains(&format!(
                "{url}: taken for a file on a web server: read once, by mjpegsplit; {why}"
            )),
            "{stdout}"
        );
        assert!(stdout.contains("mjpegsplit: 80 frames"), "{stdout}");
        assert!(
            stdout.contains("out.mkv: 80 frames, 5.000 s of H.264"),
            "{stdout}"
        );
        // One request to ask what it is, one to read it: never again.
        let requests = server.requests.lock().unwrap().clone();
        assert_eq!(requests, vec!["GET /rec.mjpg HTTP/1.1"; 2], "{length:?}");
        assert_eq!(ffprobe_video_frames(&output), 80);
        assert!(!dir.path("out.mkv.part").exists());
    }
}

#[test]
fn transcoder_still_reconnects_a_camera() {
    // The transcoder's question, then two connections of 10 frames each
    // that the camera closes; then it is off.
    let cam = Camera::start(
        Config {
            framing: Framing::Axis,
            frames: 10,
            connections: 3,
            ..Default::default()
        },
        vec![fixture("gray.jpg")],
        None,
    );
    let dir = TempDir::new("transcoder-camera");
    let output = dir.path("cam.mp4");
    let url = cam.url();
    let out = run_example("transcode", &[url.as_ref(), output.as_os_str()]);
    let (stdout, stderr) = text(&out);
    assert!(
        stdout.contains(&format!(
            "{url}: taken for a camera: read live, reconnected when it drops; an endless stream: \
             multipart/x-mixed-replace; boundary=myboundary with no Content-Length"
        )),
        "{stdout}"
    );
    assert!(stderr.contains("camera: "), "{stderr}");
    assert!(stderr.contains("reconnecting"), "{stderr}");
    // The camera went off for good: the file holds both connections' frames.
    assert!(
        stderr.contains("cam.mp4: finished with the 20 frames written before the error"),
        "{stdout}{stderr}"
    );
    let (frames, _) = mp4_frames_and_span(output.to_str().unwrap());
    assert_eq!(frames, 20);
}

#[test]
fn transcoder_reads_a_named_pipe_in_push_mode() {
    let dir = TempDir::new("transcoder-fifo");
    let fifo = dir.path("rec.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let data = recording();
    let writer = {
        let fifo = fifo.clone();
        // Blocks until the transcoder opens the pipe.
        std::thread::spawn(move || std::fs::write(fifo, data))
    };
    let output = dir.path("out.mkv");
    let out = run_example(
        "transcode",
        &[
            "--framerate".as_ref(),
            "16".as_ref(),
            fifo.as_os_str(),
            output.as_os_str(),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    writer.join().unwrap().unwrap();
    assert!(
        stdout.contains("taken for a pipe: read once, in push mode (no seeking, no duration); it is a named pipe"),
        "{stdout}"
    );
    assert!(
        stdout.contains("out.mkv: 80 frames, 5.000 s of H.264"),
        "{stdout}"
    );
}

/// A 3 s MJPEG AVI at 10 fps with 3.3 s of audio, as a camera writes one.
fn mjpeg_avi(path: &Path) {
    init();
    run_pipeline(&format!(
        "videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120,framerate=10/1 ! \
         jpegenc ! avimux name=m ! filesink location={path:?} \
         audiotestsrc num-buffers=33 samplesperbuffer=2205 ! audio/x-raw,rate=22050,channels=1 ! m."
    ));
}

#[test]
fn transcoder_reads_containers_with_decodebin_at_their_rate_with_their_audio() {
    let dir = TempDir::new("transcoder-avi");
    let avi = dir.path("MVI_0001.AVI");
    mjpeg_avi(&avi);
    let output = dir.path("out.mp4");
    let out = run_example("transcode", &[avi.as_os_str(), output.as_os_str()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "MVI_0001.AVI: taken for a container: read by decodebin, with its own timing and its \
             audio (AVI); it starts with the signature of AVI"
        ),
        "{stdout}"
    );
    // Its 30 frames at its 10 fps, not at the 30 fps of raw MJPEG.
    assert!(
        stdout.contains("out.mp4: 30 frames, 3.000 s of H.264, and MP3 audio"),
        "{stdout}"
    );
    let (frames, span) = mp4_frames_and_span(output.to_str().unwrap());
    assert_eq!(frames, 30);
    assert!((span.seconds_f64() - 3.0).abs() < 1e-3, "{span}");
    assert_eq!(ffprobe_streams(&output), "video,audio");
    // The same file on a web server: read once, in push mode.
    let server = FileServer::start(
        std::fs::read(&avi).unwrap(),
        "video/x-msvideo",
        Length::Given,
    );
    let output = dir.path("web.mkv");
    let url = server.url("MVI_0001.AVI");
    let out = run_example("transcode", &[url.as_ref(), output.as_os_str()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("taken for a container"), "{stdout}");
    assert!(
        stdout.contains("web.mkv: 30 frames, 3.000 s of H.264, and MP3 audio"),
        "{stdout}"
    );
    assert_eq!(server.requests.lock().unwrap().len(), 2);
    assert_eq!(ffprobe_video_frames(&output), 30);
}

#[test]
fn transcoder_reads_mjpeg_in_quicktime_and_matroska_with_decodebin() {
    init();
    let dir = TempDir::new("transcoder-containers-in");
    for (name, mux, signature) in [
        ("clip.mov", "qtmux", "QuickTime/MP4"),
        ("clip.bin", "matroskamux", "Matroska/WebM"),
    ] {
        // 20 MJPEG frames at 8 fps: 2.5 s (read as raw MJPEG: 30 fps).
        let input = dir.path(name);
        run_pipeline(&format!(
            "videotestsrc num-buffers=20 ! video/x-raw,width=160,height=120,framerate=8/1 ! \
             jpegenc ! {mux} ! filesink location={input:?}"
        ));
        let output = dir.path(&format!("{name}.mp4"));
        let out = run_example("transcode", &[input.as_os_str(), output.as_os_str()]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{name}\n{stdout}{stderr}");
        assert!(
            stdout.contains(&format!(
                "taken for a container: read by decodebin, with its own timing and its audio \
                 ({signature}); it starts with the signature of {signature}"
            )),
            "{name}: {stdout}"
        );
        assert!(
            stdout.contains(&format!("{name}.mp4: 20 frames, 2.500 s of H.264\n")),
            "{name}: {stdout}"
        );
        let (frames, span) = mp4_frames_and_span(output.to_str().unwrap());
        assert_eq!(frames, 20, "{name}");
        assert!((span.seconds_f64() - 2.5).abs() < 1e-3, "{name}: {span}");
    }
}

#[test]
fn transcoder_reads_a_camera_once_when_told() {
    // The camera's question, then 10 frames on a connection it closes:
    // with --once, that is the end (no reconnection).
    let cam = Camera::start(
        Config {
            framing: Framing::Axis,
            frames: 10,
            connections: 2,
            ..Default::default()
        },
        vec![fixture("gray.jpg")],
        None,
    );
    let dir = TempDir::new("transcoder-once");
    let output = dir.path("cam.mkv");
    let url = cam.url();
    let out = run_example(
        "transcode",
        &["--once".as_ref(), url.as_ref(), output.as_os_str()],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{url}: taken for a file on a web server: read once, by mjpegsplit; as --once says \
             (the server's answer: an endless stream: multipart/x-mixed-replace"
        )),
        "{stdout}"
    );
    assert!(!stderr.contains("reconnecting"), "{stderr}");
    assert!(stdout.contains("cam.mkv: 10 frames, "), "{stdout}");
    assert_eq!(ffprobe_video_frames(&output), 10);
    // --camera is for URLs.
    let out = run_example(
        "transcode",
        &["--camera".as_ref(), "rec.mjpg".as_ref(), output.as_os_str()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out).1,
        "error: --camera and --once are for an http(s):// URL\n"
    );
}
