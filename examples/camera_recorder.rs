// SPDX-License-Identifier: MIT OR Apache-2.0

//! Record an MJPEG IP camera to H.264, in the container the output name
//! asks for (any case): `.mp4`, `.mov`, `.mkv` or `.avi`.
//!
//! ```text
//! cargo run --release --example camera_recorder -- http://camera/video.cgi out.mp4
//! ```
//!
//! * The camera is read by `mjpeghttpsrc`: when it drops, restarts, answers
//!   an HTTP error or stalls, the source reconnects (each event is logged)
//!   and the recording goes on, timestamps continuing from the time the
//!   camera came back: the file keeps the camera's timing.
//! * A progress line shows the frames recorded, the time and the reconnects.
//! * Ctrl-C (SIGINT) or SIGTERM ends the recording cleanly: the file is
//!   finalised. So does an unusable URL once frames were recorded.
//! * MP4 and QuickTime are written fragmented (a fragment a second): a file
//!   cut short (a full disk, a killed process, a power cut) still plays up
//!   to its last whole second. After a write error the file is read back:
//!   kept if it plays, removed if not, and the recorder says which.
//! * Errors say their reason (GStreamer's message and debug text) and what
//!   to do. A password in the URL is never printed.
//! * Output goes to stdout/stderr with errors ignored: a closed pipe
//!   (`| head`, a `tee` killed by Ctrl-C) never stops the recording.

#[path = "shared/media.rs"]
mod media;

