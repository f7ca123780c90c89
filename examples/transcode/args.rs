// SPDX-License-Identifier: MIT OR Apache-2.0

//! The transcoder's command line: options, frame rates.

pub const USAGE: &str = "\
usage: transcode [--generate SECONDS] [--framerate RATE] [--quality 0-51] [--camera|--once] [--debug] INPUT OUTPUT
  INPUT          an MJPEG recording (raw JPEGs, multipart, curl -i), a named pipe, a
                 container file (AVI, MOV/MP4, MKV...: read by decodebin, audio included),
                 or an http(s):// URL: a camera (an endless multipart stream, read live
                 and reconnected) or a file on a web server (read once)
  OUTPUT         name ending in .mp4, .mkv, .avi or .mov (any case): the container
  --generate S   write an S-second MJPEG test recording to INPUT first
  --framerate    frame rate of the recording: 15, 12.5, 29.97 (= 30000/1001) or N/D
                 (default: what the stream says: X-Timestamp/X-Framerate part headers,
                 caps, else 30; --generate writes 15 fps in such headers)
  --quality      x264 constant quantizer, lower is better (default 21)
  --camera       read the URL as a camera (live, reconnecting), whatever the server says
  --once         read the URL once, as a file, whatever the server says
  --debug        also print GStreamer's debug details of an error (as GST_DEBUG does)";

pub struct Args {
    pub generate: Option<u32>,
    /// `N/D`, as the `framerate` property and `generate()` take it.
    pub framerate: String,
    pub quality: u32,
    pub debug: bool,
    /// `--camera`: Some(true); `--once`: Some(false); else what the server says.
    pub camera: Option<bool>,
    pub input: String,
    pub output: String,
}

/// `Ok(None)`: help was asked for.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = args.into_iter();
    let mut a = Args {
        generate: None,
        framerate: String::new(),
        quality: 21,
        debug: false,
        camera: None,
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
            "--camera" => a.camera = Some(true),
            "--once" => a.camera = Some(false),
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
pub fn parse_rate(s: &str) -> Option<(u64, u64)> {
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
