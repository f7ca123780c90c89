// SPDX-License-Identifier: MIT OR Apache-2.0

//! Why a connection failed when souphttpsrc says only "Internal data stream
//! error" (libsoup 3 keeps its reason in a debug log): the host name is
//! resolved, a TCP connection tried, an `http://` URL asked for its status
//! (redirects followed, a loop found) and an `https://` URL opened once
//! without certificate checks (it works: the certificate is the cause).
//!
//! Runs on a thread of its own: a DNS server that does not answer must not
//! hold up a state change.

use super::url::Location;
use gst::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 10;

/// The true reason of a failed connection, and whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub reason: String,
    pub permanent: bool,
}

impl Diagnosis {
    fn retry(reason: String) -> Self {
        Diagnosis {
            reason,
            permanent: false,
        }
    }
    fn fatal(reason: String) -> Self {
        Diagnosis {
            reason,
            permanent: true,
        }
    }
}

/// What the failing source was told, for the probes.
#[derive(Debug, Clone)]
pub struct Probe {
    pub location: Location,
    pub ssl_strict: bool,
    pub ssl_ca_file: Option<String>,
    /// A proxy is in use: the camera cannot be probed directly.
    pub proxied: bool,
}

/// Start a diagnosis; its result arrives on the channel.
pub fn spawn(probe: Probe) -> mpsc::Receiver<Diagnosis> {
    let (tx, rx) = mpsc::channel();
    let _ = std::thread::Builder::new()
        .name("mjpeghttpsrc-diag".into())
        .spawn(move || {
            let _ = tx.send(diagnose(&probe));
        });
    rx
}

pub fn diagnose(p: &Probe) -> Diagnosis {
    let loc = &p.location;
    let generic = "no answer (the connection was refused, reset or closed)".to_string();
    if p.proxied {
        return Diagnosis::retry(format!("{generic}, through the proxy"));
    }
    let addrs: Vec<_> = match (loc.host.as_str(), loc.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return Diagnosis::fatal(format!("cannot resolve {}", loc.host)),
    };
    if addrs.is_empty() {
        return Diagnosis::fatal(format!("cannot resolve {}", loc.host));
    }
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, TIMEOUT) {
            Ok(s) => {
                last = None;
                drop(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let hostport = format!("{}:{}", loc.host, loc.port);
    if let Some(e) = last {
        return Diagnosis::retry(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("connection refused by {hostport}"),
            std::io::ErrorKind::TimedOut => format!("no answer from {hostport} (timed out)"),
            _ => format!("cannot connect to {hostport}: {e}"),
        });
    }
    if loc.https {
        if p.ssl_strict && tls_works_unverified(p) {
            let by = match &p.ssl_ca_file {
                Some(f) => format!("not signed by a CA of ssl-ca-file {f}"),
                None => "self-signed or not trusted".to_string(),
            };
            return Diagnosis::fatal(format!(
                "the TLS certificate of {} was refused ({by}): give its CA with \
                 ssl-ca-file=FILE, or set ssl-strict=false to accept any certificate",
                loc.host
            ));
        }
        return Diagnosis::retry(generic);
    }
    match redirects(loc) {
        Some(d) => d,
        None => Diagnosis::retry(format!(
            "{hostport} closed the connection without an answer"
        )),
    }
}

/// Follow the redirects of an `http://` URL by hand; a loop is fatal.
/// None when the server gave no HTTP answer.
fn redirects(loc: &Location) -> Option<Diagnosis> {
    let mut seen = vec![loc.clean.clone()];
    let (mut host, mut port, mut path) = (loc.host.clone(), loc.port, loc.path.clone());
    for _ in 0..MAX_REDIRECTS {
        let (status, target) = head(&host, port, &path)?;
        if !(300..400).contains(&status) {
            return Some(Diagnosis::retry(format!(
                "the connection failed after an HTTP {status} answer"
            )));
        }
        let Some(target) = target else {
            return Some(Diagnosis::fatal(format!(
                "HTTP {status}: a redirect without a Location"
            )));
        };
        let next = if target.starts_with('/') {
            format!("http://{host}:{port}{target}")
        } else {
            target
        };
        let shown = super::url::redact(&next);
        if seen.iter().any(|s| same_url(s, &next)) || seen.len() > MAX_REDIRECTS {
            return Some(Diagnosis::fatal(format!(
                "redirect loop: the server redirects back to {shown}"
            )));
        }
        seen.push(next.clone());
        match super::url::parse(Some(&next)) {
            Ok(l) if !l.https => (host, port, path) = (l.host, l.port, l.path),
            _ => return Some(Diagnosis::retry(format!("redirected to {shown}"))),
        }
    }
    Some(Diagnosis::fatal(format!(
        "redirect loop: more than {MAX_REDIRECTS} redirects"
    )))
}

fn same_url(a: &str, b: &str) -> bool {
    match (super::url::parse(Some(a)), super::url::parse(Some(b))) {
        (Ok(a), Ok(b)) => (a.host, a.port, a.path) == (b.host, b.port, b.path),
        _ => a == b,
    }
}

/// Status and Location of a GET (the body is not read).
fn head(host: &str, port: u16, path: &str) -> Option<(u16, Option<String>)> {
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    let h = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {h}\r\nUser-Agent: mjpeghttpsrc\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut location = None;
    for _ in 0..100 {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("location")
        {
            location = Some(v.trim().to_string());
        }
    }
    Some((status, location))
}

/// Does the server answer over TLS when its certificate is not checked?
fn tls_works_unverified(p: &Probe) -> bool {
    let Ok(src) = gst::ElementFactory::make("souphttpsrc")
        .property("location", p.location.clean.as_str())
        .property("ssl-strict", false)
        .property("retries", 0i32)
        .build()
    else {
        return false;
    };
    let Ok(sink) = gst::ElementFactory::make("fakesink").build() else {
        return false;
    };
    let pipeline = gst::Pipeline::new();
    if pipeline.add_many([&src, &sink]).is_err() || src.link(&sink).is_err() {
        return false;
    }
    let (tx, rx) = mpsc::sync_channel(1);
    if let Some(pad) = src.static_pad("src") {
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let _ = tx.try_send(());
            gst::PadProbeReturn::Ok
        });
    }
    let bus = pipeline.bus();
    let mut answered = false;
    if pipeline.set_state(gst::State::Playing).is_ok() {
        let deadline = std::time::Instant::now() + TIMEOUT;
        while std::time::Instant::now() < deadline {
            if rx.try_recv().is_ok() {
                answered = true;
                break;
            }
            let msg = bus.as_ref().and_then(|b| {
                b.timed_pop_filtered(
                    gst::ClockTime::from_mseconds(50),
                    &[gst::MessageType::Error, gst::MessageType::Eos],
                )
            });
            match msg.as_ref().map(|m| m.view()) {
                // An HTTP status: the TLS session was made.
                Some(gst::MessageView::Error(e)) => {
                    answered = e
                        .details()
                        .is_some_and(|d| d.get::<u32>("http-status-code").is_ok_and(|c| c >= 100));
                    break;
                }
                Some(_) => {
                    answered = true;
                    break;
                }
                None => {}
            }
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    answered
}
