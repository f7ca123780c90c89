// SPDX-License-Identifier: MIT OR Apache-2.0

//! The properties of `mjpeghttpsink`.

use gst::glib;
use gst::prelude::*;
use std::sync::LazyLock;

pub const DEFAULT_ADDRESS: &str = "127.0.0.1";
pub const DEFAULT_PORT: u32 = 8080;
pub const DEFAULT_MAX_CLIENTS: u32 = 100;
pub const DEFAULT_CLIENT_TIMEOUT: u32 = 10;
pub const DEFAULT_SNAPSHOT_INSERT_DHT: bool = true;

#[derive(Debug, Clone)]
pub struct Settings {
    pub address: String,
    pub port: u32,
    pub max_clients: u32,
    pub user: Option<String>,
    pub password: Option<String>,
    pub allow_origin: Option<String>,
    pub client_timeout: u32,
    pub snapshot_insert_dht: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            address: DEFAULT_ADDRESS.into(),
            port: DEFAULT_PORT,
            max_clients: DEFAULT_MAX_CLIENTS,
            user: None,
            password: None,
            allow_origin: None,
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
            snapshot_insert_dht: DEFAULT_SNAPSHOT_INSERT_DHT,
        }
    }
}

pub static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
    vec![
        glib::ParamSpecString::builder("address")
            .nick("Address")
            .blurb(
                "Address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 or :: (every \
                 network the machine is on: anyone who can reach it sees the stream, so set \
                 user and password), or one interface's address. A change while serving \
                 takes effect at the next READY→PAUSED",
            )
            .default_value(Some(DEFAULT_ADDRESS))
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("port")
            .nick("Port")
            .blurb(
                "TCP port to listen on; 0 picks a free one (read this property, or the \
                 mjpeghttpsink-listening message, for the port chosen). A change while \
                 serving takes effect at the next READY→PAUSED",
            )
            .maximum(65535)
            .default_value(DEFAULT_PORT)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-clients")
            .nick("Maximum clients")
            .blurb("Stream clients served at once; more get 503 Service Unavailable")
            .minimum(1)
            .maximum(100_000)
            .default_value(DEFAULT_MAX_CLIENTS)
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder("user")
            .nick("User")
            .blurb("User name for HTTP Basic authentication on every path (with password)")
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder("password")
            .nick("Password")
            .blurb("Password for HTTP Basic authentication (write only)")
            .write_only()
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder("allow-origin")
            .nick("Allow origin")
            .blurb(
                "Access-Control-Allow-Origin for web pages on other origins (for example \
                 https://example.com, or *); unset: none",
            )
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("client-timeout")
            .nick("Client timeout")
            .blurb(
                "Seconds a client may take no byte while bytes wait for it before it is \
                 closed (0: never)",
            )
            .maximum(3600)
            .default_value(DEFAULT_CLIENT_TIMEOUT)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("snapshot-insert-dht")
            .nick("Snapshot: insert DHT")
            .blurb(
                "Give /snapshot frames without Huffman tables (USB webcams) the standard ones \
                 of the JPEG specification, so that every viewer opens them; /stream frames \
                 always go out unchanged",
            )
            .default_value(DEFAULT_SNAPSHOT_INSERT_DHT)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("clients")
            .nick("Clients")
            .blurb("Stream clients now")
            .read_only()
            .build(),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(
                "frames-in, clients, port and clients-info (per stream client: address, \
                 user-agent, frames-sent, frames-skipped, bytes-sent, bytes-queued, fps)",
            )
            .read_only()
            .build(),
    ]
});
