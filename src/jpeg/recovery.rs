// SPDX-License-Identifier: MIT OR Apache-2.0

//! Frame bounds and recovery: a frame starts, ends at a marker, is cut,
//! is damaged (skipped to the next marker) or proves broken (the scanner
//! backs off to the SOI or the delimiter line its walk swallowed).

use super::*;

impl Scanner {
    pub(super) fn start_frame(&mut self, start: u64) {
        self.cur = Some(Current {
            start,
            seen_sof: false,
            seen_sos: false,
            damaged: false,
            fresh: true,
            sof_marker: false,
            segment_at: start,
            inner_soi: None,
            last_soi: None,
            open_soi: false,
            inner_delim: None,
            info: FrameInfo::default(),
        });
        self.pay_match = 0;
        self.state = State::Marker;
    }

    /// A frame that ended without its EOI at `end`.
    pub(super) fn cut_frame(&self, cur: Current, end: u64) -> Event {
        if cur.seen_sof && cur.seen_sos {
            Event::Frame(Frame {
                start: cur.start,
                end,
                complete: false,
                damaged: cur.damaged,
                info: cur.info,
            })
        } else {
            Event::Dropped {
                start: cur.start,
                end,
                reason: DropReason::NoScan,
            }
        }
    }

    /// A marker code inside a frame; `pos` is the offset just after it.
    pub(super) fn marker(&mut self, code: u8, pos: u64, out: &mut Vec<Event>) {
        let Some(cur) = self.cur.as_mut() else {
            self.state = State::Search;
            return;
        };
        cur.fresh = false;
        cur.segment_at = pos - 2;
        // A frame that ends before its scan, after its walk swallowed an
        // SOI: that SOI starts the next frame.
        if matches!(code, SOI | EOI) && !cur.seen_sos && self.broken(pos, out) {
            return;
        }
        let Some(cur) = self.cur.as_mut() else {
            return;
        };
        match code {
            SOI => {
                let cur = *cur;
                out.push(self.cut_frame(cur, pos - 2));
                self.start_frame(pos - 2);
                if self.part_mode {
                    // The caller sees the cut frame; scanning goes on in the new one.
                    self.stop = Some(Stop::FrameEnd);
                }
            }
            EOI => {
                let cur = *cur;
                self.cur = None;
                self.state = State::Search;
                out.push(if cur.seen_sof && cur.seen_sos {
                    Event::Frame(Frame {
                        start: cur.start,
                        end: pos,
                        complete: true,
                        damaged: cur.damaged,
                        info: cur.info,
                    })
                } else {
                    Event::Dropped {
                        start: cur.start,
                        end: pos,
                        reason: DropReason::NoScan,
                    }
                });
                if self.part_mode {
                    self.stop = Some(Stop::FrameEnd);
                }
            }
            // A second frame header: the walk has run into another frame.
            c if is_sof(c) && cur.sof_marker => {
                if !self.broken(pos, out) {
                    self.state = State::Len1(code);
                }
            }
            c if is_sof(c) => {
                cur.sof_marker = true;
                self.state = State::Len1(code);
            }
            _ => self.state = State::Len1(code),
        }
    }

    /// Bytes that are not a marker where one should be (found at `at`). A
    /// frame with only its SOI so far was no JPEG at all: forget it. A frame
    /// that swallowed an SOI is broken: back off to it. Otherwise skip to
    /// the next marker (as libjpeg does) and mark the frame damaged.
    pub(super) fn damaged(&mut self, at: u64, out: &mut Vec<Event>) {
        if self.cur.is_some_and(|c| !c.fresh) && self.broken(at, out) {
            return;
        }
        match self.cur.as_mut() {
            Some(cur) if !cur.fresh => {
                cur.damaged = true;
                self.state = State::Entropy;
            }
            _ => {
                self.cur = None;
                self.state = State::Search;
            }
        }
    }

    /// The current frame is proven broken at `at`: if it swallowed an SOI
    /// (the first `FF D8 FF` inside one of its payloads), report it cut
    /// there and back off to that SOI, unless backing off would walk more
    /// bytes again than have been fed. Returns whether it backed off.
    pub(super) fn broken(&mut self, at: u64, out: &mut Vec<Event>) -> bool {
        let Some(cur) = self.cur else {
            return false;
        };
        // A delimiter line inside a payload ends the part there (an SOI
        // before it is in the same part: an EXIF thumbnail's, say); else
        // the SOI starts the next frame.
        let (soi, to_delimiter) = match (cur.inner_delim, cur.inner_soi) {
            (Some(d), _) => (d, true),
            (None, Some(s)) => (s, false),
            (None, None) => return false,
        };
        self.high_water = self.high_water.max(at);
        let cost = at.saturating_sub(soi);
        if self.rescanned.saturating_add(cost) > BACKOFF_BUDGET.saturating_mul(self.high_water) {
            self.refused += 1;
            return false;
        }
        self.rescanned += cost;
        let mut cur = cur;
        cur.damaged = true;
        out.push(self.cut_frame(cur, soi));
        self.cur = None;
        self.state = State::Search;
        self.pay_match = 0;
        self.backoff = Some(soi);
        self.delimiter_backoff = to_delimiter;
        if self.part_mode {
            self.stop = Some(Stop::FrameEnd);
        }
        true
    }
}
