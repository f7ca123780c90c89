// SPDX-License-Identifier: MIT OR Apache-2.0

//! Load client of `bench/serve.sh` (a benchmark, not a test): N clients of
//! an MJPEG-over-HTTP `/stream` (mjpeghttpsink or VLC), a thread each.
//!
//! ```text
//! serve_load --port P --pid SERVER_PID [--clients 1] [--seconds 10] [--idle 10]
//!            [--warmup 2] [--recording rec.mjpg] [--fps 15] [--slow BYTES_PER_S]
//!            [--rcvbuf 16384] [--label run]
//! serve_load --free-port        (prints a free TCP port on 127.0.0.1)
//! ```
//!
//! The server's CPU over `--idle` s with no client (its baseline); then the
//! clients connect, and once each has a frame and `--warmup` s have passed,
//! the window of `--seconds`: server CPU, this process's CPU, the machine's
//! busy time, frames per client, gaps in the recording's frame order, and
//! delay = receive time - X-Timestamp of each frame. `--slow` adds a client
//! reading at that rate with a small SO_RCVBUF; its lag at the end is given
//! by X-Timestamp and by frame index against the newest fast client (frames
//! are known by length and sampled bytes in `--recording`). Prints one
//! `RESULT key=value...` line. Parts are found by their Content-Length, in
//! HTTP/1.1 chunked bodies (hyper) or HTTP/1.0 close-delimited ones (VLC).

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What one client saw, read by the main thread while it runs.
#[derive(Default)]
struct Client {
    frames: AtomicU64,
    /// Bytes read (by the slow client only).
    bytes: AtomicU64,
    /// X-Timestamp of the last frame, in µs (0: none).
    last_ts_us: AtomicU64,
    /// Index in the recording of the last frame (-1: unknown).
    last_index: AtomicI64,
    /// The most the client was behind in the window: the largest (arrival of
    /// a frame - X-Timestamp of the frame before it), in µs.
    max_behind_us: AtomicU64,
    unmatched: AtomicU64,
    /// Frames of the recording skipped between two received, in the window.
    missed: AtomicU64,
    delays_ms: Mutex<Vec<f32>>,
    error: Mutex<Option<String>>,
}

/// USER_HZ, the unit of /proc's CPU times: 100 on Linux, whatever the kernel's HZ.
const CLK_TCK: f64 = 100.0;

struct Shared {
    port: u16,
    rcvbuf: i32,
    measuring: AtomicBool,
    /// (length, sampled hash) of each frame of the recording -> its index.
    frames: HashMap<(usize, u64), usize>,
}

