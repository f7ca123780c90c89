// SPDX-License-Identifier: MIT OR Apache-2.0

//! What the example programs share: the container of an output name, the
//! container signature of an input's first bytes, reading back what a file
//! holds, error texts (the reason, GStreamer's debug text, what to do) and
//! URLs with their passwords masked.
#![allow(dead_code)]

use gst::prelude::*;
use std::sync::{Arc, Mutex};

/// The output containers, by extension (compared in any case).
pub const SUPPORTED: &str = ".mp4, .mkv, .avi or .mov";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container {
    /// What it is called in messages.
    pub name: &'static str,
    pub mux: &'static str,
    pub demux: &'static str,
}

/// The container an output name asks for: `.mp4`/`.MP4` → MP4, `.mov` →
/// QuickTime, `.mkv` → Matroska, `.avi` → AVI; any other name is refused.
pub fn container_for(output: &str) -> Result<Container, String> {
    let ext = std::path::Path::new(output)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let (name, mux, demux) = match ext.as_deref() {
        Some("mp4") => ("MP4", "mp4mux", "qtdemux"),
        Some("mov") => ("QuickTime", "qtmux", "qtdemux"),
        Some("mkv") => ("Matroska", "matroskamux", "matroskademux"),
        Some("avi") => ("AVI", "avimux", "avidemux"),
        _ => {
            return Err(format!(
                "cannot tell the container from the output name {output:?}: end it in {SUPPORTED}"
            ));
        }
    };
    Ok(Container { name, mux, demux })
}

/// The container whose signature starts `head`, if any: such a file holds
/// its own timing (and maybe audio), for a demuxer, not for mjpegsplit.
pub fn container_signature(head: &[u8]) -> Option<&'static str> {
    let at = |k: usize, s: &[u8]| head.get(k..k + s.len()) == Some(s);
    if at(0, b"RIFF") && at(8, b"AVI ") {
        Some("AVI")
    } else if [&b"ftyp"[..], b"moov", b"mdat", b"wide", b"free", b"skip"]
        .iter()
        .any(|s| at(4, s))
    {
        Some("QuickTime/MP4")
    } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("Matroska/WebM")
    } else if at(0, b"OggS") {
        Some("Ogg")
    } else if at(0, b"FLV\x01") {
        Some("FLV")
    } else if at(0, &[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
        Some("ASF/WMV")
    } else if at(0, &[0, 0, 1, 0xBA]) {
        Some("MPEG-PS")
    } else if head.first() == Some(&0x47) && head.get(188) == Some(&0x47) {
        Some("MPEG-TS")
    } else {
        None
    }
}

/// `url` with its password (user info, or a `pwd=`/`password=` query
/// value) replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme) = out.find("://") {
        let rest = &out[scheme + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            out.replace_range(scheme + 3 + colon + 1..scheme + 3 + at, "***");
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _))
                    if ["pwd", "pw", "pass", "passwd", "password", "user-pw"]
                        .contains(&k.to_ascii_lowercase().as_str()) =>
                {
                    format!("{k}=***")
                }
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// The passwords in `url` (user info, `pwd=`-like query values).
fn secrets(url: &str) -> Vec<String> {
    let masked = redact(url);
    // Where `redact` put `***`, `url` has a secret: the text up to the
    // next character the masked URL has after the `***`.
    let mut out = Vec::new();
    let (mut u, mut m) = (url, masked.as_str());
    while let Some(k) = m.find("***") {
        let after = m[k + 3..].chars().next();
        let rest = &u[k..];
        let end = after.and_then(|c| rest.find(c)).unwrap_or(rest.len());
        if end > 0 {
            out.push(rest[..end].to_string());
        }
        u = &rest[end..];
        m = &m[k + 3..];
    }
    out
}

/// `text` (an error message, GStreamer's debug text) with the passwords of
/// `url` replaced by `***`.
pub fn scrub(text: &str, url: &str) -> String {
    let mut text = text.to_string();
    for secret in secrets(url) {
        text = text.replace(&secret, "***");
    }
    text
}

