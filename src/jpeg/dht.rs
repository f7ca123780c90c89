// SPDX-License-Identifier: MIT OR Apache-2.0

//! Huffman tables for frames that carry none. USB webcams (UVC) and AVI1
//! MJPEG recordings often leave the DHT segment out and rely on the
//! decoder knowing the standard tables of the JPEG spec (ITU-T T.81,
//! Annex K.3, Tables K.3 to K.6): browsers and libjpeg-turbo cope, Safari,
//! Go's `image/jpeg`, the Windows photo viewer and some hardware decoders
//! do not. [`with_standard_dht`] puts those tables in, right before the
//! frame's first SOS, found by walking the header's segments by their
//! lengths (so never inside an EXIF thumbnail), and only into a frame that
//! has no DHT before its first scan and is Huffman-coded with 8-bit samples
//! (SOF0, SOF1, SOF2: the tables are defined for those).

/// Table class and id (`Tc << 4 | Th`), then the 16 code counts by length
/// (`BITS`), then the symbols (`HUFFVAL`).
struct Table {
    class_id: u8,
    bits: [u8; 16],
    values: &'static [u8],
}

/// Table K.3: luminance DC differences (categories 0 to 11).
const DC_LUMINANCE: Table = Table {
    class_id: 0x00,
    bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    values: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

/// Table K.4: chrominance DC differences.
const DC_CHROMINANCE: Table = Table {
    class_id: 0x01,
    bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    values: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

/// Table K.5: luminance AC coefficients (run/size symbols).
const AC_LUMINANCE: Table = Table {
    class_id: 0x10,
    bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D],
    values: &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52,
        0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
        0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3,
        0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8,
        0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
    ],
};

/// Table K.6: chrominance AC coefficients.
const AC_CHROMINANCE: Table = Table {
    class_id: 0x11,
    bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    values: &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
        0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33,
        0x52, 0xF0, 0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18,
        0x19, 0x1A, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4,
        0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA,
        0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7,
        0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
    ],
};

const TABLES: [Table; 4] = [DC_LUMINANCE, AC_LUMINANCE, DC_CHROMINANCE, AC_CHROMINANCE];

/// The DHT segment (marker, length, the four standard tables).
pub fn standard_dht_segment() -> Vec<u8> {
    let payload: usize = TABLES.iter().map(|t| 17 + t.values.len()).sum();
    let mut seg = Vec::with_capacity(4 + payload);
    seg.extend_from_slice(&[0xFF, 0xC4]);
    seg.extend_from_slice(&u16::try_from(payload + 2).unwrap_or(u16::MAX).to_be_bytes());
    for t in &TABLES {
        seg.push(t.class_id);
        seg.extend_from_slice(&t.bits);
        seg.extend_from_slice(t.values);
    }
    seg
}

/// Where the standard tables go in `jpeg`: the offset of its first SOS
/// marker, if it is a Huffman-coded 8-bit frame whose header (walked by
/// segment lengths from the SOI) holds no DHT before that SOS. `None` for
/// a frame that has a DHT, is arithmetic-coded, lossless or 12-bit, or
/// whose header cannot be walked.
pub fn missing_dht_at(jpeg: &[u8]) -> Option<usize> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    let mut huffman_8bit = false;
    loop {
        if *jpeg.get(pos)? != 0xFF {
            return None;
        }
        // Fill bytes before a marker.
        while *jpeg.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        let code = jpeg[pos + 1];
        match code {
            0xDA => return huffman_8bit.then_some(pos),
            0xC4 => return None,
            // Standalone markers have no length; none belongs here.
            0x01 | 0xD0..=0xD9 => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([
            *jpeg.get(pos + 2)?,
            *jpeg.get(pos + 3)?,
        ]));
        if len < 2 {
            return None;
        }
        if matches!(code, 0xC0..=0xCF) && code != 0xC4 && code != 0xC8 && code != 0xCC {
            // SOF0 baseline, SOF1 extended, SOF2 progressive, with 8-bit
            // samples: the tables of Annex K apply. Other SOFs do not.
            huffman_8bit = matches!(code, 0xC0..=0xC2) && *jpeg.get(pos + 4)? == 8;
        }
        pos += 2 + len;
    }
}

