// SPDX-License-Identifier: MIT OR Apache-2.0

//! One output for one input, for the element itself: random damaged streams
//! (the malformed corpus interleaved with good frames, then cut, bit-flipped
//! and junk-inserted; raw, multipart with exact, wrong and no Content-Length,
//! HTTP responses) give the same frames, bytes, flags, timestamps and part
//! headers pulled by `filesrc` and pushed in 1, 7, 512-byte and random pieces.

mod common;
mod malformed;

use malformed::*;

fn random_chunks(seed: u64) -> impl FnMut() -> usize {
    let mut rng = Rng(seed | 1);
    move || match rng.below(4) {
        0 => 1,
        1 => 1 + rng.below(16),
        2 => 1 + rng.below(4096),
        _ => 1 + rng.below(100_000),
    }
}

fn compare(what: &str, pulled: &[ElementFrame], pushed: &[ElementFrame]) {
    if pulled != pushed {
        let k = pulled
            .iter()
            .zip(pushed)
            .position(|(a, b)| a != b)
            .unwrap_or(pulled.len().min(pushed.len()));
        let show = |f: Option<&ElementFrame>| {
            f.map(|f| {
                format!(
                    "offset {} len {} flags {:?} pts {:?} part {:?}",
                    f.offset,
                    f.bytes.len(),
                    f.flags,
                    f.pts,
                    f.part
                )
            })
        };
        panic!(
            "{what}: {} frames pulled, {} pushed; first difference at frame {k}:\n pulled {:?}\n pushed {:?}",
            pulled.len(),
            pushed.len(),
            show(pulled.get(k)),
            show(pushed.get(k))
        );
    }
}

#[test]
fn damaged_streams_give_the_same_frames_pulled_and_pushed() {
    let good = good_frames();
    let mut rng = Rng(0xE1E_4E47);
    for round in 0..60 {
        let format = FORMATS[round % FORMATS.len()];
        let (mut data, _) = stream(&mut rng, &good, format, 30);
        if round % 4 != 0 {
            damage(&mut rng, &mut data);
        }
        let what = format!("round {round} {format:?} ({} bytes)", data.len());
        let (pulled, pull_stats) = element_pull(&data, "props");
        let sizes: Vec<Box<dyn FnMut() -> usize>> = vec![
            Box::new(|| 1),
            Box::new(|| 7),
            Box::new(|| 512),
            Box::new(random_chunks(rng.next())),
        ];
        for (k, next_len) in sizes.into_iter().enumerate() {
            let (pushed, push_stats) = element_push(&data, next_len);
            compare(&format!("{what} pieces #{k}"), &pulled, &pushed);
            assert_eq!(
                pull_stats.get::<&str>("format").unwrap(),
                push_stats.get::<&str>("format").unwrap(),
                "{what}"
            );
        }
    }
}

/// The case of issue 14: a part cut short whose Content-Length is 2000 bytes
/// too long, fed in 512-byte reads (as souphttpsrc delivers it). The
/// splitter rewinds twice (the skipped entropy data, then the frame's
/// delimiter re-walk); the element used to reset and read the rest as raw.
#[test]
fn a_part_cut_short_with_a_length_2000_too_long_in_512_byte_reads() {
    let good = good_frames();
    let mut data =
        b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=frame\r\n\r\n"
            .to_vec();
    let mut expected = Vec::new();
    for k in 0..12 {
        let f = &good[8 + k % 6];
        let (body, len) = if k == 4 {
            (&f[..f.len() / 2], f.len() / 2 + 2000)
        } else {
            (&f[..], f.len())
        };
        data.extend(
            format!(
                "--frame\r\nContent-Type: image/jpeg\r\nX-Timestamp: {}.000000\r\nX-Index: {k}\r\nContent-Length: {len}\r\n\r\n",
                1_700_000_000 + k
            )
            .as_bytes(),
        );
        if k != 4 {
            expected.push(Good {
                start: data.len() as u64,
                bytes: body.to_vec(),
                index: k,
            });
        }
        data.extend(body);
        data.extend(b"\r\n");
    }
    let (pulled, pull_stats) = element_pull(&data, "cl2000");
    let (pushed, push_stats) = element_push(&data, || 512);
    compare("Content-Length 2000 too long", &pulled, &pushed);
    assert_eq!(
        missing_from_element(&expected, &pushed, true),
        Vec::<usize>::new()
    );
    for stats in [&pull_stats, &push_stats] {
        assert_eq!(stats.get::<&str>("format").unwrap(), "http-multipart");
    }
    // Every good frame keeps its X-Timestamp.
    for f in pushed.iter().filter(|f| f.index() != Some(4)) {
        let k = f.index().unwrap();
        assert!(
            f.part.as_deref().unwrap().contains(&format!(
                "x-timestamp=(string)\"{}.000000\"",
                1_700_000_000 + k
            )) || f
                .part
                .as_deref()
                .unwrap()
                .contains(&format!("x-timestamp=(string){}.000000", 1_700_000_000 + k)),
            "{:?}",
            f.part
        );
    }
}

/// Issue 20, point 1: parts whose JPEGs hold the stream's own boundary
/// line in a segment (COM or APP1 after the SOI, COM before the EOI), with
/// exact, missing and wrong Content-Lengths: every frame comes out whole,
/// pulled and pushed in 1, 7, 512-byte and random pieces. (A length that
/// points exactly at the boundary line inside a frame is believed: the
/// delimiter is where the part's length says the part ends.)
#[test]
fn boundary_lines_inside_segments_cost_no_frame() {
    let good = good_frames();
    let frames = &good[good.len() - BOUNDARY_FRAMES..];
    for (name, delta) in [
        ("exact", Some(0i64)),
        ("none", None),
        ("long", Some(900)),
        ("short", Some(-7)),
    ] {
        let mut data = Vec::new();
        let mut expected = Vec::new();
        for k in 0..12 {
            let f = &frames[k % frames.len()];
            data.extend(b"--frame\r\nContent-Type: image/jpeg\r\n");
            if let Some(d) = delta {
                data.extend(format!("Content-Length: {}\r\n", f.len() as i64 + d).as_bytes());
            }
            data.extend(b"\r\n");
            expected.push(f.clone());
            data.extend(f);
            data.extend(b"\r\n");
        }
        let (pulled, _) = element_pull(&data, "boundary");
        let bytes: Vec<Vec<u8>> = pulled.iter().map(|f| f.bytes.clone()).collect();
        assert!(bytes == expected, "{name}: {} of 12 frames pulled whole", {
            bytes.iter().filter(|b| expected.contains(b)).count()
        });
        let sizes: Vec<Box<dyn FnMut() -> usize>> = vec![
            Box::new(|| 1),
            Box::new(|| 7),
            Box::new(|| 512),
            Box::new(random_chunks(0xB0 ^ delta.unwrap_or(1).unsigned_abs())),
        ];
        for (k, next_len) in sizes.into_iter().enumerate() {
            let (pushed, _) = element_push(&data, next_len);
            compare(&format!("{name} pieces #{k}"), &pulled, &pushed);
        }
    }
}
