// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `/state` document.

use super::hub::{ClientStats, Hub};
use std::fmt::Write;

/// `{"caps": …, "frames_in": …, "latest": {…}, "clients": [{…}, …]}`.
pub fn state_json(hub: &Hub, caps: Option<&str>, ended: bool) -> String {
    let mut s = String::from("{");
    let _ = write!(s, "\"caps\":{}", caps.map(string).unwrap_or("null".into()));
    let _ = write!(s, ",\"frames_in\":{}", hub.frames_in());
    let _ = write!(s, ",\"ended\":{ended}");
    match hub.latest() {
        Some(f) => {
            let _ = write!(
                s,
                ",\"latest\":{{\"seq\":{},\"bytes\":{},\"timestamp\":{},\"age_ms\":{}}}",
                f.seq,
                f.data.len(),
                f.timestamp_ns
                    .map(|t| string(&super::parts::x_timestamp(t)))
                    .unwrap_or("null".into()),
                f.arrived.elapsed().as_millis()
            );
        }
        None => s.push_str(",\"latest\":null"),
    }
    let clients = hub.clients();
    let _ = write!(s, ",\"clients_count\":{},\"clients\":[", clients.len());
    for (i, c) in clients.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        client(&mut s, c);
    }
    s.push_str("]}");
    s
}

fn client(s: &mut String, c: &ClientStats) {
    let _ = write!(
        s,
        "{{\"id\":{},\"address\":{},\"user_agent\":{},\"max_fps\":{},\"frames_sent\":{},\
         \"frames_skipped\":{},\"bytes_sent\":{},\"bytes_queued\":{},\"fps\":{:.2},\"seconds\":{:.3}}}",
        c.id,
        string(&c.address),
        string(&c.user_agent),
        c.max_fps
            .map(super::pacing::rate_text)
            .unwrap_or("null".into()),
        c.frames_sent,
        c.frames_skipped,
        c.bytes_sent,
        c.bytes_queued,
        c.fps,
        c.seconds
    );
}

/// A JSON string literal.
pub fn string(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}
