// SPDX-License-Identifier: MIT OR Apache-2.0

//! mjpeghttpsink through the element, with real connections on 127.0.0.1:
//! every part exact, the latest frame at once, every frame for fast clients,
//! skipping for slow ones, the end of the stream, the endpoints, methods,
//! authentication, CORS, rate caps, max-clients, the port and its messages.

mod common;

#[path = "common/serve.rs"]
mod serve;

use common::*;
use gst::glib;
use gst::prelude::*;
use serve::*;
use std::io::Write;
use std::time::Duration;

const CAPS: &str = "image/jpeg,width=64,height=48,framerate=15/1";

#[test]
fn a_client_gets_the_latest_frame_at_once_then_every_frame_exactly() {
    let frames = frames(30, 64, 48, "ball");
    let s = Served::start("", CAPS);
    for f in &frames[..5] {
        s.push(f);
    }
    s.wait_received(5);
    let mut c = StreamClient::open(s.port, "/stream");
    assert_eq!(c.status, 200);
    assert!(
        header(&c.headers, "content-type")
            .unwrap()
            .starts_with("multipart/x-mixed-replace;boundary=")
    );
    assert_eq!(
        header(&c.headers, "cache-control"),
        Some("no-store, no-cache, must-revalidate, max-age=0")
    );
    let first = c.next_part().unwrap();
    assert_eq!(first.data, frames[4], "the latest frame comes first");
    let feeder = s.feed(frames[5..].to_vec(), 15.0);
    let mut parts = vec![first];
    for _ in 5..30 {
        parts.push(c.next_part().unwrap());
    }
    feeder.join().unwrap();
    s.eos();
    assert!(c.next_part().is_none(), "EOS ends the stream");
    assert!(c.ended);
    for (k, p) in parts.iter().enumerate() {
        assert_eq!(p.data, frames[k + 4], "part {k}");
        assert_eq!(header(&p.headers, "content-type"), Some("image/jpeg"));
        assert_eq!(
            header(&p.headers, "content-length"),
            Some(&*p.data.len().to_string())
        );
        assert_eq!(header(&p.headers, "x-framerate"), Some("15/1"));
    }
    // X-Timestamp: spaced as the PTS (to the microsecond), on the wall clock.
    let received = s.received.lock().unwrap().clone();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let t0 = parts[0].x_timestamp_us().unwrap();
    assert!(
        now_us - t0 < 60_000_000,
        "X-Timestamp {t0} is wall-clock time (now {now_us})"
    );
    for (k, p) in parts.iter().enumerate() {
        let pts_us = |i: usize| received[i].1.nseconds() as i64 / 1000;
        let dt = p.x_timestamp_us().unwrap() as i64 - t0 as i64;
        let dpts = pts_us(k + 4) - pts_us(4);
        assert!(
            (dt - dpts).abs() <= 1,
            "part {k}: X-Timestamp +{dt} us, PTS +{dpts} us"
        );
    }
    // After the end: the last frame and the close delimiter. (Once the
    // first client is gone: else the late one is no first client.)
    drop(c);
    wait_for("no clients", || s.sink.property::<u32>("clients") == 0);
    let mut late = StreamClient::open(s.port, "/stream");
    assert_eq!(late.next_part().unwrap().data, frames[29]);
    assert!(late.next_part().is_none());
    drop(late);
    wait_for("no clients", || s.sink.property::<u32>("clients") == 0);
    // Posted off the server's thread: they may come a little later.
    let firsts = || {
        s.message_names()
            .iter()
            .filter(|n| n.as_str() == "mjpeghttpsink-first-client")
            .count()
    };
    wait_for("two first-client messages", || firsts() == 2);
    let names = s.message_names();
    assert_eq!(names[0], "mjpeghttpsink-listening");
    assert!(s.errors().is_empty(), "{:?}", s.errors());
}

