// SPDX-License-Identifier: MIT OR Apache-2.0

//! What `mjpeghttpsrc` tells the application when something can never
//! work, against test cameras on 127.0.0.1: downstream refusing the frames
//! (one ERROR at once, no reconnect), a downstream EOS (the end, no
//! reconnect), URLs that can never work (scheme, syntax, no location, a
//! redirect loop, a host that does not resolve, a refused TLS certificate),
//! and no password in any message, status, stat or debug log of ours.

mod common;

#[path = "common/camera.rs"]
mod camera;
#[path = "common/watch.rs"]
mod watch;

use camera::{Camera, Config, Framing};
use common::*;
use gst::prelude::*;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watch::{Ev, Watched};

fn camera(config: Config) -> Camera {
    camera::three_format_camera(config)
}

const FAST: &str = "retry-delay=100000000 max-retry-delay=200000000";

/// The ERROR(s) of a pipeline, once it has posted one and a little time
/// went by (a second ERROR or a reconnect would have come).
fn settle_errors(w: &Watched) -> Vec<(String, String, String)> {
    w.wait_error();
    std::thread::sleep(Duration::from_millis(800));
    w.errors()
}

#[test]
fn downstream_caps_mistakes_are_one_error_at_once() {
    init();
    for (tail, expect) in [
        // The classic OpenCV mistake: no videoconvert before BGR.
        (
            "jpegdec ! video/x-raw,format=BGR ! appsink name=out",
            "videoconvert",
        ),
        (
            "jpegdec ! video/x-raw,width=1920,height=1080 ! fakesink name=out",
            "not-negotiated",
        ),
        // avimux needs a frame rate; the live camera has none.
        ("avimux ! fakesink name=out", "not-negotiated"),
        // Nothing after identity.
        ("identity", "not-linked"),
    ] {
        let cam = camera(Config {
            framing: Framing::Axis,
            frames: 1000,
            connections: 10,
            ..Default::default()
        });
        let w = Watched::start(&format!(
            "mjpeghttpsrc name=src location={} {FAST} ! {tail}",
            cam.url()
        ));
        let errors = settle_errors(&w);
        eprintln!("{tail}: {errors:?}");
        let ours: Vec<_> = errors.iter().filter(|e| e.0 == "src").collect();
        assert_eq!(ours.len(), 1, "{tail}: {errors:?}");
        assert!(ours[0].1.contains(expect), "{tail}: {ours:?}");
        assert!(
            w.statuses("reconnecting").is_empty(),
            "{tail}: {:?}",
            w.events()
        );
        assert_eq!(cam.accepted.load(Ordering::SeqCst), 1, "{tail}");
        let stats = w
            .pipeline
            .by_name("src")
            .unwrap()
            .property::<gst::Structure>("stats");
        assert_eq!(stats.get::<u64>("frames").unwrap(), 0, "{tail}: {stats}");
    }
}

#[test]
fn max_retries_ends_even_when_frames_are_refused() {
    init();
    // Each connection gives frames that downstream refuses: one ERROR, at
    // the first refusal, and never "attempts in a row" counted from frames.
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 3,
        connections: 10,
        ..Default::default()
    });
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location={} {FAST} max-retries=2 ! jpegdec ! \
         video/x-raw,format=BGR ! fakesink name=out",
        cam.url()
    ));
    let errors = settle_errors(&w);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("not-negotiated"), "{errors:?}");
    assert_eq!(cam.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn downstream_eos_ends_the_stream_without_reconnecting() {
    init();
    let cam = camera(Config {
        framing: Framing::MjpgStreamer,
        frames: 1000,
        connections: 10,
        ..Default::default()
    });
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location={} {FAST} ! identity name=out eos-after=1 ! fakesink",
        cam.url()
    ));
    w.wait_eos();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(w.frames().len(), 1);
    assert!(w.errors().is_empty(), "{:?}", w.events());
    assert!(w.statuses("disconnected").is_empty(), "{:?}", w.events());
    assert_eq!(cam.accepted.load(Ordering::SeqCst), 1);
    let stats = w
        .pipeline
        .by_name("src")
        .unwrap()
        .property::<gst::Structure>("stats");
    // identity answered the first frame with EOS: none was delivered.
    assert_eq!(stats.get::<u64>("frames").unwrap(), 0, "{stats}");
}

