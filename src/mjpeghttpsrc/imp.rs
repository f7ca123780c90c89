// SPDX-License-Identifier: MIT OR Apache-2.0

//! GObject glue of `mjpeghttpsrc`: children, properties, state changes, the
//! bus filter that turns a camera outage into a restart, the URI handler.

use super::CAT;
use super::supervisor::{self, DataEvent, Policy, Shared};
use crate::mjpegsplit::{MjpegSplit, TimestampMode};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Properties handed to souphttpsrc as they are.
const SOURCE_PROPERTIES: &[&str] = &[
    "location",
    "user-id",
    "user-pw",
    "proxy",
    "proxy-id",
    "proxy-pw",
    "user-agent",
    "extra-headers",
    "ssl-strict",
    "cookies",
];
/// Properties handed to mjpegsplit as they are.
const SPLIT_PROPERTIES: &[&str] = &["framerate", "timestamp-mode"];
const SCHEME_PREFIX: &str = "mjpeg+";
const DEFAULT_USER_AGENT: &str = concat!("mjpeghttpsrc/", env!("CARGO_PKG_VERSION"));

/// Caps mjpegsplit takes; other Content-Types (text/html…) are not passed on,
/// so the splitter sniffs the body and says what it is.
const SPLIT_INPUT: &[&str] = &[
    "image/jpeg",
    "multipart/x-mixed-replace",
    "application/octet-stream",
    "video/x-mjpeg",
];

pub struct MjpegHttpSrc {
    source: Option<gst::Element>,
    split: MjpegSplit,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[glib::object_subclass]
impl ObjectSubclass for MjpegHttpSrc {
    const NAME: &'static str = "GstMjpegHttpSrc";
    type Type = super::MjpegHttpSrc;
    type ParentType = gst::Bin;
    type Interfaces = (gst::URIHandler,);

