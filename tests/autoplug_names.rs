// SPDX-License-Identifier: MIT OR Apache-2.0

//! Autoplugging by content, whatever the file is called.
//!
//! * **Do no harm**: container files (AVI, QuickTime, MP4, Matroska, WebM,
//!   MPEG-TS, MPEG-PS, Ogg, FLV, ASF) holding MJPEG or other video and
//!   audio, with upper-case, odd or missing extensions, get exactly the same
//!   gst-discoverer report with the plugin as without it, and playbin plays
//!   them with their demuxer; a still JPEG and a two-image MPO stay images.
//! * **Found by content**: raw MJPEG (with junk between frames, or cut in the
//!   middle of a frame), multipart bodies and `curl -i` captures named
//!   `rec.bin`, `rec.raw`, `rec.jpg` or nothing are one video stream in
//!   gst-discoverer, play, seek and report their duration in playbin and
//!   gst-play-1.0, and transcode through decodebin and gst-transcoder-1.0.

mod common;

#[path = "common/autoplug.rs"]
mod autoplug;

use autoplug::*;
use common::*;
use std::path::PathBuf;

/// Container clips, with the demuxer playbin must use and what gst-discoverer
/// calls the container.
fn containers(dir: &TempDir) -> Vec<(PathBuf, &'static str, &'static str)> {
    let mjpeg_pcm = ["-c:v", "mjpeg", "-c:a", "pcm_s16le"];
    let clips: [(&str, &[&str], &str, &str); 13] = [
        (
            "MVI_0001.AVI",
            &[&mjpeg_pcm[..], &["-f", "avi"]].concat(),
            "avidemux",
            "Audio Video Interleave (AVI)",
        ),
        (
            "CLIP.MOV",
            &[&mjpeg_pcm[..], &["-f", "mov"]].concat(),
            "qtdemux",
            "Quicktime",
        ),
        // No extension at all.
        (
            "clip",
            &[&mjpeg_pcm[..], &["-f", "matroska"]].concat(),
            "matroskademux",
            "Matroska",
        ),
        (
            "cam-avi",
            &[&mjpeg_pcm[..], &["-f", "avi"]].concat(),
            "avidemux",
            "Audio Video Interleave (AVI)",
        ),
        // Names of MJPEG streams and of JPEG images.
        (
            "movie.mjpg",
            &[&mjpeg_pcm[..], &["-f", "avi"]].concat(),
            "avidemux",
            "Audio Video Interleave (AVI)",
        ),
        (
            "movie.jpg",
            &[&mjpeg_pcm[..], &["-f", "mov"]].concat(),
            "qtdemux",
            "Quicktime",
        ),
        (
            "CLIP.MP4",
            &["-c:v", "mjpeg", "-c:a", "aac", "-f", "mp4"],
            "qtdemux",
            "Quicktime",
        ),
        (
            "REC.TS",
            &["-c:v", "mjpeg", "-c:a", "mp2", "-f", "mpegts"],
            "tsdemux",
            "MPEG-2 Transport Stream",
        ),
        (
            "VIDEO.ASF",
            &["-c:v", "mjpeg", "-c:a", "wmav2", "-f", "asf"],
            "asfdemux",
            "Advanced Streaming Format (ASF)",
        ),
        (
            "DVD.VOB",
            &["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"],
            "mpegpsdemux",
            "MPEG-2 System Stream",
        ),
        (
            "clip.bin",
            &["-c:v", "libvpx", "-c:a", "libopus", "-f", "webm"],
            "matroskademux",
            "WebM",
        ),
        (
            "CLIP.OGV",
            &["-c:v", "libtheora", "-c:a", "flac", "-f", "ogg"],
            "oggdemux",
            "Ogg",
        ),
        (
            "CLIP.FLV",
            &["-c:v", "flv1", "-c:a", "libmp3lame", "-f", "flv"],
            "flvdemux",
            "Flash",
        ),
    ];
    clips
        .into_iter()
        .map(|(name, args, demux, container)| {
            let path = dir.path(name);
            ffmpeg_clip(&path, args);
            (path, demux, container)
        })
        .collect()
}

