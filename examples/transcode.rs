// SPDX-License-Identifier: MIT OR Apache-2.0

//! Transcode an MJPEG recording (raw JPEGs, a multipart body or a `curl -i`
//! capture) or a camera URL to H.264 in MP4, Matroska, AVI or QuickTime
//! (picked from the output name), with a progress line, then report what
//! was written.
//!
//! ```text
//! cargo run --release --example transcode -- [--generate SECONDS] [--framerate RATE] [--quality 0-51] [--debug] INPUT OUTPUT.(mp4|mkv|avi|mov)
//! ```
//!
//! INPUT is a file or an `http(s)://` URL (read live). `--generate` first
//! writes a test recording to INPUT (640x480 at the frame rate, as a
//! multipart stream like `curl http://cam:8080/?action=stream > INPUT` from
//! mjpg-streamer, each part with `X-Timestamp` and `X-Framerate`). RATE is
//! `15`, `12.5`, `29.97` (= 30000/1001) or `N/D`. Ctrl-C ends the output file
//! cleanly. A run that fails leaves no output file behind unless the file
//! could be finished with what had been written.

use gst::prelude::*;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const USAGE: &str = "\
usage: transcode [--generate SECONDS] [--framerate RATE] [--quality 0-51] [--debug] INPUT OUTPUT
  INPUT          an MJPEG recording (raw JPEGs, multipart, curl -i) or an http:// camera URL
  OUTPUT         name ending in .mp4, .mkv, .avi or .mov: the container is picked from it
  --generate S   write an S-second MJPEG test recording to INPUT first
  --framerate    frame rate of the recording: 15, 12.5, 29.97 (= 30000/1001) or N/D
                 (default: what the stream says: X-Timestamp/X-Framerate part headers,
                 caps, else 30; --generate writes 15 fps in such headers)
  --quality      x264 constant quantizer, lower is better (default 21)
  --debug        also print GStreamer's debug details of an error (as GST_DEBUG does)";

struct Args {
    generate: Option<u32>,
    /// `N/D`, as the `framerate` property and `generate()` take it.
    framerate: String,
    quality: u32,
    debug: bool,
    input: String,
    output: String,
}

/// `Ok(None)`: help was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = args.into_iter();
    let mut a = Args {
        generate: None,
        framerate: String::new(),
        quality: 21,
        debug: false,
        input: String::new(),
        output: String::new(),
    };
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value ({what})"))
        };
        match arg.as_str() {
            "--generate" => {
                let v = value("seconds")?;
                a.generate = Some(v.parse().map_err(|_| {
                    format!("--generate {v:?}: give the length of the test recording in whole seconds, e.g. 10")
                })?);
            }
            "--framerate" => {
                let v = value("frames per second")?;
                let (n, d) = parse_rate(&v).ok_or_else(|| {
                    format!(
                        "--framerate {v:?}: give frames per second as 15, 12.5, 29.97 or 30000/1001"
                    )
                })?;
                a.framerate = format!("{n}/{d}");
            }
            "--quality" => {
                let v = value("0-51")?;
                a.quality = v.parse().ok().filter(|q| *q <= 51).ok_or_else(|| {
                    format!("--quality {v:?}: give x264's quantizer, 0 (lossless) to 51 (worst); 21 is the default")
                })?;
            }
            "--debug" => a.debug = true,
            "-h" | "--help" => return Ok(None),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => positional.push(arg),
        }
    }
    let n = positional.len();
    let [input, output] = <[String; 2]>::try_from(positional)
        .map_err(|_| format!("give an INPUT and an OUTPUT ({n} names given)"))?;
    a.input = input;
    a.output = output;
    if a.framerate.is_empty() {
        a.framerate = "0/1".into();
    }
    Ok(Some(a))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A frame rate as a fraction: `25` → 25/1, `12.5` → 25/2, `N/D` as given,
