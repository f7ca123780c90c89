// SPDX-License-Identifier: MIT OR Apache-2.0

//! The segment rules: marker codes, how long a segment may be, what a
//! plausible SOF looks like.

use super::*;

pub(super) const SOI: u8 = 0xD8;
pub(super) const EOI: u8 = 0xD9;
pub(super) const SOS: u8 = 0xDA;
pub(super) const DNL: u8 = 0xDC;
pub(super) const APP0: u8 = 0xE0;
pub(super) const APP14: u8 = 0xEE;

/// The largest payload a segment can have: tables and frame/scan headers
/// are bounded by the format; APPn, COM and others may take 65533 bytes.
pub(super) fn max_payload(code: u8) -> u32 {
    match code {
        0xDB => 4 * (1 + 128),         // DQT: four 16-bit tables
        0xC4 => 4 * (1 + 16 + 256),    // DHT: four tables
        0xCC => 2 * 32,                // DAC
        SOS => 1 + 2 * 4 + 3,          // up to four components
        0xDD | DNL => 2,               // DRI, DNL
        c if is_sof(c) => 6 + 3 * 255, // checked further in plausible_sof
        _ => u32::from(u16::MAX) - 2,
    }
}

/// Whether a SOF segment describes an image a decoder could take: a sane
/// precision, a width, 1 to 4 components with sampling factors 1 to 4, and
/// a length that matches. Random data almost never passes this.
pub(super) fn plausible_sof(code: u8, cap: &[u8], payload: u32) -> bool {
    let [precision, _, _, w_hi, w_lo, nc, ..] = *cap else {
        return false;
    };
    let lossless = matches!(code & 0x03, 3);
    let precision_ok = matches!(precision, 8 | 12) || (lossless && (2..=16).contains(&precision));
    let nc_ok = (1..=MAX_COMPONENTS as u8).contains(&nc) && payload == 6 + 3 * u32::from(nc);
    let factors_ok = cap[6..]
        .chunks_exact(3)
        .take(usize::from(nc))
        .all(|c| (1..=4).contains(&(c[1] >> 4)) && (1..=4).contains(&(c[1] & 0x0F)));
    precision_ok && u16::from_be_bytes([w_hi, w_lo]) > 0 && nc_ok && factors_ok
}

/// SOF0–SOF15, which excludes DHT (C4), JPG (C8) and DAC (CC).
pub(super) fn is_sof(code: u8) -> bool {
    matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC)
}