#[test]
fn mjpegsplit_reads_the_stream_back_with_its_timing() {
    let frames = frames(20, 64, 48, "ball");
    let s = Served::start("", CAPS);
    s.push(&frames[0]);
    s.wait_received(1);
    let (client, appsink) = read_back(s.port);
    let mut got = vec![appsink.pull_sample().unwrap()];
    let feeder = s.feed(frames[1..].to_vec(), 15.0);
    feeder.join().unwrap();
    s.eos();
    while let Ok(sample) = appsink.pull_sample() {
        got.push(sample);
    }
    client.set_state(gst::State::Null).unwrap();
    let received = s.received.lock().unwrap().clone();
    assert_eq!(got.len(), 20);
    let pts0 = got[0].buffer().unwrap().pts().unwrap();
    for (k, sample) in got.iter().enumerate() {
        let b = sample.buffer().unwrap();
        assert_eq!(buffer_bytes(b), frames[k], "frame {k}");
        let d = (b.pts().unwrap() - pts0).nseconds() as i64;
        let sent = (received[k].1 - received[0].1).nseconds() as i64;
        assert!(
            (d - sent).abs() <= 1000,
            "frame {k}: PTS +{d} ns, sent +{sent} ns"
        );
    }
    let caps = got[0].caps().unwrap().structure(0).unwrap().to_owned();
    assert_eq!(
        caps.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(15, 1)
    );
}

#[test]
fn endpoints_methods_and_paths() {
    let frames = frames(3, 64, 48, "ball");
    let s = Served::start("", CAPS);
    let (status, h, body) = get(s.port, "/snapshot", &[]);
    assert_eq!(
        (status, header(&h, "retry-after")),
        (503, Some("1")),
        "no frame yet"
    );
    assert_eq!(body, b"No frame yet\n");
    for f in &frames {
        s.push(f);
    }
    s.wait_received(3);
    let (status, h, body) = get(s.port, "/snapshot", &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("image/jpeg"));
    assert_eq!(body, frames[2], "jpegenc frames have their DHT: unchanged");
    assert!(header(&h, "x-timestamp").is_some());
    let (status, h, body) = request(s.port, "HEAD", "/snapshot", &[]);
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(
        header(&h, "content-length"),
        Some(&*frames[2].len().to_string())
    );
    let (status, h, _) = request(s.port, "HEAD", "/stream", &[]);
    assert_eq!(status, 200);
    assert!(
        header(&h, "content-type")
            .unwrap()
            .starts_with("multipart/x-mixed-replace")
    );
    assert_eq!(s.sink.property::<u32>("clients"), 0, "HEAD is no client");
    let (status, h, body) = get(s.port, "/", &[]);
    assert_eq!(
        (status, header(&h, "content-type")),
        (200, Some("text/html; charset=utf-8"))
    );
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<img id=\"stream\" src=\"stream\""), "{page}");
    assert!(page.contains("<title>sink</title>"));
    // mjpg-streamer's paths.
    let (status, _, body) = get(s.port, "/?action=snapshot", &[]);
    assert_eq!((status, body), (200, frames[2].clone()));
    let mut c = StreamClient::open(s.port, "/?action=stream");
    assert_eq!(c.next_part().unwrap().data, frames[2]);
    drop(c);
    let (status, _, body) = get(s.port, "/nothing/here", &[]);
    assert_eq!(status, 404);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("/, /stream, /snapshot and /state")
    );
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let (status, h, _) = request(s.port, method, "/stream", &["Content-Length: 0"]);
        assert_eq!(
            (status, header(&h, "allow")),
            (405, Some("GET, HEAD, OPTIONS")),
            "{method}"
        );
    }
    let (status, h, _) = request(s.port, "OPTIONS", "/stream", &[]);
    assert_eq!(
        (status, header(&h, "allow")),
        (204, Some("GET, HEAD, OPTIONS"))
    );
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        None,
        "no CORS unless asked"
    );
    let state = s.state();
    assert!(
        state.contains(
            "\"caps\":\"image/jpeg, width=(int)64, height=(int)48, framerate=(fraction)15/1\""
        ),
        "{state}"
    );
    assert_eq!(json_number(&state, "frames_in"), Some(3.0));
    assert_eq!(json_number(&state, "seq"), Some(3.0));
    // Keep-alive: two requests on one connection.
    let mut conn = connect(s.port);
    conn.write_all(b"GET /state HTTP/1.1\r\nHost: x\r\n\r\nGET /snapshot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut all).unwrap();
    assert_eq!(
        all.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count(),
        2
    );
}

