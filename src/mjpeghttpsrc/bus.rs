// SPDX-License-Identifier: MIT OR Apache-2.0

//! What `mjpeghttpsrc` does with the messages of souphttpsrc: its errors
//! become a restart or one clear ERROR, its warnings and `http-headers`
//! pass on without credentials.

use super::CAT;
use super::imp::MjpegHttpSrc;
use super::messages;
use gst::prelude::*;
use gst::subclass::prelude::*;

impl MjpegHttpSrc {
    /// An error of the HTTP source: fatal for an unusable URL before any
    /// frame came, else the camera is out and a restart follows.
    fn source_error(&self, err: &gst::message::Error) {
        let e = err.error();
        let secrets = self.secrets();
        let status = err
            .details()
            .and_then(|d| d.get::<u32>("http-status-code").ok())
            .filter(|&c| c >= 100);
        let Some(code) = status else {
            // No HTTP answer: souphttpsrc (libsoup 3) keeps the reason to its
            // debug log, and its "Internal data stream error" follows. The
            // supervisor finds the reason (DNS, refused, TLS, redirects).
            gst::debug!(
                CAT,
                imp = self,
                "source error: {}",
                secrets.scrub(e.message())
            );
            self.shared.request(
                "no answer (the connection was refused, reset or closed)",
                true,
            );
            return;
        };
        let text = secrets.scrub(&format!("HTTP {code}: {}", e.message()));
        if (300..400).contains(&code) {
            // libsoup gave up following redirects: find out where they go.
            self.shared.request(&format!("{text} (a redirect)"), true);
            return;
        }
        let mut inner = self.shared.lock();
        inner.stats.last_error = text.clone();
        if messages::http_permanent(code) && !inner.frame_seen {
            inner.failed = true;
            drop(inner);
            let msg = format!(
                "{text} from {}{}",
                self.shown_location(),
                messages::http_hint(code)
            );
            post_error(self.obj().upcast_ref(), gst::ResourceError::OpenRead, &msg);
            return;
        }
        drop(inner);
        gst::info!(CAT, imp = self, "source error: {text}");
        self.shared.request(&text, false);
    }
}

/// The response's Content-Type is a camera's (multipart or JPEG).
fn camera_content_type(headers: &gst::StructureRef) -> bool {
    let Ok(response) = headers.get::<gst::Structure>("response-headers") else {
        return false;
    };
    response.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("content-type")
            && value.get::<String>().is_ok_and(|v| {
                let v = v.to_ascii_lowercase();
                v.starts_with("multipart/") || v.starts_with("image/jpeg")
            })
    })
}

impl MjpegHttpSrc {
    /// souphttpsrc's `http-headers` message without credentials: the
    /// request's Authorization headers are taken out, the URIs scrubbed.
    fn scrub_headers(&self, s: &gst::StructureRef) -> gst::Structure {
        let secrets = self.secrets();
        let mut s = s.to_owned();
        for field in ["uri", "redirection-uri"] {
            if let Ok(v) = s.get::<String>(field) {
                s.set(field, secrets.scrub(&v));
            }
        }
        if let Ok(mut req) = s.get::<gst::Structure>("request-headers") {
            let secret: Vec<String> = req
                .fields()
                .filter(|f| {
                    let f = f.to_ascii_lowercase();
                    f.contains("authorization") || f == "cookie"
                })
                .map(|f| f.to_string())
                .collect();
            for f in secret {
                req.remove_field(f.as_str());
            }
            s.set("request-headers", req);
        }
        s
    }
}

/// One ERROR from the bin: its text names no password, its debug no URL.
pub(super) fn post_error(bin: &gst::Bin, kind: gst::ResourceError, text: &str) {
    let msg = gst::message::Error::builder(kind, text).src(bin).build();
    let _ = bin.post_message(msg);
}

impl BinImpl for MjpegHttpSrc {
    fn handle_message(&self, msg: gst::Message) {
        let from_source = self.source.as_ref().is_some_and(|s| {
            msg.src()
                .is_some_and(|m| m == s.upcast_ref::<gst::Object>())
        });
        if from_source {
            match msg.view() {
                gst::MessageView::Error(err) => {
                    let done = {
                        let inner = self.shared.lock();
                        inner.eos_requested || inner.failed
                    };
                    if done || self.shared.restarting() {
                        gst::debug!(CAT, imp = self, "source error ignored (restarting or done)");
                        return;
                    }
                    self.source_error(err);
                    return;
                }
                gst::MessageView::Element(e)
                    if e.structure().is_some_and(|s| s.name() == "http-headers") =>
                {
                    let s = e.structure().expect("checked");
                    self.shared.lock().next_camera_type = camera_content_type(s);
                    let s = self.scrub_headers(s);
                    let msg = gst::message::Element::builder(s)
                        .src(self.source.as_ref().expect("from the source"))
                        .build();
                    self.parent_handle_message(msg);
                    return;
                }
                gst::MessageView::Warning(w) => {
                    // Its texts may name the URL: pass them on scrubbed.
                    let secrets = self.secrets();
                    let text = secrets.scrub(w.error().message());
                    let debug = w.debug().map(|d| secrets.scrub(&d));
                    let mut b = gst::message::Warning::builder(gst::ResourceError::Read, &text)
                        .src(&*self.obj());
                    if let Some(d) = &debug {
                        b = b.debug(d);
                    }
                    self.parent_handle_message(b.build());
                    return;
                }
                _ => {}
            }
        }
        self.parent_handle_message(msg)
    }
}
