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

#[path = "common/camera.rs"]
mod camera;

fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

#[test]
fn transcoder_example_reports_what_it_wrote() {
    let dir = TempDir::new("transcoder");
    let input = dir.path("in.mjpg");
    let output = dir.path("out.mkv");
    let out = std::process::Command::new(example("transcode"))
        .args(["--generate", "2", "--framerate", "10/1", "--quality", "30"])
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
    assert!(stdout.contains("generated"), "{stdout}");
    // 20 multipart parts as mjpg-streamer sends them, timed by the camera's
    // uptime clock from 1234.5 s at 10 fps.
    let data = std::fs::read(&input).unwrap();
    let text = String::from_utf8_lossy(&data);
    let stamps: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("X-Timestamp: "))
        .collect();
    assert_eq!(stamps.len(), 20);
    assert_eq!(stamps[0], "1234.500000");
    assert_eq!(stamps[1], "1234.600000");
    assert_eq!(stamps[19], "1236.400000");
    assert_eq!(text.matches("\r\nX-Framerate: 10\r\n").count(), 20);
    assert_eq!(text.matches("--boundarydonotcross\r\n").count(), 20);
    // The part headers are the skipped bytes.
    let bodies = multipart_bodies(&data);
    assert_eq!(bodies.len(), 20);
    let skipped = data.len() - bodies.iter().map(Vec::len).sum::<usize>();
    assert!(
        stdout.contains(&format!(
            "mjpegsplit: 20 frames, {skipped} bytes skipped, 0 incomplete, 0 dropped"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("out.mkv: 20 frames, 2.000 s of H.264"),
        "{stdout}"
    );
}

#[test]
fn transcoder_example_records_a_camera_until_ctrl_c() {
    let cam = camera::Camera::start(
        camera::Config {
            framing: camera::Framing::Axis,
            frames: 1000,
            interval: std::time::Duration::from_millis(20),
            ..Default::default()
        },
        vec![fixture("gray.jpg")],
        None,
    );
    let dir = TempDir::new("transcoder-live");
    let output = dir.path("cam.mp4");
    let child = std::process::Command::new(example("transcode"))
        .arg(cam.url())
        .arg(&output)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while cam.jpegs.lock().unwrap().len() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = interrupt(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("interrupted: finishing the file"),
        "{stderr}"
    );
    // The MP4 was finalised: it reads back, every frame written in it.
    let (frames, _) = mp4_frames_and_span(output.to_str().unwrap());
    assert!(frames >= 20, "{frames}");
    assert!(
        stdout.contains(&format!("cam.mp4: {frames} frames")),
        "{stdout}"
    );
}