#[test]
fn a_fps_cap_per_client() {
    let frames = frames(46, 64, 48, "ball");
    let s = Served::start("", CAPS);
    s.push(&frames[0]);
    s.wait_received(1);
    s.wait_served(&frames[0]);
    let mut capped = StreamClient::open(s.port, "/stream?fps=5");
    let mut full = StreamClient::open(s.port, "/stream");
    // Both clients have frame 0 before frames follow, so that under any load
    // frame 0 is the one there is when they come.
    let first = capped.next_part().expect("a first frame");
    assert_eq!(full.next_part().expect("a first frame").data, frames[0]);
    let feeder = s.feed(frames[1..].to_vec(), 15.0);
    let counter = std::thread::spawn(move || {
        let mut parts = vec![first];
        while let Some(p) = capped.next_part() {
            parts.push(p);
        }
        parts
    });
    let mut n_full = 1;
    while full.next_part().is_some() {
        n_full += 1;
        if n_full == 46 {
            s.eos();
        }
    }
    feeder.join().unwrap();
    let parts = counter.join().unwrap();
    assert_eq!(n_full, 46);
    // 3 s of a 15 fps stream at 5 fps: 15 frames, one more or less at the ends.
    assert!(!parts.is_empty(), "the capped client got nothing");
    assert!((14..=17).contains(&parts.len()), "{} frames", parts.len());
    assert_eq!(header(&parts[0].headers, "x-framerate"), Some("5"));
    let (status, _, body) = get(s.port, "/stream?fps=fast", &[]);
    assert_eq!(status, 400);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("fps=fast is not a rate")
    );
}

#[test]
fn basic_authentication_on_every_path() {
    let frames = frames(2, 64, 48, "ball");
    let s = Served::start("user=viewer password=s3cr3t-pw", CAPS);
    s.push(&frames[0]);
    s.wait_received(1);
    let good = "Authorization: Basic dmlld2VyOnMzY3IzdC1wdw==";
    for path in ["/", "/stream", "/snapshot", "/state", "/nothing"] {
        let (status, h, _) = request(s.port, "HEAD", path, &[]);
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            header(&h, "www-authenticate"),
            Some("Basic realm=\"mjpeghttpsink\", charset=\"UTF-8\"")
        );
        let (status, _, _) = request(
            s.port,
            "HEAD",
            path,
            &["Authorization: Basic dmlld2VyOndyb25n"],
        );
        assert_eq!(status, 401, "{path} with a wrong password");
        let (status, _, _) = request(s.port, "HEAD", path, &[good]);
        assert_eq!(status, if path == "/nothing" { 404 } else { 200 }, "{path}");
    }
    let (status, _, _) = get(
        s.port,
        "/snapshot",
        &["Authorization: basic   dmlld2VyOnMzY3IzdC1wdw=="],
    );
    assert_eq!(status, 200, "the scheme in any case");
    // curl with the credentials in the URL.
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!(
            "http://viewer:s3cr3t-pw@127.0.0.1:{}/snapshot",
            s.port
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let mut c = StreamClient::open_with(connect(s.port), "/stream", &[good]);
    assert_eq!(c.next_part().unwrap().data, frames[0]);
    // The password is never given back.
    let pspec = s.sink.find_property("password").unwrap();
    assert!(
        !pspec.flags().contains(glib::ParamFlags::READABLE),
        "password is write only"
    );
    let stats = s.sink.property::<gst::Structure>("stats").to_string();
    let (_, _, state) = get(s.port, "/state", &[good]);
    let messages: Vec<String> = s
        .messages
        .lock()
        .unwrap()
        .iter()
        .map(|m| format!("{m:?}"))
        .collect();
    for text in [
        stats,
        String::from_utf8(state).unwrap(),
        messages.join("\n"),
    ] {
        assert!(
            !text.contains("s3cr3t") && !text.contains("dmlld2Vy"),
            "{text}"
        );
    }
}