    fn new() -> Self {
        let source = gst::ElementFactory::make("souphttpsrc")
            .name("source")
            .property("is-live", true)
            .property("do-timestamp", true)
            .property("retries", 0i32)
            .property("user-agent", DEFAULT_USER_AGENT)
            .build()
            .ok();
        let split = glib::Object::builder::<MjpegSplit>()
            .property("name", "split")
            .build();
        MjpegHttpSrc {
            source,
            split,
            shared: Arc::new(Shared::default()),
            thread: Mutex::new(None),
        }
    }
}

fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

impl ObjectImpl for MjpegHttpSrc {
    fn dispose(&self) {
        // An application that drops the pipeline without setting it to
        // NULL (OpenCV does) must not leave the reconnect thread behind.
        self.stop_supervisor();
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let p = Policy::default();
            let string = |name: &str, nick: &str, blurb: &str| {
                glib::ParamSpecString::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .mutable_ready()
                    .build()
            };
            vec![
                string(
                    "location",
                    "Location",
                    "URL of the MJPEG stream (http:// or https://; mjpeg+http:// is accepted)",
                ),
                string("user-id", "User ID", "User name for Basic or Digest authentication"),
                string("user-pw", "User password", "Password for Basic or Digest authentication"),
                string("proxy", "Proxy", "HTTP proxy server URI (default: $http_proxy)"),
                string("proxy-id", "Proxy user ID", "User name for proxy authentication"),
                string("proxy-pw", "Proxy password", "Password for proxy authentication"),
                glib::ParamSpecString::builder("user-agent")
                    .nick("User-Agent")
                    .blurb("Value of the User-Agent HTTP request header")
                    .default_value(Some(DEFAULT_USER_AGENT))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("extra-headers")
                    .nick("Extra headers")
                    .blurb("Extra headers to send, e.g. extra-headers=\"h,Authorization=(string)\\\"Bearer x\\\"\"")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("ssl-strict")
                    .nick("TLS strict")
                    .blurb("Refuse a server certificate that cannot be verified")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<glib::StrV>("cookies")
                    .nick("Cookies")
                    .blurb("HTTP request cookies")
                    .mutable_ready()
                    .build(),
                gst::ParamSpecFraction::builder("framerate")
                    .nick("Frame rate")
                    .blurb("Frame rate put in the caps (0/1: variable); see mjpegsplit")
                    .minimum(gst::Fraction::new(0, 1))
                    .maximum(gst::Fraction::new(i32::MAX, 1))
                    .default_value(gst::Fraction::new(0, 1))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("timestamp-mode", TimestampMode::Auto)
                    .nick("Timestamp mode")
                    .blurb("Where PTS come from (auto: arrival time); see mjpegsplit")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("stall-timeout")
                    .nick("Stall timeout")
                    .blurb("Reconnect when the camera sends nothing for this long (ns; 0: never)")
                    .default_value(ns(p.stall_timeout))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("retry-delay")
                    .nick("Retry delay")
                    .blurb("Delay before the first reconnection attempt (ns); it doubles at each failed attempt")
                    .default_value(ns(p.retry_delay))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("max-retry-delay")
                    .nick("Maximum retry delay")
                    .blurb("Bound of the retry delay (ns)")
                    .default_value(ns(p.max_retry_delay))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("max-retries")
                    .nick("Maximum retries")
                    .blurb("Failed attempts in a row before giving up with an error (-1: forever)")
                    .minimum(-1)
                    .default_value(p.max_retries)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("restart-on-eos")
                    .nick("Restart on EOS")
                    .blurb("Reconnect when the server ends the stream (false: end the stream with EOS)")
                    .default_value(p.restart_on_eos)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "connects, disconnects, stalls, retries, frames, bytes, last-error, \
                         last-retry-reason, and split (the stats of mjpegsplit)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        if SOURCE_PROPERTIES.contains(&name) {
            let Some(source) = &self.source else { return };
            let mut value = value.clone();
            if name == "location"
                && let Ok(Some(url)) = value.get::<Option<String>>()
            {
                value = url.strip_prefix(SCHEME_PREFIX).unwrap_or(&url).to_value();
            }
            source.set_property_from_value(name, &value);
            return;
        }
        if SPLIT_PROPERTIES.contains(&name) {
            self.split.set_property_from_value(name, value);
            return;
        }
        let mut inner = self.shared.lock();
        let policy = &mut inner.policy;
        let duration = || Duration::from_nanos(value.get::<u64>().unwrap_or(0));
        match name {
            "stall-timeout" => {
                policy.stall_timeout = match duration() {
                    Duration::ZERO => Duration::MAX,
                    d => d,
                }
            }
            "retry-delay" => policy.retry_delay = duration(),
            "max-retry-delay" => policy.max_retry_delay = duration(),
            "max-retries" => policy.max_retries = value.get().unwrap_or(-1),
            "restart-on-eos" => policy.restart_on_eos = value.get().unwrap_or(true),
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let name = pspec.name();
        if SOURCE_PROPERTIES.contains(&name) {
            return match &self.source {
                Some(source) => source.property_value(name),
                None => pspec.default_value().clone(),
            };
        }
        if SPLIT_PROPERTIES.contains(&name) {
            return self.split.property_value(name);
        }
        let inner = self.shared.lock();
        let p = inner.policy;
        match name {
            "stall-timeout" => match p.stall_timeout {
                Duration::MAX => 0u64.to_value(),
                d => ns(d).to_value(),
            },
            "retry-delay" => ns(p.retry_delay).to_value(),
            "max-retry-delay" => ns(p.max_retry_delay).to_value(),
            "max-retries" => p.max_retries.to_value(),
            "restart-on-eos" => p.restart_on_eos.to_value(),
            "stats" => {
                let s = &inner.stats;
                gst::Structure::builder("mjpeghttpsrc-stats")
                    .field("connects", s.connects)
                    .field("disconnects", s.disconnects)
                    .field("stalls", s.stalls)
                    .field("retries", s.retries)
                    .field("frames", s.frames)
                    .field("bytes", s.bytes)
                    .field("last-error", s.last_error.as_str())
                    .field("last-retry-reason", s.last_retry_reason.as_str())
                    .field("split", self.split.property::<gst::Structure>("stats"))
                    .build()
                    .to_value()
            }
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_element_flags(gst::ElementFlags::SOURCE);
        obj.set_suppressed_flags(gst::ElementFlags::SOURCE | gst::ElementFlags::SINK);
        obj.add(&self.split).expect("add mjpegsplit");
        let split_src = self.split.static_pad("src").expect("mjpegsplit src pad");
        let templ = obj.pad_template("src").expect("src template");
        let ghost = gst::GhostPad::builder_from_template_with_target(&templ, &split_src)
            .expect("ghost pad")
            .build();
        obj.add_pad(&ghost).expect("add src pad");

        // Frames out; an EOS leaving mjpegsplit (however it was sent) ends
        // the stream for good: no more restarts.
        let shared = self.shared.clone();
        split_src.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                if info.buffer().is_some() {
                    shared.on_frame();
                } else if info
                    .event()
                    .is_some_and(|e| e.type_() == gst::EventType::Eos)
                {
                    shared.lock().eos_requested = true;
                }
                gst::PadProbeReturn::Ok
            },
        );

        let Some(source) = &self.source else { return };
        obj.add(source).expect("add souphttpsrc");
        source
            .link(&self.split)
            .expect("link souphttpsrc to mjpegsplit");
        let shared = self.shared.clone();
        let weak = obj.downgrade();
        source.static_pad("src").expect("source pad").add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| source_probe(&shared, &weak, info),
        );
    }
}

