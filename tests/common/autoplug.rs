// SPDX-License-Identifier: MIT OR Apache-2.0

//! Helpers of the autoplugging tests (`autoplug_names.rs`, `real_rate.rs`):
//! playbin in-process with the statically registered plugin, and the
//! GStreamer command-line tools (gst-discoverer-1.0, gst-transcoder-1.0) with
//! and without the built plugin, each with its own registry and a temporary
//! HOME, so a plugin installed in ~/.local does not count as "without".
#![allow(dead_code)]

use super::common::{TempDir, init};
use gst::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of the built plugin (`cargo build --lib`; `./dev test` does it).
pub fn plugin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    assert!(
        dir.join("libgstmjpegsplit.so").exists(),
        "build the plugin first (cargo build --lib; ./dev test does)"
    );
    dir
}

/// A command-line GStreamer tool, with the plugin (GST_PLUGIN_PATH) or
/// without it.
pub fn tool(name: &str, with_plugin: bool, home: &TempDir) -> Command {
    let mut c = Command::new(name);
    c.env("HOME", &home.0).env_remove("XDG_DATA_HOME").env(
        "GST_REGISTRY",
        home.path(&format!("registry-{with_plugin}.bin")),
    );
    if with_plugin {
        c.env("GST_PLUGIN_PATH", plugin_dir());
    } else {
        c.env_remove("GST_PLUGIN_PATH");
    }
    c
}

/// gst-discoverer-1.0's report on a file.
pub fn discover(path: &Path, with_plugin: bool, home: &TempDir) -> String {
    let out = tool("gst-discoverer-1.0", with_plugin, home)
        .arg(path)
        .output()
        .expect("gst-discoverer-1.0 (gstreamer1.0-plugins-base-apps)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stream lines of a discoverer report, without their numbers:
/// `["container: Quicktime", "video: JPEG", "audio: Raw 16-bit PCM audio"]`.
pub fn topology(report: &str) -> Vec<String> {
    report
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let (kind, rest) = l.split_once(" #")?;
            let (_, what) = rest.split_once(": ")?;
            (!kind.contains(' ')).then(|| format!("{kind}: {what}"))
        })
        .collect()
}

/// A `Name: value` line of a discoverer report (the first one).
pub fn field<'a>(report: &'a str, name: &str) -> Option<&'a str> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(": "))
}