/// The ERROR of a pipeline that cannot start, or starts and fails.
fn error_of(desc: &str) -> (Vec<(String, String, String)>, Watched) {
    let w = Watched::new(desc);
    let p = w.pipeline.clone();
    watch::within("set_state(PLAYING)", Duration::from_secs(20), move || {
        let _ = p.set_state(gst::State::Playing);
    });
    (settle_errors(&w), w)
}

#[test]
fn urls_that_can_never_work_are_a_clear_error_before_connecting() {
    init();
    for (location, expect) in [
        ("rtsp://admin:hunter22@127.0.0.1:554/stream1", "use rtspsrc"),
        ("ftp://127.0.0.1/x", "the scheme ftp:// is not supported"),
        (
            "127.0.0.1/video.cgi",
            "has no scheme: write http://127.0.0.1/video.cgi",
        ),
        (
            "http://127.0.0.1:99999/",
            "Malformed URL http://127.0.0.1:99999/: the port",
        ),
        ("http:///video.cgi", "it has no host name"),
    ] {
        let (errors, w) = error_of(&format!(
            "mjpeghttpsrc name=src location=\"{location}\" ! fakesink"
        ));
        eprintln!("{location}: {errors:?}");
        assert_eq!(errors.len(), 1, "{location}: {errors:?}");
        assert!(errors[0].1.contains(expect), "{location}: {errors:?}");
        assert!(!format!("{errors:?}").contains("hunter22"), "{errors:?}");
        assert!(w.statuses("reconnecting").is_empty());
    }
    let (errors, _) = error_of("mjpeghttpsrc ! fakesink");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.starts_with("No location set"), "{errors:?}");
}

#[test]
fn a_redirect_loop_is_a_clear_error() {
    init();
    let cam = camera(Config {
        redirect_loop: true,
        connections: 1000,
        ..Default::default()
    });
    let (errors, w) = error_of(&format!(
        "mjpeghttpsrc location={} {FAST} ! fakesink",
        cam.url()
    ));
    eprintln!("redirect loop: {errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("redirect loop"), "{errors:?}");
    assert!(w.statuses("reconnecting").is_empty(), "{:?}", w.events());
}

#[test]
fn a_host_that_does_not_resolve_is_a_clear_error() {
    init();
    let (errors, w) = error_of(&format!(
        "mjpeghttpsrc location=http://nonexistent-camera.invalid/video.cgi {FAST} ! fakesink"
    ));
    eprintln!("dns: {errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .1
            .contains("cannot resolve nonexistent-camera.invalid"),
        "{errors:?}"
    );
    assert!(w.statuses("reconnecting").is_empty(), "{:?}", w.events());
}

#[test]
fn a_refused_port_is_retried_with_its_true_reason() {
    init();
    // A port nobody listens on (taken, then freed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location=http://127.0.0.1:{port}/v {FAST} max-retries=2 ! fakesink"
    ));
    let errors = settle_errors(&w);
    let reasons = w.statuses("reconnecting");
    assert_eq!(reasons.len(), 2, "{:?}", w.events());
    for (r, _) in &reasons {
        assert_eq!(r, &format!("connection refused by 127.0.0.1:{port}"));
    }
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .1
            .contains("2 attempts in a row failed (last: connection refused"),
        "{errors:?}"
    );
}

/// A TLS camera with a self-signed certificate: python3's ssl module and
/// a certificate made with openssl here.
struct TlsCamera {
    child: std::process::Child,
    port: u16,
    dir: TempDir,
}

