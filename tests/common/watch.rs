// SPDX-License-Identifier: MIT OR Apache-2.0

//! A pipeline whose bus messages and frames are recorded (inside the
//! callbacks, nothing is asserted: tests check the records afterwards), and
//! a watchdog that fails a test whose step never returns.
#![allow(dead_code)]

use gst::prelude::*;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    Status {
        event: String,
        reason: String,
        retry: u32,
    },
    Error {
        src: String,
        text: String,
        debug: String,
    },
    Warning {
        src: String,
        text: String,
        debug: String,
    },
    Eos,
    /// Another element message (its structure).
    Message(String),
    Frame {
        pts: Option<gst::ClockTime>,
        discont: bool,
    },
}

pub struct Watched {
    pub pipeline: gst::Pipeline,
    pub events: Arc<Mutex<Vec<(Instant, Ev)>>>,
}

impl Watched {
    /// Parse `desc`; frames are recorded at the sink pad of the element
    /// named `out`, if any. Not started.
    pub fn new(desc: &str) -> Watched {
        let pipeline = gst::parse::launch(desc)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let events: Arc<Mutex<Vec<(Instant, Ev)>>> = Arc::new(Mutex::new(Vec::new()));
        if let Some(pad) = pipeline.by_name("out").and_then(|o| o.static_pad("sink")) {
            let e = events.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(b) = info.buffer() {
                    let ev = Ev::Frame {
                        pts: b.pts(),
                        discont: b.flags().contains(gst::BufferFlags::DISCONT),
                    };
                    e.lock().unwrap().push((Instant::now(), ev));
                }
                gst::PadProbeReturn::Ok
            });
        }
        let e = events.clone();
        pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
            let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
            let ev = match msg.view() {
                gst::MessageView::Element(m) => m.structure().map(|s| {
                    if s.name() == "mjpeghttpsrc-status" {
                        Ev::Status {
                            event: s.get::<String>("event").unwrap_or_default(),
                            reason: s.get::<String>("reason").unwrap_or_default(),
                            retry: s.get::<u32>("retry").unwrap_or_default(),
                        }
                    } else {
                        Ev::Message(s.to_string())
                    }
                }),
                gst::MessageView::Error(err) => Some(Ev::Error {
                    src,
                    text: err.error().to_string(),
                    debug: err.debug().map(|d| d.to_string()).unwrap_or_default(),
                }),
                gst::MessageView::Warning(w) => Some(Ev::Warning {
                    src,
                    text: w.error().to_string(),
                    debug: w.debug().map(|d| d.to_string()).unwrap_or_default(),
                }),
                gst::MessageView::Eos(_) => Some(Ev::Eos),
                _ => None,
            };
            if let Some(ev) = ev {
                e.lock().unwrap().push((Instant::now(), ev));
            }
            gst::BusSyncReply::Drop
        });
        Watched { pipeline, events }
    }

    pub fn start(desc: &str) -> Watched {
        let w = Watched::new(desc);
        let _ = w.pipeline.set_state(gst::State::Playing);
        w
    }

    pub fn events(&self) -> Vec<Ev> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub fn frames(&self) -> Vec<(Option<gst::ClockTime>, bool)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Ev::Frame { pts, discont } => Some((pts, discont)),
                _ => None,
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<(String, String, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Ev::Error { src, text, debug } => Some((src, text, debug)),
                _ => None,
            })
            .collect()
    }

    pub fn warnings(&self) -> Vec<(String, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Ev::Warning { text, debug, .. } => Some((text, debug)),
                _ => None,
            })
            .collect()
    }

    pub fn statuses(&self, kind: &str) -> Vec<(String, u32)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Ev::Status {
                    event,
                    reason,
                    retry,
                } if event == kind => Some((reason, retry)),
                _ => None,
            })
            .collect()
    }

    /// Wait (30 s at most) until `pred` holds for the records.
    pub fn wait(&self, what: &str, pred: impl Fn(&[Ev]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pred(&self.events()) {
            assert!(Instant::now() < deadline, "{what}: {:?}", self.events());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_frames(&self, n: usize) {
        self.wait(&format!("{n} frames"), |e| {
            e.iter().filter(|e| matches!(e, Ev::Frame { .. })).count() >= n
        });
    }

    pub fn wait_error(&self) {
        self.wait("an ERROR", |e| {
            e.iter().any(|e| matches!(e, Ev::Error { .. }))
        });
    }

    pub fn wait_eos(&self) {
        self.wait("EOS", |e| e.contains(&Ev::Eos));
    }

    pub fn set_state(&self, state: gst::State, what: &str) {
        let p = self.pipeline.clone();
        within(what, Duration::from_secs(20), move || {
            let _ = p.set_state(state);
        });
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let p = self.pipeline.clone();
        if std::thread::panicking() {
            std::thread::spawn(move || p.set_state(gst::State::Null));
            return;
        }
        within(
            "set_state(NULL) at the end",
            Duration::from_secs(20),
            move || {
                let _ = p.set_state(gst::State::Null);
            },
        );
    }
}

/// Run `f` on a thread; fail if it has not returned after `limit` (a hang).
pub fn within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: failed (see above)"),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not return within {limit:?} (a hang)")
        }
    }
}
