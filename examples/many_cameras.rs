// SPDX-License-Identifier: MIT OR Apache-2.0

//! Many cameras in one process: N `mjpeghttpsrc` elements in one pipeline,
//! reading N streams of a local test server (a child process, so that its
//! CPU time is not counted) at a given frame rate. Reports the frames each
//! camera got and the client's CPU time per camera.
//!
//! ```text
//! cargo run --release --example many_cameras -- [--cameras 50] [--fps 15] [--seconds 20] [--decode] [--pattern ball|snow|…]
//! ```
//!
//! The frames are 640x480 JPEGs (videotestsrc through jpegenc), sent as an
//! Axis-style multipart stream. With `--decode` each camera is also decoded
//! by jpegdec. CPU time comes from /proc/self/stat (the same counters as
//! getrusage(RUSAGE_SELF)), measured over the steady state after a 2 s warm-up.

use gst::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    cameras: usize,
    fps: u32,
    seconds: u64,
    decode: bool,
    serve: bool,
    /// videotestsrc pattern of the frames (ball: ~10 KB, snow: ~100 KB+).
    pattern: String,
}

fn parse_args() -> Option<Args> {
    let mut a = Args {
        cameras: 50,
        fps: 15,
        seconds: 20,
        decode: false,
        serve: false,
        pattern: "ball".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--cameras" => a.cameras = it.next()?.parse().ok()?,
            "--fps" => a.fps = it.next()?.parse().ok().filter(|f| *f > 0)?,
            "--seconds" => a.seconds = it.next()?.parse().ok()?,
            "--decode" => a.decode = true,
            "--serve" => a.serve = true,
            "--pattern" => a.pattern = it.next()?,
            _ => return None,
        }
    }
    Some(a)
}

/// Ignore a closed stdout (`| head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn jpeg_frames(n: usize, pattern: &str) -> Vec<Vec<u8>> {
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern={pattern} num-buffers={n} ! video/x-raw,width=640,height=480 ! \
         jpegenc quality=85 ! appsink name=out sync=false"
    ))
    .expect("frame generator")
    .downcast::<gst::Bin>()
    .expect("bin");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("play");
    let frames = std::iter::from_fn(|| sink.pull_sample().ok())
        .map(|s| {
            s.buffer()
                .expect("buffer")
                .map_readable()
                .expect("map")
                .to_vec()
        })
        .collect();
    let _ = pipeline.set_state(gst::State::Null);
    frames
}

/// The server: one thread per connection, frames paced at `fps`.
fn serve(args: &Args) {
    let frames = Arc::new(jpeg_frames(args.fps as usize, &args.pattern));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mean = frames.iter().map(Vec::len).sum::<usize>() / frames.len().max(1);
    out!("{} {mean}", listener.local_addr().expect("addr").port());
    let fps = args.fps;
    for conn in listener.incoming().flatten() {
        let frames = frames.clone();
        std::thread::spawn(move || {
            let _ = stream(conn, &frames, fps);
        });
    }
}

