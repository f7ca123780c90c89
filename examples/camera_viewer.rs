// SPDX-License-Identifier: MIT OR Apache-2.0

//! Show an MJPEG IP camera in a window.
//!
//! ```text
//! cargo run --release --example camera_viewer -- http://camera/video.cgi
//! ```
//!
//! Equivalent to
//! `gst-launch-1.0 souphttpsrc location=URL is-live=true ! mjpegsplit ! jpegdec ! videoconvert ! autovideosink`,
//! plus the splitter's statistics when the window closes or Ctrl-C is pressed.

use gst::glib;
use gst::prelude::*;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: camera_viewer URL");
        return ExitCode::from(2);
    };
    gst::init().expect("GStreamer init");
    gstmjpegsplit::plugin_register_static().expect("register mjpegsplit");
    let pipeline = gst::parse::launch(&format!(
        "souphttpsrc location={url:?} is-live=true ! mjpegsplit name=split ! jpegdec ! videoconvert ! autovideosink"
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let split = pipeline.by_name("split").expect("split");
    let main_loop = glib::MainLoop::new(None, false);
    {
        let main_loop = main_loop.clone();
        glib_unix::unix_signal_add_once(2, move || main_loop.quit());
    }
    let bus = pipeline.bus().expect("bus");
    let _watch = {
        let main_loop = main_loop.clone();
        bus.add_watch(move |_, msg| {
            match msg.view() {
                gst::MessageView::Eos(_) => main_loop.quit(),
                gst::MessageView::Error(e) => {
                    eprintln!("error: {} ({:?})", e.error(), e.debug());
                    main_loop.quit();
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
    main_loop.run();
    let _ = pipeline.set_state(gst::State::Null);
    println!("{}", split.property::<gst::Structure>("stats"));
    ExitCode::SUCCESS
}
