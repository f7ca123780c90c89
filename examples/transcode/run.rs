// SPDX-License-Identifier: MIT OR Apache-2.0

//! Running a pipeline to its end or its first error, and the test
//! recording of `--generate`.

use gst::prelude::*;
use std::io::Write;
use std::sync::Arc;

/// What went wrong, from the first ERROR message on the bus.
pub struct Failure {
    /// Name of the element that posted it.
    pub element: String,
    pub error: gst::glib::Error,
    pub debug: Option<String>,
}

impl From<Failure> for String {
    fn from(f: Failure) -> String {
        f.error.to_string()
    }
}

pub fn failure(msg: &gst::message::Error) -> Failure {
    Failure {
        element: msg.src().map(|s| s.name().to_string()).unwrap_or_default(),
        error: msg.error(),
        debug: msg.debug().map(|d| d.to_string()),
    }
}

/// Set the pipeline playing and run it to EOS or its first error, calling
/// `tick` twice a second. GLib sources of the default main context (the
/// Ctrl-C handler) are dispatched meanwhile. Leaves the pipeline's state.
pub fn drive(pipeline: &gst::Element, tick: &mut dyn FnMut(&gst::Element)) -> Result<(), Failure> {
    let bus = pipeline.bus().expect("pipeline bus");
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The element that failed posted why: "Element failed to change its
        // state" says nothing.
        return Err(bus
            .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(failure(e)),
                _ => None,
            })
            .unwrap_or(Failure {
                element: String::new(),
                error: gst::glib::Error::new(
                    gst::CoreError::StateChange,
                    "the pipeline could not start",
                ),
                debug: None,
            }));
    }
    let ctx = gst::glib::MainContext::default();
    loop {
        while ctx.iteration(false) {}
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else {
            tick(pipeline);
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(e) => return Err(failure(e)),
            gst::MessageView::Warning(w) => eprintln!("\nwarning: {}", w.error()),
            // What mjpegsplit assumed (a frame rate the stream does not give).
            gst::MessageView::Info(i) => eprintln!("\nnote: {}", i.error()),
            // mjpeghttpsrc says when the camera went away and came back.
            gst::MessageView::Element(m) => {
                if let Some(s) = m.structure().filter(|s| s.name() == "mjpeghttpsrc-status") {
                    let reason = s.get::<&str>("reason").unwrap_or("");
                    match s.get::<&str>("event").unwrap_or("") {
                        "reconnecting" => eprintln!("\ncamera: {reason}; reconnecting"),
                        "reconnected" => eprintln!("\ncamera: reconnected"),
                        "stalled" => eprintln!("\ncamera: stalled ({reason})"),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// Run a pipeline to EOS, calling `tick` twice a second, then stop it.
pub fn run(pipeline: &gst::Element, mut tick: impl FnMut(&gst::Element)) -> Result<(), Failure> {
    let result = drive(pipeline, &mut tick);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// After an error upstream of the muxer, wait (up to `seconds`) for the
/// EOS that lets the muxer finish the file. True if it came. Stopping the
/// pipeline while mp4mux is still handling an EOS on a pad that never got
/// caps makes it print GStreamer-CRITICAL lines (GStreamer 1.22): waiting
/// for that EOS avoids them too.
pub fn finish_after_error(pipeline: &gst::Element, seconds: u64) -> bool {
    let bus = pipeline.bus().expect("pipeline bus");
    bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(seconds),
        &[gst::MessageType::Eos],
    )
    .is_some()
}

/// Camera uptime at the first frame of a generated recording, in microseconds.
const GENERATED_UPTIME_US: u64 = 1_234_500_000;

/// Write a test recording as mjpg-streamer or ustreamer serve it (`curl
/// http://cam:8080/?action=stream > INPUT`): a multipart body whose parts carry
/// Content-Length, `X-Timestamp` (the camera's uptime clock, seconds.micros,
/// starting at 1234.5 s) and `X-Framerate`, so the recording's timing is in the
/// file itself.
pub fn generate(path: &str, seconds: u32, framerate: &str) -> Result<(), String> {
    let (n, d) = framerate
        .split_once('/')
        .and_then(|(n, d)| Some((n.parse::<u64>().ok()?, d.parse::<u64>().ok()?)))
        .filter(|&(n, d)| n > 0 && d > 0)
        .ok_or("bad --framerate")?;
    let frames = u64::from(seconds) * n / d;
    let desc = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! \
         video/x-raw,width=640,height=480,framerate={framerate} ! jpegenc quality=80 ! \
         fakesink name=sink sync=false"
    );
    let p = gst::parse::launch(&desc).map_err(|e| e.to_string())?;
    let sink = p
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("sink"))
        .expect("sink");
    let jpegs = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let collected = jpegs.clone();
    sink.static_pad("sink").expect("sink pad").add_probe(
        gst::PadProbeType::BUFFER,
        move |_, info| {
            if let Some(map) = info.buffer().and_then(|b| b.map_readable().ok()) {
                collected.lock().unwrap().push(map.to_vec());
            }
            gst::PadProbeReturn::Ok
        },
    );
    run(&p, |_| {})?;
    // "15", or "12.5" for 25/2.
    let fps = if n % d == 0 {
        (n / d).to_string()
    } else {
        (n as f64 / d as f64).to_string()
    };
    let mut body = Vec::new();
    for (k, jpeg) in jpegs.lock().unwrap().iter().enumerate() {
        let us = GENERATED_UPTIME_US + k as u64 * 1_000_000 * d / n;
        write!(
            body,
            "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\
             X-Timestamp: {}.{:06}\r\nX-Framerate: {fps}\r\n\r\n",
            jpeg.len(),
            us / 1_000_000,
            us % 1_000_000
        )
        .expect("write to a Vec");
        body.extend_from_slice(jpeg);
        body.extend_from_slice(b"\r\n");
    }
    std::fs::write(path, body).map_err(|e| format!("{path}: {e}"))?;
    println!(
        "generated {path}: {frames} frames of 640x480 MJPEG (multipart, X-Timestamp and \
         X-Framerate {fps} per part), {seconds} s"
    );
    Ok(())
}
