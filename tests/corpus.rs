// SPDX-License-Identifier: MIT OR Apache-2.0

//! The malformed-JPEG corpus (tests/malformed) interleaved with good frames,
//! raw and multipart: every good frame comes out byte for byte, fed whole
//! and in 1, 7 and 512-byte pieces, through the splitter and the element.

mod malformed;

use gstmjpegsplit::multipart::Output;
use gstmjpegsplit::properties::split_with;
use malformed::*;

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

#[test]
fn splitter_keeps_every_good_frame() {
    let good = good_frames();
    let mut report = Vec::new();
    let mut failed = false;
    for &format in FORMATS {
        let mut rng = Rng(0x5EED_0001 + format as u64);
        let (data, goods) = stream(&mut rng, &good, format, 200);
        for chunk in [data.len(), 1, 7, 512] {
            let outs = split_outputs(&data, chunk);
            if std::env::var_os("CORPUS_DEBUG").is_some() && chunk == data.len() {
                std::fs::write(format!("/tmp/wt14_corpus_{format:?}.bin"), &data).unwrap();
                let (o, _) = split_with(&data, gstmjpegsplit::jpeg::DEFAULT_MAX_FRAME_SIZE, || chunk);
                for x in &o {
                    match x {
                        Output::Frame { frame, headers, by_length } => eprintln!(
                            "  frame {}..{} complete {} damaged {} by_length {by_length} {:?}",
                            frame.start, frame.end, frame.complete, frame.damaged,
                            headers.iter().find(|(n, _)| n == "x-index")
                        ),
                        Output::Dropped { start, end, reason } => eprintln!("  dropped {start}..{end} {reason:?}"),
                    }
                }
            }
            let exact = matches!(format, Format::MultipartExact | Format::Http);
            let miss = missing(&goods, &outs, exact);
            report.push(format!(
                "{format:?} chunk {chunk}: {}/{} good frames out, missing {miss:?}",
                goods.len() - miss.len(),
                goods.len()
            ));
            failed |= !miss.is_empty();
        }
    }
    println!("{}", report.join("\n"));
    assert!(!failed, "{}", report.join("\n"));
}