impl TlsCamera {
    /// A TLS camera, or why there is none.
    fn start() -> Result<TlsCamera, String> {
        let dir = TempDir::new("tls-camera");
        let (cert, key) = (dir.path("cert.pem"), dir.path("key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if !made.status.success() {
            return Err(format!(
                "openssl req: {}",
                String::from_utf8_lossy(&made.stderr)
            ));
        }
        let frame = fixture_path("gray.jpg");
        let script = format!(
            r#"
import socket, ssl, sys, threading, time
jpeg = open({frame:?}, "rb").read()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain({cert:?}, {key:?})
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
print(srv.getsockname()[1], flush=True)
def serve(c):
    try:
        c = ctx.wrap_socket(c, server_side=True)
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=b\r\nConnection: close\r\n\r\n")
        for _ in range(1000):
            c.sendall(b"--b\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg) + jpeg + b"\r\n")
            time.sleep(0.066)
    except Exception:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#,
            cert = cert.to_str().unwrap(),
            key = key.to_str().unwrap(),
            frame = frame.to_str().unwrap()
        );
        let mut child = std::process::Command::new("/usr/bin/python3")
            .args(["-c", &script])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("/usr/bin/python3: {e}"))?;
        let mut line = String::new();
        use std::io::{BufRead, Read};
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        match line.trim().parse() {
            Ok(port) => Ok(TlsCamera { child, port, dir }),
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let _ = child.wait();
                Err(format!("the TLS server gave no port ({line:?}): {err}"))
            }
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/video.mjpg", self.port)
    }
}

impl Drop for TlsCamera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_self_signed_certificate_names_ssl_strict_and_ssl_ca_file() {
    init();
    // Twice, should the first start fail for a passing reason.
    let cam = match TlsCamera::start().or_else(|_| TlsCamera::start()) {
        Ok(cam) => cam,
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "no TLS camera: {why}");
            eprintln!("no TLS camera ({why}): skipped");
            return;
        }
    };
    let (errors, w) = error_of(&format!(
        "mjpeghttpsrc location={} {FAST} ! fakesink",
        cam.url()
    ));
    eprintln!("tls: {errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let text = &errors[0].1;
    assert!(
        text.contains("TLS certificate of 127.0.0.1 was refused"),
        "{text}"
    );
    assert!(
        text.contains("ssl-strict=false") && text.contains("ssl-ca-file"),
        "{text}"
    );
    assert!(w.statuses("reconnecting").is_empty(), "{:?}", w.events());
    drop(w);
    // Both ways out work.
    let cert = cam.dir.path("cert.pem");
    for props in [
        "ssl-strict=false".to_string(),
        format!("ssl-ca-file={}", cert.to_str().unwrap()),
    ] {
        let w = Watched::start(&format!(
            "mjpeghttpsrc location={} {props} ! fakesink name=out",
            cam.url()
        ));
        w.wait_frames(3);
        assert!(w.errors().is_empty(), "{props}: {:?}", w.events());
    }
}

/// Every message, status, stat and log line of ours, for a camera reached
/// with credentials in its URL and in user-pw.
#[test]
fn no_password_in_any_output() {
    init();
    let logs = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = logs.clone();
    gst::log::set_active(true);
    // Recorded here, not printed.
    gst::log::remove_default_log_function();
    gst::log::set_threshold_for_name("mjpeghttpsrc", gst::DebugLevel::Log);
    gst::log::add_log_function(move |cat, _, _, _, _, _, msg| {
        if cat.name() == "mjpeghttpsrc"
            && let Some(m) = msg.get()
        {
            l.lock().unwrap().push(m.to_string());
        }
    });
    // 1. The URL's credentials reach the camera (Basic) and frames come.
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 1000,
        basic_auth: Some("admin:hunter22".into()),
        connections: 10,
        ..Default::default()
    });
    let url = format!("http://admin:hunter22@127.0.0.1:{}/video.mjpg", cam.port);
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location={url} ! fakesink name=out"
    ));
    w.wait_frames(3);
    let stats = w
        .pipeline
        .by_name("src")
        .unwrap()
        .property::<gst::Structure>("stats");
    let mut seen = format!("{:?} {stats}", w.events());
    drop(w);
    let auth = cam.requests.lock().unwrap().clone();
    assert!(
        auth.iter()
            .any(|h| h.contains(&format!("Basic {}", camera::base64("admin:hunter22")))),
        "{auth:?}"
    );
    // 2. A 401 (wrong user-pw), a 503 then a drop, a refused port: errors,
    // statuses and stats name the URL without its credentials.
    let bad = camera(Config {
        status: Some((401, 5)),
        connections: 5,
        ..Default::default()
    });
    let (errors, w) = error_of(&format!(
        "mjpeghttpsrc location=http://root:hunter22@127.0.0.1:{}/v user-pw=s3cr3tpw ! fakesink",
        bad.port
    ));
    assert!(errors[0].1.contains("http://127.0.0.1:"), "{errors:?}");
    assert!(
        errors[0].1.contains("http://user:password@camera/"),
        "{errors:?}"
    );
    seen += &format!("{:?}", w.events());
    drop(w);
    let down = camera(Config {
        framing: Framing::Axis,
        frames: 3,
        status: Some((503, 1)),
        connections: 2,
        ..Default::default()
    });
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location=http://root:hunter22@127.0.0.1:{}/v user-pw=s3cr3tpw \
         {FAST} max-retries=2 ! fakesink name=out",
        down.port
    ));
    let errors = settle_errors(&w);
    assert!(
        errors[0].1.contains("No video from http://127.0.0.1:"),
        "{errors:?}"
    );
    let stats = w
        .pipeline
        .by_name("src")
        .unwrap()
        .property::<gst::Structure>("stats");
    seen += &format!("{:?} {stats}", w.events());
    drop(w);
    let logs = logs.lock().unwrap().join("\n");
    assert!(!logs.is_empty());
    // souphttpsrc's http-headers messages pass, without the Authorization
    // libsoup sent.
    assert!(seen.contains("http-headers"), "{seen}");
    assert!(!seen.contains(&camera::base64("admin:hunter22")), "{seen}");
    for secret in ["hunter22", "s3cr3tpw"] {
        assert!(!seen.contains(secret), "{secret} in {seen}");
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
}

