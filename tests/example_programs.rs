// SPDX-License-Identifier: MIT OR Apache-2.0

//! Both example programs (camera_recorder and transcode) finish the file on
//! SIGTERM and leave no unplayable file on a full disk or when killed; the
//! recorder writes the container its output name asks for, shows a progress
//! line, gives the reason of an error and never prints a password (issue
//! 19). Real runs of the built examples against the test camera.

mod common;

#[path = "common/camera.rs"]
mod camera;
#[path = "common/examples.rs"]
mod examples;

use camera::{Camera, Config, Framing};
use common::*;
use examples::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_finishes_the_file_like_ctrl_c() {
    for name in ["transcode", "camera_recorder"] {
        let cam = Camera::start(
            Config {
                framing: Framing::Axis,
                frames: 1000,
                connections: 2,
                ..Default::default()
            },
            vec![fixture("gray.jpg"), fixture("rgb.jpg")],
            None,
        );
        let dir = TempDir::new("sigterm");
        let output = dir.path("cam.mp4");
        let out = record(name, &cam, &output, 30, Duration::from_millis(200), "-TERM");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{name}\n{stdout}{stderr}");
        // The MP4 was finished: it reads back with every frame it says.
        let (frames, span) = mp4_frames_and_span(output.to_str().unwrap());
        assert!(frames >= 20, "{name}: {frames}");
        assert!(span > gst::ClockTime::ZERO, "{name}");
        let said = match name {
            "transcode" => format!("cam.mp4: {frames} frames, "),
            _ => format!("cam.mp4: {frames} frames, "),
        };
        assert!(stdout.contains(&said), "{name}: {stdout}");
    }
}

