// SPDX-License-Identifier: MIT OR Apache-2.0

//! Transcode an MJPEG recording (raw JPEGs, a multipart body or a `curl -i`
//! capture) or a camera URL to H.264 in MP4 or Matroska, with a progress
//! line, then report what was written.
//!
//! ```text
//! cargo run --release --example transcode -- [--generate SECONDS] [--framerate N/D] [--quality 0-51] INPUT OUTPUT.(mp4|mkv)
//! ```
//!
//! INPUT is a file or an `http(s)://` URL (read live). `--generate` first
//! writes a test recording to INPUT (640x480 at the frame rate, as a
//! multipart stream like `curl http://cam/video.cgi > INPUT`). Ctrl-C ends
//! the output file cleanly.

use gst::prelude::*;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

struct Args {
    generate: Option<u32>,
    framerate: String,
    quality: u32,
    input: String,
    output: String,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: transcode [--generate SECONDS] [--framerate N/D] [--quality 0-51] INPUT OUTPUT.(mp4|mkv)\n\
         \n  --generate S   write an S-second MJPEG test recording to INPUT first\n\
         \n  --framerate    frame rate of the recording (default: 0/1 = from caps, else 30/1;\n\
         \x20                 15/1 with --generate)\n\
         \n  --quality      x264 constant quantizer, lower is better (default 21)"
    );
    ExitCode::from(2)
}

fn parse_args() -> Option<Args> {
    let mut args = std::env::args().skip(1);
    let mut a = Args {
        generate: None,
        framerate: String::new(),
        quality: 21,
        input: String::new(),
        output: String::new(),
    };
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--generate" => a.generate = Some(args.next()?.parse().ok()?),
            "--framerate" => a.framerate = args.next()?,
            "--quality" => a.quality = args.next()?.parse().ok().filter(|q| *q <= 51)?,
            "-h" | "--help" => return None,
            _ => positional.push(arg),
        }
    }
    let [input, output] = <[String; 2]>::try_from(positional).ok()?;
    a.input = input;
    a.output = output;
    if a.framerate.is_empty() {
        a.framerate = if a.generate.is_some() { "15/1" } else { "0/1" }.into();
    }
    Some(a)
}

