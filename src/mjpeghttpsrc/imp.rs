// SPDX-License-Identifier: MIT OR Apache-2.0

//! GObject glue of `mjpeghttpsrc`: children, properties (the URL checked,
//! its credentials handed to souphttpsrc apart), state changes, the EOS of
//! the application, the supervisor's hooks, the URI handler. The data path
//! is in `pads.rs`, souphttpsrc's messages in `bus.rs`.

use super::CAT;
use super::bus::post_error;
use super::diagnose::Probe;
use super::pads;
use super::supervisor::{self, Hooks, Policy, Shared};
use super::url::{self, Secrets};
use crate::mjpegsplit::{MjpegSplit, TimestampMode};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Properties handed to souphttpsrc as they are.
const SOURCE_PROPERTIES: &[&str] = &[
    "proxy",
    "proxy-id",
    "proxy-pw",
    "user-agent",
    "extra-headers",
    "ssl-strict",
    "ssl-ca-file",
    "cookies",
];
/// Properties handed to mjpegsplit as they are.
const SPLIT_PROPERTIES: &[&str] = &["framerate", "timestamp-mode"];
const SCHEME_PREFIX: &str = "mjpeg+";
const DEFAULT_USER_AGENT: &str = concat!("mjpeghttpsrc/", env!("CARGO_PKG_VERSION"));

/// The properties kept here: souphttpsrc gets the URL without its
/// credentials, and the credentials as user-id/user-pw (so that no message
/// or log of souphttpsrc names them).
#[derive(Debug, Default)]
struct Settings {
    location: Option<String>,
    user_id: Option<String>,
    user_pw: Option<String>,
}

pub struct MjpegHttpSrc {
    pub(super) source: Option<gst::Element>,
    pub(super) split: MjpegSplit,
    pub(super) shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    settings: Mutex<Settings>,
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
            settings: Mutex::new(Settings::default()),
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
                    "URL of the MJPEG stream (http:// or https://, credentials as \
                     http://user:password@camera/; mjpeg+http:// is accepted)",
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
                string(
                    "ssl-ca-file",
                    "TLS CA file",
                    "File of the CA certificates that sign the camera's certificate",
                ),
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
        if matches!(name, "location" | "user-id" | "user-pw") {
            let v = value.get::<Option<String>>().unwrap_or(None);
            let mut settings = self.lock_settings();
            match name {
                "location" => settings.location = v,
                "user-id" => settings.user_id = v,
                _ => settings.user_pw = v,
            }
            self.apply_location(&settings);
            return;
        }
        if SOURCE_PROPERTIES.contains(&name) {
            if let Some(source) = &self.source {
                source.set_property_from_value(name, value);
            }
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
        if matches!(name, "location" | "user-id" | "user-pw") {
            let settings = self.lock_settings();
            return match name {
                "location" => settings.location.to_value(),
                "user-id" => settings.user_id.to_value(),
                _ => settings.user_pw.to_value(),
            };
        }
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
        let bin = obj.upcast_ref::<gst::Bin>().downgrade();
        let ghost = pads::ghost(&templ, &split_src, &self.shared, bin.clone());
        obj.add_pad(&ghost).expect("add src pad");

        let Some(source) = &self.source else { return };
        obj.add(source).expect("add souphttpsrc");
        source
            .link(&self.split)
            .expect("link souphttpsrc to mjpegsplit");
        let shared = self.shared.clone();
        source.static_pad("src").expect("source pad").add_probe(
            gst::PadProbeType::BUFFER
                | gst::PadProbeType::EVENT_DOWNSTREAM
                | gst::PadProbeType::EVENT_FLUSH,
            move |_, info| pads::source_probe(&shared, &bin, info),
        );
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
            gst::StateChange::NullToReady => {
                let location = self.lock_settings().location.clone();
                if let Err(e) = url::parse(location.as_deref()) {
                    // Never worth a connection: say why, and stop here.
                    gst::info!(CAT, imp = self, "unusable location: {e}");
                    let msg =
                        gst::message::Error::builder(gst::ResourceError::Settings, &e.to_string())
                            .src(&*self.obj())
                            .build();
                    let _ = self.obj().post_message(msg);
                    return Err(gst::StateChangeError);
                }
            }
            gst::StateChange::ReadyToPaused => {
                self.shared.reset();
                if let Some(source) = &self.source {
                    // Stopped for an EOS of the last run.
                    source.set_locked_state(false);
                }
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
            // The application ends the stream: no more restarts. The EOS is
            // queued for the supervisor, which hands it to the source's
            // streaming thread: never pushed here, in the caller's thread
            // (gst_element_send_event holds the state lock, and a PAUSED
            // sink would block the push until PLAYING).
            let running = self
                .thread
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some();
            if running {
                self.shared.request_eos();
            }
            return running;
        }
        self.parent_send_event(event)
    }
}

