// SPDX-License-Identifier: MIT OR Apache-2.0

//! Running the example programs in tests: to their end under a watchdog,
//! or on a camera until a signal; what ffprobe finds in their files; a
//! small tmpfs to fill.
#![allow(dead_code)]

use crate::camera::Camera;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{example, fixture};

/// Run an example to its end, killed after 120 s (a watchdog, not a timing
/// check).
pub fn run_example(name: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(example(name))
        .args(args)
        .env_remove("GST_DEBUG")
        .output()
        .unwrap()
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Start an example on a camera; once the camera has sent `frames`
/// frames (and `settle` more time passed), send it `signal` and wait.
pub fn record(
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
pub fn ffprobe_video_frames(path: &Path) -> u64 {
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
pub fn ffprobe_streams(path: &Path) -> String {
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
pub fn recording() -> Vec<u8> {
    fixture("gst-jpegenc.mjpg").repeat(10)
}

/// A 2 MiB tmpfs, unmounted when dropped; None when it cannot be mounted
/// (not root).
pub struct Tmpfs(pub std::path::PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path) -> Option<Tmpfs> {
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
    pub fn fill(&self, free: usize) {
        let size = 2 * 1024 * 1024 - free;
        std::fs::write(self.0.join("filler"), vec![0u8; size]).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // A program that has just exited may keep it busy a moment; at
        // worst it is detached (lazily unmounted), never left behind.
        for _ in 0..20 {
            let done = Command::new("umount")
                .arg(&self.0)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
