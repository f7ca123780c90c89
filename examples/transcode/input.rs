// SPDX-License-Identifier: MIT OR Apache-2.0

//! What INPUT is, and the part of the pipeline that reads it: a recording
//! (pull mode, seekable), a named pipe or device (push mode), a container
//! (decodebin, audio included), a file on a web server (read once) or a
//! camera (read live by mjpeghttpsrc, reconnected when it drops).

use crate::media::{container_signature, hint, redact, scrub};
use gst::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A named pipe, a device, a socket: no seeking, no length.
    Pipe,
    /// A URL whose answer ends: read once, as a file.
    HttpFile,
    /// An endless multipart stream: read live, reconnecting.
    Camera,
}

pub struct Input {
    pub kind: Kind,
    /// The container its first bytes are the signature of.
    pub container: Option<&'static str>,
    /// Why it was taken for what it is, for the user.
    pub why: String,
}

impl Input {
    pub fn live(&self) -> bool {
        self.kind == Kind::Camera
    }

    /// One line saying what INPUT was taken for, and so how it is read.
    pub fn describe(&self, input: &str) -> String {
        let input = redact(input);
        let how = match (self.kind, self.container) {
            (Kind::Camera, _) => "a camera: read live, reconnected when it drops",
            (_, Some(_)) => "a container: read by decodebin, with its own timing and its audio",
            (Kind::File, None) => "an MJPEG recording: read by mjpegsplit",
            (Kind::Pipe, None) => "a pipe: read once, in push mode (no seeking, no duration)",
            (Kind::HttpFile, None) => "a file on a web server: read once, by mjpegsplit",
        };
        let container = self.container.map_or(String::new(), |c| format!(" ({c})"));
        format!("{input}: taken for {how}{container}; {}", self.why)
    }

    /// The pipeline's source part. Without a container it ends in an
    /// mjpegsplit named `split`; with one, in a decodebin named `dec`.
    pub fn source(&self, input: &str, framerate: &str) -> String {
        let src = match self.kind {
            Kind::Camera => {
                // Three failed attempts in a row (about 3.5 s without the
                // camera) end the file; camera_recorder keeps trying.
                return format!(
                    "mjpeghttpsrc location={input:?} framerate={framerate} max-retries=3"
                );
            }
            Kind::File => format!("filesrc location={input:?}"),
            // A pipe cannot be pulled from: the queue makes the splitter
            // run in push mode.
            Kind::Pipe => format!("filesrc location={input:?} ! queue"),
            Kind::HttpFile => format!("souphttpsrc location={input:?}"),
        };
        if self.container.is_some() {
            return format!("{src} ! decodebin name=dec");
        }
        // A file on a web server of unknown length looks like a camera to
        // mjpegsplit (arrival times): a rate given is the file's timing.
        let mode = if self.kind == Kind::HttpFile && framerate != "0/1" {
            " timestamp-mode=framerate"
        } else {
            ""
        };
        format!("{src} ! mjpegsplit name=split framerate={framerate}{mode}")
    }
}

impl Input {
    /// `--camera`: a camera, without asking the server first (a camera may
    /// serve one client at a time, and the question would take its place).
    pub fn camera_as_told() -> Input {
        Input {
            kind: Kind::Camera,
            container: None,
            why: "as --camera says".to_string(),
        }
    }

    /// As `--camera` (`camera`) or `--once` (not) says, for a URL.
    pub fn forced(self, camera: bool) -> Input {
        let (kind, flag) = if camera {
            (Kind::Camera, "--camera")
        } else {
            (Kind::HttpFile, "--once")
        };
        Input {
            kind,
            container: if camera { None } else { self.container },
            why: format!("as {flag} says (the server's answer: {})", self.why),
        }
    }
}

/// What the local path INPUT is, or why it cannot be read. A named pipe
/// is not opened here: that would take the data its writer sends.
pub fn local(input: &str) -> Result<Input, String> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(input) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{input} does not exist: give the path of an MJPEG recording, or an http:// camera URL"
            ));
        }
        Err(e) => return Err(format!("cannot read {input}: {e}")),
    };
    let t = meta.file_type();
    if t.is_dir() {
        return Err(format!(
            "{input} is a directory: give the path of an MJPEG recording"
        ));
    }
    if !t.is_file() {
        let what = if t.is_fifo() {
            "a named pipe"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else {
            "a socket"
        };
        return Ok(Input {
            kind: Kind::Pipe,
            container: None,
            why: format!("it is {what}"),
        });
    }
    let mut head = [0u8; 192];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(input).map_err(|e| format!("cannot read {input}: {e}"))?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => return Err(format!("cannot read {input}: {e}")),
            }
        }
        n
    };
    let container = container_signature(&head[..n]);
    Ok(Input {
        kind: Kind::File,
        container,
        why: match container {
            Some(c) => format!("it starts with the signature of {c}"),
            None => "a regular file".into(),
        },
    })
}

