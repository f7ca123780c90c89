// SPDX-License-Identifier: MIT OR Apache-2.0

//! GObject glue of `mjpeghttpsink`: a BaseSink whose render hands the frame
//! to the fan-out hub and returns (it never waits on a client). The server
//! listens from READY→PAUSED (a taken port is an error there) to
//! PAUSED→READY (in `change_state`: BaseSink's start and stop come at
//! NULL↔READY); EOS ends every stream with the close delimiter.

use super::CAT;
use super::clock::WallClock;
use super::routes::{self, Access, Context, Media};
use super::server::Server;
use super::settings::{PROPERTIES, Settings};
use crate::fanout::{Hub, HubEvent, Multipart};
use bytes::Bytes;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

struct Running {
    server: Server,
    ctx: Arc<Context>,
}

/// Client events waiting to be posted, and whether a thread posts them.
#[derive(Default)]
struct Events {
    queue: std::collections::VecDeque<HubEvent>,
    posting: bool,
}

pub struct MjpegHttpSink {
    settings: Mutex<Settings>,
    running: Mutex<Option<Running>>,
    hub: Arc<Hub>,
    media: Arc<Mutex<Media>>,
    clock: Mutex<WallClock>,
    /// The preroll frame, published when prepared: its render, once
    /// playing, does not publish it again. (Held, so that no other buffer
    /// can be at its address: buffers often come where one was freed.)
    prerolled: Mutex<Option<gst::Buffer>>,
    /// Client events, posted in order by one thread at a time.
    events: Arc<Mutex<Events>>,
    snapshot_insert_dht: Arc<AtomicBool>,
}

#[glib::object_subclass]
impl ObjectSubclass for MjpegHttpSink {
    const NAME: &'static str = "GstMjpegHttpSink";
    type Type = super::MjpegHttpSink;
    type ParentType = gst_base::BaseSink;

    fn new() -> Self {
        MjpegHttpSink {
            settings: Mutex::new(Settings::default()),
            running: Mutex::new(None),
            hub: Arc::new(Hub::new()),
            media: Arc::new(Mutex::new(Media::default())),
            clock: Mutex::new(WallClock::default()),
            prerolled: Mutex::new(None),
            events: Arc::default(),
            snapshot_insert_dht: Arc::new(AtomicBool::new(
                super::settings::DEFAULT_SNAPSHOT_INSERT_DHT,
            )),
        }
    }
}

impl ObjectImpl for MjpegHttpSink {
    fn properties() -> &'static [glib::ParamSpec] {
        PROPERTIES.as_ref()
    }

    fn constructed(&self) {
        self.parent_constructed();
        let weak = self.obj().downgrade();
        let events = self.events.clone();
        // Called in the hub's order, under its lock: queue the event, and
        // start the one thread that posts them unless it runs already.
        self.hub.set_listener(move |event| {
            let mut e = events.lock().unwrap();
            e.queue.push_back(event);
            if e.posting {
                return;
            }
            e.posting = true;
            drop(e);
            let (weak, queue) = (weak.clone(), events.clone());
            let post = move || {
                loop {
                    let event = {
                        let mut e = queue.lock().unwrap();
                        match e.queue.pop_front() {
                            Some(event) => event,
                            None => {
                                e.posting = false;
                                return;
                            }
                        }
                    };
                    if let Some(obj) = weak.upgrade() {
                        obj.imp().post_client_event(event);
                    }
                }
            };
            // Off the server's worker thread (clients come and go there),
            // so that a bus sync handler may change the state (and stop
            // the server) right there.
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn_blocking(post);
                }
                Err(_) => {
                    let spawned = std::thread::Builder::new()
                        .name("mjpeghttpsink-events".into())
                        .spawn(post);
                    if spawned.is_err() {
                        // The next event tries again.
                        events.lock().unwrap().posting = false;
                    }
                }
            }
        });
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        let mut settings = self.settings.lock().unwrap();
        let mut new = settings.clone();
        match name {
            "address" => {
                new.address = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_else(|| super::settings::DEFAULT_ADDRESS.into())
            }
            "port" => new.port = value.get().expect("type checked upstream"),
            "max-clients" => new.max_clients = value.get().expect("type checked upstream"),
            "user" => new.user = value.get().expect("type checked upstream"),
            "password" => new.password = value.get().expect("type checked upstream"),
            "allow-origin" => {
                new.allow_origin = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|o| !o.is_empty())
            }
            "client-timeout" => new.client_timeout = value.get().expect("type checked upstream"),
            "snapshot-insert-dht" => {
                new.snapshot_insert_dht = value.get().expect("type checked upstream");
                self.snapshot_insert_dht
                    .store(new.snapshot_insert_dht, Ordering::Relaxed);
            }
            _ => unimplemented!(),
        }
        // Serving: what requests are checked against changes at once; the
        // address and port at the next start (READY→PAUSED).
        let ctx = self.running.lock().unwrap().as_ref().map(|r| r.ctx.clone());
        let said = match (ctx, name) {
            (None, _) | (Some(_), "snapshot-insert-dht") => None,
            (Some(_), "address" | "port") => Some(format!(
                "{name} changed while serving: it takes effect at the next READY→PAUSED"
            )),
            (Some(ctx), _) => match access(&new) {
                Ok(a) => {
                    *ctx.access.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(a);
                    None
                }
                Err(e) => {
                    drop(settings);
                    gst::warning!(CAT, imp = self, "{name} not changed: {e}");
                    return;
                }
            },
        };
        *settings = new;
        drop(settings);
        if let Some(said) = said {
            gst::warning!(CAT, imp = self, "{said}");
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "port" => {
                // Not under `running`: set_property takes settings, then running.
                let serving = self
                    .running
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map(|r| r.server.local_addr().port());
                match serving {
                    Some(port) => u32::from(port).to_value(),
                    None => self.settings.lock().unwrap().port.to_value(),
                }
            }
            "clients" => (self.hub.client_count() as u32).to_value(),
            "stats" => self.stats().to_value(),
            name => {
                let s = self.settings.lock().unwrap();
                match name {
                    // Serving: the address in effect.
                    "address" => match &*self.running.lock().unwrap() {
                        Some(r) => r.server.local_addr().ip().to_string().to_value(),
                        None => s.address.to_value(),
                    },
                    "max-clients" => s.max_clients.to_value(),
                    "user" => s.user.to_value(),
                    // Write only: never given back.
                    "password" => None::<String>.to_value(),
                    "allow-origin" => s.allow_origin.to_value(),
                    "client-timeout" => s.client_timeout.to_value(),
                    "snapshot-insert-dht" => s.snapshot_insert_dht.to_value(),
                    _ => unimplemented!(),
                }
            }
        }
    }
}

