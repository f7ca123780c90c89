// SPDX-License-Identifier: MIT OR Apache-2.0

//! The hub alone: what each client gets, drop to latest, the close, events,
//! rate caps, the state document; the bytes read back by our own splitter.

use super::*;
use crate::multipart::Output;
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GRAY: &[u8] = include_bytes!("../../tests/fixtures/gray.jpg");
const RGB: &[u8] = include_bytes!("../../tests/fixtures/rgb.jpg");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn client(hub: &Arc<Hub>, fps: Option<f64>) -> FrameStream {
    let info = ClientInfo {
        address: "127.0.0.1:4000".into(),
        user_agent: "test".into(),
        max_fps: fps,
    };
    FrameStream::new(
        hub,
        info,
        Arc::new(Traffic::default()),
        Multipart::new(0xabc),
        false,
    )
}

/// Reads whatever the stream has ready (never waits for a new frame), as a
/// server whose socket takes every byte at once.
fn ready(rt: &tokio::runtime::Runtime, s: &mut FrameStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let next = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(20), s.next_chunk()).await
        });
        s.traffic().all_written();
        match next {
            Ok(Some(c)) => out.extend_from_slice(&c),
            Ok(None) => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// The bytes of each part, by its Content-Length (for parts that are not
/// JPEGs).
fn parts(data: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find("Content-Length: ") {
        let start = at + i + "Content-Length: ".len();
        let end = start + text[start..].find("\r\n").unwrap();
        let len: usize = text[start..end].parse().unwrap();
        let body = end + text[end..].find("\r\n\r\n").unwrap() + 4;
        out.push(data[body..body + len].to_vec());
        at = body + len;
    }
    out
}

/// The frames (and their X-Timestamp) our own splitter finds in `data`.
fn frames(data: &[u8]) -> Vec<(Vec<u8>, Option<String>)> {
    let (out, _) = crate::properties::split_with(data, 1 << 24, || 1000);
    out.iter()
        .map(|o| match o {
            Output::Frame { frame, headers, .. } => (
                data[frame.start as usize..frame.end as usize].to_vec(),
                headers
                    .iter()
                    .find(|(n, _)| n == "x-timestamp")
                    .map(|(_, v)| v.clone()),
            ),
            Output::Dropped { .. } => panic!("dropped bytes in our own stream: {o:?}"),
        })
        .collect()
}

#[test]
fn the_bytes_of_a_stream() {
    let m = Multipart::new(0x1f);
    assert_eq!(
        m.content_type(),
        "multipart/x-mixed-replace;boundary=mjpeghttpsink-000000000000001f"
    );
    assert_eq!(&m.opening()[..], b"--mjpeghttpsink-000000000000001f\r\n");
    assert_eq!(
        &m.head(1234, Some(1_700_000_000_123_456_789), Some("30000/1001"))[..],
        b"Content-Type: image/jpeg\r\nContent-Length: 1234\r\nX-Timestamp: 1700000000.123456\r\n\
          X-Framerate: 30000/1001\r\n\r\n"
    );
    assert_eq!(
        &m.head(5, None, None)[..],
        b"Content-Type: image/jpeg\r\nContent-Length: 5\r\n\r\n"
    );
    assert_eq!(
        &m.part_end()[..],
        b"\r\n--mjpeghttpsink-000000000000001f\r\n"
    );
    assert_eq!(
        &m.closing()[..],
        b"\r\n--mjpeghttpsink-000000000000001f--\r\n"
    );
}

#[test]
fn a_new_client_gets_the_latest_frame_at_once_then_every_new_one() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    hub.publish(
        Bytes::from_static(GRAY),
        Some(1_000_000_000),
        Some("15/1".into()),
    );
    hub.publish(
        Bytes::from_static(RGB),
        Some(1_066_666_666),
        Some("15/1".into()),
    );
    let mut s = client(&hub, None);
    let (mut data, ended) = ready(&rt, &mut s);
    assert!(!ended);
    for k in 0..5u64 {
        hub.publish(
            Bytes::from_static(if k % 2 == 0 { GRAY } else { RGB }),
            Some(2_000_000_000 + k * 1000),
            Some("15/1".into()),
        );
        let (more, _) = ready(&rt, &mut s);
        data.extend(more);
    }
    hub.end();
    let (more, ended) = ready(&rt, &mut s);
    data.extend(more);
    assert!(ended);
    let got = frames(&data);
    let expected: Vec<(Vec<u8>, Option<String>)> = [
        (RGB, "1.066666"),
        (GRAY, "2.000000"),
        (RGB, "2.000001"),
        (GRAY, "2.000002"),
        (RGB, "2.000003"),
        (GRAY, "2.000004"),
    ]
    .iter()
    .map(|(f, t)| (f.to_vec(), Some(t.to_string())))
    .collect();
    assert_eq!(got, expected);
    assert!(data.ends_with(
        b"\r\n--mjpeghttpsink-0000000000000abc\r\n\r\n--mjpeghttpsink-0000000000000abc--\r\n"
    ));
    let stats = hub.clients();
    assert_eq!(stats[0].frames_sent, 6);
    assert_eq!(stats[0].frames_skipped, 0);
    assert_eq!(stats[0].bytes_sent, data.len() as u64);
}