/// What to do about an error, from its domain and code, if anything useful
/// can be said.
pub fn hint(error: &gst::glib::Error) -> Option<&'static str> {
    use gst::ResourceError as R;
    if error.matches(R::NoSpaceLeft) {
        Some("the disk is full: free some space, or write to another disk")
    } else if error.matches(R::OpenWrite) || error.matches(R::OpenReadWrite) {
        Some("check that the output's directory exists and that you may write there")
    } else if error.matches(R::Write) {
        Some("the output could not be written: check the disk (full? removed? read-only?)")
    } else if error.matches(R::NotAuthorized) {
        Some(
            "the camera wants a user name and password: put them in the URL (http://user:password@camera/…)",
        )
    } else if error.matches(R::NotFound) {
        Some("check the URL: the camera's manual gives its MJPEG stream's path")
    } else if error.matches(R::OpenRead) || error.matches(R::Read) {
        Some("check that the camera is on and reachable (open the URL in a browser)")
    } else if error.matches(gst::CoreError::MissingPlugin) {
        Some(
            "install the GStreamer plugins it needs (gstreamer1.0-plugins-good, -ugly, -bad, -libav)",
        )
    } else {
        None
    }
}

/// Frames and presentation span of the video track of `path`, and the
/// buffers of its audio tracks (0: none), as `demux` reads them.
pub fn read_back(path: &str, demux: &str) -> Result<(u64, gst::ClockTime, u64), String> {
    let desc = format!("filesrc location={path:?} ! {demux} name=demux");
    let p = gst::parse::launch(&desc).map_err(|e| e.to_string())?;
    let bin = p
        .clone()
        .downcast::<gst::Bin>()
        .expect("a pipeline is a bin");
    // (video frames, first PTS, last end, audio buffers), recorded in the
    // probes and read afterwards.
    let seen = Arc::new(Mutex::new((0u64, None::<gst::ClockTime>, None, 0u64)));
    let demuxer = bin.by_name("demux").expect("demuxer");
    let (s, weak) = (seen.clone(), bin.downgrade());
    demuxer.connect_pad_added(move |_, pad| {
        let Some(bin) = weak.upgrade() else { return };
        // One thread feeds every track: each needs a queue, else the first
        // sink to preroll blocks it and the others never get a buffer.
        let Ok(sink) = gst::parse::bin_from_description("queue ! fakesink sync=false", true) else {
            return;
        };
        let video = pad.name().starts_with("video");
        let s = s.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                let mut s = s.lock().unwrap();
                if !video {
                    s.3 += 1;
                    return gst::PadProbeReturn::Ok;
                }
                s.0 += 1;
                // avidemux gives H.264 frames a DTS only.
                if let (Some(pts), Some(d)) = (b.pts().or(b.dts()), b.duration()) {
                    s.1 = Some(s.1.map_or(pts, |lo: gst::ClockTime| lo.min(pts)));
                    s.2 = Some(s.2.map_or(pts + d, |hi: gst::ClockTime| hi.max(pts + d)));
                }
            }
            gst::PadProbeReturn::Ok
        });
        let _ = bin.add(&sink);
        let _ = sink.sync_state_with_parent();
        if let Some(sinkpad) = sink.static_pad("sink") {
            let _ = pad.link(&sinkpad);
        }
    });
    p.set_state(gst::State::Playing)
        .map_err(|_| format!("cannot read {path}"))?;
    let bus = p.bus().expect("pipeline bus");
    let mut result = Err(format!("{path}: no end of stream within 120 s"));
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match msg.view() {
            gst::MessageView::Eos(_) => {
                result = Ok(());
                break;
            }
            gst::MessageView::Error(e) => {
                result = Err(e.error().to_string());
                break;
            }
            _ => {}
        }
    }
    let _ = p.set_state(gst::State::Null);
    result?;
    let s = *seen.lock().unwrap();
    let span = match (s.1, s.2) {
        (Some(lo), Some(hi)) => hi - lo,
        _ => gst::ClockTime::ZERO,
    };
    Ok((s.0, span, s.3))
}