#[test]
fn a_web_page_is_still_a_clear_error() {
    init();
    let cam = camera(Config {
        status: Some((200, 1)),
        ..Default::default()
    });
    let (errors, w) = error_of(&format!("mjpeghttpsrc location={} ! fakesink", cam.url()));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("<!DOCTYPE html>"), "{errors:?}");
    assert!(!w.events().iter().any(|e| matches!(e, Ev::Status { .. })));
}

#[test]
fn after_the_first_frame_each_retry_names_the_true_reason() {
    init();
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 1000,
        ..Default::default()
    });
    let port = cam.port;
    let w = Watched::start(&format!(
        "mjpeghttpsrc name=src location=http://127.0.0.1:{port}/video.mjpg {FAST} max-retries=3 \
         ! fakesink name=out"
    ));
    w.wait_frames(3);
    cam.stop();
    let errors = settle_errors(&w);
    let reasons: Vec<String> = w
        .statuses("reconnecting")
        .into_iter()
        .map(|r| r.0)
        .collect();
    // The close, then the refused connections, each named.
    assert_eq!(
        reasons[0], "the server closed the connection",
        "{reasons:?}"
    );
    let refused = format!("connection refused by 127.0.0.1:{port}");
    assert_eq!(
        reasons[1..],
        [refused.clone(), refused.clone()],
        "{reasons:?}"
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains(&format!("(last: {refused})")),
        "{errors:?}"
    );
    let stats = w
        .pipeline
        .by_name("src")
        .unwrap()
        .property::<gst::Structure>("stats");
    assert_eq!(
        stats.get::<String>("last-error").unwrap(),
        refused,
        "{stats}"
    );
}

/// gst-play-1.0 and playbin take only a URI: the credentials go in it.
#[test]
fn playbin_takes_credentials_in_the_uri() {
    init();
    let cam = camera(Config {
        framing: Framing::Axis,
        frames: 1000,
        basic_auth: Some("admin:hunter22".into()),
        connections: 10,
        ..Default::default()
    });
    let w = Watched::start(&format!(
        "playbin uri=mjpeg+http://admin:hunter22@127.0.0.1:{}/video.mjpg \
         video-sink=\"fakesink name=out\" audio-sink=fakesink",
        cam.port
    ));
    let sink = w.pipeline.property::<gst::Element>("video-sink");
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let f = frames.clone();
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            f.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    w.wait("frames through playbin", |_| {
        frames.load(Ordering::SeqCst) >= 3
    });
    assert!(w.errors().is_empty(), "{:?}", w.events());
    assert!(!format!("{:?}", w.events()).contains("hunter22"));
}
