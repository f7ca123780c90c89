// SPDX-License-Identifier: MIT OR Apache-2.0

//! Record an MJPEG IP camera to H.264 (MP4 or Matroska).
//!
//! ```text
//! cargo run --release --example camera_recorder -- http://camera/video.cgi out.mp4
//! ```
//!
//! * The camera is read by `mjpeghttpsrc`: when it drops, restarts, answers
//!   an HTTP error or stalls, the source reconnects (each event is logged)
//!   and the recording goes on, timestamps continuing from the time the
//!   camera came back.
//! * Ctrl-C (SIGINT or SIGTERM) ends the recording cleanly: the file is
//!   finalised. So does an unusable URL once frames were recorded.
//! * Output goes to stdout/stderr with errors ignored: a closed pipe
//!   (`| head`, a `tee` killed by Ctrl-C) never stops the recording.

use gst::glib;
use gst::prelude::*;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Like `eprintln!`, but a closed stderr is not an error.
macro_rules! log {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, output] = args.as_slice() else {
        log!("usage: camera_recorder URL OUTPUT.(mp4|mkv)");
        return ExitCode::from(2);
    };
    gst::init().expect("GStreamer init");
    gstmjpegsplit::plugin_register_static().expect("register mjpegsplit");

    let mux = if output.ends_with(".mkv") {
        "matroskamux"
    } else {
        "mp4mux"
    };
    let desc = format!(
        "mjpeghttpsrc name=src location={url:?} ! queue ! jpegdec ! videoconvert ! \
         x264enc speed-preset=veryfast tune=zerolatency ! {mux} ! filesink location={output:?}"
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
    let bus = pipeline.bus().expect("bus");
    let _watch = {
        let main_loop = main_loop.clone();
        let src = src.clone();
        let failed = failed.clone();
        let finish = finish.clone();
        let finishing = finishing.clone();
        bus.add_watch(move |_, msg| {
            match msg.view() {
                gst::MessageView::Eos(_) => main_loop.quit(),
                gst::MessageView::Element(m) => {
                    if let Some(s) = m.structure().filter(|s| s.name() == "mjpeghttpsrc-status") {
                        let event = s.get::<&str>("event").unwrap_or("");
                        let reason = s.get::<&str>("reason").unwrap_or("");
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
                    log!("error: {} ({:?})", e.error(), e.debug());
                    failed.store(true, Ordering::SeqCst);
                    // Keep what was recorded: finish the file if there is
                    // anything in it, else stop.
                    if frames(&src) > 0 && !finishing.load(Ordering::SeqCst) {
                        finish();
                        // In case the error keeps EOS from reaching the sink.
                        let main_loop = main_loop.clone();
                        glib::timeout_add_seconds_once(10, move || main_loop.quit());
                    } else {
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
        log!("cannot start the pipeline");
        return ExitCode::FAILURE;
    }
    log!("recording {url} to {output}; Ctrl-C to stop");
    main_loop.run();
    let _ = pipeline.set_state(gst::State::Null);
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
    if failed.load(Ordering::SeqCst) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