#[test]
fn cors_when_asked() {
    let s = Served::start("allow-origin=https://example.com user=a password=b", CAPS);
    let (status, h, _) = request(
        s.port,
        "OPTIONS",
        "/snapshot",
        &[
            "Origin: https://example.com",
            "Access-Control-Request-Method: GET",
        ],
    );
    assert_eq!(status, 204, "a preflight needs no credentials");
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        Some("https://example.com")
    );
    assert_eq!(
        header(&h, "access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(
        header(&h, "access-control-allow-headers"),
        Some("Authorization")
    );
    assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));
    let (status, h, _) = get(s.port, "/state", &["Authorization: Basic YTpi"]);
    assert_eq!(
        (status, header(&h, "access-control-allow-origin")),
        (200, Some("https://example.com"))
    );
}

#[test]
fn max_clients_then_503() {
    let frames = frames(2, 64, 48, "ball");
    let s = Served::start("max-clients=2", CAPS);
    s.push(&frames[0]);
    s.wait_received(1);
    let mut a = StreamClient::open(s.port, "/stream");
    let mut b = StreamClient::open(s.port, "/stream");
    a.next_part().unwrap();
    b.next_part().unwrap();
    let (status, h, body) = get(s.port, "/stream", &[]);
    assert_eq!((status, header(&h, "retry-after")), (503, Some("5")));
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("2 stream clients at most")
    );
    let (status, _, _) = get(s.port, "/snapshot", &[]);
    assert_eq!(status, 200, "snapshots are still served");
    drop(a);
    wait_for("a client gone", || s.sink.property::<u32>("clients") == 1);
    let mut c = StreamClient::open(s.port, "/stream");
    assert_eq!(c.status, 200);
    assert_eq!(c.next_part().unwrap().data, frames[0]);
}

#[test]
fn the_port_its_messages_and_state_changes() {
    init();
    // A taken port: one clear error at READY→PAUSED naming it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let p = gst::parse::launch(&format!("appsrc ! mjpeghttpsink name=sink port={port}")).unwrap();
    assert!(p.set_state(gst::State::Paused).is_err());
    let bus = p.bus().unwrap();
    let err = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error])
        .expect("an ERROR");
    let gst::MessageView::Error(e) = err.view() else {
        unreachable!()
    };
    let text = e.error().to_string();
    assert!(
        text.contains(&format!("port {port} on 127.0.0.1 is taken")),
        "{text}"
    );
    assert!(text.contains("port=0 for a free one"), "{text}");
    assert!(
        bus.pop_filtered(&[gst::MessageType::Error]).is_none(),
        "one ERROR"
    );
    p.set_state(gst::State::Null).unwrap();
    drop(taken);

    // port=0: a free port, in the property and in the message; READY closes it.
    let s = Served::start("", CAPS);
    let listening = s.messages.lock().unwrap()[0].clone();
    let st = listening.structure().unwrap();
    assert_eq!(st.name(), "mjpeghttpsink-listening");
    assert_eq!(st.get::<u32>("port").unwrap(), u32::from(s.port));
    assert_eq!(st.get::<String>("address").unwrap(), "127.0.0.1");
    assert_eq!(
        st.get::<String>("url").unwrap(),
        format!("http://127.0.0.1:{}/", s.port)
    );
    let mut c = StreamClient::open(s.port, "/stream");
    wait_for("a client", || s.sink.property::<u32>("clients") == 1);
    s.pipeline.set_state(gst::State::Ready).unwrap();
    assert!(c.next_part().is_none(), "READY ends the streams");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err(),
        "READY closes the port"
    );
    assert_eq!(s.sink.property::<u32>("clients"), 0);
    // And PLAYING opens it again (the same port when it is set).
    s.sink.set_property("port", u32::from(s.port));
    s.play();
    assert_eq!(s.sink.property::<u32>("port"), u32::from(s.port));
    s.push(b"\xff\xd8\xff\xd9");
    s.wait_served(b"\xff\xd8\xff\xd9");
    assert!(s.errors().is_empty());
}