#[test]
fn a_slow_client_skips_to_the_latest_frame() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    let mut fast = client(&hub, None);
    let mut slow = client(&hub, None);
    let mut fast_data = Vec::new();
    for k in 0..10u64 {
        hub.publish(Bytes::from(vec![k as u8; 3]), None, Some("15/1".into()));
        fast_data.extend(ready(&rt, &mut fast).0);
    }
    // The slow client reads only now: the newest frame, nothing between.
    let (slow_data, _) = ready(&rt, &mut slow);
    assert!(
        slow_data.ends_with(&[9, 9, 9, b'\r', b'\n', b'-', b'-', b'm'])
            || slow_data.windows(3).any(|w| w == [9, 9, 9])
    );
    assert!(!slow_data.windows(3).any(|w| w == [8, 8, 8]));
    for k in 0..10u8 {
        assert!(
            fast_data.windows(3).any(|w| w == [k, k, k]),
            "fast client lost frame {k}"
        );
    }
    hub.publish(Bytes::from_static(&[10, 10, 10]), None, Some("15/1".into()));
    ready(&rt, &mut slow);
    let stats = hub.clients();
    let slow_stats = stats.iter().find(|c| c.id == slow.id()).unwrap();
    assert_eq!((slow_stats.frames_sent, slow_stats.frames_skipped), (2, 0));
    for k in 11..16u8 {
        hub.publish(Bytes::from(vec![k; 3]), None, Some("15/1".into()));
    }
    ready(&rt, &mut slow);
    let stats = hub.clients();
    let slow_stats = stats.iter().find(|c| c.id == slow.id()).unwrap();
    assert_eq!((slow_stats.frames_sent, slow_stats.frames_skipped), (3, 4));
    let fast_stats = stats.iter().find(|c| c.id == fast.id()).unwrap();
    assert_eq!((fast_stats.frames_sent, fast_stats.frames_skipped), (10, 0));
}

#[test]
fn a_client_after_the_end_gets_the_last_frame_and_the_close() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    hub.publish(Bytes::from_static(GRAY), None, Some("15/1".into()));
    hub.end();
    let mut s = client(&hub, None);
    let (data, ended) = ready(&rt, &mut s);
    assert!(ended);
    assert_eq!(frames(&data), vec![(GRAY.to_vec(), None)]);
    // Flushed and playing again: streams go on.
    hub.reopen();
    let mut s = client(&hub, None);
    let (_, ended) = ready(&rt, &mut s);
    assert!(!ended);
    // Stopped: no frame, the close at once.
    hub.clear();
    let mut s = client(&hub, None);
    let (data, ended) = ready(&rt, &mut s);
    assert!(ended);
    assert!(frames(&data).is_empty());
}

#[test]
fn no_frame_yet_means_waiting() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    let mut s = client(&hub, None);
    let (data, ended) = ready(&rt, &mut s);
    assert_eq!(&data[..], b"--mjpeghttpsink-0000000000000abc\r\n");
    assert!(!ended);
}