impl GstObjectImpl for MjpegHttpSink {}

impl ElementImpl for MjpegHttpSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MJPEG HTTP server sink",
                "Sink/Network",
                "Serves JPEG frames over HTTP to many clients: /stream (multipart/x-mixed-replace), \
                 /snapshot, /state, and a page at /",
                "mjpegsplit developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder("image/jpeg").build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused
            && let Err(e) = self.listen()
        {
            // Listening before BaseSink starts makes a failure our one ERROR
            // (BaseSink adds a generic second one when start() fails).
            self.post_error_message(e);
            return Err(gst::StateChangeError);
        }
        let result = self.parent_change_state(transition);
        // READY closes the port (BaseSink's stop() only comes at READY→NULL).
        if transition == gst::StateChange::PausedToReady
            || (result.is_err() && transition == gst::StateChange::ReadyToPaused)
        {
            self.close();
        }
        result
    }
}

impl BaseSinkImpl for MjpegHttpSink {
    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.close();
        Ok(())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let framerate = caps
            .structure(0)
            .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
            .filter(|f| f.numer() > 0 && f.denom() > 0)
            .map(|f| format!("{}/{}", f.numer(), f.denom()));
        *self.media.lock().unwrap() = Media {
            caps: Some(caps.to_string()),
            framerate,
        };
        Ok(())
    }

    fn prepare(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Not playing: this is the preroll frame (a paused recording, a
        // seek while paused); new clients and snapshots see it at once.
        // BaseSink prepares it again before its render: published once.
        // Playing, the frame waits for its time and goes out in render.
        if self.obj().current_state() != gst::State::Playing {
            let mut prerolled = self.prerolled.lock().unwrap();
            if prerolled
                .as_ref()
                .is_none_or(|p| p.as_ptr() != buffer.as_ptr())
            {
                self.publish(buffer);
                *prerolled = Some(buffer.clone());
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        // The preroll frame comes to render once playing: it is out already.
        let prerolled = self.prerolled.lock().unwrap().take();
        if prerolled.is_none_or(|p| p.as_ptr() != buffer.as_ptr()) {
            self.publish(buffer);
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => {
                gst::debug!(CAT, imp = self, "EOS: ending every stream");
                self.hub.end();
            }
            gst::EventView::FlushStop(_) => {
                self.hub.reopen();
                *self.prerolled.lock().unwrap() = None;
            }
            _ => {}
        }
        self.parent_event(event)
    }
}

impl MjpegHttpSink {
    /// Starts the server (READY→PAUSED).
    fn listen(&self) -> Result<(), gst::ErrorMessage> {
        if self.running.lock().unwrap().is_some() {
            return Ok(());
        }
        let s = self.settings.lock().unwrap().clone();
        let port = u16::try_from(s.port).unwrap_or(0);
        let access =
            access(&s).map_err(|e| gst::error_msg!(gst::ResourceError::Settings, ["{}", e]))?;
        let ctx = Arc::new(Context {
            hub: self.hub.clone(),
            multipart: Multipart::new(boundary_seed()),
            access: std::sync::RwLock::new(Arc::new(access)),
            snapshot_insert_dht: self.snapshot_insert_dht.clone(),
            media: self.media.clone(),
            title: self.obj().name().to_string(),
        });
        self.hub.reopen();
        let server = Server::start(&s.address, port, ctx.clone()).map_err(|e| {
            gst::error_msg!(gst::ResourceError::OpenReadWrite, ("Cannot serve: {}", e))
        })?;
        let local = server.local_addr();
        let url = format!("http://{local}/");
        gst::info!(CAT, imp = self, "listening on {url} (stream: {url}stream)");
        *self.running.lock().unwrap() = Some(Running {
            server,
            ctx: ctx.clone(),
        });
        // A property set while the server started (it saw no server yet).
        if let Ok(a) = self::access(&self.settings.lock().unwrap()) {
            *ctx.access.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(a);
        }
        let obj = self.obj();
        let _ = obj.post_message(
            gst::message::Element::builder(
                gst::Structure::builder("mjpeghttpsink-listening")
                    .field("address", local.ip().to_string())
                    .field("port", u32::from(local.port()))
                    .field("url", &url)
                    .build(),
            )
            .src(&*obj)
            .build(),
        );
        obj.notify("port");
        Ok(())
    }

    /// Ends every stream, closes the port and every connection.
    fn close(&self) {
        // Streams end properly, then the port and every connection close.
        self.hub.end();
        // Not under the lock: the server's last connections post messages
        // whose handlers may read `stats` or `port`.
        let running = self.running.lock().unwrap().take();
        if let Some(r) = running {
            r.server.stop();
        }
        self.hub.clear();
        self.clock.lock().unwrap().reset();
        *self.prerolled.lock().unwrap() = None;
        *self.media.lock().unwrap() = Media::default();
    }

    fn publish(&self, buffer: &gst::Buffer) {
        let obj = self.obj();
        let segment = obj.segment();
        let running = buffer.pts().and_then(|pts| {
            segment
                .downcast_ref::<gst::ClockTime>()
                .and_then(|s| s.to_running_time(pts))
        });
        let clock = obj.clock().map(|c| c.time()).zip(obj.base_time());
        let timestamp = self.clock.lock().unwrap().timestamp(buffer, running, clock);
        // One copy a frame, shared by every client: upstream's buffer goes
        // back at once, so that slow clients never hold buffers of a
        // source's pool (a capture device, a hardware decoder) and starve it.
        let data = match buffer.map_readable() {
            Ok(map) => Bytes::copy_from_slice(&map),
            Err(_) => {
                gst::warning!(CAT, imp = self, "cannot read a buffer; it is not served");
                return;
            }
        };
        let framerate = self.media.lock().unwrap().framerate.clone();
        let seq = self.hub.publish(data, timestamp, framerate);
        gst::trace!(
            CAT,
            imp = self,
            "frame {seq} to {} clients",
            self.hub.client_count()
        );
    }

    fn post_client_event(&self, event: HubEvent) {
        let structure = match event {
            HubEvent::FirstClient { address } => {
                gst::info!(CAT, imp = self, "first stream client: {address}");
                gst::Structure::builder("mjpeghttpsink-first-client")
                    .field("address", address)
                    .build()
            }
            HubEvent::NoClients => {
                gst::info!(CAT, imp = self, "no stream client any more");
                gst::Structure::builder("mjpeghttpsink-no-clients").build()
            }
        };
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Element::builder(structure).src(&*obj).build());
    }

    fn stats(&self) -> gst::Structure {
        let clients: Vec<glib::SendValue> = self
            .hub
            .clients()
            .into_iter()
            .map(|c| {
                gst::Structure::builder("client")
                    .field("id", c.id)
                    .field("address", c.address)
                    .field("user-agent", c.user_agent)
                    .field("frames-sent", c.frames_sent)
                    .field("frames-skipped", c.frames_skipped)
                    .field("bytes-sent", c.bytes_sent)
                    .field("bytes-queued", c.bytes_queued)
                    .field("fps", c.fps)
                    .build()
                    .to_send_value()
            })
            .collect();
        let port = match &*self.running.lock().unwrap() {
            Some(r) => u32::from(r.server.local_addr().port()),
            None => 0,
        };
        gst::Structure::builder("mjpeghttpsink-stats")
            .field("frames-in", self.hub.frames_in())
            .field("clients", clients.len() as u32)
            .field("port", port)
            .field("clients-info", gst::Array::from_values(clients))
            .build()
    }
}

/// What requests are checked against, from the properties.
fn access(s: &Settings) -> Result<Access, String> {
    let authorization = match (&s.user, &s.password) {
        (None, None) => None,
        (u, p) => Some(routes::basic_credentials(
            u.as_deref().unwrap_or(""),
            p.as_deref().unwrap_or(""),
        )),
    };
    let allow_origin = match s
        .allow_origin
        .as_deref()
        .map(hyper::header::HeaderValue::from_str)
    {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return Err(format!(
                "allow-origin {:?} is not a valid header value: give an origin such as \
                 https://example.com, or *",
                s.allow_origin.as_deref().unwrap_or("")
            ));
        }
    };
    Ok(Access {
        authorization,
        allow_origin,
        max_clients: s.max_clients as usize,
        client_timeout: (s.client_timeout > 0)
            .then(|| Duration::from_secs(s.client_timeout.into())),
    })
}

/// A boundary per server start, from the standard library's random hash keys.
fn boundary_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}
