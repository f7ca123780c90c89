// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `mjpeghttpsink` element: serves `image/jpeg` frames over HTTP/1.1 to
//! many clients at once (browsers, players, programs).
//!
//! `/stream` is `multipart/x-mixed-replace` (each part with an exact
//! Content-Length and the frame's capture time as X-Timestamp), `/snapshot`
//! the latest frame, `/state` JSON figures, `/` a page showing the stream.
//! The streaming thread only swaps the latest frame; each client gets the
//! newest frame whenever its connection can take one, with a few tens of KiB
//! in flight at most, so a slow client skips frames and never holds back the
//! pipeline or the other clients.
//!
//! Rooms: `imp.rs` (GObject glue: properties, start/stop, render, events),
//! `settings.rs` (properties), `server.rs` (the shared tokio runtime, the
//! listener, connections and their watchdog), `routes.rs` (requests to
//! responses: paths, methods, auth, CORS), `body.rs` (response bodies),
//! `clock.rs` (X-Timestamp from buffers); the fan-out itself is the pure
//! [`crate::fanout`] room.
//!
//! ```text
//! gst-launch-1.0 mjpeghttpsrc location=http://camera/video.cgi ! mjpeghttpsink port=8080
//! gst-launch-1.0 v4l2src ! image/jpeg ! mjpeghttpsink address=0.0.0.0 user=me password=secret
//! ```

use gst::glib;
use gst::prelude::*;
use std::sync::LazyLock;

mod body;
mod clock;
mod imp;
mod routes;
mod server;
mod settings;

pub(crate) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "mjpeghttpsink",
        gst::DebugColorFlags::empty(),
        Some("MJPEG HTTP server sink"),
    )
});

glib::wrapper! {
    pub struct MjpegHttpSink(ObjectSubclass<imp::MjpegHttpSink>)
        @extends gst_base::BaseSink, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "mjpeghttpsink",
        // A sink: never autoplugged.
        gst::Rank::NONE,
        MjpegHttpSink::static_type(),
    )
}
