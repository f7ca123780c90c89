// SPDX-License-Identifier: MIT OR Apache-2.0

//! Our caps against jpegparse's, on the GStreamer that runs the test:
//! hardware decoders (v4l2, VA, NVIDIA) and `jpegdec` negotiate on the
//! fields jpegparse puts in its caps, so a frame out of mjpegsplit carries
//! each of them with the value jpegparse gives the same frame. Frame rates
//! differ by design (jpegparse has none for concatenated JPEGs; mjpegsplit
//! knows or assumes one), so they are left out of the comparison.

mod common;

use common::*;
use gst::prelude::*;

/// The caps of the first frame out of `element` for `path`.
fn first_caps(path: &std::path::Path, element: &str) -> gst::Caps {
    init();
    let desc = format!("filesrc location={path:?} ! {element} ! appsink name=sink sync=false");
    let pipeline = gst::parse::launch(&desc).unwrap();
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample();
    pipeline.set_state(gst::State::Null).unwrap();
    let sample = sample.unwrap_or_else(|_| panic!("{element}: no frame from {path:?}"));
    sample.caps().expect("caps").to_owned()
}

#[test]
fn every_field_of_jpegparse_with_its_value() {
    init();
    if gst::ElementFactory::find("jpegparse").is_none() {
        panic!("jpegparse (gstreamer1.0-plugins-bad) is needed for this test");
    }
    let dir = TempDir::new("jpegparse-caps");
    let mut compared = 0;
    for name in [
        "gray.jpg",
        "rgb.jpg",
        "exif-thumb.jpg",
        "progressive.jpg",
        "restart-422.jpg",
        "restart-jpegtran.jpg",
    ] {
        // Two copies back to back: a stream to mjpegsplit, two frames to jpegparse.
        let jpeg = fixture(name);
        let path = dir.path(name);
        std::fs::write(&path, [jpeg.clone(), jpeg].concat()).unwrap();
        let theirs = first_caps(&path, "jpegparse");
        let ours = first_caps(&path, "mjpegsplit");
        let (theirs, ours) = (theirs.structure(0).unwrap(), ours.structure(0).unwrap());
        assert_eq!(ours.name(), theirs.name());
        for (field, value) in theirs.iter() {
            if field == "framerate" {
                continue;
            }
            let mine = ours
                .value(field)
                .unwrap_or_else(|_| panic!("{name}: no {field} in {ours} (jpegparse: {theirs})"));
            assert_eq!(
                mine.serialize().unwrap(),
                value.serialize().unwrap(),
                "{name}: {field} in {ours} (jpegparse: {theirs})"
            );
            compared += 1;
        }
    }
    // parsed, width, height, sof-marker at least, for each of the six.
    assert!(compared >= 24, "{compared} fields compared");
}