#[test]
fn containers_with_any_name_are_discovered_as_without_the_plugin() {
    let dir = TempDir::new("names-containers");
    let home = TempDir::new("names-containers-home");
    for (path, _, container) in containers(&dir) {
        let without = discover(&path, false, &home);
        let with = discover(&path, true, &home);
        assert_eq!(with, without, "{path:?}");
        let streams = topology(&without);
        assert_eq!(streams[0], format!("container: {container}"), "{path:?}");
        assert!(
            streams.iter().any(|s| s.starts_with("audio: ")),
            "{path:?}: {streams:?}"
        );
        let duration = field(&without, "Duration").unwrap();
        assert!(
            duration.starts_with("0:00:02.9") || duration.starts_with("0:00:03.0"),
            "{path:?}: {duration}"
        );
    }
}

#[test]
fn playbin_plays_containers_with_any_name_with_their_demuxer() {
    let dir = TempDir::new("names-playbin-containers");
    for (path, demux, _) in containers(&dir) {
        let p = preroll(&path, None);
        assert!(p.has(demux), "{path:?}: {:?}", p.factories);
        assert!(!p.has("mjpegsplit"), "{path:?}: {:?}", p.factories);
        assert!(p.audio, "{path:?}: no audio");
        let d = p.duration.unwrap();
        assert!(
            d > gst::ClockTime::from_mseconds(2900) && d < gst::ClockTime::from_mseconds(3100),
            "{path:?}: {d}"
        );
    }
}

/// A still JPEG, a two-image MPO (its first image has an APP2 "MPF" index
/// of the second) and a photo with images appended, with camera-style names.
fn images(dir: &TempDir) -> Vec<PathBuf> {
    let jpeg = fixture("exif-thumb.jpg");
    let still = dir.path("IMG_0001.JPG");
    std::fs::write(&still, &jpeg).unwrap();
    let payload = b"MPF\0II*\0\x08\0\0\0";
    let mut first = jpeg[..2].to_vec();
    first.extend([0xFF, 0xE2, 0, payload.len() as u8 + 2]);
    first.extend(payload);
    first.extend(&jpeg[2..]);
    let mpo = dir.path("DSCF0001.MPO");
    std::fs::write(&mpo, [first, fixture("gray.jpg")].concat()).unwrap();
    let mpo_jpg = dir.path("DSCF0001.jpg");
    std::fs::copy(&mpo, &mpo_jpg).unwrap();
    // A photo (96x64) with two smaller images (64x48) appended after its
    // end, as some phones keep a depth map or a second camera's shot.
    let small = jpeg_frames(1).remove(0);
    let appended = dir.path("20240101_120000.jpg");
    std::fs::write(&appended, [jpeg.clone(), small.clone(), small].concat()).unwrap();
    vec![still, mpo, mpo_jpg, appended]
}

#[test]
fn still_jpegs_and_mpo_photos_stay_images() {
    let dir = TempDir::new("names-images");
    let home = TempDir::new("names-images-home");
    for path in images(&dir) {
        let without = discover(&path, false, &home);
        let with = discover(&path, true, &home);
        assert_eq!(with, without, "{path:?}");
        assert_eq!(topology(&with), ["video(image): JPEG"], "{path:?}");
        assert_eq!(field(&with, "Duration"), Some("0:00:00.000000000"));
        let p = preroll(&path, None);
        assert!(p.has("jpegdec"), "{path:?}: {:?}", p.factories);
        assert!(!p.has("mjpegsplit"), "{path:?}: {:?}", p.factories);
    }
}

/// MJPEG recordings of 45 frames (1.5 s at the default 30/1: they carry no
/// timing), under names that say nothing about MJPEG.
fn streams(dir: &TempDir) -> Vec<PathBuf> {
    let jpegs = jpeg_frames(46);
    let frames = &jpegs[..45];
    let raw = frames.concat();
    // Fill bytes and junk between the frames.
    let mut junk = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        junk.extend(f);
        junk.extend(if k % 2 == 0 {
            &b"\xFF\xFF\xFF"[..]
        } else {
            &b"\0\0junk\r\n"[..]
        });
    }
    // Cut in the middle of a frame: the tail of one, then 45 whole ones.
    let tail = &jpegs[45][jpegs[45].len() - 300..];
    let cut = [tail, &raw].concat();
    let body = multipart(frames, |_| String::new());
    let curl_i = [
        &b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=boundarydonotcross\r\n\r\n"[..],
        &body,
    ]
    .concat();
    let files: [(&str, &[u8]); 7] = [
        ("rec.bin", &raw),
        ("rec.raw", &junk),
        ("rec.jpg", &raw),
        ("rec", &cut),
        ("REC.JPEG", &raw),
        ("body.raw", &body),
        ("capture", &curl_i),
    ];
    files
        .iter()
        .map(|(name, data)| {
            let path = dir.path(name);
            std::fs::write(&path, data).unwrap();
            path
        })
        .collect()
}

