// SPDX-License-Identifier: MIT OR Apache-2.0

//! Format detection runs again through the element (issue 10): a `curl -i
//! --digest` or `curl -i -L` recording (a 401 or 302 response, then the 200
//! one) and a stream joined in the middle of a part keep their part headers,
//! X-Timestamp metas and the Content-Length fast path, pulled and pushed.

mod common;
mod malformed;

use malformed::*;

fn timed_parts(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        v.extend(
            format!(
                "--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {}.250000\r\n\r\n",
                f.len(),
                1_700_000_000 + k
            )
            .as_bytes(),
        );
        v.extend(f);
        v.extend(b"\r\n");
    }
    v
}

fn check(data: &[u8], frames: &[Vec<u8>], format: &str) {
    let (pulled, pull_stats) = element_pull(data, "redetect");
    for (how, (out, stats)) in [
        ("pull", (pulled.clone(), pull_stats)),
        ("push 1", element_push(data, || 1)),
        ("push 512", element_push(data, || 512)),
    ] {
        assert_eq!(out, pulled, "{how}");
        let bytes: Vec<&[u8]> = out.iter().map(|f| f.bytes.as_slice()).collect();
        let expected: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        assert_eq!(bytes, expected, "{how}");
        for (k, f) in out.iter().enumerate() {
            let part = f.part.as_deref().unwrap_or_default();
            assert!(
                part.contains(&format!("{}.250000", 1_700_000_000 + k)),
                "{how} frame {k}: {part}"
            );
        }
        assert_eq!(stats.get::<&str>("format").unwrap(), format, "{how}");
        assert_eq!(
            stats.get::<u64>("fast-path-frames").unwrap(),
            frames.len() as u64,
            "{how}"
        );
    }
}

#[test]
fn digest_and_redirect_recordings_follow_the_second_response() {
    let frames: Vec<Vec<u8>> = good_frames().into_iter().take(6).collect();
    let ok =
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\r\n";
    let body = "<html><body>401 Unauthorized</body></html>\n";
    let digest = format!(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cam\", qop=\"auth\", nonce=\"5f1b\"\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let redirect =
        "HTTP/1.1 302 Found\r\nLocation: http://cam/video.cgi\r\nContent-Length: 0\r\n\r\n";
    for first in [digest.as_str(), redirect] {
        let data = [first.as_bytes(), ok.as_bytes(), &timed_parts(&frames)].concat();
        check(&data, &frames, "http-multipart");
    }
}

#[test]
fn a_stream_joined_in_the_middle_of_a_part() {
    let good = good_frames();
    let frames: Vec<Vec<u8>> = good.iter().skip(8).take(6).cloned().collect();
    // The last 900 bytes of a part's JPEG (entropy data and EOI), then parts.
    let tail = &good[8][good[8].len() - 900..];
    let data = [tail, b"\r\n", &timed_parts(&frames)].concat();
    check(&data, &frames, "multipart");
}