#[test]
fn first_and_last_client_events() {
    let hub = Arc::new(Hub::new());
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    hub.set_listener(move |ev| e.lock().unwrap().push(ev));
    let a = client(&hub, None);
    let b = client(&hub, None);
    assert_eq!(hub.client_count(), 2);
    drop(a);
    let c = client(&hub, None);
    drop(b);
    drop(c);
    assert_eq!(hub.client_count(), 0);
    let d = client(&hub, None);
    drop(d);
    let first = HubEvent::FirstClient {
        address: "127.0.0.1:4000".into(),
    };
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            first.clone(),
            HubEvent::NoClients,
            first,
            HubEvent::NoClients
        ]
    );
}

#[test]
fn a_rate_cap_keeps_a_steady_grid() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut cap = RateCap::new(5.0).unwrap();
    let mut sent = Vec::new();
    // A 15 fps camera with a little jitter.
    for k in 0..45u64 {
        let at = ms(k * 1000 / 15 + (k % 3));
        if cap.wait_until(at).is_none() {
            cap.sent(at);
            sent.push(k);
        }
    }
    assert_eq!(sent.len(), 15, "{sent:?}");
    assert!(RateCap::new(0.0).is_none());
    assert!(RateCap::new(f64::NAN).is_none());
    assert!(RateCap::new(-1.0).is_none());
    // After a long gap the grid restarts (no burst to catch up).
    let mut cap = RateCap::new(10.0).unwrap();
    cap.sent(ms(0));
    cap.sent(ms(5000));
    assert_eq!(cap.wait_until(ms(5050)), Some(ms(5100)));
}

#[test]
fn a_capped_client_gets_the_newest_frame_at_its_rate() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    let mut s = client(&hub, Some(10.0));
    hub.publish(Bytes::from_static(&[1, 1, 1]), None, Some("15/1".into()));
    let (data, _) = ready(&rt, &mut s);
    assert!(data.windows(3).any(|w| w == [1, 1, 1]));
    // Two frames within the 100 ms: only the second, after the wait.
    hub.publish(Bytes::from_static(&[2, 2, 2]), None, Some("15/1".into()));
    hub.publish(Bytes::from_static(&[3, 3, 3]), None, Some("15/1".into()));
    let t = Instant::now();
    let data = rt.block_on(async {
        let mut data = Vec::new();
        while !data.windows(3).any(|w| w == [3, 3, 3]) {
            data.extend_from_slice(&s.next_chunk().await.unwrap());
            s.traffic().all_written();
        }
        data
    });
    assert!(
        t.elapsed() >= Duration::from_millis(60),
        "{:?}",
        t.elapsed()
    );
    assert!(!data.windows(3).any(|w| w == [2, 2, 2]));
}

#[test]
fn fps_meter() {
    let t0 = Instant::now();
    let mut m = FpsMeter::default();
    assert_eq!(m.fps(t0), 0.0);
    for k in 0..31u64 {
        m.tick(t0 + Duration::from_millis(k * 100));
    }
    let now = t0 + Duration::from_millis(3000);
    assert!((m.fps(now) - 10.0).abs() < 1e-9, "{}", m.fps(now));
    assert_eq!(m.fps(t0 + Duration::from_secs(10)), 0.0);
}

#[test]
fn the_state_document() {
    let hub = Arc::new(Hub::new());
    let none = state_json(&hub, None, false);
    assert_eq!(
        none,
        "{\"caps\":null,\"frames_in\":0,\"ended\":false,\"latest\":null,\"clients_count\":0,\"clients\":[]}"
    );
    hub.publish(
        Bytes::from_static(GRAY),
        Some(5_000_001_000),
        Some("15/1".into()),
    );
    let info = ClientInfo {
        address: "[::1]:5000".into(),
        user_agent: "a \"quoted\"\\ agent\u{1}\n".into(),
        max_fps: Some(2.5),
    };
    let _s = FrameStream::new(
        &hub,
        info,
        Arc::new(Traffic::default()),
        Multipart::new(1),
        false,
    );
    let doc = state_json(&hub, Some("image/jpeg, width=(int)8"), false);
    assert!(doc.starts_with("{\"caps\":\"image/jpeg, width=(int)8\",\"frames_in\":1,\"ended\":false,\"latest\":{\"seq\":1,"), "{doc}");
    assert!(
        doc.contains(&format!(
            "\"bytes\":{},\"timestamp\":\"5.000001\"",
            GRAY.len()
        )),
        "{doc}"
    );
    assert!(doc.contains("\"clients_count\":1,\"clients\":[{\"id\":1,\"address\":\"[::1]:5000\",\"user_agent\":\"a \\\"quoted\\\"\\\\ agent\\u0001\\n\",\"max_fps\":2.5,\"frames_sent\":0,\"frames_skipped\":0,\"bytes_sent\":0,\"bytes_queued\":0,\"fps\":0.00,"), "{doc}");
    assert!(doc.ends_with("}]}"));
}

