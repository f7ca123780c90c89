// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `mjpeghttpsrc` element: an MJPEG IP camera as a live source of
//! `image/jpeg` frames that survives the camera.
//!
//! A bin around `souphttpsrc ! mjpegsplit` with a ghost `src` pad. It
//! reconnects when the camera closes the connection, answers an HTTP error or
//! sends nothing for `stall-timeout`, with a retry delay that doubles up to a
//! bound; PTS keep increasing across reconnects and the first frame after one
//! is DISCONT. It also handles the `mjpeg+http://` and `mjpeg+https://` URIs.
//!
//! Rooms: `imp.rs` (GObject glue), `pads.rs` (the data path: frames
//! delivered, downstream errors and EOS, latency), `supervisor.rs` (the
//! reconnect thread, the stall watchdog, the application's EOS), `bus.rs`
//! (souphttpsrc's errors and messages), `diagnose.rs` (why a connection
//! failed), `url.rs` and `messages.rs` (plain Rust, unit tested).
//!
//! ```text
//! gst-launch-1.0 mjpeghttpsrc location=http://camera/video.cgi ! jpegdec ! videoconvert ! autovideosink
//! gst-play-1.0 mjpeg+http://camera/video.cgi
//! ```

use gst::glib;
use gst::prelude::*;
use std::sync::LazyLock;

mod bus;
mod diagnose;
mod imp;
mod messages;
mod pads;
mod supervisor;
mod url;

pub(crate) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "mjpeghttpsrc",
        gst::DebugColorFlags::empty(),
        Some("MJPEG HTTP camera source"),
    )
});

glib::wrapper! {
    pub struct MjpegHttpSrc(ObjectSubclass<imp::MjpegHttpSrc>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::ChildProxy, gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "mjpeghttpsrc",
        // A source: never autoplugged by decodebin; marginal so that
        // playbin and uridecodebin pick it for mjpeg+http:// URIs.
        gst::Rank::MARGINAL,
        MjpegHttpSrc::static_type(),
    )
}
