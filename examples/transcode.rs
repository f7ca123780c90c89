// SPDX-License-Identifier: MIT OR Apache-2.0

//! Transcode an MJPEG recording (raw JPEGs, a multipart body or a `curl -i`
//! capture), a container file or a URL to H.264 in MP4, Matroska, AVI or
//! QuickTime (picked from the output name, in any case), with a progress
//! line, then report what was written.
//!
//! ```text
//! cargo run --release --example transcode -- [--generate SECONDS] [--framerate RATE] [--quality 0-51] [--camera|--once] [--debug] INPUT OUTPUT.(mp4|mkv|avi|mov)
//! ```
//!
//! * INPUT is a file, a named pipe (read in push mode) or an `http(s)://`
//!   URL. The server's answer says what a URL is: a camera (an endless
//!   `multipart/x-mixed-replace` stream, no Content-Length) is read live by
//!   mjpeghttpsrc and reconnected when it drops; a file on a web server
//!   (a Content-Length, a container, or not multipart) is read once. The
//!   first line printed says which it was taken for, and why; `--camera`
//!   or `--once` decides instead.
//! * A container (AVI, QuickTime/MP4, Matroska…, by its signature) goes to
//!   decodebin: it keeps its own timing, and its audio (as MP3).
//! * `--generate` first writes a test recording to INPUT (640x480 at the
//!   frame rate, as a multipart stream like `curl
//!   http://cam:8080/?action=stream > INPUT` from mjpg-streamer, each part
//!   with `X-Timestamp` and `X-Framerate`). RATE is `15`, `12.5`, `29.97`
//!   (= 30000/1001) or `N/D`.
//! * Ctrl-C (SIGINT) or SIGTERM ends the output file cleanly.
//! * The output is written to `OUTPUT.part` and renamed OUTPUT when it is
//!   finished: a run that fails (a full disk, a killed process) leaves no
//!   unplayable OUTPUT behind, and a failed run removes the partial file.

#[path = "transcode/args.rs"]
mod args;
#[path = "transcode/input.rs"]
mod input;
#[path = "shared/media.rs"]
mod media;
#[path = "transcode/run.rs"]
mod run;

