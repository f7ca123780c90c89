// SPDX-License-Identifier: MIT OR Apache-2.0
//! Fuzz target: damaged streams built from real frames (see
//! `properties::damaged_stream`): the scanner's and the splitter's
//! properties, and the same frames in 1, 7 and 512-byte pieces.
#![no_main]

// The GStreamer-free modules of the plugin, compiled here alone.
#[allow(dead_code)]
#[path = "../../src/jpeg.rs"]
mod jpeg;
#[allow(dead_code)]
#[path = "../../src/multipart.rs"]
mod multipart;
#[allow(dead_code)]
#[path = "../../src/properties.rs"]
mod properties;

const FRAMES: &[&[u8]] = &[
    include_bytes!("../../tests/fixtures/gray.jpg"),
    include_bytes!("../../tests/fixtures/rgb.jpg"),
    include_bytes!("../../tests/fixtures/exif-thumb.jpg"),
    include_bytes!("../../tests/fixtures/progressive.jpg"),
    include_bytes!("../../tests/fixtures/restart-422.jpg"),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((seed, max, recipe)) = properties::fuzz_input(data) else {
        return;
    };
    let stream = properties::damaged_stream(recipe, FRAMES);
    let result = properties::check_scanner(&stream, seed, max)
        .and_then(|_| properties::check_splitter(&stream, seed, max))
        .and_then(|_| properties::check_piece_sizes(&stream, max));
    if let Err(e) = result {
        panic!("{e}");
    }
});
