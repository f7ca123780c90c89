// SPDX-License-Identifier: MIT OR Apache-2.0

//! Requests to responses: `/`, `/stream`, `/snapshot`, `/state` (and
//! mjpg-streamer's `/?action=stream` and `/?action=snapshot`), GET and HEAD,
//! OPTIONS for CORS, HTTP Basic authentication on every path.

use super::CAT;
use super::body::Body;
use crate::fanout::{
    ClientInfo, FrameStream, Hub, MAX_FPS, MIN_FPS, Multipart, Traffic, state_json,
};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const PAGE: &str = include_str!("page.html");
const SERVER: &str = concat!("mjpeghttpsink/", env!("CARGO_PKG_VERSION"));
const ALLOW: &str = "GET, HEAD, OPTIONS";

/// What the caps say, for `/state` and X-Framerate (updated by the element).
#[derive(Debug, Default, Clone)]
pub struct Media {
    pub caps: Option<String>,
    pub framerate: Option<String>,
}

/// What requests and connections are checked against, from the
/// properties; the element replaces it when one changes while serving
/// (requests and connections from then on see the new one).
#[derive(Debug, Default)]
pub struct Access {
    /// The `Authorization` value that is accepted, if any is required.
    pub authorization: Option<String>,
    pub allow_origin: Option<HeaderValue>,
    pub max_clients: usize,
    pub client_timeout: Option<std::time::Duration>,
}

/// Everything a request needs, shared by every connection of one server.
pub struct Context {
    pub hub: Arc<Hub>,
    pub multipart: Multipart,
    pub access: std::sync::RwLock<Arc<Access>>,
    pub snapshot_insert_dht: Arc<std::sync::atomic::AtomicBool>,
    pub media: Arc<Mutex<Media>>,
    pub title: String,
}

impl Context {
    /// What this request or connection is checked against.
    pub fn access(&self) -> Arc<Access> {
        self.access
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Index,
    Stream,
    Snapshot,
    State,
}

pub fn handle<B>(
    req: &Request<B>,
    ctx: &Context,
    peer: SocketAddr,
    traffic: &Arc<Traffic>,
) -> Response<Body> {
    let access = ctx.access();
    let mut response = respond(req, ctx, &access, peer, traffic);
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static(SERVER));
    if let Some(origin) = &access.allow_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if access.authorization.is_some() && origin != "*" {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
    gst::debug!(
        CAT,
        "{peer} {} {} -> {}",
        req.method(),
        req.uri().path(),
        response.status().as_u16()
    );
    response
}

fn respond<B>(
    req: &Request<B>,
    ctx: &Context,
    access: &Access,
    peer: SocketAddr,
    traffic: &Arc<Traffic>,
) -> Response<Body> {
    let method = req.method();
    if method == Method::OPTIONS {
        // A CORS preflight carries no credentials: answered without them.
        let mut r = status(StatusCode::NO_CONTENT, "");
        let h = r.headers_mut();
        h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        if access.allow_origin.is_some() {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        return r;
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = status(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} is not served here: use GET or HEAD\n"),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        return r;
    }
    if let Some(expected) = &access.authorization
        && !authorized(req, expected)
    {
        let mut r = status(
            StatusCode::UNAUTHORIZED,
            "This stream needs a user and password\n",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mjpeghttpsink\", charset=\"UTF-8\""),
        );
        return r;
    }
    let query = req.uri().query().unwrap_or("");
    let path = percent_decoded(req.uri().path(), false);
    let route = match path.as_ref() {
        "/" => match param(query, "action").as_deref() {
            Some("stream") => Route::Stream,
            Some("snapshot") => Route::Snapshot,
            _ => Route::Index,
        },
        "/stream" => Route::Stream,
        "/snapshot" => Route::Snapshot,
        "/state" => Route::State,
        path => {
            return status(
                StatusCode::NOT_FOUND,
                &format!(
                    "Not found: {}. This server has /, /stream, /snapshot and /state.\n",
                    path.escape_debug()
                ),
            );
        }
    };
    let head = method == Method::HEAD;
    match route {
        Route::Index => {
            let page = PAGE.replace("{title}", &html_escape(&ctx.title));
            content(
                StatusCode::OK,
                "text/html; charset=utf-8",
                page.into(),
                head,
            )
        }
        Route::State => {
            let media = ctx.media.lock().unwrap().clone();
            let doc = state_json(&ctx.hub, media.caps.as_deref(), ctx.hub.is_ended()) + "\n";
            content(StatusCode::OK, "application/json", doc.into(), head)
        }
        Route::Snapshot => snapshot(ctx, head),
        Route::Stream => stream(req, ctx, access, peer, traffic, query, head),
    }
}

fn snapshot(ctx: &Context, head: bool) -> Response<Body> {
    let Some(frame) = ctx.hub.latest() else {
        let mut r = status(StatusCode::SERVICE_UNAVAILABLE, "No frame yet\n");
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let data = if ctx
        .snapshot_insert_dht
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        crate::jpeg::dht::with_standard_dht(&frame.data)
            .map(bytes::Bytes::from)
            .unwrap_or_else(|| frame.data.clone())
    } else {
        frame.data.clone()
    };
    let mut r = content(StatusCode::OK, "image/jpeg", data, head);
    if let Some(t) = frame.timestamp_ns
        && let Ok(v) = HeaderValue::from_str(&crate::fanout::x_timestamp(t))
    {
        r.headers_mut().insert("x-timestamp", v);
    }
    r
}

fn stream<B>(
    req: &Request<B>,
    ctx: &Context,
    access: &Access,
    peer: SocketAddr,
    traffic: &Arc<Traffic>,
    query: &str,
    head: bool,
) -> Response<Body> {
    let max_fps = match param(query, "fps").as_deref() {
        None | Some("") => None,
        Some(v) => match v.parse::<f64>() {
            Ok(f) if (MIN_FPS..=MAX_FPS).contains(&f) => Some(f),
            _ => {
                return status(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "fps={} is not a rate: use a number from {MIN_FPS} to {MAX_FPS}, as fps=5\n",
                        v.escape_debug()
                    ),
                );
            }
        },
    };
    if !head && ctx.hub.client_count() >= access.max_clients {
        gst::info!(
            CAT,
            "{peer}: refused, max-clients={} reached",
            access.max_clients
        );
        let mut r = status(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "This server serves {} stream clients at most; try again later\n",
                access.max_clients
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    }
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ctx.multipart.content_type()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    no_cache(h);
    // nginx and other proxies: pass each part on at once.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if head {
        return r;
    }
    let user_agent: String = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    // Browsers (every one says "Mozilla/") get each part's headers ahead:
    // Chromium shows a part only when the next one's headers come.
    let early = match param(query, "advance_headers").as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => user_agent.starts_with("Mozilla/"),
    };
    gst::info!(
        CAT,
        "{peer}: stream client ({user_agent:?}, headers ahead: {early})"
    );
    let info = ClientInfo {
        address: peer.to_string(),
        user_agent,
        max_fps,
    };
    let s = FrameStream::new(
        &ctx.hub,
        info,
        traffic.clone(),
        ctx.multipart.clone(),
        early,
    );
    *r.body_mut() = Body::stream(s);
    r
}

