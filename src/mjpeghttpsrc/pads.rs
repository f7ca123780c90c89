// SPDX-License-Identifier: MIT OR Apache-2.0

//! The data path of `mjpeghttpsrc`: the probe between souphttpsrc and
//! mjpegsplit (one stream across connections), and the ghost `src` pad,
//! whose internal pad sees every push downstream return: a frame counts
//! once downstream took it, a downstream EOS ends the stream, a downstream
//! error is one ERROR (never a reconnect), and the time spent in a push is
//! not the camera's. Its latency answer: see `latency`.

use super::CAT;
use super::supervisor::{self, DataEvent, Push, Shared};
use gst::glib;
use gst::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// Caps mjpegsplit takes; other Content-Types (text/html…) are not passed on,
/// so the splitter sniffs the body and says what it is.
const SPLIT_INPUT: &[&str] = &[
    "image/jpeg",
    "multipart/x-mixed-replace",
    "application/octet-stream",
    "video/x-mjpeg",
];

/// The ghost `src` pad on mjpegsplit's src pad.
pub fn ghost(
    templ: &gst::PadTemplate,
    target: &gst::Pad,
    shared: &Arc<Shared>,
    bin: glib::WeakRef<gst::Bin>,
) -> gst::GhostPad {
    let (s_chain, s_event, b_chain) = (shared.clone(), shared.clone(), bin);
    gst::GhostPad::builder_from_template_with_target(templ, target)
        .expect("ghost pad")
        .proxy_pad_chain_function(move |pad, _, buffer| {
            match s_chain.push_start(true) {
                Push::Go => {}
                Push::Drop => return Ok(gst::FlowSuccess::Ok),
                Push::Eos => return Err(gst::FlowError::Eos),
            }
            let ret = match pad.internal() {
                Some(ghost) => ghost.push(buffer),
                None => Err(gst::FlowError::NotLinked),
            };
            s_chain.push_end(ret.is_ok());
            if let Err(flow) = ret {
                downstream_failed(&s_chain, &b_chain, flow);
            }
            ret
        })
        .proxy_pad_event_function(move |pad, _, event| {
            let eos = event.type_() == gst::EventType::Eos;
            let _ = s_event.push_start(false);
            let ok = pad.internal().is_some_and(|g| g.push_event(event));
            s_event.push_end(false);
            if eos {
                // However it was sent, the stream has ended: no restarts.
                s_event.end(false);
            }
            ok
        })
        .event_function(|pad, _, event| {
            // A live camera cannot seek; souphttpsrc 1.22 would wait in its
            // seek handler for headers that a stopped connection never
            // gives (a hang): the seek stops here.
            if event.type_() == gst::EventType::Seek {
                gst::debug!(CAT, obj = pad, "a live camera cannot seek");
                return false;
            }
            pad.internal().is_some_and(|i| i.push_event(event))
        })
        .query_function(|pad, _, query| {
            if let gst::QueryViewMut::Seeking(q) = query.view_mut() {
                let format = q.format();
                q.set(
                    false,
                    gst::GenericFormattedValue::none_for_format(format),
                    gst::GenericFormattedValue::none_for_format(format),
                );
                return true;
            }
            let Some(internal) = pad.internal() else {
                return false;
            };
            let ok = internal.peer_query(query);
            if ok && let gst::QueryViewMut::Latency(q) = query.view_mut() {
                latency(q);
            }
            ok
        })
        .build()
}

/// A live camera is read over TCP: while the pipeline is late, its frames
/// wait in the socket buffers and on the camera, nothing is lost, so there
/// is no bound on how long downstream may hold them. souphttpsrc answers
/// basesrc's default max = min = 0, which tells GStreamer that nothing
/// can wait at all, and every sink's processing-deadline (20 ms) then
/// makes gstbin warn "Pipeline construction is invalid, please add
/// queues". A finite max from an element after us still counts.
fn latency(q: &mut gst::query::Latency) {
    let (live, min, _) = q.result();
    if live {
        q.set(true, min, gst::ClockTime::NONE);
    }
}

fn downstream_failed(shared: &Shared, bin: &glib::WeakRef<gst::Bin>, flow: gst::FlowError) {
    match flow {
        gst::FlowError::Flushing => {}
        gst::FlowError::Eos => {
            if let Some(bin) = bin.upgrade() {
                gst::info!(CAT, obj = bin, "downstream ended the stream (EOS)");
            }
            shared.end(false);
        }
        flow => {
            if !shared.end(true) {
                return;
            }
            let Some(bin) = bin.upgrade() else { return };
            let (kind, text) = super::messages::downstream(flow);
            gst::info!(CAT, obj = bin, "downstream error: {text}");
            let debug = format!(
                "streaming stopped, reason {} (from the elements after mjpeghttpsrc)",
                super::messages::flow_name(flow)
            );
            let msg = gst::message::Error::builder(kind, &text)
                .debug(&debug)
                .src(&bin)
                .build();
            let _ = bin.post_message(msg);
        }
    }
}

/// What passes from souphttpsrc to mjpegsplit: buffers (the first of each
/// connection marked DISCONT; none of a connection being replaced); the
/// first stream-start and segment only (a reconnection continues the same
/// stream; a flush asks for a new segment); EOS only when no restart follows.
pub fn source_probe(
    shared: &Shared,
    bin: &glib::WeakRef<gst::Bin>,
    info: &mut gst::PadProbeInfo,
) -> gst::PadProbeReturn {
    if let Some(buffer) = info.buffer_mut() {
        match shared.on_data(buffer.size()) {
            DataEvent::More => {}
            DataEvent::Drop => return gst::PadProbeReturn::Drop,
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
        gst::EventView::FlushStop(_) => {
            // An application's flush (souphttpsrc pushes it on): the flush
            // took mjpegsplit's segment, the source's next one must pass.
            shared.lock().segment_sent = false;
            false
        }
        _ => false,
    };
    if keep_from_split {
        gst::PadProbeReturn::Handled
    } else {
        gst::PadProbeReturn::Ok
    }
}
