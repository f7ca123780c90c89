// SPDX-License-Identifier: MIT OR Apache-2.0

//! What a frame is: its bounds and the facts of its header (FrameInfo:
//! size, components, sampling, colour space, density), and the events
//! the scanner reports.

/// Most components whose sampling factors are kept.
pub const MAX_COMPONENTS: usize = 4;

/// What the frame header (SOFn and a few APPn segments) says about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// SOF type: the marker minus `0xC0` (0 baseline, 1 extended, 2 progressive, 3 lossless, …).
    pub sof: u8,
    /// Sample precision in bits.
    pub precision: u8,
    pub width: u16,
    /// Image height; 0 only if neither SOF nor DNL gave it.
    pub height: u16,
    /// Number of components declared in SOF.
    pub components: u8,
    /// `(id, horizontal, vertical)` sampling factors of the first components.
    pub sampling: [(u8, u8, u8); MAX_COMPONENTS],
    /// The colour transform byte of an APP14 "Adobe" segment.
    pub adobe_transform: Option<u8>,
    /// Density units, x and y density from an APP0 "JFIF" segment.
    pub jfif_density: Option<(u8, u16, u16)>,
}

impl FrameInfo {
    /// The colour space name, as jpegparse puts it in caps.
    pub fn colorspace(&self) -> Option<&'static str> {
        match self.components {
            1 => Some("GRAY"),
            3 => {
                if self.is_rgb() {
                    Some("sRGB")
                } else {
                    Some("sYUV")
                }
            }
            4 => match self.adobe_transform {
                Some(2) => Some("sYCCK"),
                _ => Some("sCMYK"),
            },
            _ => None,
        }
    }

    fn is_rgb(&self) -> bool {
        let ids = [self.sampling[0].0, self.sampling[1].0, self.sampling[2].0];
        self.adobe_transform == Some(0) || ids == [b'R', b'G', b'B']
    }

    /// The chroma sampling name, as jpegparse puts it in caps.
    pub fn sampling_name(&self) -> Option<&'static str> {
        match self.components {
            1 => Some("GRAYSCALE"),
            3 => {
                let [(_, yh, yv), (_, cbh, cbv), (_, crh, crv)] =
                    [self.sampling[0], self.sampling[1], self.sampling[2]];
                if self.is_rgb() {
                    return (yh == cbh && cbh == crh && yv == cbv && cbv == crv).then_some("RGB");
                }
                if (cbh, cbv) != (crh, crv) || cbh == 0 || cbv == 0 {
                    return None;
                }
                match (yh / cbh, yv / cbv, yh % cbh, yv % cbv) {
                    (1, 1, 0, 0) => Some("YCbCr-4:4:4"),
                    (2, 1, 0, 0) => Some("YCbCr-4:2:2"),
                    (2, 2, 0, 0) => Some("YCbCr-4:2:0"),
                    (4, 1, 0, 0) => Some("YCbCr-4:1:1"),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Pixel aspect ratio from a JFIF segment whose density unit is "aspect ratio only".
    pub fn pixel_aspect_ratio(&self) -> Option<(u16, u16)> {
        match self.jfif_density {
            Some((0, x, y)) if x > 0 && y > 0 => Some((y, x)),
            _ => None,
        }
    }

    /// Whether this and `other` describe the same format (what caps carry).
    pub fn same_format(&self, other: &FrameInfo) -> bool {
        self.width == other.width
            && self.height == other.height
            && self.sof == other.sof
            && self.colorspace() == other.colorspace()
            && self.sampling_name() == other.sampling_name()
            && self.pixel_aspect_ratio() == other.pixel_aspect_ratio()
    }
}

/// A frame found in the stream: bytes `start..end` (absolute offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub start: u64,
    pub end: u64,
    /// The frame ends with its own EOI. If false, the entropy data was cut (by
    /// a new SOI or the end of the stream) and the range ends where it stopped.
    pub complete: bool,
    /// Bytes that are not a marker were found where a marker should be.
    pub damaged: bool,
    pub info: FrameInfo,
}

impl Frame {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Why a started frame was not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// It ended (EOI, new SOI or end of stream) before it had both SOF and SOS.
    NoScan,
    /// It grew beyond the maximum frame size.
    TooLarge,
}

/// What [`Scanner::feed`] and [`Scanner::finish`] report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Frame(Frame),
    Dropped {
        start: u64,
        end: u64,
        reason: DropReason,
    },
}
