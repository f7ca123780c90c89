// SPDX-License-Identifier: MIT OR Apache-2.0

//! `mjpegsplit`: MJPEG byte stream in, one timestamped `image/jpeg` buffer per
//! frame out. The GObject glue: pads, properties, state changes, and the
//! dispatch of buffers, events and queries to the rooms beside it.
//!
//! A plain `gst::Element` rather than a `GstBaseParse` subclass (the README's
//! design notes say why). Pull mode is used when upstream can (filesrc, see
//! `pull.rs`); push mode otherwise. Locks: `settings`, then `state`, then
//! `index`; nothing is pushed, posted or queried with one of them held.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use std::sync::{LazyLock, Mutex, MutexGuard};

use super::index::Index;
use super::output::Out;
use super::settings::{self, Settings};
use super::stream::{Arrival, Context, State};

pub static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "mjpegsplit",
        gst::DebugColorFlags::empty(),
        Some("MJPEG stream splitter"),
    )
});

pub struct MjpegSplit {
    pub(super) sinkpad: gst::Pad,
    pub(super) srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Pull mode: every frame's offset and time.
    index: Mutex<Index>,
    /// Pull mode: the thread reading ahead of the task.
    pub(super) readahead: Mutex<Option<super::readahead::ReadAhead>>,
}

