// SPDX-License-Identifier: MIT OR Apache-2.0

//! Property tests on stable: random streams made from real encoder frames
//! (raw and multipart, with and without Content-Length), randomly damaged
//! (bytes flipped, a frame truncated, a range cut out, junk inserted), fed in
//! random chunks. Checked: no panic, the properties of
//! `gstmjpegsplit::properties`, and every frame after the damage recovered
//! byte for byte once past the blast radius of a damaged length field.

mod common;

use common::{Rng, fixture};
use gstmjpegsplit::jpeg::{DEFAULT_MAX_FRAME_SIZE, Event};
use gstmjpegsplit::multipart::Output;
use gstmjpegsplit::properties::{check_piece_sizes, check_scanner, check_splitter, damaged_stream};

/// The longest a damaged length field can make the walk skip: past this,
/// frames after the damage must come out untouched.
const BLAST_RADIUS: usize = 65_536;

fn encoder_frames() -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = [
        "gray.jpg",
        "rgb.jpg",
        "exif-thumb.jpg",
        "progressive.jpg",
        "restart-422.jpg",
        "restart-jpegtran.jpg",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    for name in ["gst-jpegenc.mjpg", "ffmpeg.mjpg"] {
        frames.extend(common::split_concatenation(&fixture(name)));
    }
    frames
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Raw,
    MultipartLength,
    MultipartNoLength,
}

/// A stream and the byte range of each frame in it.
fn make_stream(rng: &mut Rng, frames: &[Vec<u8>], kind: Kind) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut data = Vec::new();
    let mut ranges = Vec::new();
    for _ in 0..40 + rng.below(40) {
        let f = &frames[rng.below(frames.len())];
        match kind {
            Kind::Raw => {}
            Kind::MultipartLength => data.extend(
                format!(
                    "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    f.len()
                )
                .as_bytes(),
            ),
            Kind::MultipartNoLength => data.extend(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"),
        }
        ranges.push((data.len(), data.len() + f.len()));
        data.extend(f);
        if !matches!(kind, Kind::Raw) {
            data.extend(b"\r\n");
        }
    }
    (data, ranges)
}

/// Damage the stream; returns where the damage ends in the original stream
/// and in the new one, and the shift of everything after it.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, ranges: &[(usize, usize)]) -> (usize, usize, isize) {
    let (fs, fe) = ranges[rng.below(ranges.len())];
    match rng.below(4) {
        0 => {
            // Flip a few bytes inside one frame.
            for _ in 0..1 + rng.below(4) {
                let at = fs + rng.below(fe - fs);
                data[at] ^= 1 << rng.below(8);
            }
            (fe, fe, 0)
        }
        1 => {
            // Truncate a frame: drop its tail.
            let cut = fs + 1 + rng.below(fe - fs - 1);
            data.drain(cut..fe);
            (fe, cut, -((fe - cut) as isize))
        }
        2 => {
            // Cut out an arbitrary range (a splice of two points of the stream).
            let a = rng.below(data.len() - 1);
            let b = (a + 1 + rng.below(20_000)).min(data.len());
            data.drain(a..b);
            (b, a, -((b - a) as isize))
        }
        _ => {
            // Insert junk (sometimes full of FF and SOIs).
            let at = rng.below(data.len());
            let n = 1 + rng.below(5000);
            let junk: Vec<u8> = (0..n)
                .map(|_| match rng.below(8) {
                    0 => 0xFF,
                    1 => 0xD8,
                    _ => rng.next() as u8,
                })
                .collect();
            data.splice(at..at, junk);
            (at, at + n, n as isize)
        }
    }
}

fn check_recovery(
    data: &[u8],
    found: &[(usize, usize)],
    ranges: &[(usize, usize)],
    damage: (usize, usize, isize),
) -> usize {
    let (orig_end, new_end, shift) = damage;
    let mut checked = 0;
    for &(s, e) in ranges {
        if s < orig_end {
            continue; // before or in the damage
        }
        let (ns, ne) = ((s as isize + shift) as usize, (e as isize + shift) as usize);
        if ns < new_end + BLAST_RADIUS {
            continue; // within the blast radius
        }
        assert!(
            found.contains(&(ns, ne)),
            "frame at {ns}..{ne} after damage ending at {new_end} not recovered ({} bytes)",
            data.len()
        );
        checked += 1;
    }
    checked
}

