// SPDX-License-Identifier: MIT OR Apache-2.0

//! Segment payloads: the bytes kept for SOF, DNL, JFIF and Adobe, and
//! the watch for an SOI (and its EOI) inside a payload.

use super::*;

use memchr::memchr;

impl Scanner {
    /// Bytes of a segment payload at offset `at`: keep what the segment
    /// needs, and watch for an SOI in it.
    pub(super) fn payload_bytes(&mut self, bytes: &[u8], at: u64) {
        if self.capture_len < self.capture_want {
            let take = bytes.len().min(self.capture_want - self.capture_len);
            self.capture[self.capture_len..self.capture_len + take].copy_from_slice(&bytes[..take]);
            self.capture_len += take;
        }
        self.watch(bytes, at, true);
    }

    /// The payload of segment `code` ended at `at`. Returns whether the
    /// frame turned out broken (and the scanner backed off).
    pub(super) fn payload_end(&mut self, code: u8, at: u64, out: &mut Vec<Event>) -> bool {
        if self.pay_match == 2
            && let Some(cur) = self.cur.as_mut()
        {
            // The payload ends with `FF D8`: an SOI whose marker the walk
            // reads as the next segment's.
            cur.note_soi(at - 2);
        }
        if self.pay_match == 1
            && code == SOS
            && let Some(cur) = self.cur.as_mut()
        {
            // A scan header ending with `FF` (never valid): the SOI of a
            // frame that follows one cut inside its scan header.
            cur.note_soi(at - 1);
        }
        // An SOI with no EOI after it in the payload: the length ran into
        // the next frame.
        if self.cur.is_some_and(|c| c.open_soi) && self.broken(at, out) {
            return true;
        }
        // An APPn segment (JFIF, Exif, Adobe: what follows an SOI) right
        // after an SOI that ended a payload: a frame swallowed by a length
        // field.
        if (0xE0..=0xEF).contains(&code)
            && self
                .cur
                .is_some_and(|c| c.last_soi.is_some_and(|soi| c.segment_at == soi + 2))
            && self.broken(at, out)
        {
            return true;
        }
        self.end_segment(code);
        false
    }

    /// Watch header bytes (at offset `at`) for an SOI followed by a marker
    /// (`FF D8 FF`) and, in a payload, for EOIs after it.
    pub(super) fn watch(&mut self, bytes: &[u8], at: u64, in_payload: bool) {
        let Some(cur) = self.cur.as_mut() else {
            return;
        };
        let mut k = 0;
        while k < bytes.len() {
            if self.pay_match == 0 {
                match memchr(0xFF, &bytes[k..]) {
                    Some(j) => {
                        self.pay_match = 1;
                        k += j + 1;
                    }
                    None => return,
                }
                continue;
            }
            let b = bytes[k];
            self.pay_match = match (self.pay_match, b) {
                (1, SOI) => 2,
                (1, EOI) => {
                    cur.open_soi = false;
                    0
                }
                (_, 0xFF) if self.pay_match == 2 => {
                    // `FF D8 FF`: the SOI starts two bytes back.
                    let soi = at + k as u64 - 2;
                    cur.note_soi(soi);
                    cur.open_soi |= in_payload;
                    1
                }
                (1, 0xFF) => 1,
                _ => 0,
            };
            k += 1;
        }
    }

    pub(super) fn begin_payload(&mut self, code: u8, len: u32) {
        if let Some(cur) = self.cur.as_mut() {
            cur.open_soi = false;
        }
        let want = match code {
            c if is_sof(c) => CAPTURE_MAX,
            DNL => 2,
            APP0 => 12,
            APP14 => 12,
            _ => 0,
        };
        self.capture_len = 0;
        self.capture_want = want.min(len as usize);
        self.segment_len = len;
        if len == 0 {
            self.end_segment(code);
        } else {
            self.state = State::Payload {
                code,
                remaining: len,
            };
        }
    }

    pub(super) fn end_segment(&mut self, code: u8) {
        let cap = &self.capture[..self.capture_len];
        self.state = State::Marker;
        let Some(cur) = self.cur.as_mut() else {
            self.state = State::Search;
            return;
        };
        match code {
            c if is_sof(c) && !cur.seen_sof && plausible_sof(c, cap, self.segment_len) => {
                cur.seen_sof = true;
                let info = &mut cur.info;
                info.sof = c - 0xC0;
                info.precision = cap[0];
                info.height = u16::from_be_bytes([cap[1], cap[2]]);
                info.width = u16::from_be_bytes([cap[3], cap[4]]);
                info.components = cap[5];
                for (k, comp) in cap[6..].chunks_exact(3).take(MAX_COMPONENTS).enumerate() {
                    info.sampling[k] = (comp[0], comp[1] >> 4, comp[1] & 0x0F);
                }
            }
            SOS => {
                cur.seen_sos = true;
                self.state = State::Entropy;
                if self.part_mode && self.stop_at_entropy {
                    self.stop = Some(Stop::Entropy);
                }
            }
            DNL if cap.len() == 2 && cur.info.height == 0 => {
                cur.info.height = u16::from_be_bytes([cap[0], cap[1]]);
            }
            APP0 if cap.len() >= 12 && cap.starts_with(b"JFIF\0") => {
                cur.info.jfif_density = Some((
                    cap[7],
                    u16::from_be_bytes([cap[8], cap[9]]),
                    u16::from_be_bytes([cap[10], cap[11]]),
                ));
            }
            APP14 if cap.len() >= 12 && cap.starts_with(b"Adobe") => {
                cur.info.adobe_transform = Some(cap[11]);
            }
            _ => {}
        }
    }
}
