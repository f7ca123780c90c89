// SPDX-License-Identifier: MIT OR Apache-2.0

//! The README's mjpeghttpsink recipes, run: each `gst-launch-1.0` line
//! serves (the camera is the test camera on 127.0.0.1, the webcam a
//! videotestsrc, the port a free one, the LAN address 127.0.0.1), a client
//! gets a snapshot and stream frames from it (with the recipe's password),
//! each `curl` line then runs against it, and Ctrl-C ends it cleanly.

mod common;

#[path = "common/camera.rs"]
mod camera;

use camera::{Camera, Config};
use common::{Killed, TempDir, fixture, free_port, interrupt, wait_listening};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn section() -> (Vec<String>, Vec<String>) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("\n## The mjpeghttpsink element")
        .expect("the mjpeghttpsink section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let open = section.find("```sh\n").expect("a sh block") + 6;
    let body = &section[open..open + section[open..].find("```").unwrap()];
    let lines: Vec<String> = body
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect();
    let (launch, curl): (Vec<String>, Vec<String>) = lines
        .into_iter()
        .partition(|l| l.starts_with("gst-launch-1.0"));
    assert!(curl.iter().all(|l| l.starts_with("curl ")), "{curl:?}");
    (launch, curl)
}

#[test]
fn every_serving_recipe_serves() {
    let (launch, curl) = section();
    assert!(launch.len() >= 4, "{launch:?}");
    let dir = TempDir::new("readme-serve");
    std::fs::write(dir.path("rec.mjpg"), fixture("gst-jpegenc.mjpg").repeat(40)).unwrap();
    let camera = Camera::start(
        Config {
            frames: 100_000,
            interval: Duration::from_millis(66),
            connections: 100,
            ..Default::default()
        },
        vec![fixture("gray.jpg"), fixture("rgb.jpg")],
        None,
    );
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        plugin.join("libgstmjpegsplit.so").exists(),
        "cargo build --lib first"
    );
    let webcam = regex_free_webcam;
    for (k, line) in launch.iter().enumerate() {
        let port = free_port();
        let cmd = webcam(line)
            .replace("http://camera/video.cgi", &camera.url())
            .replace("port=8080", &format!("port={port}"))
            .replace("address=0.0.0.0", "address=127.0.0.1");
        let auth = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("password="))
            .map(|p| {
                let user = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("user="))
                    .unwrap_or("");
                format!("{user}:{p}")
            });
        let mut child = Killed(Some(
            Command::new("sh")
                .args(["-c", &format!("exec {cmd}")])
                .current_dir(&dir.0)
                .env("GST_PLUGIN_PATH", &plugin)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ));
        let t = Instant::now();
        wait_listening(port, child.0.as_mut().unwrap());
        eprintln!("{cmd}: listening after {:?}", t.elapsed());
        let mut args = vec!["-s".to_string(), "-f".into(), "--retry".into(), "20".into()];
        args.extend([
            "--retry-all-errors".into(),
            "--retry-delay".into(),
            "1".into(),
        ]);
        if let Some(a) = &auth {
            args.extend(["-u".into(), a.clone()]);
            let status = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .arg(format!("http://127.0.0.1:{port}/snapshot"))
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&status.stdout),
                "401",
                "{cmd}: no password, no frame"
            );
        }
        let snap = Command::new("curl")
            .args(&args)
            .arg(format!("http://127.0.0.1:{port}/snapshot"))
            .output()
            .unwrap();
        assert!(snap.status.success(), "{cmd}: /snapshot");
        assert!(snap.stdout.starts_with(&[0xFF, 0xD8]), "{cmd}: a JPEG");
        // (No --retry here: curl counts its --max-time as an error to retry.)
        let stream = Command::new("curl")
            .args(["-s", "--max-time", "1.5"])
            .args(auth.iter().flat_map(|a| ["-u".to_string(), a.clone()]))
            .arg(format!("http://127.0.0.1:{port}/stream"))
            .output()
            .unwrap();
        let frames = common::multipart_bodies(&stream.stdout);
        assert!(frames.len() >= 3, "{cmd}: {} frames in 1.5 s", frames.len());
        if k == 0 {
            // The curl lines, against the first recipe's server.
            for c in &curl {
                let c = c
                    .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
                    .replacen("curl ", "curl -s --max-time 3 ", 1);
                let out = Command::new("sh")
                    .args(["-c", &c])
                    .current_dir(&dir.0)
                    .status()
                    .unwrap();
                assert!(matches!(out.code(), Some(0) | Some(28)), "{c}: {out:?}");
            }
            let snap = std::fs::read(dir.path("snapshot.jpg")).unwrap();
            assert!(snap.starts_with(&[0xFF, 0xD8]));
            let two = common::multipart_bodies(&std::fs::read(dir.path("two-fps.mjpg")).unwrap());
            assert!(
                (4..=8).contains(&two.len()),
                "?fps=2 for 3 s: {} frames",
                two.len()
            );
        }
        eprintln!("{cmd}: served, {:?}", t.elapsed());
        let out = interrupt(child.0.take().unwrap());
        eprintln!("{cmd}: ended, {:?}", t.elapsed());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("ERROR"), "{cmd}: {stderr}");
        assert!(out.status.success(), "{cmd}: {:?} {stderr}", out.status);
    }
}

/// A recipe's process, killed if the test fails before it is interrupted.
/// `v4l2src device=… ! image/jpeg,CAPS` → a live test pattern encoded to
/// JPEG with the same caps.
fn regex_free_webcam(line: &str) -> String {
    let Some(at) = line.find("v4l2src ") else {
        return line.to_string();
    };
    let rest = &line[at..];
    let caps_at = rest.find("image/jpeg,").expect("v4l2src ! image/jpeg,…") + "image/jpeg,".len();
    let caps_end = rest[caps_at..]
        .find(' ')
        .map_or(rest.len(), |e| caps_at + e);
    format!(
        "{}videotestsrc is-live=true ! video/x-raw,{} ! jpegenc{}",
        &line[..at],
        &rest[caps_at..caps_end],
        &rest[caps_end..]
    )
}