#[test]
fn discoverer_finds_mjpeg_by_content_as_one_video_stream() {
    let dir = TempDir::new("names-discover");
    let home = TempDir::new("names-discover-home");
    for path in streams(&dir) {
        let report = discover(&path, true, &home);
        assert_eq!(topology(&report), ["video: JPEG"], "{path:?}: {report}");
        assert_eq!(
            field(&report, "Duration"),
            Some("0:00:01.500000000"),
            "{path:?}"
        );
        assert_eq!(field(&report, "Width"), Some("64"), "{path:?}");
        assert_eq!(field(&report, "Height"), Some("48"), "{path:?}");
        assert_eq!(field(&report, "Seekable"), Some("yes"), "{path:?}");
    }
}

#[test]
fn playbin_finds_mjpeg_by_content_and_seeks() {
    let dir = TempDir::new("names-playbin");
    for path in streams(&dir) {
        let p = preroll(&path, Some(gst::ClockTime::from_mseconds(1000)));
        assert!(p.has("mjpegsplit"), "{path:?}: {:?}", p.factories);
        assert!(!p.has("multipartdemux"), "{path:?}: {:?}", p.factories);
        assert_eq!(
            p.duration,
            Some(gst::ClockTime::from_mseconds(1500)),
            "{path:?}"
        );
        assert_eq!(
            p.position_after_seek,
            Some(gst::ClockTime::from_mseconds(1000)),
            "{path:?}"
        );
        let caps = p.video_caps.unwrap();
        let s = caps.structure(0).unwrap();
        assert_eq!(s.get::<i32>("width"), Ok(64), "{path:?}");
    }
}

#[test]
fn gst_play_plays_mjpeg_found_by_content_and_containers_with_odd_names() {
    let dir = TempDir::new("names-gst-play");
    let home = TempDir::new("names-gst-play-home");
    for path in &streams(&dir)[..2] {
        let line = gst_play(path, &home);
        assert!(line.ends_with("/ 0:00:01.5"), "{path:?}: {line}");
    }
    let avi = dir.path("MVI_0003.AVI");
    ffmpeg_clip(&avi, &["-c:v", "mjpeg", "-c:a", "pcm_s16le", "-f", "avi"]);
    let line = gst_play(&avi, &home);
    assert!(line.ends_with("/ 0:00:03.0"), "{line}");
}

#[test]
fn decodebin_transcodes_mjpeg_found_by_content() {
    init();
    let dir = TempDir::new("names-decodebin");
    for path in streams(&dir) {
        let mp4 = dir.path("out.mp4");
        run_pipeline(&format!(
            "filesrc location={path:?} ! decodebin ! videoconvert ! x264enc speed-preset=ultrafast ! \
             mp4mux ! filesink location={mp4:?}"
        ));
        let (frames, span) = mp4_frames_and_span(mp4.to_str().unwrap());
        assert_eq!(frames, 45, "{path:?}");
        assert_span(span, 1500, &path);
    }
}

#[test]
fn gst_transcoder_transcodes_mjpeg_found_by_content() {
    let dir = TempDir::new("names-transcoder");
    let home = TempDir::new("names-transcoder-home");
    for path in streams(&dir) {
        let mp4 = dir.path("out.mp4");
        let _ = std::fs::remove_file(&mp4);
        transcode_to_mp4(&path, &mp4, &home);
        let (frames, span) = mp4_frames_and_span(mp4.to_str().unwrap());
        assert_transcoded(frames, span, 45, 1500, &path);
    }
}

#[test]
fn gst_transcoder_keeps_the_audio_of_a_container_with_an_odd_name() {
    let dir = TempDir::new("names-transcoder-avi");
    let home = TempDir::new("names-transcoder-avi-home");
    let avi = dir.path("MVI_0002.AVI");
    ffmpeg_clip(&avi, &["-c:v", "mjpeg", "-c:a", "pcm_s16le", "-f", "avi"]);
    let mp4 = dir.path("MVI_0002.mp4");
    transcode_to_mp4(&avi, &mp4, &home);
    let (frames, span) = mp4_frames_and_span(mp4.to_str().unwrap());
    assert_transcoded(frames, span, 45, 3000, &avi);
    let report = discover(&mp4, false, &home);
    let streams = topology(&report);
    assert!(streams.iter().any(|s| s.starts_with("audio: ")), "{report}");
}