use args::{USAGE, parse_args};
use gst::prelude::*;
use input::{INTERRUPTED, Input, Kind};
use media::{hint, redact, scrub};
use run::{Failure, drive, finish_after_error};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Why OUTPUT cannot be written, before anything is written.
fn check_output(input: &str, output: &str) -> Result<(), String> {
    let path = std::path::Path::new(output);
    if path.is_dir() {
        return Err(format!("{output} is a directory: give a file name"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(format!(
            "cannot write {output}: the directory {} does not exist",
            dir.display()
        ));
    }
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(input), std::fs::canonicalize(output))
        && a == b
    {
        return Err(format!("{output} is the input: give another output name"));
    }
    Ok(())
}

fn print_error(e: &Failure, input: &str, output: &str, live: bool, debug: bool) {
    // "Internal data stream error." only says that a streaming thread
    // stopped; from the source of a camera it means no usable answer.
    let from_source = !matches!(e.element.as_str(), "split" | "enc" | "mux" | "sink" | "")
        && !e.element.starts_with("jpegdec")
        && !e.element.starts_with("videoconvert");
    // mjpeghttpsrc's own errors say what happened (a camera that gave up,
    // frames refused downstream): only the generic one is explained here.
    let generic = e
        .error
        .to_string()
        .starts_with("Internal data stream error");
    if live && from_source && generic && e.error.matches(gst::StreamError::Failed) {
        eprintln!(
            "error: no video from {}: the camera did not answer or closed the connection \
             (is it on, and is the URL right? open it in a browser to check)",
            redact(input)
        );
    } else if e.element == "sink" {
        let what = hint(&e.error).unwrap_or("check the disk");
        eprintln!("error: cannot write {output}: {} ({what})", e.error);
    } else if let Some(h) = hint(&e.error) {
        eprintln!("error: {} ({h})", scrub(&e.error.to_string(), input));
    } else {
        eprintln!("error: {}", scrub(&e.error.to_string(), input));
    }
    if debug && let Some(d) = &e.debug {
        eprintln!("debug ({}): {}", e.element, scrub(d, input));
    }
}

/// Give each stream decodebin exposes its branch: the first video stream
/// to `vconv` (the encoder's branch), each audio stream to an MP3 encoder
/// and the muxer, anything else to a fakesink. The branches' first pads go
/// to `ends`, where Ctrl-C ends the streams.
fn plug_decodebin(bin: &gst::Bin, ends: Arc<Mutex<Vec<gst::Pad>>>) {
    let dec = bin.by_name("dec").expect("decodebin");
    let weak = bin.downgrade();
    dec.connect_pad_added(move |_, pad| {
        let Some(bin) = weak.upgrade() else { return };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps
            .structure(0)
            .map_or(String::new(), |s| s.name().to_string());
        let vconv = bin.by_name("vconv").expect("videoconvert");
        let vlinked = vconv.static_pad("sink").is_some_and(|p| p.is_linked());
        let desc = if name == "video/x-raw" && !vlinked {
            "queue"
        } else if name == "audio/x-raw" {
            "queue ! audioconvert ! audioresample ! lamemp3enc"
        } else {
            "fakesink sync=false"
        };
        let Ok(branch) = gst::parse::bin_from_description(desc, true) else {
            return;
        };
        let _ = bin.add(&branch);
        if desc == "queue" {
            let _ = branch.link(&vconv);
        } else if desc.starts_with("queue") {
            let mux = bin.by_name("mux").expect("muxer");
            if branch.link(&mux).is_err() {
                eprintln!("\nwarning: the output's container takes no MP3 audio: audio left out");
            }
        }
        let _ = branch.sync_state_with_parent();
        if let Some(sink) = branch.static_pad("sink") {
            if name == "audio/x-raw" {
                // avidemux in push mode (over HTTP) gives raw audio a DTS
                // only: the encoder and the muxer want a PTS.
                sink.add_probe(gst::PadProbeType::BUFFER, |_, info| {
                    if let Some(b) = info.buffer_mut()
                        && b.pts().is_none()
                        && b.dts().is_some()
                    {
                        let dts = b.dts();
                        b.make_mut().set_pts(dts);
                    }
                    gst::PadProbeReturn::Ok
                });
            }
            let _ = pad.link(&sink);
            if desc.starts_with("queue") {
                ends.lock().unwrap().push(sink);
            }
        }
    });
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let debug = args.debug || std::env::var_os("GST_DEBUG").is_some();
    let container = match media::container_for(&args.output) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    gst::init().expect("GStreamer init");
    gstmjpegsplit::plugin_register_static().expect("register mjpegsplit");

    // Ctrl-C and SIGTERM: end the streams where they enter the pipeline
    // (the pads in `ends`), so that the muxer finishes the file.
    let stopping = Arc::new(AtomicBool::new(false));
    let ends = Arc::new(Mutex::new(Vec::<gst::Pad>::new()));
    for signal in [2, 15] {
        let (stopping, ends) = (stopping.clone(), ends.clone());
        glib_unix::unix_signal_add(signal, move || {
            if !stopping.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted: finishing the file");
                for pad in ends.lock().unwrap().iter() {
                    pad.send_event(gst::event::Eos::new());
                }
            }
            gst::glib::ControlFlow::Continue
        });
    }

    if let Some(seconds) = args.generate
        // A generated recording carries its rate in its part headers; the
        // pipeline below then takes it from there, as from a camera's.
        && let Err(e) = run::generate(
            &args.input,
            seconds,
            match args.framerate.as_str() {
                "0/1" => "15/1",
                rate => rate,
            },
        )
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let url = args.input.starts_with("http://") || args.input.starts_with("https://");
    if args.camera.is_some() && !url {
        eprintln!("error: --camera and --once are for an http(s):// URL");
        return ExitCode::from(2);
    }
    let input = if url && args.camera == Some(true) {
        // Not asked first: a camera may serve one client at a time.
        Ok(Input::camera_as_told())
    } else if url {
        input::http(&args.input, debug, &stopping).map(|i| match args.camera {
            Some(camera) => i.forced(camera),
            None => i,
        })
    } else {
        input::local(&args.input)
    };
    let input: Input = match input.and_then(|i| check_output(&args.input, &args.output).map(|_| i))
    {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A recording is read as it always was; anything else is said.
    if input.kind != Kind::File || input.container.is_some() {
        println!("{}", input.describe(&args.input));
    }
    let live = input.live();
    let part = format!("{}.part", args.output);
    let encode = format!(
        "x264enc name=enc speed-preset=veryfast pass=quant quantizer={} ! {} name=mux ! \
         filesink name=sink location={part:?}",
        args.quality, container.mux
    );
    let source = input.source(&args.input, &args.framerate);
    // AVI has no timestamps, only a constant rate: a camera's variable one
    // is made constant (frames repeated or dropped to keep its timing).
    let encode = if live && container.mux == "avimux" {
        format!("videorate ! video/x-raw,framerate=25/1 ! {encode}")
    } else {
        encode
    };
    let desc = if input.container.is_some() {
        format!("{source}  videoconvert name=vconv ! {encode}")
    } else {
        format!("{source} ! jpegdec ! videoconvert ! {encode}")
    };
    let pipeline = match gst::parse::launch(&desc) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bin = pipeline
        .downcast_ref::<gst::Bin>()
        .expect("a pipeline is a bin");
    let split = bin.by_name("split");
    match &split {
        Some(split) => ends.lock().unwrap().extend(split.static_pad("sink")),
        None => plug_decodebin(bin, ends.clone()),
    }

    // Frames written: buffers the encoder hands to the muxer, and the end
    // time of the latest one (the position in the output).
    let written = Arc::new(AtomicU64::new(0));
    let written_end = Arc::new(AtomicU64::new(0));
    {
        let (count, end) = (written.clone(), written_end.clone());
        let enc = bin.by_name("enc").expect("encoder");
        enc.static_pad("src").expect("encoder src pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |pad, info| {
                if let Some(b) = info.buffer() {
                    count.fetch_add(1, Ordering::Relaxed);
                    // x264enc shifts its times by 1000 h: the stream time
                    // of the frame's end is the position in the output.
                    let segment = pad.sticky_event::<gst::event::Segment>(0);
                    let segment = segment
                        .as_ref()
                        .and_then(|s| s.segment().downcast_ref::<gst::ClockTime>());
                    if let (Some(pts), Some(segment)) = (b.pts(), segment)
                        && let Some(e) = segment
                            .to_stream_time(pts + b.duration().unwrap_or(gst::ClockTime::ZERO))
                    {
                        end.fetch_max(e.nseconds(), Ordering::Relaxed);
                    }
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    let end_streams = || {
        for pad in ends.lock().unwrap().iter() {
            pad.send_event(gst::event::Eos::new());
        }
    };
    // Ctrl-C during the server's probe.
    if stopping.load(Ordering::SeqCst) {
        end_streams();
    }

    let started = std::time::Instant::now();
    // Whether a progress line is on the terminal, to be ended.
    let progress_shown = std::cell::Cell::new(false);
    let mut tick = |p: &gst::Element| {
        progress_shown.set(true);
        let frames = written.load(Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        if live {
            eprint!("\r{frames} frames written  {elapsed:.1} s ");
        } else {
            let pos = written_end.load(Ordering::Relaxed) as f64 / 1e9;
            let dur = p
                .query_duration::<gst::ClockTime>()
                .map(|d| d.seconds_f64());
            let speed = pos / elapsed.max(1e-3);
            let bar = dur.map_or(String::new(), |d| {
                let done = (pos / d.max(1e-9)).min(1.0);
                let n = (done * 30.0).round() as usize;
                format!("[{:<30}] {:3.0} %  ", "#".repeat(n), done * 100.0)
            });
            eprint!(
                "\r{bar}{pos:.1} / {} s  {frames} frames written  {speed:.1}x ",
                dur.map_or("?".into(), |d| format!("{d:.1}"))
            );
        }
        let _ = std::io::stderr().flush();
    };
    let mut result = drive(&pipeline, &mut tick);
    // What the file holds, unless it was finished below.
    let mut finished = result.is_ok();
    if let Err(e) = &result
        && !matches!(e.element.as_str(), "mux" | "sink")
    {
        // The input failed: end the stream so that the muxer finishes the
        // file with the frames written, if any.
        end_streams();
        let any = written.load(Ordering::Relaxed) > 0;
        finished = finish_after_error(&pipeline, if any { 10 } else { 2 }) && any;
    }
    if result.is_ok() {
        tick(&pipeline);
    }
    let _ = pipeline.set_state(gst::State::Null);
    if progress_shown.get() {
        eprintln!();
    }
    let frames = written.load(Ordering::Relaxed);
    // Ctrl-C before the first frame: that is the cause, whatever mjpegsplit
    // says about the stream it did not get.
    let interrupted_early = frames == 0 && stopping.load(Ordering::SeqCst);
    if (result.is_ok() || interrupted_early) && frames == 0 {
        let message = if interrupted_early {
            INTERRUPTED.into()
        } else {
            format!("{} gave no frame", redact(&args.input))
        };
        result = Err(Failure {
            element: String::new(),
            error: gst::glib::Error::new(gst::StreamError::Failed, &message),
            debug: None,
        });
        finished = false;
    }
    if let Err(e) = &result {
        print_error(e, &args.input, &args.output, live, debug);
        if finished {
            eprintln!(
                "{}: finished with the {frames} frames written before the error",
                args.output
            );
        } else {
            // An empty or unfinished file is of no use: do not leave it.
            if std::fs::remove_file(&part).is_ok() {
                eprintln!(
                    "{} not written (the partial file {part} was removed)",
                    args.output
                );
            }
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = std::fs::rename(&part, &args.output) {
        eprintln!("error: cannot rename {part} to {}: {e}", args.output);
        return ExitCode::FAILURE;
    }
    if let Some(split) = &split {
        let stats = split.property::<gst::Structure>("stats");
        println!(
            "mjpegsplit: {} frames, {} bytes skipped, {} incomplete, {} dropped (in {:.2} s)",
            stats.get::<u64>("frames").unwrap_or(0),
            stats.get::<u64>("bytes-skipped").unwrap_or(0),
            stats.get::<u64>("incomplete-frames").unwrap_or(0),
            stats.get::<u64>("dropped-no-scan").unwrap_or(0)
                + stats.get::<u64>("dropped-too-large").unwrap_or(0),
            started.elapsed().as_secs_f64()
        );
    }
    match media::read_back(&args.output, container.demux) {
        Ok((frames, duration, audio)) => {
            println!(
                "{}: {frames} frames, {:.3} s of H.264{}",
                args.output,
                duration.seconds_f64(),
                if audio > 0 { ", and MP3 audio" } else { "" }
            );
            if result.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {} does not read back: {e}", args.output);
            ExitCode::FAILURE
        }
    }
}