/// and the NTSC rates written as decimals (`29.97`, `23.976`, `59.94`) →
/// 30000/1001, 24000/1001, 60000/1001. `0` means "not set".
fn parse_rate(s: &str) -> Option<(u64, u64)> {
    let digits = |t: &str| !t.is_empty() && t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit());
    let (n, d) = if let Some((n, d)) = s.split_once('/') {
        if !digits(n) || !digits(d) {
            return None;
        }
        (n.parse().ok()?, d.parse::<u64>().ok().filter(|d| *d > 0)?)
    } else if let Some((int, frac)) = s.split_once('.') {
        if !(digits(int) || int.is_empty()) || !digits(frac) || frac.len() > 6 {
            return None;
        }
        let scale = 10u64.pow(frac.len() as u32);
        let n = int.parse::<u64>().unwrap_or(0) * scale + frac.parse::<u64>().ok()?;
        // A decimal that is a rounded k × 1000/1001 is the NTSC rate.
        let k = (n as f64 * 1.001 / scale as f64).round() as u64;
        let ntsc = k as f64 * 1000.0 / 1001.0;
        if !n.is_multiple_of(scale)
            && k > 0
            && (ntsc - n as f64 / scale as f64).abs() < 0.5 / scale as f64
        {
            (k * 1000, 1001)
        } else {
            (n, scale)
        }
    } else {
        if !digits(s) {
            return None;
        }
        (s.parse().ok()?, 1)
    };
    let g = gcd(n, d).max(1);
    let (n, d) = (n / g, if n == 0 { 1 } else { d / g });
    (n <= i32::MAX as u64 && d <= i32::MAX as u64).then_some((n, d))
}

/// Muxer and demuxer for an output name.
fn container(output: &str) -> Result<(&'static str, &'static str), String> {
    let ext = std::path::Path::new(output)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("mp4") => Ok(("mp4mux", "qtdemux")),
        Some("mov") => Ok(("qtmux", "qtdemux")),
        Some("mkv") => Ok(("matroskamux", "matroskademux")),
        Some("avi") => Ok(("avimux", "avidemux")),
        _ => Err(format!(
            "cannot tell the container from the output name {output:?}: end it in .mp4, .mkv, .avi or .mov"
        )),
    }
}

/// What went wrong, from the first ERROR message on the bus.
struct Failure {
    /// Name of the element that posted it.
    element: String,
    error: gst::glib::Error,
    debug: Option<String>,
}

impl From<Failure> for String {
    fn from(f: Failure) -> String {
        f.error.to_string()
    }
}

fn failure(msg: &gst::message::Error) -> Failure {
    Failure {
        element: msg.src().map(|s| s.name().to_string()).unwrap_or_default(),
        error: msg.error(),
        debug: msg.debug().map(|d| d.to_string()),
    }
}

/// Set the pipeline playing and run it to EOS or its first error, calling
/// `tick` twice a second. GLib sources of the default main context (the
/// Ctrl-C handler) are dispatched meanwhile. Leaves the pipeline's state.
fn drive(pipeline: &gst::Element, tick: &mut dyn FnMut(&gst::Element)) -> Result<(), Failure> {
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
            _ => {}
        }
    }
}