fn stream(conn: TcpStream, frames: &[Vec<u8>], fps: u32) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let mut conn = conn;
    conn.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\
          Connection: close\r\n\r\n",
    )?;
    let interval = Duration::from_secs(1) / fps;
    let start = Instant::now();
    for k in 0.. {
        let jpeg = &frames[k % frames.len()];
        let mut part = format!(
            "--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        )
        .into_bytes();
        part.extend_from_slice(jpeg);
        part.extend_from_slice(b"\r\n");
        conn.write_all(&part)?;
        let next = start + interval * (k as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // After the command name: state is field 3, utime 14 and stime 15.
    let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok());
    let total = ticks(14).unwrap_or(0) + ticks(15).unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(total * 10)
}

fn main() -> std::process::ExitCode {
    let Some(args) = parse_args() else {
        let _ = writeln!(
            std::io::stderr(),
            "usage: many_cameras [--cameras N] [--fps F] [--seconds S] [--decode] [--pattern P]"
        );
        return std::process::ExitCode::from(2);
    };
    gst::init().expect("GStreamer init");
    gstmjpegsplit::plugin_register_static().expect("register mjpegsplit");
    if args.serve {
        serve(&args);
        return std::process::ExitCode::SUCCESS;
    }

    let mut server = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--serve",
            "--fps",
            &args.fps.to_string(),
            "--pattern",
            &args.pattern,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut port = String::new();
    let mut server_out = server.stdout.take().expect("server stdout");
    let mut byte = [0u8; 1];
    while server_out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        port.push(byte[0] as char);
    }
    let (port, frame_size) = port
        .trim()
        .split_once(' ')
        .expect("server port and frame size");
    let port: u16 = port.parse().expect("server port");

    let tail = if args.decode {
        "jpegdec ! fakesink sync=false"
    } else {
        "fakesink sync=false"
    };
    let desc: Vec<String> = (0..args.cameras)
        .map(|i| {
            format!("mjpeghttpsrc name=cam{i} location=http://127.0.0.1:{port}/cam{i} ! {tail}")
        })
        .collect();
    let pipeline = gst::parse::launch(&desc.join(" ")).expect("pipeline");
    let bin = pipeline.downcast_ref::<gst::Bin>().expect("bin");
    let cams: Vec<gst::Element> = (0..args.cameras)
        .map(|i| bin.by_name(&format!("cam{i}")).expect("camera"))
        .collect();
    let stat = |c: &gst::Element, f: &str| {
        c.property::<gst::Structure>("stats")
            .get::<u64>(f)
            .unwrap_or(0)
    };
    pipeline.set_state(gst::State::Playing).expect("play");
    let warmup = Duration::from_secs(2);
    std::thread::sleep(warmup);
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let frames0: Vec<u64> = cams.iter().map(|c| stat(c, "frames")).collect();
    std::thread::sleep(Duration::from_secs(args.seconds));
    let (cpu1, t1) = (cpu_time(), Instant::now());
    let frames1: Vec<u64> = cams.iter().map(|c| stat(c, "frames")).collect();
    let reconnects: u64 = cams
        .iter()
        .map(|c| stat(c, "connects").saturating_sub(1) + stat(c, "stalls"))
        .sum();
    let errors = pipeline
        .bus()
        .expect("bus")
        .iter()
        .filter(|m| matches!(m.view(), gst::MessageView::Error(_)))
        .count();
    let _ = pipeline.set_state(gst::State::Null);
    let _ = server.kill();
    let _ = server.wait();

    let wall = (t1 - t0).as_secs_f64();
    let mut per: Vec<u64> = frames1.iter().zip(&frames0).map(|(b, a)| b - a).collect();
    per.sort_unstable();
    let expected = args.fps as f64 * wall;
    let cpu = (cpu1 - cpu0).as_secs_f64();
    out!(
        "{} cameras at {} fps, 640x480 JPEG of {frame_size} bytes ({}, {} per camera), \
         {:.1} s measured after {} s warm-up",
        args.cameras,
        args.fps,
        args.pattern,
        if args.decode {
            "decoded"
        } else {
            "not decoded"
        },
        wall,
        warmup.as_secs()
    );
    out!(
        "frames per camera: min {} median {} max {} (expected {:.0}); total {:.0} frames/s",
        per[0],
        per[per.len() / 2],
        per[per.len() - 1],
        expected,
        per.iter().sum::<u64>() as f64 / wall
    );
    out!(
        "client CPU: {:.2} s in {:.1} s = {:.1} % of one core in all, {:.2} % per camera, \
         {:.1} us per frame",
        cpu,
        wall,
        cpu / wall * 100.0,
        cpu / wall * 100.0 / args.cameras as f64,
        cpu * 1e6 / per.iter().sum::<u64>().max(1) as f64
    );
    out!("reconnects or stalls: {reconnects}; errors: {errors}");
    std::process::ExitCode::SUCCESS
}