#[test]
fn a_paused_pipeline_keeps_its_clients_and_drops_the_ones_that_leave() {
    let frames = frames(6, 64, 48, "ball");
    let s = Served::start("", CAPS);
    s.push(&frames[0]);
    s.wait_received(1);
    let mut c = StreamClient::open(s.port, "/stream");
    assert_eq!(c.next_part().unwrap().data, frames[0]);
    s.pipeline.set_state(gst::State::Paused).unwrap();
    // A client that goes away while no frame comes is removed at once.
    let gone = StreamClient::open(s.port, "/stream");
    wait_for("two clients", || s.sink.property::<u32>("clients") == 2);
    std::thread::sleep(std::time::Duration::from_millis(700));
    drop(gone);
    wait_for("the closed client removed", || {
        s.sink.property::<u32>("clients") == 1
    });
    s.play();
    for f in &frames[1..] {
        s.push(f);
        let part = c.next_part().unwrap();
        assert_eq!(&part.data, f);
        // The capture time moved on with the wall clock over the pause.
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        let behind = now_us - part.x_timestamp_us().unwrap() as i64;
        assert!(
            (0..500_000).contains(&behind),
            "X-Timestamp {behind} us behind after a pause"
        );
    }
    let names = || -> Vec<String> {
        s.message_names()
            .into_iter()
            .filter(|n| n.starts_with("mjpeghttpsink-"))
            .collect()
    };
    // The gone client's first-client/no-clients never came: it was the second.
    wait_for("first-client", || names().len() == 2);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        names(),
        ["mjpeghttpsink-listening", "mjpeghttpsink-first-client"],
    );
}

/// `frames` as a recording, `filesrc ! mjpegsplit framerate=RATE !
/// mjpeghttpsink port=0`, set to PAUSED: its directory, pipeline and port.
fn paused_recording(tag: &str, frames: &[Vec<u8>], rate: &str) -> (TempDir, gst::Element, u16) {
    let dir = TempDir::new(tag);
    let path = dir.path("recording.jpeg-stream");
    std::fs::write(&path, frames.concat()).unwrap();
    let p = gst::parse::launch(&format!(
        "filesrc location={path:?} ! mjpegsplit framerate={rate} ! mjpeghttpsink name=sink port=0"
    ))
    .unwrap();
    p.set_state(gst::State::Paused).unwrap();
    let sink = p
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("sink")
        .unwrap();
    let port = sink.property::<u32>("port") as u16;
    (dir, p, port)
}

#[test]
fn a_recording_served_again_after_a_seek_at_its_end() {
    init();
    let frames = frames(8, 64, 48, "ball");
    let (_dir, p, port) = paused_recording("httpsink-seek", &frames, "25/1");
    let reader = read_all(StreamClient::open(port, "/stream"));
    p.set_state(gst::State::Playing).unwrap();
    let bus = p.bus().unwrap();
    let got = reader.join().unwrap();
    assert!(
        got == frames,
        "served at its rate (sync): every frame, then the end ({} of {})",
        got.len(),
        frames.len()
    );
    bus.timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Eos])
        .expect("EOS");
    // Looping the recording: a flushing seek after EOS serves it again.
    let mut c = StreamClient::open(port, "/stream");
    assert_eq!(
        c.next_part().unwrap().data,
        frames[7],
        "the last frame first"
    );
    assert!(
        c.next_part().is_none(),
        "then the end: the stream had ended"
    );
    p.seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::ZERO)
        .unwrap();
    let mut c = StreamClient::open(port, "/stream");
    let mut again = Vec::new();
    while let Some(part) = c.next_part() {
        again.push(part.data);
    }
    assert!(
        again.ends_with(&frames[1..]),
        "{} frames after the seek",
        again.len()
    );
    p.set_state(gst::State::Null).unwrap();
}