/// The last "position / duration" line gst-play-1.0 prints while playing a
/// file to its end (with the plugin, into synchronised fakesinks), e.g.
/// `0:00:01.4 / 0:00:01.5`.
pub fn gst_play(path: &Path, home: &TempDir) -> String {
    let out = tool("gst-play-1.0", true, home)
        .args([
            "--no-interactive",
            "--videosink=fakesink sync=true",
            "--audiosink=fakesink sync=true",
        ])
        .arg(path)
        .output()
        .expect("gst-play-1.0 (gstreamer1.0-tools)");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    assert!(
        out.status.success() && text.contains("Reached end of play list"),
        "{path:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(str::trim)
        .rfind(|l| l.contains(" / "))
        .unwrap_or_default()
        .to_string()
}

/// gst-transcoder-1.0 INPUT OUTPUT mp4, with the plugin.
pub fn transcode_to_mp4(input: &Path, output: &Path, home: &TempDir) {
    let out = tool("gst-transcoder-1.0", true, home)
        .arg(format!("file://{}", input.display()))
        .arg(format!("file://{}", output.display()))
        .arg("mp4")
        .output()
        .expect("gst-transcoder-1.0 (gstreamer1.0-plugins-bad-apps)");
    assert!(
        out.status.success() && output.exists(),
        "{input:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A time as GStreamer prints it: `0:00:03.000000000`.
pub fn clock_time(text: &str) -> gst::ClockTime {
    let mut parts = text.trim().splitn(3, ':');
    let mut next = || parts.next().expect("H:MM:SS.nnnnnnnnn");
    let h: u64 = next().parse().unwrap();
    let m: u64 = next().parse().unwrap();
    let (s, ns) = next().split_once('.').expect("a fraction");
    let s: u64 = s.parse().unwrap();
    let ns: u64 = ns.parse().unwrap();
    gst::ClockTime::from_nseconds(((h * 60 + m) * 60 + s) * 1_000_000_000 + ns)
}

/// A duration or span is `ms` milliseconds, to within the rounding of the
/// timestamps involved (an MP4 time scale, microsecond `X-Timestamp`s).
#[track_caller]
/// Frames gst-transcoder-1.0 adds at the end of an MJPEG video of its own,
/// without our plugin: GStreamer 1.28's transcodebin (its videorate
/// closing the segment) gives an AVI of 15 JPEG frames at 15 fps (avidemux,
/// jpegparse, jpegdec) back as 16 frames, 1/15 s longer; 1.22 and 1.26 give
/// 15. Our streams are held to what GStreamer does with its own.
pub fn transcoder_closing_frames() -> usize {
    static EXTRA: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *EXTRA.get_or_init(|| {
        let dir = TempDir::new("transcoder-reference");
        let avi = dir.path("reference.avi");
        let status = Command::new("gst-launch-1.0")
            .args(["-q", "videotestsrc", "num-buffers=15", "!"])
            .args([
                "video/x-raw,width=160,height=120,framerate=15/1",
                "!",
                "jpegenc",
                "!",
            ])
            .args(["avimux", "!", "filesink"])
            .arg(format!("location={}", avi.display()))
            .status()
            .unwrap();
        assert!(status.success());
        let mp4 = dir.path("reference.mp4");
        let out = tool("gst-transcoder-1.0", false, &dir)
            .arg(format!("file://{}", avi.display()))
            .arg(format!("file://{}", mp4.display()))
            .arg("mp4")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let (frames, _) = super::common::mp4_frames_and_span(mp4.to_str().unwrap());
        assert!(frames >= 15, "{frames} frames of 15");
        frames - 15
    })
}

/// What gst-transcoder-1.0 gave (`got` frames over `span`) for `frames`
/// frames lasting `ms`: exactly those, or, where GStreamer's transcodebin
/// adds closing frames to its own MJPEG videos (1.28), those too (its
/// videorate adds them for some streams and not others, by how the
/// segment's end meets the last frame's), each one frame long.
pub fn assert_transcoded(got: usize, span: gst::ClockTime, frames: usize, ms: u64, path: &Path) {
    let extra = got.saturating_sub(frames);
    assert!(
        got >= frames && extra <= transcoder_closing_frames(),
        "{path:?}: {got} frames, not {frames} (GStreamer adds {} to its own)",
        transcoder_closing_frames()
    );
    assert_span(span, ms + ms * extra as u64 / frames as u64, path);
}

pub fn assert_span(span: gst::ClockTime, ms: u64, path: &Path) {
    let want = gst::ClockTime::from_mseconds(ms);
    let diff = span.max(want) - span.min(want);
    assert!(
        diff < gst::ClockTime::from_mseconds(1),
        "{path:?}: {span}, not {want}"
    );
}

/// A clip made by ffmpeg from its test sources: 3 s of 160x120 video at
/// 15 fps and a 440 Hz tone, with the codec and format arguments given.
pub fn ffmpeg_clip(path: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=160x120:rate=15")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args(["-t", "3"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{path:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What playbin made of a file once prerolled (and after a seek).
#[derive(Debug)]
pub struct Prerolled {
    /// Factories of the elements in playbin.
    pub factories: Vec<String>,
    pub duration: Option<gst::ClockTime>,
    pub position_after_seek: Option<gst::ClockTime>,
    /// Caps of the video sink's pad.
    pub video_caps: Option<gst::Caps>,
    pub audio: bool,
}

impl Prerolled {
    pub fn has(&self, factory: &str) -> bool {
        self.factories.iter().any(|f| f == factory)
    }
}

/// playbin (with the statically registered plugin) prerolled on a file, then
/// seeked to `seek_to` with a flushing key-unit seek.
pub fn preroll(path: &Path, seek_to: Option<gst::ClockTime>) -> Prerolled {
    init();
    let playbin = gst::ElementFactory::make("playbin").build().unwrap();
    playbin.set_property("uri", format!("file://{}", path.display()));
    let vsink = gst::ElementFactory::make("fakesink").build().unwrap();
    let asink = gst::ElementFactory::make("fakesink").build().unwrap();
    playbin.set_property("video-sink", &vsink);
    playbin.set_property("audio-sink", &asink);
    playbin.set_state(gst::State::Paused).unwrap();
    let (res, _, _) = playbin.state(gst::ClockTime::from_seconds(20));
    if res.is_err() {
        let bus = playbin.bus().unwrap();
        let err = bus
            .pop_filtered(&[gst::MessageType::Error])
            .map(|m| format!("{m:?}"));
        playbin.set_state(gst::State::Null).unwrap();
        panic!("{path:?} does not preroll: {err:?}");
    }
    let duration = playbin.query_duration::<gst::ClockTime>();
    let mut position_after_seek = None;
    if let Some(t) = seek_to {
        playbin
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, t)
            .unwrap();
        playbin.state(gst::ClockTime::from_seconds(20)).0.unwrap();
        position_after_seek = playbin.query_position::<gst::ClockTime>();
    }
    let factories = playbin
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .iterate_recurse()
        .into_iter()
        .filter_map(|e| e.ok()?.factory().map(|f| f.name().to_string()))
        .collect();
    let video_caps = vsink.static_pad("sink").unwrap().current_caps();
    let audio = asink.static_pad("sink").unwrap().current_caps().is_some();
    playbin.set_state(gst::State::Null).unwrap();
    Prerolled {
        factories,
        duration,
        position_after_seek,
        video_caps,
        audio,
    }
}

/// A multipart body of `jpegs`, each part with the Content-Type and
/// Content-Length headers and the extra header lines `extra(k)` gives.
pub fn multipart(jpegs: &[Vec<u8>], extra: impl Fn(usize) -> String) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, jpeg) in jpegs.iter().enumerate() {
        body.extend(
            format!(
                "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n{}\r\n",
                jpeg.len(),
                extra(k)
            )
            .as_bytes(),
        );
        body.extend(jpeg);
        body.extend(b"\r\n");
    }
    body
}

/// `n` JPEG frames of 64x48 from videotestsrc (all different).
pub fn jpeg_frames(n: usize) -> Vec<Vec<u8>> {
    let frames: Vec<Vec<u8>> = super::common::appsink_buffers(&format!(
        "videotestsrc num-buffers={n} pattern=ball ! video/x-raw,width=64,height=48 ! \
         jpegenc ! appsink name=sink sync=false"
    ))
    .iter()
    .map(|b| super::common::buffer_bytes(b))
    .collect();
    assert_eq!(frames.len(), n);
    frames
}