impl MjpegSplit {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Send collected items downstream (or to the bus), in order.
    pub(super) fn push_out(
        &self,
        out: impl IntoIterator<Item = Out>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        for item in out {
            match item {
                Out::Event(ev) => {
                    self.srcpad.push_event(ev);
                }
                Out::Buffer(buf) => {
                    self.srcpad.push(buf)?;
                }
                Out::Warning(msg) => self.post(false, &msg),
                Out::Info(msg) => {
                    // gst-launch-1.0 prints an INFO's debug text only.
                    let info = gst::message::Info::builder(gst::StreamError::Format, &msg)
                        .src(&*self.obj())
                        .debug(&msg)
                        .build();
                    let _ = self.obj().post_message(info);
                }
                Out::Error(msg) => {
                    self.post(true, &msg);
                    return Err(gst::FlowError::Error);
                }
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Post a stream error or warning that reads as what it says: no
    /// source location, the stream's counters as details.
    fn post(&self, error: bool, msg: &str) {
        let obj = self.obj();
        let details = {
            let state = self.state();
            let st = state.stats.to_structure(&state.input.splitter);
            format!("{}: {st}", obj.name())
        };
        let msg = if error {
            gst::message::Error::builder(gst::StreamError::WrongType, msg)
                .src(&*obj)
                .debug(&details)
                .build()
        } else {
            gst::message::Warning::builder(gst::StreamError::Decode, msg)
                .src(&*obj)
                .debug(&details)
                .build()
        };
        let _ = obj.post_message(msg);
    }

    /// When the frame completed by data arriving now arrived, if it counts.
    fn arrival(&self, state: &State) -> Option<u64> {
        match state.arrival {
            Arrival::Live | Arrival::Endless => {
                let obj = self.obj();
                // Paused (buffering), the running time stands still for the
                // sink: frames are paced, not timed, until playing again.
                if state.arrival == Arrival::Endless && obj.current_state() != gst::State::Playing {
                    return None;
                }
                let now = obj.clock()?.time();
                let rt = now.checked_sub(obj.base_time()?)?;
                state
                    .segment
                    .position_from_running_time(rt)
                    .map(|t| t.nseconds())
            }
            _ => None,
        }
    }

    /// How arrival times count for this upstream: live (its latency query
    /// says so), an endless HTTP stream (an http(s) URI without a size), or
    /// not at all (files, applications' buffers).
    fn probe_arrival(&self) -> Arrival {
        let mut q = gst::query::Latency::new();
        if self.sinkpad.peer_query(&mut q) && q.result().0 {
            return Arrival::Live;
        }
        let mut q = gst::query::Uri::new();
        let http = self.sinkpad.peer_query(&mut q)
            && q.uri().is_some_and(|u| {
                let u = u.to_ascii_lowercase();
                u.starts_with("http://") || u.starts_with("https://")
            });
        let size = self.sinkpad.peer_query_duration::<gst::format::Bytes>();
        if http && size.is_none() {
            Arrival::Endless
        } else {
            Arrival::None
        }
    }

    /// The network rate a buffering queue upstream (uridecodebin's queue2)
    /// measures, in bytes per second.
    fn upstream_byte_rate(&self) -> Option<u64> {
        let mut q = gst::query::Buffering::new(gst::Format::Percent);
        if !self.sinkpad.peer_query(&mut q) {
            return None;
        }
        let (_, avg_in, _, _) = q.stats();
        u64::try_from(avg_in).ok().filter(|&r| r > 0)
    }

    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings();
        let mut mode = self.state().arrival;
        if mode == Arrival::Unknown {
            mode = self.probe_arrival();
            gst::debug!(CAT, imp = self, "Arrival times: {mode:?}");
            self.state().arrival = mode;
        }
        let byte_rate = (mode == Arrival::Endless)
            .then(|| self.upstream_byte_rate())
            .flatten();
        let mut out = Vec::new();
        let ok = {
            let mut state = self.state();
            if buffer.flags().contains(gst::BufferFlags::DISCONT) {
                // A new stream section (a reconnect): drop a partial frame
                // and detect the format again.
                state.new_section();
            }
            let ctx = Context {
                upstream_pts: buffer
                    .pts()
                    .filter(|_| state.upstream_time)
                    .map(|t| t.nseconds()),
                arrival: self.arrival(&state),
                monotonic: (mode == Arrival::Endless)
                    .then(|| state.started.elapsed().as_nanos() as u64),
                byte_rate,
            };
            state.push_buffer(&settings, buffer, None, ctx, None, &mut out)
        };
        self.push_out(out)?;
        if ok {
            Ok(gst::FlowSuccess::Ok)
        } else {
            Err(gst::FlowError::Error)
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        gst::log!(CAT, obj = pad, "Handling event {event:?}");
        match event.view() {
            EventView::Caps(c) => {
                self.upstream_caps(&mut self.state(), c.caps());
                true
            }
            EventView::Segment(s) => {
                let mut state = self.state();
                state.seqnum = Some(event.seqnum());
                // A new segment starts a new stream section (e.g. a reconnected
                // source): a partial frame is dropped and detection starts over.
                state.new_section();
                if let Some(time) = s.segment().downcast_ref::<gst::ClockTime>() {
                    // A new timeline (a clip after another, without a flush):
                    // its timestamps are its own.
                    state.upstream_time = true;
                    state.segment = time.clone();
                    let start = time.start().map_or(0, |t| t.nseconds());
                    state.policy.reset(start, 0);
                } else if state.position().is_none() {
                    state.upstream_time = false;
                    state.segment = gst::FormattedSegment::new();
                    state.policy.reset(0, 0);
                    state.frame_no = 0;
                    state.last_frame_end = 0;
                }
                // Else a byte stream continued (a reconnect): the timeline goes on.
                state.need_segment = true;
                true
            }
            EventView::Eos(_) => {
                let settings = self.settings();
                let mut out = Vec::new();
                {
                    let mut state = self.state();
                    state.drain(&settings, None, &mut out);
                    state.finish(&mut out);
                }
                let _ = self.push_out(out);
                self.srcpad.push_event(event)
            }
            EventView::FlushStop(_) => {
                {
                    let mut state = self.state();
                    state.new_section();
                    state.need_segment = true;
                    state.pending_events.clear();
                    state.segment.set_position(gst::ClockTime::NONE);
                    state.arrival = Arrival::Unknown;
                }
                self.srcpad.push_event(event)
            }
            EventView::StreamStart(_) => {
                {
                    let mut state = self.state();
                    state.new_section();
                    state.arrival = Arrival::Unknown;
                }
                self.srcpad.push_event(event)
            }
            EventView::FlushStart(_) => self.srcpad.push_event(event),
            _ => {
                if event.is_serialized() {
                    let mut state = self.state();
                    if state.need_segment || state.stats.frames == 0 {
                        state.pending_events.push(event);
                        return true;
                    }
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
        }
    }

    /// What upstream caps tell: a frame rate, a multipart boundary.
    pub(super) fn upstream_caps(&self, state: &mut State, caps: &gst::CapsRef) {
        let s = caps.structure(0);
        state.upstream_fps = s
            .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
            .filter(|f| f.numer() > 0 && f.denom() > 0);
        let boundary = s.and_then(|s| s.get::<String>("boundary").ok());
        state.input.set_boundary_hint(boundary);
    }

    /// Inside decodebin (or parsebin), only what the plugin's typefinder
    /// recognised as an MJPEG stream (`image/jpeg, mjpeg-stream=true`) is
    /// accepted: a still `image/jpeg` goes
    /// straight to jpegdec and stays an image, and other multipart content
    /// goes to multipartdemux. (decodebin tries parsers before decoders,
    /// whatever their rank.)
    fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::AcceptCaps(q) = query.view_mut()
            && q.caps()
                .structure(0)
                .is_none_or(|s| !crate::typefind::is_stream(s))
            && self.inside_autoplugger()
        {
            q.set_result(false);
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }

    fn inside_autoplugger(&self) -> bool {
        let mut parent = self.obj().parent();
        while let Some(p) = parent {
            let name = p.type_().name();
            if name.starts_with("GstDecodeBin")
                || name == "GstParseBin"
                || name == "GstURIDecodeBin"
            {
                return true;
            }
            parent = p.parent();
        }
        false
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        if let gst::EventView::Seek(seek) = event.view()
            && self.state().pull
        {
            return self.perform_seek(seek);
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        let pull = self.state().pull;
        match query.view_mut() {
            QueryViewMut::Position(q) if q.format() == gst::Format::Time => {
                let state = self.state();
                let Some(pts) = state.position() else {
                    return false;
                };
                let pos = state.segment.to_stream_time(pts).unwrap_or(pts);
                drop(state);
                q.set(pos);
                true
            }
            QueryViewMut::Duration(q) if q.format() == gst::Format::Time => {
                // A live or timed upstream knows better.
                if !pull && gst::Pad::query_default(pad, Some(&*self.obj()), q.query_mut()) {
                    return true;
                }
                match self.duration() {
                    Some(d) => {
                        q.set(d);
                        true
                    }
                    None => false,
                }
            }
            // In frames (what OpenCV's CAP_PROP_FRAME_COUNT asks): the
            // duration converted by the index (exact once it is whole).
            QueryViewMut::Duration(q) if q.format() == gst::Format::Default && pull => {
                match self.duration_frames() {
                    Some(f) => {
                        q.set(gst::format::Default::from_u64(f));
                        true
                    }
                    None => false,
                }
            }
            QueryViewMut::Seeking(q) if pull => {
                if q.format() != gst::Format::Time {
                    return false;
                }
                let duration = self.duration();
                q.set(true, gst::ClockTime::ZERO, duration);
                true
            }
            QueryViewMut::Convert(q) if pull => {
                let (src, dest_format) = (q.result().0, q.result().1.format());
                match self.convert(src, dest_format) {
                    Some(dest) => {
                        q.set(src, dest);
                        true
                    }
                    None => false,
                }
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for MjpegSplit {
    const NAME: &'static str = "GstMjpegSplit";
    type Type = super::MjpegSplit;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_query(pad, query),
                )
            })
            .activate_function(|pad, parent| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(CAT, "Panic activating sink pad")),
                    |imp| imp.sink_activate(pad),
                )
            })
            .activatemode_function(|pad, parent, mode, active| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(CAT, "Panic activating sink pad")),
                    |imp| imp.sink_activatemode(pad, mode, active),
                )
            })
            .build();
        let templ = klass.pad_template("src").expect("src template");
        let srcpad = gst::Pad::builder_from_template(&templ)
            .event_function(|pad, parent, event| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                MjpegSplit::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .build();
        let settings = Settings::default();
        MjpegSplit {
            sinkpad,
            srcpad,
            state: Mutex::new(State::new(&settings)),
            index: Mutex::new(Index::new(&settings)),
            readahead: Mutex::new(None),
            settings: Mutex::new(settings),
        }
    }
}

impl ObjectImpl for MjpegSplit {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        settings.set(value, pspec);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            let state = self.state();
            return state.stats.to_structure(&state.input.splitter).to_value();
        }
        self.settings().get(pspec)
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
        obj.add_pad(&self.srcpad).expect("add src pad");
    }
}