#[test]
fn a_paused_recording_shows_its_preroll_frame_and_seeks() {
    init();
    let frames = frames(10, 64, 48, "ball");
    let (_dir, p, port) = paused_recording("httpsink-preroll", &frames, "10/1");
    let _ = p.state(gst::ClockTime::from_seconds(5));
    let (status, _, body) = get(port, "/snapshot", &[]);
    assert_eq!(
        (status, body == frames[0]),
        (200, true),
        "the preroll frame"
    );
    p.seek_simple(
        gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
        gst::ClockTime::from_mseconds(500),
    )
    .unwrap();
    let _ = p.state(gst::ClockTime::from_seconds(5));
    let (status, _, body) = get(port, "/snapshot", &[]);
    assert_eq!(
        (status, body == frames[5]),
        (200, true),
        "the frame sought to, while paused"
    );
    // Playing: the preroll frame is not sent twice.
    let mut c = StreamClient::open(port, "/stream");
    let mut got = vec![c.next_part().unwrap().data];
    p.set_state(gst::State::Playing).unwrap();
    while let Some(part) = c.next_part() {
        got.push(part.data);
    }
    let index: Vec<Option<usize>> = got
        .iter()
        .map(|g| frames.iter().position(|f| f == g))
        .collect();
    assert_eq!(index, (5..10).map(Some).collect::<Vec<_>>());
    p.set_state(gst::State::Null).unwrap();
}