fn main() {
    let args = Args::parse();
    let n = args.get("clients", 1usize);
    let slow = args.0.contains_key("slow").then(|| args.get("slow", 0.0));
    let pid = args.get("pid", 0u32);
    let label = args.get("label", "run".to_string());
    let recording = args.0.get("recording");
    let shared = Arc::new(Shared {
        port: args.get("port", 0),
        rcvbuf: args.get("rcvbuf", 16384),
        measuring: AtomicBool::new(false),
        frames: recording.map_or_else(HashMap::new, |p| load_recording(p)),
    });
    assert!(shared.port > 0, "--port is needed");
    let server_ticks = || (pid > 0).then(|| proc_ticks(&format!("/proc/{pid}/stat")));
    let server_ticks = || server_ticks().unwrap_or(0);

    // The baseline: the server with no client.
    let idle = args.get("idle", 10.0);
    let (t, c) = (Instant::now(), server_ticks());
    thread::sleep(Duration::from_secs_f64(idle));
    let idle_s = t.elapsed().as_secs_f64();
    let idle_pct = (server_ticks() - c) as f64 / CLK_TCK / idle_s * 100.0 * f64::from(idle > 0.0);

    let total = n + usize::from(slow.is_some());
    let clients: Vec<Arc<Client>> = (0..total).map(|_| Arc::default()).collect();
    let started = Instant::now();
    for (i, c) in clients.iter().enumerate() {
        let (c, shared, rate) = (c.clone(), shared.clone(), slow.filter(|_| i == n));
        c.last_index.store(-1, Relaxed);
        let spawned = thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                if let Err(e) = run_client(rate, &c, &shared) {
                    *c.error.lock().unwrap() = Some(e.to_string());
                }
            });
        spawned.expect("a client thread");
    }
    // Until every client has a frame (or failed), 30 s at most.
    let ready = |c: &Arc<Client>| c.frames.load(Relaxed) > 0 || c.error.lock().unwrap().is_some();
    while !clients.iter().all(ready) && started.elapsed() < Duration::from_secs(30) {
        thread::sleep(Duration::from_millis(50));
    }
    let ready_s = started.elapsed().as_secs_f64();
    thread::sleep(Duration::from_secs_f64(args.get("warmup", 2.0)));

    // The window.
    let ticks = || {
        [
            server_ticks(),
            proc_ticks("/proc/self/stat"),
            machine_ticks(),
        ]
    };
    let count = |f: fn(&Client) -> &AtomicU64| clients.iter().map(|c| f(c).load(Relaxed)).collect();
    let (frames0, bytes0): (Vec<u64>, Vec<u64>) = (count(|c| &c.frames), count(|c| &c.bytes));
    let (ticks0, t0) = (ticks(), Instant::now());
    shared.measuring.store(true, Relaxed);
    thread::sleep(Duration::from_secs_f64(args.get("seconds", 10.0)));
    shared.measuring.store(false, Relaxed);
    let (ticks1, window, now_us) = (ticks(), t0.elapsed().as_secs_f64(), unix_us());
    let rss_kb = server_rss_kb(pid);
    let (frames1, bytes1): (Vec<u64>, Vec<u64>) = (count(|c| &c.frames), count(|c| &c.bytes));

    let [server_pct, client_pct, machine_pct] =
        [0, 1, 2].map(|k| (ticks1[k] - ticks0[k]) as f64 / CLK_TCK / window * 100.0);
    let per_client_pct = (server_pct - idle_pct) / n.max(1) as f64;
    let fast = &clients[..n];
    let fps: Vec<f64> = (0..n)
        .map(|i| (frames1[i] - frames0[i]) as f64 / window)
        .collect();
    let fps_mean = fps.iter().sum::<f64>() / n.max(1) as f64;
    let fps_min = fps.iter().copied().reduce(f64::min).unwrap_or(0.0);
    let connected = fast.iter().filter(|c| c.frames.load(Relaxed) > 0).count();
    let mut delays: Vec<f32> = fast
        .iter()
        .flat_map(|c| c.delays_ms.lock().unwrap().clone())
        .collect();
    delays.sort_by(f32::total_cmp);
    let quantile = |q: f64| match delays.len() {
        0 => "na".to_string(),
        len => format!("{:.1}", delays[((len - 1) as f64 * q).round() as usize]),
    };
    let (p50, p99, delay_n) = (quantile(0.5), quantile(0.99), delays.len());
    let failed = clients
        .iter()
        .filter_map(|c| c.error.lock().unwrap().clone());
    let failed: Vec<String> = failed.collect();
    if let Some(e) = failed.first() {
        eprintln!(
            "serve_load {label}: {} client(s) failed; the first: {e}",
            failed.len()
        );
    }
    let errors = failed.len();
    let unmatched: u64 = fast.iter().map(|c| c.unmatched.load(Relaxed)).sum();
    let missed: u64 = fast.iter().map(|c| c.missed.load(Relaxed)).sum();
    let mut out = format!(
        "RESULT label={label} clients={n} connected={connected} errors={errors} ready_s={ready_s:.1} \
         window_s={window:.2} server_cpu_pct={server_pct:.2} idle_cpu_pct={idle_pct:.2} \
         per_client_cpu_pct={per_client_pct:.4} client_cpu_pct={client_pct:.1} \
         machine_busy_pct={machine_pct:.1} fps_mean={fps_mean:.2} fps_min={fps_min:.2} \
         delay_p50_ms={p50} delay_p99_ms={p99} delay_n={delay_n} unmatched={unmatched} missed={missed} server_rss_kb={rss_kb}"
    );
    if slow.is_some() {
        let s = &clients[n];
        let frames = frames1[n] - frames0[n];
        let kbps = (bytes1[n] - bytes0[n]) as f64 / window / 1e3;
        let lag_ts = match s.last_ts_us.load(Relaxed) {
            0 => "na".to_string(),
            t => format!("{:.2}", (now_us as f64 - t as f64) / 1e6),
        };
        let newest = fast.iter().map(|c| c.last_index.load(Relaxed)).max();
        let lag_index = match (s.last_index.load(Relaxed), newest) {
            (j, Some(k)) if j >= 0 && k >= 0 => {
                format!("{:.2}", (k - j) as f64 / args.get("fps", 15.0))
            }
            _ => "na".to_string(),
        };
        let max_behind = match s.max_behind_us.load(Relaxed) {
            0 => "na".to_string(),
            us => format!("{:.2}", us as f64 / 1e6),
        };
        out += &format!(
            " slow_frames={frames} slow_fps={:.2} slow_kBps={kbps:.1} slow_lag_ts_s={lag_ts} \
             slow_max_behind_s={max_behind} slow_lag_index_s={lag_index} slow_unmatched={}",
            frames as f64 / window,
            s.unmatched.load(Relaxed)
        );
    }
    println!("{out}");
    // The client threads still block in reads: leaving ends them.
    std::process::exit(0);
}