#[test]
fn browsers_get_each_parts_headers_ahead() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    hub.publish(Bytes::from_static(GRAY), Some(1), Some("15/1".into()));
    let info = ClientInfo::default();
    let traffic = Arc::new(Traffic::default());
    let mut s = FrameStream::new(&hub, info, traffic, Multipart::new(7), true);
    let (mut data, _) = ready(&rt, &mut s);
    let d = "--mjpeghttpsink-0000000000000007";
    let ahead = format!("{d}\r\nContent-Type: image/jpeg\r\n\r\n");
    let mut expected = ahead.clone().into_bytes();
    expected.extend(GRAY);
    expected.extend(format!("\r\n{ahead}").as_bytes());
    assert_eq!(
        data, expected,
        "the next part's headers right after the frame"
    );
    hub.publish(Bytes::from_static(RGB), Some(2), Some("15/1".into()));
    hub.end();
    data.extend(ready(&rt, &mut s).0);
    let (out, _) = crate::properties::split_with(&data, 1 << 24, || 1000);
    let got: Vec<&[u8]> = out
        .iter()
        .filter_map(|o| match o {
            Output::Frame { frame, .. } => Some(&data[frame.start as usize..frame.end as usize]),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![GRAY, RGB]);
    assert!(data.ends_with(format!("{ahead}\r\n{d}--\r\n").as_bytes()));
}

#[test]
fn the_next_frame_is_chosen_once_the_last_one_was_written() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    let mut s = client(&hub, None);
    hub.publish(Bytes::from_static(&[1, 1, 1]), None, Some("15/1".into()));
    ready(&rt, &mut s);
    // Frame 2 handed out (head, bytes, delimiter), not yet written.
    hub.publish(Bytes::from_static(&[2, 2, 2]), None, Some("15/1".into()));
    let handed = rt.block_on(async {
        let mut d = Vec::new();
        for _ in 0..3 {
            d.extend_from_slice(&s.next_chunk().await.unwrap());
        }
        d
    });
    assert!(handed.windows(3).any(|w| w == [2, 2, 2]));
    // Frame 3 comes: no frame is chosen while the server holds bytes.
    hub.publish(Bytes::from_static(&[3, 3, 3]), None, Some("15/1".into()));
    let early = rt
        .block_on(async { tokio::time::timeout(Duration::from_millis(100), s.next_chunk()).await });
    assert!(early.is_err(), "a frame chosen while the last one waits");
    // Written: frames 4 and 5 came meanwhile, and the newest goes.
    hub.publish(Bytes::from_static(&[4, 4, 4]), None, Some("15/1".into()));
    hub.publish(Bytes::from_static(&[5, 5, 5]), None, Some("15/1".into()));
    s.traffic().all_written();
    let (data, _) = ready(&rt, &mut s);
    assert_eq!(parts(&data), [vec![5, 5, 5]]);
    // A server that never says it wrote delays the stream, never stops it.
    hub.publish(Bytes::from_static(&[6, 6, 6]), None, Some("15/1".into()));
    rt.block_on(async {
        for _ in 0..3 {
            s.next_chunk().await.unwrap();
        }
    });
    hub.publish(Bytes::from_static(&[7, 7, 7]), None, Some("15/1".into()));
    let t = Instant::now();
    let late = rt.block_on(async {
        let mut d = Vec::new();
        for _ in 0..2 {
            d.extend_from_slice(&s.next_chunk().await.unwrap());
        }
        d
    });
    assert!(late.windows(3).any(|w| w == [7, 7, 7]));
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_client_one_frame_late_loses_nothing() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    let mut s = client(&hub, None);
    let mut data = Vec::new();
    hub.publish(Bytes::from_static(&[1, 1, 1]), None, Some("15/1".into()));
    data.extend(ready(&rt, &mut s).0);
    // Two frames before the client's task runs: it gets both, in order.
    hub.publish(Bytes::from_static(&[2, 2, 2]), None, Some("15/1".into()));
    hub.publish(Bytes::from_static(&[3, 3, 3]), None, Some("15/1".into()));
    data.extend(ready(&rt, &mut s).0);
    // Three: it is behind, not late: the newest.
    for k in 4..=6u8 {
        hub.publish(Bytes::from(vec![k; 3]), None, Some("15/1".into()));
    }
    data.extend(ready(&rt, &mut s).0);
    let got: Vec<u8> = parts(&data).iter().map(|p| p[0]).collect();
    assert_eq!(got, [1, 2, 3, 6]);
    assert_eq!(hub.clients()[0].frames_skipped, 2);
}

