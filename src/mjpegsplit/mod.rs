// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `mjpegsplit` element.
//!
//! It takes an MJPEG byte stream (raw concatenated JPEGs, a multipart body or
//! a saved HTTP response) and outputs one `image/jpeg, parsed=true` buffer per
//! frame, each with a PTS, a duration and full caps.
//!
//! ```text
//! gst-launch-1.0 filesrc location=rec.mjpg ! mjpegsplit ! jpegdec ! videoconvert ! x264enc ! mp4mux ! filesink location=rec.mp4
//! ```

use gst::glib;
use gst::prelude::*;

mod imp;

pub use imp::{Incomplete, PART_META, TimestampMode};

glib::wrapper! {
    pub struct MjpegSplit(ObjectSubclass<imp::MjpegSplit>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::meta::CustomMeta::register_simple(PART_META);
    gst::Element::register(
        Some(plugin),
        "mjpegsplit",
        // Below jpegdec (primary): decodebin plugs mjpegsplit for the
        // video/x-mjpeg-stream type of our typefinder, never for a still JPEG.
        gst::Rank::SECONDARY,
        MjpegSplit::static_type(),
    )
}