#[test]
fn a_bus_handler_may_stop_the_sink_when_the_last_client_goes() {
    init();
    let port = free_port();
    let p = gst::parse::launch(&format!(
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! jpegenc ! \
         mjpeghttpsink name=sink port={port}"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = p.by_name("sink").unwrap();
    let restarted = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (weak, r) = (p.downgrade(), restarted.clone());
    p.bus().unwrap().set_sync_handler(move |_, msg| {
        if msg
            .structure()
            .is_some_and(|s| s.name() == "mjpeghttpsink-no-clients")
            // Once: the test's last client must not stop it again.
            && r.lock().unwrap().is_none()
            && let Some(p) = weak.upgrade()
        {
            // What an application pausing its camera does, in the handler.
            let sink = p.by_name("sink").unwrap();
            let _ = sink.property::<gst::Structure>("stats");
            let _ = sink.property::<u32>("port");
            let t = std::time::Instant::now();
            let ready = p.set_state(gst::State::Ready);
            *r.lock().unwrap() = Some((ready.is_ok(), t.elapsed()));
        }
        gst::BusSyncReply::Drop
    });
    p.set_state(gst::State::Playing).unwrap();
    let mut c = StreamClient::open(port, "/stream");
    c.next_part().unwrap();
    drop(c);
    wait_for("the handler's READY", || {
        restarted.lock().unwrap().is_some()
    });
    let (ready, took) = restarted.lock().unwrap().unwrap();
    assert!(ready, "READY failed");
    assert!(
        took < std::time::Duration::from_secs(2),
        "READY took {took:?}"
    );
    p.set_state(gst::State::Playing).unwrap();
    // Serving again on the same port.
    let mut c = StreamClient::open(port, "/stream");
    assert!(c.next_part().is_some());
    assert_eq!(sink.property::<u32>("port"), u32::from(port));
    drop(c);
    p.set_state(gst::State::Null).unwrap();
}

/// `gray.jpg` (1.3 kB) with a 3-byte comment `k` after its SOI.
fn small_jpeg(k: u8) -> Vec<u8> {
    let gray = fixture("gray.jpg");
    let mut v = gray[..2].to_vec();
    v.extend([0xFF, 0xFE, 0x00, 0x03, k]);
    v.extend(&gray[2..]);
    v
}

#[test]
fn frames_over_8_mib_and_of_a_kilobyte_are_served_whole() {
    let frames = [
        big_jpeg(b'a'),
        small_jpeg(1),
        big_jpeg(b'b'),
        small_jpeg(2),
        small_jpeg(3),
        big_jpeg(b'c'),
        small_jpeg(4),
    ];
    assert!(frames[0].len() > 13_000_000 && frames[1].len() < 1400);
    let s = Served::start("", "image/jpeg,width=96,height=64,framerate=2/1");
    s.push(&frames[0]);
    s.wait_served(&frames[0]);
    let mut c = StreamClient::open(s.port, "/stream");
    let (back, appsink) = read_back(s.port);
    let mut read_back = vec![appsink.pull_sample().unwrap()];
    let mut parts = vec![c.next_part().unwrap()];
    // Lock-step, so that every frame is one a fast client must get.
    for f in &frames[1..] {
        s.push(f);
        parts.push(c.next_part().unwrap());
        read_back.push(appsink.pull_sample().unwrap());
        s.wait_served(f);
    }
    s.eos();
    assert!(c.next_part().is_none(), "EOS ends the stream");
    back.set_state(gst::State::Null).unwrap();
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(
            header(&parts[k].headers, "content-length"),
            Some(f.len().to_string().as_str()),
            "frame {k}"
        );
        assert!(parts[k].data == *f, "frame {k} differs on /stream");
        let b = read_back[k].buffer().unwrap();
        assert!(buffer_bytes(b) == *f, "frame {k} differs read back");
    }
    assert!(s.errors().is_empty(), "{:?}", s.errors());
}

#[test]
fn every_buffer_is_served_even_the_same_one_again() {
    // A buffer pushed again (the same GstBuffer) and buffers that come at
    // the address of the one before: each one is a frame.
    let frames = frames(2, 64, 48, "ball");
    let s = Served::start("", CAPS);
    let b = gst::Buffer::from_slice(frames[0].clone());
    s.src.push_buffer(b.clone()).unwrap();
    s.wait_served(&frames[0]);
    let mut c = StreamClient::open(s.port, "/stream");
    assert_eq!(c.next_part().unwrap().data, frames[0]);
    for _ in 0..3 {
        s.src.push_buffer(b.clone()).unwrap();
        assert_eq!(c.next_part().unwrap().data, frames[0]);
    }
    s.push(&frames[1]);
    assert_eq!(c.next_part().unwrap().data, frames[1]);
    assert_eq!(json_number(&s.state(), "frames_in"), Some(5.0));
    drop(s);

    // jpegenc frames one after the other, each freed before the next.
    let p = gst::parse::launch(
        "videotestsrc num-buffers=200 ! video/x-raw,width=160,height=120,framerate=1000/1 ! \
         jpegenc ! mjpeghttpsink name=sink port=0 sync=false enable-last-sample=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let msg = p
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(20),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS");
    assert_eq!(msg.type_(), gst::MessageType::Eos);
    let stats = p
        .by_name("sink")
        .unwrap()
        .property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames-in").unwrap(), 200);
    p.set_state(gst::State::Null).unwrap();
}

#[test]
fn client_messages_come_in_the_order_clients_came_and_went() {
    let frames = frames(1, 64, 48, "ball");
    let s = Served::start("", CAPS);
    s.push(&frames[0]);
    s.wait_served(&frames[0]);
    let names = || -> Vec<String> {
        s.message_names()
            .into_iter()
            .filter(|n| n.ends_with("-client") || n.ends_with("-clients"))
            .collect()
    };
    // Once the count of clients is `n` and the last message tells it (they
    // are posted off the server's thread): first-client and no-clients
    // alternate. (Before, one in 25 rounds ended on no-clients with a
    // client watching.)
    let settled = |n: u32| {
        wait_for("the clients", || s.sink.property::<u32>("clients") == n);
        let last = format!(
            "mjpeghttpsink-{}",
            if n == 0 { "no-clients" } else { "first-client" }
        );
        wait_for(&last, || names().last() == Some(&last));
        std::thread::sleep(Duration::from_millis(300));
        let now = names();
        for (k, name) in now.iter().enumerate() {
            let want = if k % 2 == 0 {
                "first-client"
            } else {
                "no-clients"
            };
            assert_eq!(
                name,
                &format!("mjpeghttpsink-{want}"),
                "message {k} of {now:?}"
            );
        }
        assert_eq!(now.last(), Some(&last), "{now:?}");
        now.len()
    };
    // Clients in quick succession: one often comes before the one before
    // it is seen to have gone; after every tenth, none is left for a
    // moment (so that there are events at all on a loaded machine).
    for k in 0..150 {
        let mut c = StreamClient::open(s.port, "/stream");
        c.next_part().unwrap();
        drop(c);
        if k % 10 == 9 {
            wait_for("no client", || s.sink.property::<u32>("clients") == 0);
        }
    }
    let stays = StreamClient::open(s.port, "/stream");
    let n = settled(1);
    assert!(n >= 3, "{n} messages");
    drop(stays);
    settled(0);
}

#[test]
fn access_properties_change_while_serving() {
    let frames = frames(4, 64, 48, "ball");
    let s = Served::start("max-clients=2", CAPS);
    s.push(&frames[0]);
    s.wait_served(&frames[0]);
    let mut viewer = StreamClient::open(s.port, "/stream");
    assert_eq!(viewer.next_part().unwrap().data, frames[0]);

    // A password from now on: new requests need it, the viewer who came
    // before goes on.
    s.sink.set_property("user", "viewer");
    s.sink.set_property("password", "n3w-s3cret");
    assert_eq!(get(s.port, "/snapshot", &[]).0, 401);
    assert_eq!(get(s.port, "/stream", &[]).0, 401);
    let good = "Authorization: Basic dmlld2VyOm4zdy1zM2NyZXQ=";
    assert_eq!(get(s.port, "/snapshot", &[good]).0, 200);
    s.push(&frames[1]);
    assert_eq!(viewer.next_part().unwrap().data, frames[1]);

    // max-clients lowered to the one there is: the next one gets 503.
    s.sink.set_property("max-clients", 1u32);
    let (status, _, _) = request(s.port, "GET", "/stream", &[good]);
    assert_eq!(status, 503);
    s.sink.set_property("max-clients", 2u32);
    let mut second = StreamClient::open_with(connect(s.port), "/stream", &[good]);
    assert_eq!(second.status, 200);
    assert_eq!(second.next_part().unwrap().data, frames[1]);

    // An origin now; a value that is no header value is refused, the one
    // before stays.
    s.sink.set_property("allow-origin", "https://example.com");
    let (_, h, _) = get(s.port, "/snapshot", &[good]);
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        Some("https://example.com")
    );
    s.sink.set_property("allow-origin", "bad\nvalue");
    assert_eq!(
        s.sink.property::<Option<String>>("allow-origin").as_deref(),
        Some("https://example.com")
    );
    let (_, h, _) = get(s.port, "/snapshot", &[good]);
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        Some("https://example.com")
    );

    // The address and port read back as served until the next start.
    s.sink.set_property("address", "localhost");
    s.sink.set_property("port", 1u32);
    assert_eq!(s.sink.property::<String>("address"), "127.0.0.1");
    assert_eq!(s.sink.property::<u32>("port"), u32::from(s.port));
    assert_eq!(get(s.port, "/snapshot", &[good]).0, 200);

    // Without the password again: open to all.
    s.sink.set_property("user", None::<String>);
    s.sink.set_property("password", None::<String>);
    assert_eq!(get(s.port, "/snapshot", &[]).0, 200);
    s.push(&frames[2]);
    assert_eq!(viewer.next_part().unwrap().data, frames[2]);
    assert_eq!(second.next_part().unwrap().data, frames[2]);
    assert!(s.errors().is_empty(), "{:?}", s.errors());
}

#[test]
fn percent_encoded_paths_and_values() {
    let frames = frames(1, 64, 48, "ball");
    let s = Served::start("", CAPS);
    s.push(&frames[0]);
    s.wait_served(&frames[0]);
    let (status, _, body) = get(s.port, "/%73napshot", &[]);
    assert_eq!((status, body), (200, frames[0].clone()));
    let mut c = StreamClient::open(s.port, "/str%65am?fps=%32.5&advance%5Fheaders=0");
    assert_eq!(c.status, 200);
    let part = c.next_part().unwrap();
    assert_eq!(part.data, frames[0]);
    assert_eq!(header(&part.headers, "x-framerate"), Some("2.5"));
    let (status, _, body) = get(s.port, "/?%61ction=%73napshot", &[]);
    assert_eq!((status, body), (200, frames[0].clone()));
    let (status, _, body) = get(s.port, "/stream?fps=%zz", &[]);
    assert_eq!(status, 400);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("fps=%zz is not a rate")
    );
}
