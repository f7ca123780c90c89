// SPDX-License-Identifier: MIT OR Apache-2.0

//! The fan-out hub of `mjpeghttpsink`: one latest frame, many clients.
//!
//! Pure Rust (tokio's sync and time primitives, `bytes`), no GStreamer and no
//! HTTP types, so it is unit tested alone. The element publishes each frame
//! with [`Hub::publish`], which only swaps the latest frame and wakes the
//! clients: the streaming thread never waits on a client. Each client reads
//! through a [`FrameStream`], which hands out the multipart bytes of the
//! newest frame whenever its connection can take more (drop to latest): a
//! slow client skips frames, a fast one gets every frame.
//!
//! Rooms: `hub.rs` (the latest frame, the clients, their statistics and the
//! first/last client events), `stream.rs` (one client's frames and rate cap),
//! `parts.rs` (the multipart bytes), `pacing.rs` (rate caps and fps meters),
//! `json.rs` (the `/state` document).

mod hub;
mod json;
mod pacing;
mod parts;
mod stream;
#[cfg(test)]
mod tests;

pub use hub::{ClientInfo, ClientStats, Frame, Hub, HubEvent, Traffic};
pub use json::state_json;
pub use pacing::{FpsMeter, MAX_FPS, MIN_FPS, RateCap};
pub use parts::{Multipart, x_timestamp};
pub use stream::FrameStream;