impl GstObjectImpl for MjpegSplit {}

/// The element's class, by the running GStreamer. decodebin and parsebin
/// try parsers first: from 1.24 on, jpegparse (rank primary) is one, so
/// mjpegsplit must be a parser too, ranked above it. On 1.22 jpegparse has
/// no rank and there is no other JPEG parser, but encodebin (camerabin,
/// transcodebin) takes any parser whose pads meet `image/jpeg` for a JPEG
/// encoder: there mjpegsplit is a demuxer (it demuxes multipart streams),
/// which decodebin still tries before jpegdec by rank, and encodebin never
/// takes.
fn klass() -> &'static str {
    if gst::version() < (1, 23, 0, 0) {
        "Codec/Demuxer/Video"
    } else {
        "Codec/Parser/Video"
    }
}

impl ElementImpl for MjpegSplit {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MJPEG stream splitter",
                klass(),
                "Splits raw or multipart MJPEG byte streams (files, IP cameras) into \
                 JPEG frames found by a segment-aware marker walk, each with a PTS, a \
                 duration and full caps; damaged data is skipped, never fatal",
                "mjpegsplit developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // Our own stream type first: encodebin (1.24+) takes a parser
            // for `image/jpeg` only if its sink template starts with
            // `image/jpeg`, so jpegenc's stills in camerabin/encodebin keep
            // jpegparse there.
            let sink_caps = gst::Caps::builder_full()
                .structure(gst::Structure::new_empty(crate::typefind::CAPS_NAME))
                .structure(gst::Structure::new_empty("image/jpeg"))
                .structure(gst::Structure::new_empty("multipart/x-mixed-replace"))
                .structure(gst::Structure::new_empty("application/octet-stream"))
                .structure(gst::Structure::new_empty("video/x-mjpeg"))
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink_caps,
                )
                .expect("sink template"),
                super::src_pad_template(),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            self.reset(false);
        }
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            // The stats of the last run stay readable.
            self.reset(true);
        }
        Ok(ret)
    }
}

impl MjpegSplit {
    fn reset(&self, keep_stats: bool) {
        let settings = self.settings();
        let mut state = self.state();
        let stats = std::mem::take(&mut state.stats);
        *state = State::new(&settings);
        if keep_stats {
            state.stats = stats;
        }
        drop(state);
        *self.index() = Index::new(&settings);
    }
}