#[test]
fn recorder_writes_the_container_its_output_name_asks_for() {
    for (name, signature, at) in [
        ("r.avi", &b"AVI "[..], 8),
        ("r.MKV", &[0x1A, 0x45, 0xDF, 0xA3][..], 0),
        ("r.MP4", b"ftyp", 4),
        ("r.mov", b"ftypqt", 4),
    ] {
        let cam = Camera::start(
            Config {
                framing: Framing::Axis,
                frames: 10,
                ..Default::default()
            },
            vec![fixture("gray.jpg")],
            None,
        );
        let dir = TempDir::new("recorder-containers");
        let output = dir.path(name);
        let out = record(
            "camera_recorder",
            &cam,
            &output,
            10,
            Duration::from_millis(500),
            "-INT",
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{name}\n{stdout}{stderr}");
        assert!(stdout.contains("recorded 10 frames"), "{name}: {stdout}");
        let head = std::fs::read(&output).unwrap();
        assert_eq!(&head[at..at + signature.len()], signature, "{name}");
        if name.ends_with(".avi") {
            // AVI: a constant 25 fps over the camera's 10 frames in ~0.2 s.
            let n = ffprobe_video_frames(&output);
            assert!(n >= 1, "{name}: {n}");
            assert!(
                stdout.contains(&format!("{name}: {n} frames, ")),
                "{name}: {stdout}"
            );
            assert!(stderr.contains("(AVI, at a constant 25 fps)"), "{name}");
        } else {
            assert_eq!(ffprobe_video_frames(&output), 10, "{name}");
            assert!(
                stdout.contains(&format!("{name}: 10 frames, ")),
                "{name}: {stdout}"
            );
        }
    }
    let dir = TempDir::new("recorder-webm");
    let output = dir.path("r.webm");
    let out = run_example(
        "camera_recorder",
        &["http://127.0.0.1:9/".as_ref(), output.as_os_str()],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
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
fn recorder_shows_a_progress_line() {
    let cam = Camera::start(
        Config {
            framing: Framing::Axis,
            frames: 12,
            interval: Duration::from_millis(100),
            ..Default::default()
        },
        vec![fixture("gray.jpg")],
        None,
    );
    let dir = TempDir::new("recorder-progress");
    let output = dir.path("r.mkv");
    // A second and a half after the last frame: a progress line came since.
    let out = record(
        "camera_recorder",
        &cam,
        &output,
        12,
        Duration::from_millis(1500),
        "-INT",
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("\r12 frames recorded  "), "{stderr:?}");
    assert!(stderr.contains(" s  0 reconnects "), "{stderr:?}");
    assert!(stdout.contains("recorded 12 frames"), "{stdout}");
}

#[test]
fn recorder_says_why_it_cannot_start() {
    let dir = TempDir::new("recorder-nodir");
    let output = dir.path("no/such/dir/r.mp4");
    let out = run_example(
        "camera_recorder",
        &["http://127.0.0.1:9/video.cgi".as_ref(), output.as_os_str()],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot start the recording: Could not open file \"{}\" for writing.",
            output.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("  debug (sink): "), "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
    assert!(
        stderr.contains("  what to do: check that the output's directory exists"),
        "{stderr}"
    );
}

#[test]
fn recorder_never_prints_the_password() {
    let cam = Camera::start(
        Config {
            framing: Framing::Axis,
            frames: 10,
            ..Default::default()
        },
        vec![fixture("gray.jpg")],
        None,
    );
    let url = format!(
        "http://admin:s3cret@127.0.0.1:{}/video.mjpg?pwd=s3cret",
        cam.port
    );
    let dir = TempDir::new("recorder-password");
    let output = dir.path("r.mkv");
    let child = Command::new(example("camera_recorder"))
        .arg(&url)
        .arg(&output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cam.jpegs.lock().unwrap().len() < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = interrupt(child);
    let (stdout, stderr) = text(&out);
    assert!(
        !stdout.contains("s3cret") && !stderr.contains("s3cret"),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("admin:***@127.0.0.1"), "{stderr}");
    assert!(stderr.contains("pwd=***"), "{stderr}");
}

#[test]
fn a_full_disk_leaves_no_unplayable_file() {
    let dir = TempDir::new("full-disk");
    let Some(disk) = Tmpfs::mount(&dir.path("disk")) else {
        eprintln!("cannot mount a tmpfs (not root): skipped");
        return;
    };
    // The transcoder: 80 lossless frames do not fit in 64 KiB.
    disk.fill(64 * 1024);
    let input = dir.path("rec.mjpg");
    std::fs::write(&input, recording()).unwrap();
    let output = disk.0.join("out.mp4");
    let out = run_example(
        "transcode",
        &[
            "--quality".as_ref(),
            "0".as_ref(),
            input.as_os_str(),
            output.as_os_str(),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("error: cannot write {}: ", output.display())),
        "{stderr}"
    );
    assert!(stderr.contains("the disk is full"), "{stderr}");
    assert!(stderr.contains("(the partial file "), "{stderr}");
    assert!(!output.exists());
    assert!(!disk.0.join("out.mp4.part").exists());

    // The recorder: fragments of a second of noise at 2 Mbit/s; some fit.
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    disk.fill(700 * 1024);
    let noise: Vec<Vec<u8>> = (0..10)
        .map(|k| {
            let b = appsink_buffers(&format!(
                "videotestsrc pattern=snow num-buffers=1 ! \
                 video/x-raw,width=640,height=480,framerate=25/1 ! videoflip method={} ! \
                 jpegenc quality=90 ! appsink name=sink",
                k % 4
            ));
            buffer_bytes(&b[0])
        })
        .collect();
    let cam = Camera::start(
        Config {
            framing: Framing::Axis,
            frames: 1500,
            interval: Duration::from_millis(40),
            ..Default::default()
        },
        noise,
        None,
    );
    let output = disk.0.join("cam.mp4");
    let child = Command::new(example("camera_recorder"))
        .arg(cam.url())
        .arg(&output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(90));
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(killer);
    drop(cam);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("error: cannot write {}: ", output.display())),
        "{stderr}"
    );
    assert!(stderr.contains("the disk is full"), "{stderr}");
    // Kept, as it plays: the frames it says, read by ffprobe too.
    let kept = stderr
        .split("cam.mp4: kept: it plays, with ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    // How many fit before the disk was full depends on the encoder; what
    // matters is that what was kept plays, with the frames it says.
    assert!(kept >= 1, "{stderr}");
    let (frames, _) = mp4_frames_and_span(output.to_str().unwrap());
    assert_eq!(frames, kept);
}

#[test]
fn a_killed_program_leaves_no_unplayable_file() {
    // The recorder's MP4 is fragmented: killed, it plays up to its last
    // whole fragment (a second). The transcoder's output is only named
    // OUTPUT once finished: killed, there is no OUTPUT.
    for name in ["camera_recorder", "transcode"] {
        let cam = Camera::start(
            Config {
                framing: Framing::Axis,
                frames: 1000,
                connections: 2,
                ..Default::default()
            },
            vec![fixture("gray.jpg")],
            None,
        );
        let dir = TempDir::new("killed");
        let output = dir.path("cam.mp4");
        let out = record(name, &cam, &output, 120, Duration::ZERO, "-KILL");
        assert_eq!(out.status.code(), None, "{name}: killed");
        if name == "camera_recorder" {
            let (frames, span) = mp4_frames_and_span(output.to_str().unwrap());
            assert!(frames >= 25, "{name}: {frames}");
            assert!(span >= gst::ClockTime::from_mseconds(500), "{name}: {span}");
        } else {
            assert!(!output.exists(), "{name}");
            assert!(dir.path("cam.mp4.part").exists(), "{name}");
        }
    }
}

#[test]
fn no_password_in_the_errors_of_a_camera_that_is_off() {
    // A port nobody listens on: souphttpsrc's errors and their debug text
    // name the URL; its password never shows.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://admin:s3cret@127.0.0.1:{port}/video.mjpg?pwd=s3cret");
    let dir = TempDir::new("password-off");
    let out = Command::new("timeout")
        .arg("60")
        .arg(example("transcode"))
        .args(["--debug", &url])
        .arg(dir.path("o.mp4"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: no answer from http://admin:***@127.0.0.1:{port}/video.mjpg?pwd=***: \
             the connection was refused"
        )),
        "{stderr}"
    );
    assert!(
        !stdout.contains("s3cret") && !stderr.contains("s3cret"),
        "{stdout}{stderr}"
    );
    // The recorder keeps trying: its reconnection lines, then Ctrl-C.
    let child = Command::new(example("camera_recorder"))
        .arg(&url)
        .arg(dir.path("r.mkv"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = interrupt(child);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("reconnecting"), "{stderr}");
    assert!(
        !stdout.contains("s3cret") && !stderr.contains("s3cret"),
        "{stdout}{stderr}"
    );
}