fn content(code: StatusCode, mime: &'static str, data: bytes::Bytes, head: bool) -> Response<Body> {
    let len = data.len();
    let mut r = Response::new(if head {
        Body::empty()
    } else {
        Body::full(data)
    });
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    no_cache(h);
    r
}

fn status(code: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::full(text.to_string()));
    *r.status_mut() = code;
    if !text.is_empty() {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    r
}

fn no_cache(h: &mut hyper::HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The value of `name` in a query, percent-decoded (`fps=%35` is `fps=5`).
fn param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| percent_decoded(k, true) == name)
        .map(|(_, v)| percent_decoded(v, true))
}

/// `%XX` sequences decoded; a `%` not followed by two hex digits stays as
/// it is, and so does `%2F` in a path (not the same as `/`). Browsers never
/// encode the characters of our paths, but other clients may (`/str%65am`).
/// A `+` stays a `+` (a space only in HTML forms).
fn percent_decoded(s: &str, query: bool) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |at: usize| b.get(at).and_then(|&c| (c as char).to_digit(16));
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2))
            && (query || h * 16 + l != u32::from(b'/'))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn authorized<B>(req: &Request<B>, expected: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, credentials)) = given.trim().split_once(' ') else {
        return false;
    };
    // Compared in full whatever differs, so that timing says little.
    let a = credentials.trim().as_bytes();
    let b = expected.as_bytes();
    let mut diff = a.len() ^ b.len();
    for (i, &x) in b.iter().enumerate() {
        diff |= usize::from(x ^ a.get(i).copied().unwrap_or(0));
    }
    scheme.eq_ignore_ascii_case("basic") && diff == 0
}

/// base64 of `user:password`, as HTTP Basic sends it.
pub fn basic_credentials(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64() {
        // RFC 7617's example.
        assert_eq!(
            basic_credentials("Aladdin", "open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_credentials("a", "b"), "YTpi");
        assert_eq!(basic_credentials("ab", "c"), "YWI6Yw==");
        assert_eq!(basic_credentials("", "ü"), "OsO8");
    }

    #[test]
    fn query_parameters() {
        let p = |q, n| param(q, n).map(|v| v.into_owned());
        assert_eq!(p("fps=5&x=1", "fps").as_deref(), Some("5"));
        assert_eq!(p("x=1&fps=2.5", "fps").as_deref(), Some("2.5"));
        assert_eq!(p("action=stream", "action").as_deref(), Some("stream"));
        assert_eq!(p("fps", "fps").as_deref(), Some(""));
        assert_eq!(p("", "fps"), None);
        assert_eq!(p("f%70s=%35", "fps").as_deref(), Some("5"));
        assert_eq!(p("a=%e2%82%ac+x%", "a").as_deref(), Some("€+x%"));
        assert_eq!(p("fps=+5", "fps").as_deref(), Some("+5"));
        assert_eq!(p("a=%zz%4", "a").as_deref(), Some("%zz%4"));
        assert_eq!(p("a=%ff", "a").as_deref(), Some("\u{fffd}"));
        assert_eq!(percent_decoded("/a+b%2F%73", false), "/a+b%2Fs");
        assert_eq!(percent_decoded("a%2Fb", true), "a/b");
    }
}