#[test]
fn rates_as_text_and_numbers() {
    use super::pacing::{fraction, rate_text};
    assert_eq!(
        fraction("30000/1001").map(|f| (f * 1000.0).round()),
        Some(29970.0)
    );
    assert_eq!(fraction("15/1"), Some(15.0));
    assert_eq!(fraction("15"), Some(15.0));
    assert_eq!(fraction("0/0"), None);
    assert_eq!(rate_text(5.0), "5");
    assert_eq!(rate_text(2.5), "2.5");
    assert_eq!(rate_text(0.001), "0.001");
    assert_eq!(rate_text(1.0 / 3.0), "0.333");
    assert!(RateCap::new(0.0005).is_none() && RateCap::new(1001.0).is_none());
}

#[test]
fn x_framerate_follows_the_caps_and_the_cap() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    let mut plain = client(&hub, None);
    let mut capped = client(&hub, Some(2.5));
    let mut data = (Vec::new(), Vec::new());
    for (k, rate) in [Some("10/1"), Some("5/1"), None, Some("1/1")]
        .into_iter()
        .enumerate()
    {
        hub.publish(
            Bytes::from(vec![k as u8; 3]),
            None,
            rate.map(str::to_string),
        );
        data.0.extend(ready(&rt, &mut plain).0);
        // (The capped client takes its frames as its cap allows.)
        std::thread::sleep(Duration::from_millis(420));
        data.1.extend(ready(&rt, &mut capped).0);
    }
    let rates = |d: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(d)
            .split("\r\n\r\n")
            .filter(|h| h.contains("Content-Length"))
            .map(|h| {
                h.lines()
                    .find_map(|l| l.strip_prefix("X-Framerate: "))
                    .unwrap_or("-")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(rates(&data.0), ["10/1", "5/1", "-", "1/1"]);
    assert_eq!(rates(&data.1), ["2.5", "2.5", "2.5", "1/1"]);
}

#[test]
fn a_capped_client_gets_the_end_at_once() {
    let rt = runtime();
    let hub = Arc::new(Hub::new());
    let mut s = client(&hub, Some(0.01));
    hub.publish(Bytes::from_static(&[1, 1, 1]), None, None);
    ready(&rt, &mut s);
    hub.publish(Bytes::from_static(&[2, 2, 2]), None, None);
    let t = Instant::now();
    let end = rt.block_on(async {
        let waiting = tokio::time::timeout(Duration::from_millis(200), s.next_chunk()).await;
        assert!(waiting.is_err(), "the cap holds frame 2 back");
        hub.end();
        let mut d = Vec::new();
        while let Some(c) = s.next_chunk().await {
            d.extend_from_slice(&c);
            s.traffic().all_written();
        }
        d
    });
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(parts(&end), [vec![2, 2, 2]], "the last frame, then the end");
    assert!(end.ends_with(b"--\r\n"));
}
