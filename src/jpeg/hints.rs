// SPDX-License-Identifier: MIT OR Apache-2.0

//! Marker hints: where in a block a walk through entropy-coded data has to
//! stop, listed before the walk.
//!
//! Pull mode reads on one thread and scans on another, and a block read on
//! one core is walked at half the speed on the other (its bytes must first
//! cross to that core). When the task falls behind, the reading thread lists,
//! while the block is still in its own cache, every `FF` that ends entropy
//! data (as [`super::entropy::find_end`] finds them), and the scanner jumps
//! from one to the next instead of testing every byte.
//!
//! Hints only save work: the scanner uses them only for bytes they cover,
//! and its events are the same with or without them (tested).

use super::entropy::find_end;

/// Hints listed per block at most: a frame has a few dozen markers.
const MAX_MARKERS: usize = 4096;

/// Where a walk through entropy data must stop, in one block of the stream.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// Absolute offset of the block's first byte.
    start: u64,
    /// Absolute offset just past the block's last byte.
    end: u64,
    /// Offsets from `start` of every `FF` followed by a byte that ends
    /// entropy data, and of an `FF` that is the block's last byte; ascending.
    markers: Vec<u32>,
}

impl Hints {
    /// The hints of `block`, whose first byte is at absolute offset `start`.
    /// A block too large for 32-bit offsets gets none (it covers nothing).
    pub fn find(block: &[u8], start: u64) -> Hints {
        let mut hints = Hints {
            start,
            end: start,
            markers: Vec::new(),
        };
        let Ok(len) = u32::try_from(block.len()) else {
            return hints;
        };
        let mut i = 0;
        while let Some(k) = find_end(&block[i..]) {
            if hints.markers.len() == MAX_MARKERS {
                // Not JPEG data as cameras make it: no hints (the scanner
                // walks it as always), and no list as large as the block.
                hints.markers = Vec::new();
                return hints;
            }
            hints.markers.push((i + k) as u32);
            i += k + 1;
        }
        hints.end = start + u64::from(len);
        hints
    }

    /// For absolute offsets `from..to`: `None` if the hints do not cover
    /// them, else the first hinted `FF` among them, if any.
    pub fn marker_in(&self, from: u64, to: u64) -> Option<Option<u64>> {
        if from < self.start || to > self.end || from > to {
            return None;
        }
        let rel = (from - self.start) as u32;
        let k = self.markers.partition_point(|&m| m < rel);
        Some(
            self.markers
                .get(k)
                .map(|&m| self.start + u64::from(m))
                .filter(|&p| p < to),
        )
    }

    /// Absolute offset of the first byte covered.
    pub fn start(&self) -> u64 {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_their_bounds() {
        let mut block = vec![0x12u8; 3000];
        block[10] = 0xFF; // stuffing: data
        block[11] = 0x00;
        block[100] = 0xFF;
        block[101] = 0xD9;
        block[2999] = 0xFF; // last byte: its next byte is unknown
        let h = Hints::find(&block, 1000);
        assert_eq!(h.marker_in(1000, 4000), Some(Some(1100)));
        assert_eq!(h.marker_in(1101, 4000), Some(Some(3999)));
        assert_eq!(h.marker_in(1101, 3999), Some(None));
        // Outside the block: not covered.
        assert_eq!(h.marker_in(999, 2000), None);
        assert_eq!(h.marker_in(1000, 4001), None);
    }

    #[test]
    fn dense_markers_give_no_hints() {
        // FF FF … (or FF 01 FF 01 …) is no entropy data a camera makes: the
        // block is left to the scanner rather than listed byte by byte.
        for block in [vec![0xFFu8; 1 << 16], [0xFF, 0x01].repeat(1 << 15)] {
            let h = Hints::find(&block, 0);
            assert_eq!(h.marker_in(0, 10), None);
            assert!(h.markers.is_empty());
        }
    }
}
