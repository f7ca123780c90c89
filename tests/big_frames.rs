// SPDX-License-Identifier: MIT OR Apache-2.0

//! Defaults that agree: `probe-bytes` (8 MiB) is below `max-frame-size`
//! (16 MiB), and a frame in progress within `max-frame-size` never counts
//! against it, so a stream of 13 MB frames (a timelapse of big photos) is
//! MJPEG, pulled and pushed; and when every frame seen was too large, the
//! error says so, not "not an MJPEG stream".

mod common;

use common::*;

/// Run `desc` (a source, mjpegsplit, an appsink named `sink`) to its end:
/// the frames' sizes and the first error, if any.
fn run(desc: &str) -> (Vec<usize>, Option<String>) {
    let (buffers, messages) = run_appsink(desc);
    let error = messages.iter().find_map(|m| match m.view() {
        gst::MessageView::Error(e) => Some(e.error().to_string()),
        _ => None,
    });
    (buffers.iter().map(|b| b.size()).collect(), error)
}

#[test]
fn frames_bigger_than_probe_bytes_are_mjpeg() {
    let dir = TempDir::new("big-frames");
    let big = big_jpeg(b'a');
    assert!(big.len() > 13_000_000);
    let path = dir.path("timelapse.mjpg");
    std::fs::write(&path, big.repeat(2)).unwrap();
    for (mode, src) in [
        ("pulled", format!("filesrc location={path:?}")),
        (
            "pushed",
            format!("filesrc location={path:?} blocksize=65536 ! queue"),
        ),
    ] {
        let (sizes, error) = run(&format!(
            "{src} ! mjpegsplit name=split ! appsink name=sink sync=false"
        ));
        assert_eq!(error, None, "{mode}");
        assert_eq!(sizes, vec![big.len(), big.len()], "{mode}");
    }
}

#[test]
fn only_too_large_frames_say_so() {
    let dir = TempDir::new("too-large");
    let path = dir.path("timelapse.mjpg");
    std::fs::write(&path, big_jpeg(b'a').repeat(2)).unwrap();
    for (mode, src) in [
        ("pulled", format!("filesrc location={path:?}")),
        (
            "pushed",
            format!("filesrc location={path:?} blocksize=65536 ! queue"),
        ),
    ] {
        let (sizes, error) = run(&format!(
            "{src} ! mjpegsplit name=split max-frame-size=4194304 ! appsink name=sink sync=false"
        ));
        assert!(sizes.is_empty(), "{mode}: {sizes:?}");
        let error = error.unwrap_or_default();
        assert!(
            error.contains("larger than max-frame-size (4194304 bytes)")
                && !error.contains("not an MJPEG stream"),
            "{mode}: {error}"
        );
    }
}