/// What passes from souphttpsrc to mjpegsplit: buffers (the first of each
/// connection marked DISCONT); the first stream-start and segment only (a
/// reconnection continues the same stream); EOS only when no restart follows.
fn source_probe(
    shared: &Shared,
    bin: &glib::WeakRef<super::MjpegHttpSrc>,
    info: &mut gst::PadProbeInfo,
) -> gst::PadProbeReturn {
    if let Some(buffer) = info.buffer_mut() {
        match shared.on_data(buffer.size()) {
            DataEvent::More => {}
            DataEvent::First { reconnect } => {
                buffer.make_mut().set_flags(gst::BufferFlags::DISCONT);
                if reconnect && let Some(bin) = bin.upgrade() {
                    gst::info!(CAT, obj = bin, "reconnected");
                    let s = supervisor::status("reconnected", "", 0, Duration::ZERO);
                    let _ = bin.post_message(gst::message::Element::builder(s).src(&bin).build());
                }
            }
        }
        return gst::PadProbeReturn::Ok;
    }
    let Some(event) = info.event() else {
        return gst::PadProbeReturn::Ok;
    };
    let keep_from_split = match event.view() {
        gst::EventView::StreamStart(_) => {
            std::mem::replace(&mut shared.lock().stream_started, true)
        }
        gst::EventView::Segment(_) => std::mem::replace(&mut shared.lock().segment_sent, true),
        gst::EventView::Caps(c) => {
            let name = c.caps().structure(0).map(|s| s.name().as_str());
            !name.is_some_and(|n| SPLIT_INPUT.contains(&n))
        }
        gst::EventView::Eos(_) => shared.on_source_eos(),
        _ => false,
    };
    if keep_from_split {
        gst::PadProbeReturn::Handled
    } else {
        gst::PadProbeReturn::Ok
    }
}

impl GstObjectImpl for MjpegHttpSrc {}

impl ElementImpl for MjpegHttpSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MJPEG HTTP camera source",
                "Source/Network",
                "Reads an MJPEG IP camera over HTTP(S) into timestamped JPEG frames; \
                 reconnects when the camera drops, fails or stalls",
                "mjpegsplit developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(|| vec![crate::mjpegsplit::src_pad_template()]);
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::NullToReady if self.source.is_none() => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::MissingPlugin,
                    ("souphttpsrc is missing (install gstreamer1.0-plugins-good)")
                );
                return Err(gst::StateChangeError);
            }
            gst::StateChange::ReadyToPaused => {
                self.shared.reset();
                self.start_supervisor();
            }
            gst::StateChange::PlayingToPaused => self.shared.set_playing(false),
            gst::StateChange::PausedToReady => self.stop_supervisor(),
            _ => {}
        }
        let ret = self.parent_change_state(transition);
        match (transition, &ret) {
            (gst::StateChange::PausedToPlaying, Ok(_)) => self.shared.set_playing(true),
            (gst::StateChange::ReadyToPaused, Err(_)) => self.stop_supervisor(),
            _ => {}
        }
        ret
    }

    fn send_event(&self, event: gst::Event) -> bool {
        if event.type_() == gst::EventType::Eos {
            // The application ends the stream: no more restarts, and the last
            // frame and EOS leave through mjpegsplit.
            self.shared.lock().eos_requested = true;
            return self
                .split
                .static_pad("sink")
                .is_some_and(|p| p.send_event(event));
        }
        self.parent_send_event(event)
    }
}

