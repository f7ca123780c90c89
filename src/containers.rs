// SPDX-License-Identifier: MIT OR Apache-2.0

//! Container formats by their first bytes, with the GStreamer demuxer that
//! reads each. No GStreamer types. The typefinder never claims these (their
//! JPEG frames sit behind binary headers, with chunk headers and audio
//! between them), and mjpegsplit says so when it is given one.

/// A container format recognised at the start of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container {
    /// What users call it.
    pub name: &'static str,
    /// The GStreamer element that reads it (decodebin finds it too).
    pub demuxer: &'static str,
}

const fn c(name: &'static str, demuxer: &'static str) -> Container {
    Container { name, demuxer }
}

/// Signatures at offset 0.
const MAGIC: [(&[u8], Container); 12] = [
    (b"RIFF", c("RIFF (AVI, WAV, WebP)", "avidemux")),
    (b"RF64", c("RF64 (64-bit RIFF)", "wavparse")),
    (
        &[0x1A, 0x45, 0xDF, 0xA3],
        c("Matroska/WebM", "matroskademux"),
    ),
    (
        &[0x00, 0x00, 0x01, 0xBA],
        c("MPEG program stream", "mpegpsdemux"),
    ),
    (&[0x00, 0x00, 0x01, 0xB3], c("MPEG video", "mpegvideoparse")),
    (b"OggS", c("Ogg", "oggdemux")),
    (b"FLV\x01", c("FLV", "flvdemux")),
    (
        &[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11],
        c("ASF (WMV)", "asfdemux"),
    ),
    (&[0x06, 0x0E, 0x2B, 0x34], c("MXF", "mxfdemux")),
    (b"FORM", c("IFF (AIFF)", "aiffparse")),
    (b"ID3", c("MP3 (ID3)", "id3demux")),
    (b"fLaC", c("FLAC", "flacparse")),
];

/// QuickTime/MP4 atoms at offset 4.
const QT_ATOMS: [&[u8]; 8] = [
    b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid",
];

/// The container `data` (the first bytes of a stream) starts with, if any.
pub fn container(data: &[u8]) -> Option<Container> {
    let at = |pos: usize, sig: &[u8]| data.get(pos..pos + sig.len()) == Some(sig);
    if let Some((_, found)) = MAGIC.iter().find(|(m, _)| at(0, m)) {
        return Some(*found);
    }
    if QT_ATOMS.iter().any(|a| at(4, a)) {
        return Some(c("MP4/QuickTime", "qtdemux"));
    }
    // MPEG-TS (188-byte packets) and M2TS (192, after a 4-byte time code).
    if (at(0, &[0x47]) && at(188, &[0x47])) || (at(4, &[0x47]) && at(196, &[0x47])) {
        return Some(c("MPEG transport stream", "tsdemux"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_by_their_first_bytes() {
        assert_eq!(
            container(b"RIFF\x10\0\0\0AVI LIST").unwrap().demuxer,
            "avidemux"
        );
        assert_eq!(
            container(b"\0\0\0\x14ftypqt  \0\0\0\0").unwrap().demuxer,
            "qtdemux"
        );
        assert_eq!(
            container(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]).unwrap().demuxer,
            "matroskademux"
        );
        let mut ts = vec![0u8; 200];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert_eq!(container(&ts).unwrap().demuxer, "tsdemux");
        assert_eq!(container(&[0xFF, 0xD8, 0xFF, 0xE0]), None);
        assert_eq!(container(b"--myboundary\r\n"), None);
        assert_eq!(container(b""), None);
    }
}