#[test]
fn damaged_streams_keep_every_property() {
    let frames = encoder_frames();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut recovered = 0;
    for round in 0..600 {
        let kind = [Kind::Raw, Kind::MultipartLength, Kind::MultipartNoLength][round % 3];
        let (mut data, ranges) = make_stream(&mut rng, &frames, kind);
        // Untouched, every frame comes out exactly.
        let damage = if round % 8 == 0 {
            None
        } else {
            Some(mutate(&mut rng, &mut data, &ranges))
        };
        let seed = rng.next();
        let max = if round % 5 == 0 {
            4000
        } else {
            DEFAULT_MAX_FRAME_SIZE
        };
        let scanned = check_scanner(&data, seed, max)
            .unwrap_or_else(|e| panic!("round {round} {kind:?}: {e}"));
        let split = check_splitter(&data, seed, max)
            .unwrap_or_else(|e| panic!("round {round} {kind:?}: {e}"));
        if max != DEFAULT_MAX_FRAME_SIZE {
            continue;
        }
        let scan_ranges: Vec<(usize, usize)> = scanned
            .iter()
            .filter_map(|e| match e {
                Event::Frame(f) if f.complete => Some((f.start as usize, f.end as usize)),
                _ => None,
            })
            .collect();
        let split_ranges: Vec<(usize, usize)> = split
            .iter()
            .filter_map(|o| match o {
                Output::Frame { frame, .. } if frame.complete => {
                    Some((frame.start as usize, frame.end as usize))
                }
                _ => None,
            })
            .collect();
        match damage {
            None => {
                assert_eq!(
                    split_ranges, ranges,
                    "round {round} {kind:?}: undamaged stream"
                );
                if matches!(kind, Kind::Raw) {
                    assert_eq!(scan_ranges, ranges, "round {round}: undamaged raw stream");
                }
            }
            Some(d) => {
                recovered += check_recovery(&data, &split_ranges, &ranges, d);
                if matches!(kind, Kind::Raw) {
                    recovered += check_recovery(&data, &scan_ranges, &ranges, d);
                }
            }
        }
    }
    // The recovery property was checked on many frames, not vacuously.
    assert!(recovered > 1000, "{recovered}");
}

#[test]
fn random_bytes_keep_every_property() {
    let mut rng = Rng(42);
    for round in 0..200 {
        let n = rng.below(200_000);
        let data: Vec<u8> = (0..n)
            .map(|_| match rng.below(6) {
                0 => 0xFF,
                1 => [0xD8, 0xD9, 0xDA, 0xC0, 0xC4, 0xDB, 0x00][rng.below(7)],
                _ => rng.next() as u8,
            })
            .collect();
        let seed = rng.next();
        check_scanner(&data, seed, 5000).unwrap_or_else(|e| panic!("round {round}: {e}"));
        check_splitter(&data, seed, 5000).unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
}

/// What the `damaged` fuzz target checks, on random recipes.
#[test]
fn damaged_recipes_keep_every_property() {
    let frames = encoder_frames();
    let frames: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let mut rng = Rng(0xDA3A_6ED0);
    for round in 0..150 {
        let recipe: Vec<u8> = (0..rng.below(400)).map(|_| rng.next() as u8).collect();
        let data = damaged_stream(&recipe, &frames);
        let seed = rng.next();
        let max = if round % 5 == 0 {
            4000
        } else {
            DEFAULT_MAX_FRAME_SIZE
        };
        check_scanner(&data, seed, max).unwrap_or_else(|e| panic!("round {round}: {e}"));
        check_splitter(&data, seed, max).unwrap_or_else(|e| panic!("round {round}: {e}"));
        check_piece_sizes(&data, max).unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
}
