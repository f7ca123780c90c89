// SPDX-License-Identifier: MIT OR Apache-2.0
#![forbid(unsafe_code)]

//! GStreamer plugin `mjpegsplit`: splits a raw or multipart MJPEG byte stream
//! into timestamped `image/jpeg` frames.

use gst::glib;

pub mod containers;
pub mod fanout;
pub mod jpeg;
mod mjpeghttpsink;
mod mjpeghttpsrc;
mod mjpegsplit;
pub mod multipart;
pub mod properties;
pub mod timing;
mod typefind;

#[cfg(test)]
mod test_util;

pub use mjpeghttpsink::MjpegHttpSink;
pub use mjpeghttpsrc::MjpegHttpSrc;
pub use mjpegsplit::{DHT_META, Incomplete, MjpegSplit, PART_META, TimestampMode};

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    mjpegsplit::register(plugin)?;
    mjpeghttpsrc::register(plugin)?;
    mjpeghttpsink::register(plugin)?;
    typefind::register(plugin)
}

gst::plugin_define!(
    mjpegsplit,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    // The crate is MIT OR Apache-2.0 (LICENSE-MIT, LICENSE-APACHE). GStreamer
    // knows only a fixed list of license strings (1.22: LGPL, GPL, QPL,
    // GPL/QPL, MPL, MPL-2.0, BSD, MIT/X11, 0BSD, Apache 2.0, Proprietary,
    // unknown) and none names a dual license; any other string logs "has
    // unknown license" on every load. "MIT/X11" is the licence a user may
    // pick, as in the MIT/Apache crates of gst-plugins-rs.
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