fn run_client(slow: Option<f64>, me: &Arc<Client>, shared: &Shared) -> io::Result<()> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, shared.port))?;
    if slow.is_some() {
        // Before the request, so that no byte came in yet.
        set_rcvbuf(&stream, shared.rcvbuf)?;
    }
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: serve_load\r\n\r\n")?;
    let raw: Box<dyn Read> = match slow {
        Some(rate) => Box::new(Throttled(stream, rate, Instant::now(), me.clone())),
        None => Box::new(stream),
    };
    let capacity = if slow.is_some() { 2048 } else { 64 * 1024 };
    let mut r = BufReader::with_capacity(capacity, raw);
    let mut line = Vec::new();
    let status = read_line(&mut r, &mut line)?;
    if !status.starts_with("HTTP/1.") || status.split(' ').nth(1) != Some("200") {
        return Err(io::Error::other(format!("answered {status:?}")));
    }
    let mut chunked = false;
    loop {
        let h = read_line(&mut r, &mut line)?.to_ascii_lowercase();
        if h.is_empty() {
            break;
        }
        chunked |= h.starts_with("transfer-encoding:") && h.contains("chunked");
    }
    if chunked {
        let mut body = Chunked {
            inner: r,
            left: 0,
            crlf: false,
            done: false,
        };
        parts(&mut body, me, shared)
    } else {
        parts(&mut r, me, shared)
    }
}

/// Parts found by their Content-Length; boundary lines and blank lines
/// between parts are skipped, wherever they are.
fn parts(r: &mut dyn BufRead, me: &Client, shared: &Shared) -> io::Result<()> {
    let (mut line, mut frame) = (Vec::new(), Vec::new());
    let (mut len, mut ts): (Option<usize>, Option<f64>) = (None, None);
    loop {
        let l = read_line(r, &mut line)?;
        if l.starts_with("--") {
            (len, ts) = (None, None);
        } else if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().ok(),
                "x-timestamp" => ts = v.trim().parse().ok(),
                _ => {}
            }
        } else if let Some(n) = len.take().filter(|_| l.is_empty()) {
            frame.resize(n, 0);
            r.read_exact(&mut frame)?;
            let (now, measuring) = (unix_us(), shared.measuring.load(Relaxed));
            me.frames.fetch_add(1, Relaxed);
            if let Some(t) = ts.take() {
                let before = me.last_ts_us.swap((t * 1e6) as u64, Relaxed);
                if measuring && before > 0 {
                    me.max_behind_us
                        .fetch_max(now.saturating_sub(before), Relaxed);
                }
                if measuring {
                    let delay_ms = (now as f64 - t * 1e6) / 1e3;
                    me.delays_ms.lock().unwrap().push(delay_ms as f32);
                }
            }
            if shared.frames.is_empty() {
                continue;
            }
            let Some(&i) = shared.frames.get(&(n, sample_hash(&frame))) else {
                me.unmatched.fetch_add(1, Relaxed);
                continue;
            };
            let last = me.last_index.swap(i as i64, Relaxed);
            if measuring && last >= 0 && i as i64 > last + 1 {
                me.missed.fetch_add(i as u64 - last as u64 - 1, Relaxed);
            }
        }
    }
}

/// One line without its CRLF; an error at the end of the stream.
fn read_line<'a>(r: &mut dyn BufRead, buf: &'a mut Vec<u8>) -> io::Result<&'a str> {
    buf.clear();
    if r.read_until(b'\n', buf)? == 0 {
        return Err(io::Error::other("the server closed the stream"));
    }
    while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        buf.pop();
    }
    std::str::from_utf8(buf).map_err(|_| io::Error::other("a header line is not UTF-8"))
}