/// Run a pipeline to EOS, calling `tick` twice a second, then stop it.
fn run(pipeline: &gst::Element, mut tick: impl FnMut(&gst::Element)) -> Result<(), Failure> {
    let result = drive(pipeline, &mut tick);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// After an error upstream of the muxer, wait (up to `seconds`) for the
/// EOS that lets the muxer finish the file. True if it came. Stopping the
/// pipeline while mp4mux is still handling an EOS on a pad that never got
/// caps makes it print GStreamer-CRITICAL lines (GStreamer 1.22): waiting
/// for that EOS avoids them too.
fn finish_after_error(pipeline: &gst::Element, seconds: u64) -> bool {
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

/// Frames and duration of the video track of the file written.
fn inspect(path: &str, demux: &str) -> Result<(u64, gst::ClockTime), String> {
    let desc = format!("filesrc location={path:?} ! {demux} ! fakesink name=sink sync=false");
    let p = gst::parse::launch(&desc).map_err(|e| e.to_string())?;
    let bin = p.downcast_ref::<gst::Bin>().expect("a pipeline is a bin");
    let sink = bin.by_name("sink").expect("sink");
    let frames = Arc::new(AtomicU64::new(0));
    // Span of the presentation times: first PTS to last PTS + duration.
    let span = Arc::new(Mutex::new(None::<(gst::ClockTime, gst::ClockTime)>));
    let (counter, end) = (frames.clone(), span.clone());
    sink.static_pad("sink").expect("sink pad").add_probe(
        gst::PadProbeType::BUFFER,
        move |_, info| {
            if let Some(b) = info.buffer() {
                counter.fetch_add(1, Ordering::Relaxed);
                // avidemux gives H.264 frames a DTS only.
                if let (Some(pts), Some(d)) = (b.pts().or(b.dts()), b.duration()) {
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
    Ok((frames.load(Ordering::Relaxed), d))
}

/// Why INPUT cannot be read, for a file.
fn check_input(input: &str) -> Result<(), String> {
    match std::fs::metadata(input) {
        Ok(m) if m.is_dir() => Err(format!(
            "{input} is a directory: give the path of an MJPEG recording"
        )),
        Ok(_) => std::fs::File::open(input)
            .map(|_| ())
            .map_err(|e| format!("cannot read {input}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{input} does not exist: give the path of an MJPEG recording, or an http:// camera URL"
        )),
        Err(e) => Err(format!("cannot read {input}: {e}")),
    }
}

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

fn print_error(e: &Failure, input: &str, live: bool, debug: bool) {
    // "Internal data stream error." only says that a streaming thread
    // stopped; from the source of a camera it means no usable answer.
    let from_source = !matches!(e.element.as_str(), "split" | "enc" | "mux" | "sink" | "")
        && !e.element.starts_with("jpegdec")
        && !e.element.starts_with("videoconvert");
    if live && from_source && e.error.matches(gst::StreamError::Failed) {
        eprintln!(
            "error: no video from {input}: the camera did not answer or closed the connection \
             (is it on, and is the URL right? open it in a browser to check)"
        );
    } else {
        eprintln!("error: {}", e.error);
    }
    if debug && let Some(d) = &e.debug {
        eprintln!("debug ({}): {d}", e.element);
    }
}

/// The frames of INPUT, through an element named `split` with mjpegsplit's
/// `stats`. A camera URL is read by mjpeghttpsrc (its splitter is named
/// `split`): it reconnects when the camera drops, fails or stalls, so the
/// recording goes on; Ctrl-C still ends it at the splitter.
fn source(input: &str, framerate: &str, live: bool) -> String {
    if live {
        // Three failed attempts in a row (about 3.5 s without the camera)
        // end the file; camera_recorder keeps trying for ever.
        format!("mjpeghttpsrc location={input:?} framerate={framerate} max-retries=3")
    } else {
        format!("filesrc location={input:?} ! mjpegsplit name=split framerate={framerate}")
    }
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
    let (mux, demux) = match container(&args.output) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    gst::init().expect("GStreamer init");
    gstmjpegsplit::plugin_register_static().expect("register mjpegsplit");

    if let Some(seconds) = args.generate
        // A generated recording carries its rate in its part headers; the
        // pipeline below then takes it from there, as from a camera's.
        && let Err(e) = generate(
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
    let live = args.input.starts_with("http://") || args.input.starts_with("https://");
    if let Err(e) = (if live {
        Ok(())
    } else {
        check_input(&args.input)
    })
    .and_then(|_| check_output(&args.input, &args.output))
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let source = source(&args.input, &args.framerate, live);
    let desc = format!(
        "{source} ! jpegdec ! videoconvert ! \
         x264enc name=enc speed-preset=veryfast pass=quant quantizer={} ! {mux} name=mux ! \
         filesink name=sink location={:?}",
        args.quality, args.output
    );
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
    let split = bin.by_name("split").expect("mjpegsplit in pipeline");

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
        if let Some(pad) = split.static_pad("sink") {
            pad.send_event(gst::event::Eos::new());
        }
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
            "interrupted before the first frame: nothing to write".into()
        } else {
            format!("{} gave no frame", args.input)
        };
        result = Err(Failure {
            element: String::new(),
            error: gst::glib::Error::new(gst::StreamError::Failed, &message),
            debug: None,
        });
        finished = false;
    }
    if let Err(e) = &result {
        print_error(e, &args.input, live, debug);
        if finished {
            eprintln!(
                "{}: finished with the {frames} frames written before the error",
                args.output
            );
        } else {
            // An empty or unfinished file is of no use: do not leave it.
            if std::fs::remove_file(&args.output).is_ok() {
                eprintln!("{} not written", args.output);
            }
            return ExitCode::FAILURE;
        }
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
    match inspect(&args.output, demux) {
        Ok((frames, duration)) => {
            println!(
                "{}: {frames} frames, {:.3} s of H.264",
                args.output,
                duration.seconds_f64()
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