impl MjpegHttpSrc {
    fn start_supervisor(&self) {
        let Some(source) = self.source.clone() else {
            return;
        };
        let shared = self.shared.clone();
        let bin = self.obj().upcast_ref::<gst::Bin>().downgrade();
        let handle = std::thread::Builder::new()
            .name("mjpeghttpsrc".into())
            .spawn(move || {
                let location = source
                    .property::<Option<String>>("location")
                    .unwrap_or_default();
                supervisor::run(shared, bin, source, move |bin, reason| {
                    let retries = bin.property::<i32>("max-retries");
                    let msg = format!(
                        "No video from {location}: {retries} attempts in a row failed (last: \
                         {reason}). Is the camera on and the URL right? (max-retries=-1 keeps \
                         trying)"
                    );
                    let msg = gst::message::Error::builder(gst::ResourceError::Read, &msg)
                        .src(bin)
                        .build();
                    let _ = bin.post_message(msg);
                })
            })
            .expect("spawn the mjpeghttpsrc thread");
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    fn stop_supervisor(&self) {
        self.shared.stop();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// An error of the HTTP source: fatal for an unusable URL before any
    /// frame came, else the camera is out and a restart follows.
    fn source_error(&self, err: &gst::message::Error) -> bool {
        let e = err.error();
        let status = err
            .details()
            .and_then(|d| d.get::<u32>("http-status-code").ok());
        let text = match status {
            Some(code) => format!("HTTP {code}: {}", e.message()),
            None => e.message().to_string(),
        };
        let unusable = e.matches(gst::ResourceError::NotAuthorized)
            || e.matches(gst::ResourceError::NotFound)
            || matches!(status, Some(400 | 401 | 403 | 404 | 405 | 407 | 410));
        let mut inner = self.shared.lock();
        // "Internal data stream error." follows the source's own error (no
        // connection, …): that one says more.
        // souphttpsrc says only that when the connection is refused or reset.
        let text = if e.matches(gst::StreamError::Failed) {
            if inner.stats.last_error.is_empty() || inner.stats.last_error == text {
                "no answer (the connection was refused, reset or closed)".to_string()
            } else {
                inner.stats.last_error.clone()
            }
        } else {
            text
        };
        if inner.stats.last_error.is_empty() || !text.is_empty() {
            inner.stats.last_error = text.clone();
        }
        if unusable && !inner.frame_seen {
            inner.failed = true;
            drop(inner);
            let hint = if matches!(status, Some(401 | 407))
                || e.matches(gst::ResourceError::NotAuthorized)
            {
                " (set user-id and user-pw, or check them)"
            } else {
                ""
            };
            let location = self
                .source
                .as_ref()
                .and_then(|s| s.property::<Option<String>>("location"))
                .unwrap_or_default();
            // What a person reads: no source location, no GLib debug text.
            let msg = format!("{text} from {location}{hint}");
            let obj = self.obj();
            let msg = gst::message::Error::builder(gst::ResourceError::OpenRead, &msg)
                .src(&*obj)
                .build();
            let _ = obj.post_message(msg);
            return true;
        }
        drop(inner);
        gst::info!(CAT, imp = self, "source error: {text}");
        self.shared.request(&text);
        true
    }
}

impl BinImpl for MjpegHttpSrc {
    fn handle_message(&self, msg: gst::Message) {
        if let gst::MessageView::Error(err) = msg.view() {
            let from_source = self.source.as_ref().is_some_and(|s| {
                msg.src()
                    .is_some_and(|m| m == s.upcast_ref::<gst::Object>())
            });
            if from_source {
                let done = {
                    let inner = self.shared.lock();
                    inner.eos_requested || inner.failed
                };
                if done {
                    return;
                }
                if self.shared.restarting() {
                    gst::debug!(CAT, imp = self, "error during restart: {}", err.error());
                    return;
                }
                self.source_error(err);
                return;
            }
        }
        self.parent_handle_message(msg)
    }
}

impl URIHandlerImpl for MjpegHttpSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["mjpeg+http", "mjpeg+https"]
    }

    fn uri(&self) -> Option<String> {
        let location = self
            .source
            .as_ref()?
            .property::<Option<String>>("location")?;
        Some(format!("{SCHEME_PREFIX}{location}"))
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        let url = uri.strip_prefix(SCHEME_PREFIX).unwrap_or(uri);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(glib::Error::new(
                gst::URIError::BadUri,
                &format!("not an mjpeg+http(s) URI: {uri}"),
            ));
        }
        let Some(source) = &self.source else {
            return Err(glib::Error::new(
                gst::URIError::UnsupportedProtocol,
                "souphttpsrc is missing",
            ));
        };
        source.set_property("location", url);
        Ok(())
    }
}
