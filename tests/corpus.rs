// SPDX-License-Identifier: MIT OR Apache-2.0

//! The malformed-JPEG corpus (tests/malformed) interleaved with good frames,
//! raw and multipart: every good frame comes out byte for byte, fed whole
//! and in 1, 7 and 512-byte pieces, through the splitter and the element.

mod common;
mod malformed;

use gstmjpegsplit::multipart::Output;
use gstmjpegsplit::properties::split_with;
use malformed::*;

/// Streams per format in the splitter test.
const SEEDS: u64 = 12;

fn split_outputs(data: &[u8], chunk: usize) -> Vec<Out> {
    let (outs, _) = split_with(data, gstmjpegsplit::jpeg::DEFAULT_MAX_FRAME_SIZE, || chunk);
    outs.iter()
        .filter_map(|o| match o {
            Output::Frame { frame, headers, .. } => Some((
                frame.start,
                data[frame.start as usize..frame.end as usize].to_vec(),
                headers
                    .iter()
                    .find(|(n, _)| n == "x-index")
                    .and_then(|(_, v)| v.parse().ok()),
            )),
            _ => None,
        })
        .collect()
}

fn frame_list(data: &[u8]) -> String {
    let (o, _) = split_with(data, gstmjpegsplit::jpeg::DEFAULT_MAX_FRAME_SIZE, || {
        data.len()
    });
    o.iter()
        .map(|x| match x {
            Output::Frame {
                frame, by_length, ..
            } => format!(
                "frame {}..{} complete {} damaged {} by_length {by_length}\n",
                frame.start, frame.end, frame.complete, frame.damaged
            ),
            Output::Dropped { start, end, reason } => {
                format!("dropped {start}..{end} {reason:?}\n")
            }
        })
        .collect()
}

#[test]
fn splitter_keeps_every_good_frame() {
    let good = good_frames();
    let mut report = Vec::new();
    let mut failed = false;
    for &format in FORMATS {
        let (mut total, mut out) = ([0; 4], [0; 4]);
        let seeds = std::env::var("CORPUS_SEEDS").map_or(SEEDS, |s| s.parse().unwrap());
        for seed in 0..seeds {
            let mut rng = Rng(0x5EED_0001 + format as u64 + (seed << 8));
            let (data, goods) = stream(&mut rng, &good, format, 200);
            for (k, chunk) in [data.len(), 1, 7, 512].into_iter().enumerate() {
                let outs = split_outputs(&data, chunk);
                let exact = matches!(format, Format::MultipartExact | Format::Http);
                let miss = missing(&goods, &outs, exact);
                total[k] += goods.len();
                out[k] += goods.len() - miss.len();
                if !miss.is_empty() {
                    failed = true;
                    report.push(format!(
                        "{format:?} seed {seed} chunk {chunk}: missing {miss:?}"
                    ));
                    if std::env::var_os("CORPUS_DEBUG").is_some() {
                        let name = format!("/tmp/wt14_corpus_{format:?}_{seed}");
                        std::fs::write(format!("{name}.bin"), &data).unwrap();
                        let goods: String = goods
                            .iter()
                            .map(|g| {
                                format!(
                                    "good {} at {}..{}\n",
                                    g.index,
                                    g.start,
                                    g.start as usize + g.bytes.len()
                                )
                            })
                            .collect();
                        std::fs::write(format!("{name}.txt"), goods + &frame_list(&data)).unwrap();
                    }
                }
            }
        }
        report.push(format!(
            "{format:?}: good frames out / in: whole {}/{}, 1-byte {}/{}, 7-byte {}/{}, 512-byte {}/{}",
            out[0], total[0], out[1], total[1], out[2], total[2], out[3], total[3]
        ));
    }
    println!("{}", report.join("\n"));
    assert!(!failed, "{}", report.join("\n"));
}

#[test]
fn element_keeps_every_good_frame_pulled_and_pushed() {
    let good = good_frames();
    let mut report = Vec::new();
    let mut failed = false;
    for &format in FORMATS {
        let exact = matches!(format, Format::MultipartExact | Format::Http);
        let (mut total, mut out) = ([0; 4], [0; 4]);
        for seed in 0..3 {
            let mut rng = Rng(0x5EED_0101 + format as u64 + (seed << 8));
            let (data, goods) = stream(&mut rng, &good, format, 80);
            let (pulled, _) = element_pull(&data, "corpus");
            let mut runs = vec![("pull".to_string(), pulled.clone())];
            for chunk in [1, 7, 512] {
                runs.push((format!("push {chunk}"), element_push(&data, || chunk).0));
            }
            for (k, (how, frames)) in runs.iter().enumerate() {
                let miss = missing_from_element(&goods, frames, exact);
                total[k] += goods.len();
                out[k] += goods.len() - miss.len();
                if !miss.is_empty() || frames != &pulled {
                    failed = true;
                    report.push(format!(
                        "{format:?} seed {seed} {how}: missing {miss:?}, same as pulled: {}",
                        frames == &pulled
                    ));
                }
            }
        }
        report.push(format!(
            "{format:?} through the element: good frames out / in: pulled {}/{}, pushed in 1-byte {}/{}, 7-byte {}/{}, 512-byte {}/{}",
            out[0], total[0], out[1], total[1], out[2], total[2], out[3], total[3]
        ));
    }
    println!("{}", report.join("\n"));
    assert!(!failed, "{}", report.join("\n"));
}
