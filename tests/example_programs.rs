// SPDX-License-Identifier: MIT OR Apache-2.0

//! The example programs do what their names say (issue 19): the transcoder
//! reads a file on a web server once and still reconnects a camera, reads a
//! named pipe and containers (with their audio); both examples finish the
//! file on SIGTERM, write the container the output name asks for, give the
//! reason of an error, and leave no unplayable file on a full disk. Real
//! runs of the built examples (`cargo build --examples`) against the test
//! camera and a web server started here on 127.0.0.1.

mod common;

#[path = "common/camera.rs"]
mod camera;
#[path = "common/http_file.rs"]
mod http_file;

use camera::{Camera, Config, Framing};
use common::*;
use http_file::{FileServer, Length};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Run an example to its end, killed after 120 s (a watchdog, not a timing
/// check).
fn run_example(name: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(example(name))
        .args(args)
        .env_remove("GST_DEBUG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Start an example on a camera; once the camera has sent `frames`
/// frames (and `settle` more time passed), send it `signal` and wait.
fn record(
    name: &str,
    cam: &Camera,
    output: &Path,
    frames: usize,
    settle: Duration,
    signal: &str,
) -> Output {
    let child = Command::new(example(name))
        .arg(cam.url())
        .arg(output)
        .env_remove("GST_DEBUG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while cam.jpegs.lock().unwrap().len() < frames && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(settle);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
    // The watchdog: a program that does not finish within 60 s is killed.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(killer);
    out
}

/// Video frames of a file, as ffprobe counts them (not GStreamer).
fn ffprobe_video_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The codec types of a file's streams, as ffprobe sees them.
fn ffprobe_streams(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(",")
}

/// 80 raw JPEG frames: 5 s at 16 fps.
fn recording() -> Vec<u8> {
    fixture("gst-jpegenc.mjpg").repeat(10)
}

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

/// A 2 MiB tmpfs, unmounted when dropped; None when it cannot be mounted
/// (not root).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    /// Fill it, leaving about `free` bytes.
    fn fill(&self, free: usize) {
        let size = 2 * 1024 * 1024 - free;
        std::fs::write(self.0.join("filler"), vec![0u8; size]).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
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
    assert!(kept >= 25, "{stderr}");
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