pub const INTERRUPTED: &str = "interrupted before the first frame: nothing to write";

/// What the server says about `url`: status, headers, first bytes.
#[derive(Default)]
struct Answer {
    /// The HTTP status, once the server answered.
    status: Option<u32>,
    content_type: Option<String>,
    content_length: Option<u64>,
    head: Vec<u8>,
}

/// Ask the server, with a pipeline of its own that stops at the first
/// bytes, whether `url` is a file (its length is given, or it is a
/// container) or a camera (an endless multipart stream); why it cannot be
/// read, else.
pub fn http(url: &str, debug: bool, stopping: &AtomicBool) -> Result<Input, String> {
    let shown = redact(url);
    let p = gst::parse::launch(&format!(
        "souphttpsrc name=src location={url:?} ! fakesink name=sink"
    ))
    .map_err(|e| e.to_string())?;
    let bin = p
        .clone()
        .downcast::<gst::Bin>()
        .expect("a pipeline is a bin");
    let head = Arc::new(Mutex::new(Vec::new()));
    {
        let head = head.clone();
        let src = bin.by_name("src").expect("souphttpsrc");
        src.static_pad("src").expect("src pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, info| {
                if let Some(map) = info.buffer().and_then(|b| b.map_readable().ok()) {
                    let mut h = head.lock().unwrap();
                    let take = (192 - h.len().min(192)).min(map.len());
                    h.extend_from_slice(&map[..take]);
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    let bus = p.bus().expect("bus");
    let _ = p.set_state(gst::State::Paused);
    let mut answer = Answer::default();
    let mut outcome = Err(format!(
        "no answer from {shown} within 15 s: is the server on, and the URL right?"
    ));
    // The Ctrl-C handler is a GLib source of the default main context.
    let ctx = gst::glib::MainContext::default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        while ctx.iteration(false) {}
        if stopping.load(Ordering::SeqCst) {
            outcome = Err(INTERRUPTED.into());
            break;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Element(m) => {
                if let Some(s) = m.structure().filter(|s| s.name() == "http-headers")
                    && let Ok(h) = s.get::<gst::Structure>("response-headers")
                {
                    answer.status = s.get::<u32>("http-status-code").ok();
                    let field = |name: &str| {
                        h.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .and_then(|(_, v)| v.get::<String>().ok())
                    };
                    answer.content_type = field("Content-Type");
                    answer.content_length =
                        field("Content-Length").and_then(|v| v.trim().parse().ok());
                }
            }
            gst::MessageView::AsyncDone(_) | gst::MessageView::Eos(_) => {
                outcome = Ok(());
                break;
            }
            // "Internal data stream error." only says that the source's
            // thread stopped: with no answer at all, the server is not there.
            gst::MessageView::Error(e)
                if answer.status.is_none_or(|s| s < 100)
                    && e.error().matches(gst::StreamError::Failed) =>
            {
                let mut text = format!(
                    "no answer from {shown}: the connection was refused, reset or closed \
                     (is the camera or server on, and is the URL right? open it in a browser to check)"
                );
                if debug && let Some(d) = e.debug() {
                    text.push_str(&format!("\ndebug: {}", scrub(&d, url)));
                }
                outcome = Err(text);
                break;
            }
            gst::MessageView::Error(e) => {
                let mut text = format!(
                    "cannot read {shown}: {}",
                    scrub(&e.error().to_string(), url)
                );
                if let Some(h) = hint(&e.error()) {
                    text.push_str(&format!(" ({h})"));
                }
                if debug && let Some(d) = e.debug() {
                    text.push_str(&format!("\ndebug: {}", scrub(&d, url)));
                }
                outcome = Err(text);
                break;
            }
            _ => {}
        }
    }
    let _ = p.set_state(gst::State::Null);
    outcome?;
    answer.head = std::mem::take(&mut *head.lock().unwrap());
    let container = container_signature(&answer.head);
    let content_type = answer.content_type.unwrap_or_default();
    let multipart = content_type
        .to_ascii_lowercase()
        .starts_with("multipart/x-mixed-replace");
    let (kind, why) = if let Some(n) = answer.content_length {
        (
            Kind::HttpFile,
            format!("the server gives its length (Content-Length: {n})"),
        )
    } else if container.is_some() {
        (Kind::HttpFile, "a container file has an end".to_string())
    } else if multipart {
        (
            Kind::Camera,
            format!("an endless stream: {content_type} with no Content-Length"),
        )
    } else {
        (
            Kind::HttpFile,
            format!(
                "not a multipart stream ({}) and no Content-Length: read until the server ends it",
                if content_type.is_empty() {
                    "no Content-Type"
                } else {
                    content_type.as_str()
                }
            ),
        )
    };
    Ok(Input {
        kind,
        container,
        why,
    })
}
