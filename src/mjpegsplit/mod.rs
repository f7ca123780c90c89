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
//!
//! Rooms: `imp.rs` the GObject glue; `settings.rs` properties; `stream.rs`
//! one stream's state and the step from bytes to output items; `input.rs`
//! the adapter and splitter; `output.rs` a frame as a buffer (caps, metas,
//! flags); `index.rs`, `pull.rs` and `readahead.rs` files (pull mode,
//! seeking, queries, reading ahead on a second thread);
//! `diagnostics.rs` errors and warnings; `stats.rs` the stats property.
//! Every timestamp decision is in `crate::timing`.

use gst::glib;
use gst::prelude::*;

mod diagnostics;
mod imp;
mod index;
mod input;
mod output;
mod pull;
mod readahead;
mod settings;
mod stats;
mod stream;

pub use output::{DHT_META, PART_META};
pub use settings::{Incomplete, TimestampMode};

glib::wrapper! {
    pub struct MjpegSplit(ObjectSubclass<imp::MjpegSplit>) @extends gst::Element, gst::Object;
}

/// The `image/jpeg, parsed=true` src pad template (mjpegsplit, and the
/// ghost pad of mjpeghttpsrc).
pub fn src_pad_template() -> gst::PadTemplate {
    let caps = gst::Caps::builder("image/jpeg")
        .field("parsed", true)
        .build();
    gst::PadTemplate::new(
        "src",
        gst::PadDirection::Src,
        gst::PadPresence::Always,
        &caps,
    )
    .expect("src template")
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::meta::CustomMeta::register_simple(PART_META);
    gst::meta::CustomMeta::register_simple(output::DHT_META);
    gst::Element::register(
        Some(plugin),
        "mjpegsplit",
        // decodebin and parsebin try parsers first, by rank: mjpegsplit
        // must rank above jpegparse, which is primary since GStreamer 1.24
        // (rank none before), or a recording of our typefinder's
        // `image/jpeg, mjpeg-stream=true` goes to jpegparse and plays as
        // unstamped stills. A still `image/jpeg` is refused inside those
        // bins (the sink pad's accept-caps), so it goes to jpegparse or
        // jpegdec as without the plugin. The rank is the same on every
        // version: one build, one registry entry.
        gst::Rank::PRIMARY + 1,
        MjpegSplit::static_type(),
    )
}
