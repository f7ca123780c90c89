// SPDX-License-Identifier: MIT OR Apache-2.0

//! Record an MJPEG IP camera to H.264 (MP4 or Matroska).
//!
//! ```text
//! cargo run --release --example camera_recorder -- http://camera/video.cgi out.mp4
//! ```
//!
//! * Ctrl-C (SIGINT or SIGTERM) ends the recording cleanly: the file is finalised.
//! * When the camera drops (the connection closes or cannot be opened), the
//!   recorder reconnects every second; the recording goes on, with
//!   timestamps continuing from the time the camera came back.
//! * Frames are timestamped by mjpegsplit with their arrival time.

use gst::glib;
use gst::prelude::*;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, output] = args.as_slice() else {
        eprintln!("usage: camera_recorder URL OUTPUT.(mp4|mkv)");
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
        "souphttpsrc name=src location={url:?} is-live=true ! mjpegsplit name=split ! jpegdec ! \
         videoconvert ! x264enc speed-preset=veryfast tune=zerolatency ! {mux} ! filesink location={output:?}"
    );
    let pipeline = gst::parse::launch(&desc)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let src = pipeline.by_name("src").expect("src");
    let split = pipeline.by_name("split").expect("split");
    let main_loop = glib::MainLoop::new(None, false);
    let stopping = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicU32::new(0));

    // Restart the source a second after it ended or failed.
    let restart = {
        let src = src.downgrade();
        let stopping = stopping.clone();
        let reconnects = reconnects.clone();
        let pending = Arc::new(AtomicBool::new(false));
        move || {
            if stopping.load(Ordering::SeqCst) || pending.swap(true, Ordering::SeqCst) {
                return;
            }
            eprintln!("camera dropped: reconnecting in 1 s");
            let src = src.clone();
            let pending = pending.clone();
            let reconnects = reconnects.clone();
            glib::timeout_add_once(std::time::Duration::from_secs(1), move || {
                pending.store(false, Ordering::SeqCst);
                if let Some(src) = src.upgrade() {
                    reconnects.fetch_add(1, Ordering::SeqCst);
                    let _ = src.set_state(gst::State::Null);
                    let _ = src.sync_state_with_parent();
                }
            });
        }
    };

    // The camera closing the connection ends the source with EOS: keep that
    // EOS from finishing the recording, and reconnect instead.
    {
        let stopping = stopping.clone();
        let restart = restart.clone();
        let ctx = glib::MainContext::default();
        src.static_pad("src").expect("src pad").add_probe(
            gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                let eos = info
                    .event()
                    .is_some_and(|e| e.type_() == gst::EventType::Eos);
                if eos && !stopping.load(Ordering::SeqCst) {
                    let restart = restart.clone();
                    ctx.invoke(restart);
                    return gst::PadProbeReturn::Handled;
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    // Ctrl-C: end the stream at mjpegsplit so the muxer finalises the file.
    for signal in [libc_sigint(), libc_sigterm()] {
        let stopping = stopping.clone();
        let split = split.downgrade();
        glib_unix::unix_signal_add_once(signal, move || {
            eprintln!("stopping: finishing the file");
            stopping.store(true, Ordering::SeqCst);
            if let Some(split) = split.upgrade() {
                split
                    .static_pad("sink")
                    .expect("sink pad")
                    .send_event(gst::event::Eos::new());
            }
        });
    }

    let bus = pipeline.bus().expect("bus");
    let _watch = {
        let main_loop = main_loop.clone();
        let src = src.clone();
        let restart = restart.clone();
        bus.add_watch(move |_, msg| {
            match msg.view() {
                gst::MessageView::Eos(_) => main_loop.quit(),
                gst::MessageView::Error(e) => {
                    let from_src = e
                        .src()
                        .is_some_and(|s| s == src.upcast_ref::<gst::Object>());
                    if from_src {
                        eprintln!("camera: {}", e.error());
                        restart();
                    } else {
                        eprintln!("error: {} ({:?})", e.error(), e.debug());
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
        eprintln!("cannot start the pipeline");
        return ExitCode::FAILURE;
    }
    eprintln!("recording {url} to {output}; Ctrl-C to stop");
    main_loop.run();
    let _ = pipeline.set_state(gst::State::Null);
    let stats = split.property::<gst::Structure>("stats");
    println!(
        "recorded {} frames to {output} ({} reconnects, {} incomplete frames dropped)",
        stats.get::<u64>("frames").unwrap_or(0),
        reconnects.load(Ordering::SeqCst),
        stats.get::<u64>("dropped-incomplete").unwrap_or(0),
    );
    ExitCode::SUCCESS
}

// SIGINT and SIGTERM are 2 and 15 on every Linux architecture.
fn libc_sigint() -> i32 {
    2
}

fn libc_sigterm() -> i32 {
    15
}