impl MjpegHttpSrc {
    fn lock_settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// souphttpsrc gets the URL without its credentials, and the
    /// credentials (the properties first, else the URL's) as properties.
    fn apply_location(&self, settings: &Settings) {
        let Some(source) = &self.source else { return };
        let raw = settings.location.as_deref().map(url::strip_prefix);
        let parsed = url::parse(raw).ok();
        let clean = parsed.as_ref().map(|l| l.clean.as_str()).or(raw);
        let user = settings
            .user_id
            .clone()
            .or_else(|| parsed.as_ref().and_then(|l| l.user.clone()));
        let pw = settings
            .user_pw
            .clone()
            .or_else(|| parsed.as_ref().and_then(|l| l.password.clone()));
        source.set_property("location", clean);
        source.set_property("user-id", user);
        source.set_property("user-pw", pw);
    }

    /// Every password we know of, to keep out of what we show.
    pub(super) fn secrets(&self) -> Secrets {
        let settings = self.lock_settings();
        let parsed = url::parse(settings.location.as_deref()).ok();
        let proxy_pw = self
            .source
            .as_ref()
            .and_then(|s| s.property::<Option<String>>("proxy-pw"));
        Secrets::new([
            parsed.as_ref().and_then(|l| l.password.as_deref()),
            settings.user_pw.as_deref(),
            proxy_pw.as_deref(),
        ])
    }

    /// The URL as messages show it: no credentials.
    pub(super) fn shown_location(&self) -> String {
        let settings = self.lock_settings();
        match url::parse(settings.location.as_deref()) {
            Ok(l) => l.clean,
            Err(_) => url::redact(settings.location.as_deref().unwrap_or("")),
        }
    }

    fn start_supervisor(&self) {
        let Some(source) = self.source.clone() else {
            return;
        };
        let shared = self.shared.clone();
        let bin = self.obj().upcast_ref::<gst::Bin>().downgrade();
        let location = self.shown_location();
        let secrets = self.secrets();
        let probe = url::parse(self.lock_settings().location.as_deref())
            .ok()
            .map(|l| {
                let proxy = source.property::<Option<String>>("proxy");
                let env = ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"];
                Probe {
                    location: l,
                    ssl_strict: source.property::<bool>("ssl-strict"),
                    ssl_ca_file: source.property::<Option<String>>("ssl-ca-file"),
                    proxied: proxy.is_some_and(|p| !p.is_empty())
                        || env.iter().any(|v| std::env::var_os(v).is_some()),
                }
            });
        let (loc1, loc2) = (location.clone(), location);
        let hooks = Hooks {
            give_up: Box::new(move |bin, reason| {
                let retries = bin.property::<i32>("max-retries");
                let msg = format!(
                    "No video from {loc1}: {retries} attempts in a row failed (last: {reason}). \
                     Is the camera on and the URL right? (max-retries=-1 keeps trying)"
                );
                post_error(bin, gst::ResourceError::Read, &msg);
            }),
            fatal: Box::new(move |bin, reason| {
                post_error(
                    bin,
                    gst::ResourceError::OpenRead,
                    &format!("Cannot read {loc2}: {reason}"),
                );
            }),
            probe,
            scrub: Box::new(move |t| secrets.scrub(t)),
            split_sink: self.split.static_pad("sink").expect("mjpegsplit sink pad"),
            src_pad: self.obj().static_pad("src").expect("src pad"),
        };
        let handle = std::thread::Builder::new()
            .name("mjpeghttpsrc".into())
            .spawn(move || supervisor::run(shared, bin, source, hooks))
            .expect("spawn the mjpeghttpsrc thread");
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    fn stop_supervisor(&self) {
        self.shared.stop();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        // The last reference can go on the supervisor's own thread (the
        // application dropped the pipeline): it ends by itself then.
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
    }
}

impl URIHandlerImpl for MjpegHttpSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["mjpeg+http", "mjpeg+https"]
    }

    fn uri(&self) -> Option<String> {
        let location = self.lock_settings().location.clone()?;
        Some(format!("{SCHEME_PREFIX}{}", url::strip_prefix(&location)))
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        if let Err(e) = url::parse(Some(uri)) {
            return Err(glib::Error::new(gst::URIError::BadUri, &e.to_string()));
        }
        if self.source.is_none() {
            return Err(glib::Error::new(
                gst::URIError::UnsupportedProtocol,
                "souphttpsrc is missing",
            ));
        }
        let mut settings = self.lock_settings();
        settings.location = Some(url::strip_prefix(uri).to_string());
        self.apply_location(&settings);
        Ok(())
    }
}
