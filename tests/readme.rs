// SPDX-License-Identifier: MIT OR Apache-2.0

//! The README check: every command of the Recipes section is run, against
//! the test camera on 127.0.0.1 (for `http://camera…`) and a generated
//! recording (`rec.mjpg`), with `autovideosink` replaced by `fakesink`.
//! A line with `mjpeghttpsrc`, which never ends by itself, is stopped with
//! Ctrl-C once the camera has sent its frames, as the README says.

mod common;

#[path = "common/camera.rs"]
mod camera;

use camera::{Camera, Config, Framing};
use common::{TempDir, fixture, interrupt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

enum Block {
    Shell { title: String, lines: Vec<String> },
    Python(String),
}

fn recipes() -> Vec<Block> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("\n## Recipes").expect("a Recipes section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let lang_end = after.find('\n').unwrap();
        let lang = after[..lang_end].trim().to_string();
        let body_start = &after[lang_end + 1..];
        let close = body_start.find("```").unwrap();
        let body = &body_start[..close];
        rest = &body_start[close + 3..];
        match lang.as_str() {
            "sh" => blocks.push(Block::Shell {
                title: body.lines().next().unwrap_or("").to_string(),
                lines: body
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .map(str::to_string)
                    .collect(),
            }),
            "python" => blocks.push(Block::Python(body.to_string())),
            other => panic!("unexpected code block {other:?} in the Recipes"),
        }
    }
    blocks
}

fn framing(title: &str) -> Framing {
    if title.contains("ESP32") {
        Framing::Esp32
    } else if title.contains("mjpg-streamer") {
        Framing::MjpgStreamer
    } else if title.contains("ustreamer") {
        Framing::NoLength
    } else {
        Framing::Axis
    }
}

/// `http://camera[:port]` becomes the test camera's address.
fn with_camera(line: &str, cam: &Camera) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(k) = rest.find("http://camera") {
        out.push_str(&rest[..k]);
        out.push_str(&format!("http://127.0.0.1:{}", cam.port));
        rest = &rest[k + "http://camera".len()..];
        if let Some(port) = rest.strip_prefix(':') {
            rest = port.trim_start_matches(|c: char| c.is_ascii_digit());
        }
    }
    out.push_str(rest);
    out
}

fn camera_for(title: &str) -> Camera {
    let config = Config {
        framing: framing(title),
        frames: 15,
        interval: Duration::from_millis(10),
        ..Default::default()
    };
    Camera::start(config, vec![fixture("gray.jpg"), fixture("rgb.jpg")], None)
}

/// A camera whose frames all have one format (a grayscale JPEG): Matroska
/// takes no change of caps mid-stream, and the test camera's other frames
/// (an RGB JPEG between grayscale ones) are such a change.
fn uniform_camera_for(title: &str) -> Camera {
    let config = Config {
        framing: framing(title),
        frames: 15,
        interval: Duration::from_millis(10),
        ..Default::default()
    };
    Camera::start(config, vec![fixture("gray.jpg")], None)
}

/// Run a recipe whose source never ends by design (mjpeghttpsrc reconnects
/// when the camera closes): once the camera has sent every frame, Ctrl-C,
/// as the README says; `-e` must then finish the file.
fn run_until_interrupted(cmd: &str, dir: &Path, plugin: &Path, cam: &Camera) -> Output {
    let child = Command::new("sh")
        .args(["-c", &format!("exec {cmd}")])
        .current_dir(dir)
        .env("GST_PLUGIN_PATH", plugin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cam.jpegs.lock().unwrap().len() < 15 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // A reconnection attempt or two after the camera closed.
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id();
    // The watchdog: a pipeline that does not finish within 30 s of Ctrl-C is killed.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = interrupt(child);
    drop(killer);
    out
}

#[test]
fn every_recipe_runs() {
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        plugin.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (./dev test does)"
    );
    let dir = TempDir::new("readme");
    std::fs::write(dir.path("rec.mjpg"), fixture("gst-jpegenc.mjpg").repeat(4)).unwrap();
    let mut ran = 0;
    for block in recipes() {
        match block {
            Block::Shell { title, lines } => {
                for line in lines {
                    let cam = if line.contains("matroskamux") {
                        uniform_camera_for(&title)
                    } else {
                        camera_for(&title)
                    };
                    let cmd = with_camera(&line, &cam).replace("autovideosink", "fakesink");
                    let out = if line.contains("mjpeghttpsrc ") {
                        run_until_interrupted(&cmd, &dir.0, &plugin, &cam)
                    } else {
                        Command::new("timeout")
                            .args(["60", "sh", "-c", &cmd])
                            .current_dir(&dir.0)
                            .env("GST_PLUGIN_PATH", &plugin)
                            .output()
                            .unwrap()
                    };
                    let text = String::from_utf8_lossy(&out.stdout).into_owned()
                        + &String::from_utf8_lossy(&out.stderr);
                    assert!(
                        out.status.success() && !text.contains("ERROR"),
                        "{title}\n{cmd}\n{text}"
                    );
                    ran += 1;
                }
            }
            Block::Python(code) => {
                let cam = if code.contains("matroskamux") {
                    uniform_camera_for("")
                } else if code.contains("GstRtspServer") {
                    // Frames for as long as an RTSP session takes to set up.
                    Camera::start(
                        Config {
                            frames: 500,
                            ..Default::default()
                        },
                        vec![fixture("gray.jpg"), fixture("rgb.jpg")],
                        None,
                    )
                } else {
                    camera_for("")
                };
                let script = dir.path("example.py");
                std::fs::write(&script, with_camera(&code, &cam)).unwrap();
                let out = Command::new("timeout")
                    .args(["60", "/usr/bin/python3"])
                    .arg(&script)
                    // Where the recording is, for the file recipes.
                    .current_dir(&dir.0)
                    .env("GST_PLUGIN_PATH", &plugin)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "{code}\n{text}");
                // Each program prints one line per frame it read.
                assert!(text.lines().count() >= 10, "{code}\n{text}");
                ran += 1;
            }
        }
    }
    assert!(ran >= 18, "only {ran} commands found");
    // The recordings the commands wrote are there.
    for f in [
        "curl.mjpg",
        "curl-i.mjpg",
        "rec.mp4",
        "rec-h265.mkv",
        "camera.mp4",
        "rec.mkv",
        "rec.avi",
        "rec-transcoder.mp4",
        "camera-reconnecting.mp4",
        "camera.mkv",
        "camera-5fps.mkv",
        "saved.mkv",
        "saved-python.mkv",
    ] {
        assert!(
            std::fs::metadata(dir.path(f)).is_ok_and(|m| m.len() > 0),
            "{f}"
        );
    }
    // Ctrl-C finished the MP4 (its moov written): every frame the camera sent.
    let (frames, _) =
        common::mp4_frames_and_span(dir.path("camera-reconnecting.mp4").to_str().unwrap());
    assert_eq!(frames, 15, "camera-reconnecting.mp4");
}
