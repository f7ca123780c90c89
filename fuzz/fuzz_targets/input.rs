// SPDX-License-Identifier: MIT OR Apache-2.0

/// Split a fuzz input into a chunking seed, a frame size limit and the stream.
pub fn parts(data: &[u8]) -> Option<(u64, u64, &[u8])> {
    let (head, stream) = data.split_first_chunk::<9>()?;
    let seed = u64::from_le_bytes(head[..8].try_into().ok()?);
    // Sometimes a small limit, to exercise the drops; else the default.
    let max = match head[8] % 4 {
        0 => 64 + u64::from(head[8]) * 64,
        _ => crate::jpeg::DEFAULT_MAX_FRAME_SIZE,
    };
    Some((seed, max, stream))
}