/// An HTTP/1.1 chunked body, decoded in place over the reader below it.
struct Chunked<R> {
    inner: R,
    left: usize,
    crlf: bool,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let b = self.fill_buf()?;
        let n = b.len().min(out.len());
        out[..n].copy_from_slice(&b[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Chunked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let mut line = Vec::new();
        while self.left == 0 && !self.done {
            if self.crlf && !read_line(&mut self.inner, &mut line)?.is_empty() {
                return Err(io::Error::other("no CRLF after a chunk"));
            }
            let size = read_line(&mut self.inner, &mut line)?;
            let size = size.split(';').next().unwrap_or("").trim();
            self.left = usize::from_str_radix(size, 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {size:?}")))?;
            (self.crlf, self.done) = (true, self.left == 0);
        }
        if self.done {
            return Ok(&[]);
        }
        let left = self.left;
        let b = self.inner.fill_buf()?;
        Ok(&b[..b.len().min(left)])
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.left -= n;
    }
}

/// Reads at most `.1` bytes per second on average since `.2`, 2 KiB at a
/// time, and counts them in the client's `bytes`.
struct Throttled(TcpStream, f64, Instant, Arc<Client>);

impl Read for Throttled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let due = Duration::from_secs_f64(self.3.bytes.load(Relaxed) as f64 / self.1);
        if let Some(wait) = due.checked_sub(self.2.elapsed()) {
            thread::sleep(wait);
        }
        let n = buf.len().min(2048);
        let n = self.0.read(&mut buf[..n])?;
        self.3.bytes.fetch_add(n as u64, Relaxed);
        Ok(n)
    }
}

/// The server's resident memory now (VmRSS), in kB; 0 if unknown.
fn server_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// SO_RCVBUF (the kernel doubles it), through socket2 (std has no call).
fn set_rcvbuf(stream: &TcpStream, bytes: i32) -> io::Result<()> {
    socket2::SockRef::from(stream).set_recv_buffer_size(bytes.max(0) as usize)
}

/// FNV-1a of the length and 16 slices of 32 bytes spread over the frame:
/// enough to tell the frames of one recording apart, at a small cost.
fn sample_hash(f: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    f.len().to_le_bytes().into_iter().for_each(&mut eat);
    let span = f.len().saturating_sub(32);
    for k in 0..16 {
        let at = span * k / 15;
        f[at..(at + 32).min(f.len())].iter().for_each(|&b| eat(b));
    }
    h
}

/// The frames of a raw concatenated JPEG file (jpegenc's output: a frame
/// ends with FF D9, the next starts with FF D8).
fn load_recording(path: &str) -> HashMap<(usize, u64), usize> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut starts = vec![0];
    let boundary = |i: &usize| data[i - 2..i + 2] == [0xff, 0xd9, 0xff, 0xd8];
    starts.extend((2..data.len().saturating_sub(1)).filter(boundary));
    starts.push(data.len());
    let mut frames = HashMap::new();
    for (i, w) in starts.windows(2).enumerate() {
        let f = &data[w[0]..w[1]];
        if frames.insert((f.len(), sample_hash(f)), i).is_some() {
            eprintln!("serve_load: frame {i} of {path} looks like an earlier one");
        }
    }
    frames
}

/// utime + stime of a process (all its threads), in clock ticks.
fn proc_ticks(stat: &str) -> u64 {
    let s = std::fs::read_to_string(stat).unwrap_or_default();
    // After "pid (comm) ": state is field 3, utime 14 and stime 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let fields = rest.split_whitespace().skip(11).take(2);
    fields.filter_map(|v| v.parse::<u64>().ok()).sum()
}

/// The machine's busy clock ticks, all cores (not idle, not iowait).
fn machine_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = s.lines().next().unwrap_or("").split_whitespace().skip(1);
    let v: Vec<u64> = cpu.take(8).filter_map(|x| x.parse().ok()).collect();
    v.iter().sum::<u64>() - v.get(3).unwrap_or(&0) - v.get(4).unwrap_or(&0)
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `--name value` pairs.
struct Args(HashMap<String, String>);

impl Args {
    const NAMES: &str = "port pid clients seconds idle warmup recording fps slow rcvbuf label";

    fn parse() -> Args {
        let mut m = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--free-port" {
                let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
                println!("{}", l.local_addr().expect("its address").port());
                std::process::exit(0);
            }
            let name = flag
                .strip_prefix("--")
                .filter(|n| Self::NAMES.split(' ').any(|k| k == *n));
            let name =
                name.unwrap_or_else(|| panic!("unknown argument {flag}: see bench/serve_load.rs"));
            let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            m.insert(name.to_string(), value);
        }
        Args(m)
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.0.get(name) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value for --{name}: {v:?}")),
        }
    }
}