use gst::glib;
use gst::prelude::*;
use media::{hint, redact, scrub};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the progress line is the last thing on stderr (so that a log
/// line starts on a line of its own).
static PROGRESS: AtomicBool = AtomicBool::new(false);

/// Like `eprintln!`, but a closed stderr is not an error.
macro_rules! log {
    ($($arg:tt)*) => {{
        let mut e = std::io::stderr();
        if PROGRESS.swap(false, Ordering::SeqCst) {
            let _ = writeln!(e);
        }
        let _ = writeln!(e, $($arg)*);
    }};
}

/// An ERROR message from the bus, for the user: the reason, GStreamer's
/// debug text and, where it helps, what to do.
fn report(what: &str, e: &gst::message::Error, url: &str) {
    let from = e.src().map(|s| s.name().to_string()).unwrap_or_default();
    log!("error: {what}: {}", scrub(&e.error().to_string(), url));
    if let Some(d) = e.debug() {
        log!("  debug ({from}): {}", scrub(&d, url));
    }
    if let Some(h) = hint(&e.error()) {
        log!("  what to do: {h}");
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, output] = args.as_slice() else {
        log!("usage: camera_recorder URL OUTPUT.(mp4|mov|mkv|avi)");
        return ExitCode::from(2);
    };
    let container = match media::container_for(output) {
        Ok(c) => c,
        Err(e) => {
            log!("error: {e}");
            return ExitCode::from(2);
        }
    };
    gst::init().expect("GStreamer init");
    gstmjpegsplit::plugin_register_static().expect("register mjpegsplit");

    // MP4/QuickTime: fragmented, so that a file cut short still plays; the
    // file sink unbuffered, so that what the muxer wrote is on disk even if
    // the process is killed (64 KiB can wait in a buffered one).
    let mux = match container.mux {
        m @ ("mp4mux" | "qtmux") => format!("{m} fragment-duration=1000"),
        m => m.to_string(),
    };
    // One raw format into the encoder whatever the camera's JPEGs are
    // (gray, YUV, RGB): a change would reconfigure x264enc mid-stream, which
    // a fragmented MP4 cannot take.
    // AVI has no timestamps, only a constant rate: the camera's variable
    // one is made constant (frames repeated or dropped to keep its timing).
    // (The caps are written after it: one caps filter, as gst-launch
    // syntax takes no two in a row.)
    let rate = if container.mux == "avimux" {
        "videorate ! video/x-raw,framerate=25/1,"
    } else {
        "video/x-raw,"
    };
    let desc = format!(
        "mjpeghttpsrc name=src location={url:?} ! queue ! jpegdec ! videoconvert ! {rate}\
         format=I420,colorimetry=bt601 ! \
         x264enc speed-preset=veryfast tune=zerolatency ! {mux} name=mux ! \
         filesink name=sink buffer-mode=unbuffered location={output:?}"
    );
    let pipeline = match gst::parse::launch(&desc) {
        Ok(p) => p.downcast::<gst::Pipeline>().expect("a pipeline"),
        Err(e) => {
            log!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let src = pipeline.by_name("src").expect("src");
    let main_loop = glib::MainLoop::new(None, false);
    let finishing = Arc::new(AtomicBool::new(false));
    let frames = |src: &gst::Element| {
        src.property::<gst::Structure>("stats")
            .get::<u64>("frames")
            .unwrap_or(0)
    };

    // End the stream at the source: the last frames and EOS reach the muxer,
    // which finalises the file; the bus then sees EOS.
    let finish = {
        let pipeline = pipeline.downgrade();
        let finishing = finishing.clone();
        move || {
            if !finishing.swap(true, Ordering::SeqCst)
                && let Some(p) = pipeline.upgrade()
            {
                p.send_event(gst::event::Eos::new());
            }
        }
    };

    for signal in [2, 15] {
        // SIGINT and SIGTERM on every Linux architecture.
        let finish = finish.clone();
        glib_unix::unix_signal_add(signal, move || {
            log!("stopping: finishing the file");
            finish();
            glib::ControlFlow::Continue
        });
    }

    let failed = Arc::new(AtomicBool::new(false));
    // The output could not be written: what is on disk is checked below.
    let write_failed = Arc::new(AtomicBool::new(false));
    let bus = pipeline.bus().expect("bus");
    let _watch = {
        let main_loop = main_loop.clone();
        let src = src.clone();
        let (failed, write_failed) = (failed.clone(), write_failed.clone());
        let finish = finish.clone();
        let finishing = finishing.clone();
        let (output, url) = (output.clone(), url.clone());
        bus.add_watch(move |_, msg| {
            match msg.view() {
                gst::MessageView::Eos(_) => main_loop.quit(),
                gst::MessageView::Element(m) => {
                    if let Some(s) = m.structure().filter(|s| s.name() == "mjpeghttpsrc-status") {
                        let event = s.get::<&str>("event").unwrap_or("");
                        let reason = s.get::<&str>("reason").unwrap_or("");
                        let reason = scrub(reason, &url);
                        match event {
                            "reconnecting" => log!(
                                "camera: {reason}; reconnecting in {:.1} s (attempt {})",
                                s.get::<u64>("delay").unwrap_or(0) as f64 / 1e9,
                                s.get::<u32>("retry").unwrap_or(0)
                            ),
                            "reconnected" => log!("camera: reconnected"),
                            "stalled" => log!("camera: stalled ({reason})"),
                            _ => {}
                        }
                    }
                }
                gst::MessageView::Error(e) => {
                    failed.store(true, Ordering::SeqCst);
                    let from = e.src().map(|s| s.name().to_string()).unwrap_or_default();
                    if matches!(from.as_str(), "sink" | "mux") {
                        // Nothing more can be written: stop here.
                        report(&format!("cannot write {output}"), e, &url);
                        write_failed.store(true, Ordering::SeqCst);
                        main_loop.quit();
                    } else if frames(&src) > 0 && !finishing.load(Ordering::SeqCst) {
                        // Keep what was recorded: finish the file.
                        report("recording stopped", e, &url);
                        finish();
                        // In case the error keeps EOS from reaching the sink.
                        let main_loop = main_loop.clone();
                        glib::timeout_add_seconds_once(10, move || main_loop.quit());
                    } else {
                        report("recording stopped", e, &url);
                        main_loop.quit();
                    }
                }
                _ => {}
            }
            glib::ControlFlow::Continue
        })
        .expect("bus watch")
    };

    if pipeline.set_state(gst::State::Playing).is_err() {
        // The element that failed posted why.
        let why =
            bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error]);
        match why.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Error(e)) => report("cannot start the recording", e, url),
            _ => log!("error: cannot start the recording (no reason given: run with GST_DEBUG=3)"),
        }
        let _ = pipeline.set_state(gst::State::Null);
        let _ = std::fs::remove_file(output);
        return ExitCode::FAILURE;
    }
    log!(
        "recording {} to {output} ({}{}); Ctrl-C to stop",
        redact(url),
        container.name,
        if mux.contains("fragment") {
            ", fragmented: it plays even if cut short"
        } else if rate.is_empty() {
            ""
        } else {
            ", at a constant 25 fps"
        }
    );
    let started = std::time::Instant::now();
    let _progress = {
        let src = src.clone();
        glib::timeout_add_local(std::time::Duration::from_secs(1), move || {
            let stats = src.property::<gst::Structure>("stats");
            let mut e = std::io::stderr();
            let _ = write!(
                e,
                "\r{} frames recorded  {:.0} s  {} reconnects ",
                stats.get::<u64>("frames").unwrap_or(0),
                started.elapsed().as_secs_f64(),
                stats.get::<u64>("connects").unwrap_or(0).saturating_sub(1),
            );
            let _ = e.flush();
            PROGRESS.store(true, Ordering::SeqCst);
            glib::ControlFlow::Continue
        })
    };
    main_loop.run();
    let _ = pipeline.set_state(gst::State::Null);
    if PROGRESS.swap(false, Ordering::SeqCst) {
        let _ = writeln!(std::io::stderr());
    }
    let stats = src.property::<gst::Structure>("stats");
    let recorded = stats.get::<u64>("frames").unwrap_or(0);
    let split = stats.get::<gst::Structure>("split").ok();
    let _ = writeln!(
        std::io::stdout(),
        "recorded {recorded} frames to {output} ({} reconnects, {} stalls, {} incomplete frames dropped)",
        stats.get::<u64>("connects").unwrap_or(0).saturating_sub(1),
        stats.get::<u64>("stalls").unwrap_or(0),
        split
            .and_then(|s| s.get::<u64>("dropped-incomplete").ok())
            .unwrap_or(0),
    );
    if recorded == 0 {
        // Nothing recorded: do not leave an empty file behind.
        let _ = std::fs::remove_file(output);
        return ExitCode::FAILURE;
    }
    if write_failed.load(Ordering::SeqCst) {
        // Keep the file only if it plays.
        match media::read_back(output, container.demux) {
            Ok((n, span, _)) if n > 0 => log!(
                "{output}: kept: it plays, with {n} frames ({:.1} s) written before the error",
                span.seconds_f64()
            ),
            _ => {
                let _ = std::fs::remove_file(output);
                log!("{output}: removed: what was written before the error does not play");
            }
        }
        return ExitCode::FAILURE;
    }
    if let Ok((n, span, _)) = media::read_back(output, container.demux) {
        let _ = writeln!(
            std::io::stdout(),
            "{output}: {n} frames, {:.3} s of H.264 in {}",
            span.seconds_f64(),
            container.name
        );
    }
    if failed.load(Ordering::SeqCst) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
