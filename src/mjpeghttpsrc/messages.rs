// SPDX-License-Identifier: MIT OR Apache-2.0

//! The texts an application reads: downstream flow errors, HTTP errors of
//! the camera and whether they can ever work. Plain Rust, unit tested.

/// The ERROR for a push that downstream refused (never a reconnect).
pub fn downstream(flow: gst::FlowError) -> (gst::StreamError, String) {
    match flow {
        gst::FlowError::NotNegotiated => (
            gst::StreamError::Format,
            "The elements after mjpeghttpsrc refused its frames (not-negotiated): they could not \
             agree on a format. Check the caps filters and converters after it: jpegdec gives \
             YUV, so put videoconvert before video/x-raw,format=BGR (or RGB)"
                .to_string(),
        ),
        gst::FlowError::NotLinked => (
            gst::StreamError::Failed,
            "Nothing takes the frames of mjpeghttpsrc (not-linked): link its src pad, or the pad \
             of the element after it"
                .to_string(),
        ),
        gst::FlowError::Error => (
            gst::StreamError::Failed,
            "An element after mjpeghttpsrc failed (error) and stopped the stream: see its own \
             error message"
                .to_string(),
        ),
        other => (
            gst::StreamError::Failed,
            format!(
                "An element after mjpeghttpsrc refused its frames ({}): the stream is stopped",
                flow_name(other)
            ),
        ),
    }
}

pub fn flow_name(flow: gst::FlowError) -> &'static str {
    match flow {
        gst::FlowError::NotLinked => "not-linked",
        gst::FlowError::Flushing => "flushing",
        gst::FlowError::Eos => "eos",
        gst::FlowError::NotNegotiated => "not-negotiated",
        gst::FlowError::Error => "error",
        gst::FlowError::NotSupported => "not-supported",
        _ => "custom error",
    }
}

/// An HTTP status that no retry can change (before the first frame).
pub fn http_permanent(code: u32) -> bool {
    matches!(code, 400 | 401 | 403 | 404 | 405 | 407 | 410)
}

/// What to do about an HTTP status, appended to the ERROR.
pub fn http_hint(code: u32) -> &'static str {
    match code {
        401 => {
            " (the camera wants credentials: set user-id and user-pw, or put them in the URL, \
             http://user:password@camera/…, the form gst-play-1.0 and playbin take)"
        }
        407 => " (the proxy wants credentials: set proxy-id and proxy-pw)",
        403 => " (the camera refused these credentials or this client)",
        404 | 410 => " (no such stream on the camera: check the path of the URL)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let (kind, t) = downstream(gst::FlowError::NotNegotiated);
        assert_eq!(kind, gst::StreamError::Format);
        assert!(
            t.contains("not-negotiated") && t.contains("videoconvert"),
            "{t}"
        );
        assert!(
            downstream(gst::FlowError::NotLinked)
                .1
                .contains("not-linked")
        );
        assert!(
            downstream(gst::FlowError::NotSupported)
                .1
                .contains("(not-supported)")
        );
        assert!(http_permanent(404) && !http_permanent(503));
        assert!(http_hint(401).contains("http://user:password@"));
    }
}