/// `jpeg` with the standard Huffman tables inserted before its first SOS,
/// if it needs them ([`missing_dht_at`]); `None` leaves the frame as it is.
pub fn with_standard_dht(jpeg: &[u8]) -> Option<Vec<u8>> {
    let at = missing_dht_at(jpeg)?;
    let seg = standard_dht_segment();
    let mut out = Vec::with_capacity(jpeg.len() + seg.len());
    out.extend_from_slice(&jpeg[..at]);
    out.extend_from_slice(&seg);
    out.extend_from_slice(&jpeg[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAY: &[u8] = include_bytes!("../../tests/fixtures/gray.jpg");
    const EXIF: &[u8] = include_bytes!("../../tests/fixtures/exif-thumb.jpg");

    /// `jpeg` without its DHT segments (walked by length up to the first SOS).
    fn strip_dht(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut pos = 2;
        while jpeg[pos + 1] != 0xDA {
            let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
            if jpeg[pos + 1] != 0xC4 {
                out.extend_from_slice(&jpeg[pos..pos + 2 + len]);
            }
            pos += 2 + len;
        }
        out.extend_from_slice(&jpeg[pos..]);
        out
    }

    #[test]
    fn tables_hold_as_many_symbols_as_their_counts_say() {
        for t in &TABLES {
            let n: usize = t.bits.iter().map(|&b| usize::from(b)).sum();
            assert_eq!(n, t.values.len(), "table {:02x}", t.class_id);
        }
        // 4 + 4 x 17 + 12 + 162 + 12 + 162.
        assert_eq!(standard_dht_segment().len(), 420);
    }

    #[test]
    fn a_frame_with_tables_is_left_alone() {
        assert_eq!(with_standard_dht(GRAY), None);
        assert_eq!(with_standard_dht(EXIF), None);
        assert_eq!(with_standard_dht(b"not a jpeg"), None);
        assert_eq!(with_standard_dht(&GRAY[..40]), None);
    }

    #[test]
    fn tables_go_before_the_first_sos_once() {
        for jpeg in [GRAY, EXIF] {
            let bare = strip_dht(jpeg);
            assert!(bare.len() < jpeg.len());
            let fixed = with_standard_dht(&bare).expect("tables inserted");
            let at = missing_dht_at(&bare).unwrap();
            assert_eq!(&fixed[..at], &bare[..at]);
            assert_eq!(&fixed[at..at + 2], &[0xFF, 0xC4]);
            assert_eq!(&fixed[at + 420..], &bare[at..]);
            // Never twice.
            assert_eq!(with_standard_dht(&fixed), None);
        }
    }

    #[test]
    fn the_exif_thumbnail_is_not_walked_into() {
        // exif-thumb.jpg's APP1 holds a whole JPEG thumbnail (with its own
        // SOI, DHT and SOS): the walk skips it by its length, so the tables
        // go before the main image's SOS, after the APP1.
        let bare = strip_dht(EXIF);
        let at = missing_dht_at(&bare).unwrap();
        // SOI, APP0 (JFIF, 16), then the APP1.
        assert_eq!(&bare[20..22], &[0xFF, 0xE1]);
        let app1_end = 22 + usize::from(u16::from_be_bytes([bare[22], bare[23]]));
        let thumb_sos = 20 + memchr::memmem::find(&bare[20..], &[0xFF, 0xDA]).unwrap();
        assert!(
            thumb_sos < app1_end,
            "the thumbnail's SOS is inside the APP1"
        );
        assert!(at >= app1_end, "{at} {app1_end}");
        assert_eq!(&bare[at..at + 2], &[0xFF, 0xDA]);
    }
}
