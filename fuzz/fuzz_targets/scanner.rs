// SPDX-License-Identifier: MIT OR Apache-2.0
//! Fuzz target: the scanner's properties (see src/properties.rs) on any input.
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

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((seed, max, stream)) = properties::fuzz_input(data)
        && let Err(e) = properties::check_scanner(stream, seed, max)
    {
        panic!("{e}");
    }
});
