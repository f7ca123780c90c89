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
    // The last progress line counts the frames the muxer got, and ends at 100 %.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.trim_end().rsplit('\r').next().unwrap();
    assert!(
        last.starts_with("[##############################] 100 %  2.0 / 2.0 s  20 frames written"),
        "{stderr}"
    );
}

#[test]
fn transcoder_example_records_a_camera_until_ctrl_c() {
    let cam = camera::Camera::start(
        camera::Config {
            framing: camera::Framing::Axis,
            frames: 1000,
            interval: std::time::Duration::from_millis(20),
            // The transcoder first asks the camera what it is (one
            // connection, closed at the first bytes), then records.
            connections: 2,
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
    // Frames sent to the first connection are not recorded: a few more.
    while cam.jpegs.lock().unwrap().len() < 25 {
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

/// Run the transcoder; (exit code, stdout, stderr).
fn transcoder(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = std::process::Command::new(example("transcode"))
        .args(args)
        .env_remove("GST_DEBUG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a user reads on an error: one `error:` line, no source location or
/// GLib debug string, no "Element failed to change its state".
fn assert_one_plain_error(stderr: &str) {
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error: ")).count(),
        1,
        "{stderr}"
    );
    for debug_text in [
        "Element failed",
        ".rs(",
        ".c(",
        "GstPipeline:",
        "reason error",
        "CRITICAL",
    ] {
        assert!(!stderr.contains(debug_text), "{debug_text}: {stderr}");
    }
}

#[test]
fn transcoder_says_the_input_does_not_exist_and_writes_nothing() {
    let dir = TempDir::new("transcoder-noinput");
    let input = dir.path("nonexist.mjpg");
    let output = dir.path("o.mp4");
    let (code, _, stderr) = transcoder(&[input.as_os_str(), output.as_os_str()]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: {} does not exist: give the path of an MJPEG recording, or an http:// camera URL\n",
            input.display()
        )
    );
    assert!(!output.exists());
}

#[test]
fn transcoder_reports_a_stream_that_is_not_mjpeg_and_leaves_no_output() {
    let dir = TempDir::new("transcoder-html");
    let input = dir.path("page.html");
    std::fs::write(&input, "<!DOCTYPE html>\n<html><body>Login</body></html>\n").unwrap();
    let output = dir.path("o.mp4");
    let (code, stdout, stderr) = transcoder(&[input.as_os_str(), output.as_os_str()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_one_plain_error(&stderr);
    assert!(stderr.contains("HTML"), "{stderr}");
    assert!(stderr.contains("o.mp4 not written"), "{stderr}");
    assert!(!output.exists());
    // --debug adds GStreamer's details.
    let (code, _, stderr) =
        transcoder(&["--debug".as_ref(), input.as_os_str(), output.as_os_str()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("\ndebug (split): "), "{stderr}");
    assert!(!output.exists());
}

#[test]
fn transcoder_reports_a_camera_that_is_off_and_leaves_no_output() {
    // A port nobody listens on: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new("transcoder-off");
    let output = dir.path("cam.mp4");
    let url = format!("http://127.0.0.1:{port}/video.mjpg");
    let (code, stdout, stderr) = transcoder(&[url.as_ref(), output.as_os_str()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_one_plain_error(&stderr);
    assert!(!output.exists());
}

#[test]
fn transcoder_picks_the_container_from_the_output_name() {
    let dir = TempDir::new("transcoder-containers");
    let input = dir.path("in.mjpg");
    // 12.5 fps: 25 frames in 2 s.
    let (code, stdout, stderr) = transcoder(&[
        "--generate".as_ref(),
        "2".as_ref(),
        "--framerate".as_ref(),
        "12.5".as_ref(),
        input.as_os_str(),
        dir.path("o.avi").as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("o.avi: 25 frames, 2.000 s of H.264"),
        "{stdout}"
    );
    // The same frames read at 25/1 last 1 s; the header says which container.
    for (name, magic) in [
        ("o.mov", &b"ftypqt"[..]),
        ("o.mp4", b"ftypmp42"),
        ("o.avi", b"RIFF"),
    ] {
        let output = dir.path(name);
        let (code, stdout, stderr) = transcoder(&[
            "--framerate".as_ref(),
            "25".as_ref(),
            input.as_os_str(),
            output.as_os_str(),
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("{name}: 25 frames, 1.000 s of H.264")),
            "{stdout}"
        );
        let head = std::fs::read(&output).unwrap();
        assert!(
            head[..16].windows(magic.len()).any(|w| w == magic),
            "{name}: {:?}",
            &head[..16]
        );
    }
    let output = dir.path("o.webm");
    let (code, _, stderr) = transcoder(&[input.as_os_str(), output.as_os_str()]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: cannot tell the container from the output name {:?}: end it in .mp4, .mkv, .avi or .mov\n",
            output.to_str().unwrap()
        )
    );
    assert!(!output.exists());
}

#[test]
fn transcoder_takes_decimal_frame_rates() {
    let dir = TempDir::new("transcoder-rates");
    let input = dir.path("in.mjpg");
    // 29.97 is 30000/1001: 29 frames in 1 s, lasting 29 × 1001/30000 s.
    let (code, stdout, stderr) = transcoder(&[
        "--generate".as_ref(),
        "1".as_ref(),
        "--framerate".as_ref(),
        "29.97".as_ref(),
        input.as_os_str(),
        dir.path("o.mp4").as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("generated"), "{stdout}");
    assert!(
        stdout.contains("o.mp4: 29 frames, 0.968 s of H.264"),
        "{stdout}"
    );
    let (code, _, stderr) = transcoder(&[
        "--framerate".as_ref(),
        "15fps".as_ref(),
        input.as_os_str(),
        dir.path("x.mp4").as_os_str(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: --framerate \"15fps\": give frames per second as 15, 12.5, 29.97 or 30000/1001\n"
        ),
        "{stderr}"
    );
    assert!(!dir.path("x.mp4").exists());
}

#[test]
fn transcoder_interrupted_before_the_first_frame_leaves_no_output() {
    // A camera that accepts the connection and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/video.mjpg",
        listener.local_addr().unwrap().port()
    );
    let dir = TempDir::new("transcoder-early-ctrl-c");
    let output = dir.path("cam.mp4");
    let child = std::process::Command::new(example("transcode"))
        .arg(&url)
        .arg(&output)
        .env_remove("GST_DEBUG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The transcoder is running (its source connected): Ctrl-C.
    let (_connection, _) = listener.accept().unwrap();
    let out = interrupt(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_one_plain_error(&stderr);
    assert!(
        stderr.contains("error: interrupted before the first frame: nothing to write\n"),
        "{stderr}"
    );
    assert!(!output.exists());
}