/// Run a pipeline to EOS, calling `tick` twice a second. GLib sources of
/// the default main context (the Ctrl-C handler) are dispatched meanwhile.
fn run(pipeline: &gst::Element, mut tick: impl FnMut(&gst::Element)) -> Result<(), String> {
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("cannot start pipeline: {e}"))?;
    let bus = pipeline.bus().expect("pipeline bus");
    let ctx = gst::glib::MainContext::default();
    let result = loop {
        while ctx.iteration(false) {}
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else {
            tick(pipeline);
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(e) => {
                break Err(format!(
                    "{}: {} ({})",
                    e.src()
                        .map(|s| s.path_string().to_string())
                        .unwrap_or_default(),
                    e.error(),
                    e.debug().unwrap_or_default()
                ));
            }
            gst::MessageView::Warning(w) => eprintln!("warning: {}", w.error()),
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn generate(path: &str, seconds: u32, framerate: &str) -> Result<(), String> {
    let (n, d) = framerate
        .split_once('/')
        .and_then(|(n, d)| Some((n.parse::<u64>().ok()?, d.parse::<u64>().ok()?)))
        .filter(|&(n, d)| n > 0 && d > 0)
        .ok_or("bad --framerate")?;
    let frames = u64::from(seconds) * n / d;
    let desc = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! \
         video/x-raw,width=640,height=480,framerate={framerate} ! jpegenc quality=80 ! \
         multipartmux ! filesink location={path:?}"
    );
    let p = gst::parse::launch(&desc).map_err(|e| e.to_string())?;
    run(&p, |_| {})?;
    println!("generated {path}: {frames} frames of 640x480 MJPEG (multipart), {seconds} s");
    Ok(())
}

/// Frames and duration of the video track of an MP4 or MKV file.
fn inspect(path: &str) -> Result<(u64, gst::ClockTime), String> {
    let demux = if path.ends_with(".mkv") {
        "matroskademux"
    } else {
        "qtdemux"
    };
    let desc = format!("filesrc location={path:?} ! {demux} ! fakesink name=sink sync=false");
    let p = gst::parse::launch(&desc).map_err(|e| e.to_string())?;
    let bin = p.downcast_ref::<gst::Bin>().expect("a pipeline is a bin");
    let sink = bin.by_name("sink").expect("sink");
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    // Span of the presentation times: first PTS to last PTS + duration.
    let span = std::sync::Arc::new(std::sync::Mutex::new(
        None::<(gst::ClockTime, gst::ClockTime)>,
    ));
    let (counter, end) = (frames.clone(), span.clone());
    sink.static_pad("sink").expect("sink pad").add_probe(
        gst::PadProbeType::BUFFER,
        move |_, info| {
            if let Some(b) = info.buffer() {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let (Some(pts), Some(d)) = (b.pts(), b.duration()) {
                    let mut e = end.lock().unwrap();
                    let (lo, hi) = e.unwrap_or((pts, pts + d));
                    *e = Some((lo.min(pts), hi.max(pts + d)));
                }
            }
            gst::PadProbeReturn::Ok
        },
    );
    run(&p, |_| {})?;
    let d = span
        .lock()
        .unwrap()
        .map_or(gst::ClockTime::ZERO, |(lo, hi)| hi - lo);
    Ok((frames.load(std::sync::atomic::Ordering::Relaxed), d))
}

/// The frames of INPUT, through an element named `split` with mjpegsplit's
/// `stats`. A camera URL is read by mjpeghttpsrc (its splitter is named
/// `split`): it reconnects when the camera drops, fails or stalls, so the
/// recording goes on; Ctrl-C still ends it at the splitter.
fn source(input: &str, framerate: &str, live: bool) -> String {
    if live {
        format!("mjpeghttpsrc location={input:?} framerate={framerate}")
    } else {
        format!("filesrc location={input:?} ! mjpegsplit name=split framerate={framerate}")
    }
}

fn main() -> ExitCode {
    let Some(args) = parse_args() else {
        return usage();
    };
    gst::init().expect("GStreamer init");
    gstmjpegsplit::plugin_register_static().expect("register mjpegsplit");

    if let Some(seconds) = args.generate
        && let Err(e) = generate(&args.input, seconds, &args.framerate)
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let mux = if args.output.ends_with(".mkv") {
        "matroskamux"
    } else {
        "mp4mux"
    };
    let live = args.input.starts_with("http://") || args.input.starts_with("https://");
    let source = source(&args.input, &args.framerate, live);
    let desc = format!(
        "{source} ! jpegdec ! videoconvert ! \
         x264enc speed-preset=veryfast pass=quant quantizer={} ! {mux} ! filesink location={:?}",
        args.quality, args.output
    );
    let pipeline = match gst::parse::launch(&desc) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let split = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("split"))
        .expect("mjpegsplit in pipeline");
    // Ctrl-C: end the stream at mjpegsplit, so that the muxer finishes the file.
    let stopping = Arc::new(AtomicBool::new(false));
    {
        let stopping = stopping.clone();
        let split = split.downgrade();
        glib_unix::unix_signal_add(2, move || {
            if !stopping.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted: finishing the file");
                if let Some(pad) = split.upgrade().and_then(|s| s.static_pad("sink")) {
                    pad.send_event(gst::event::Eos::new());
                }
            }
            gst::glib::ControlFlow::Continue
        });
    }
    let started = std::time::Instant::now();
    let frames_of = |s: &gst::Element| {
        s.property::<gst::Structure>("stats")
            .get::<u64>("frames")
            .unwrap_or(0)
    };
    let result = run(&pipeline, |p| {
        let frames = frames_of(&split);
        let elapsed = started.elapsed().as_secs_f64();
        if live {
            eprint!("\r{frames} frames  {elapsed:.1} s ");
        } else {
            let pos = p.query_position::<gst::ClockTime>().unwrap_or_default();
            let dur = p.query_duration::<gst::ClockTime>();
            let speed = pos.seconds_f64() / elapsed.max(1e-3);
            let bar = dur.map_or(String::new(), |d| {
                let done = (pos.seconds_f64() / d.seconds_f64().max(1e-9) * 30.0) as usize;
                format!("[{:<30}] ", "#".repeat(done.min(30)))
            });
            eprint!(
                "\r{bar}{:.1} / {} s  {frames} frames  {speed:.1}x ",
                pos.seconds_f64(),
                dur.map_or("?".into(), |d| format!("{:.1}", d.seconds_f64()))
            );
        }
        let _ = std::io::stderr().flush();
    });
    eprintln!();
    if let Err(e) = result {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
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
    match inspect(&args.output) {
        Ok((frames, duration)) => {
            println!(
                "{}: {frames} frames, {:.3} s of H.264",
                args.output,
                duration.seconds_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error reading back {}: {e}", args.output);
            ExitCode::FAILURE
        }
    }
}
