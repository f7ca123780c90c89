// SPDX-License-Identifier: MIT OR Apache-2.0

//! The camera URL, checked before anything connects: its scheme, host and
//! port, its credentials taken out (`http://user:password@camera/`), and the
//! text that may be shown (never a password). Plain Rust, unit tested.

use std::fmt;

/// A usable `http://` or `https://` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The URL without its credentials: what souphttpsrc gets, what messages show.
    pub clean: String,
    pub https: bool,
    /// Host as written (IPv6 without its brackets).
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
    /// Credentials of the URL, percent-decoded.
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Why a location can never work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    Missing,
    NoScheme { suggestion: String },
    Unsupported { scheme: String, url: String },
    Malformed { url: String, why: &'static str },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Missing => write!(
                f,
                "No location set: give the camera's URL, e.g. location=http://camera/video.cgi"
            ),
            UrlError::NoScheme { suggestion } => write!(
                f,
                "The location has no scheme: write {suggestion} (http:// or https://)"
            ),
            UrlError::Unsupported { scheme, url } if scheme.starts_with("rtsp") => write!(
                f,
                "{url} is an RTSP URL: mjpeghttpsrc reads HTTP cameras only; use rtspsrc \
                 (rtspsrc location={url} ! rtpjpegdepay for an MJPEG RTSP camera)"
            ),
            UrlError::Unsupported { scheme, url } => write!(
                f,
                "{url}: the scheme {scheme}:// is not supported: mjpeghttpsrc reads http:// and \
                 https:// URLs"
            ),
            UrlError::Malformed { url, why } => write!(f, "Malformed URL {url}: {why}"),
        }
    }
}

const PREFIX: &str = "mjpeg+";

/// Check a location as set on the element (`mjpeg+http://` accepted).
pub fn parse(location: Option<&str>) -> Result<Location, UrlError> {
    let raw = location.map(str::trim).unwrap_or("");
    if raw.is_empty() {
        return Err(UrlError::Missing);
    }
    let raw = strip_prefix(raw);
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(UrlError::NoScheme {
            suggestion: format!("http://{}", redact(raw)),
        });
    };
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return Err(UrlError::NoScheme {
            suggestion: format!("http://{}", redact(raw)),
        });
    }
    let scheme = scheme.to_ascii_lowercase();
    let https = match scheme.as_str() {
        "http" => false,
        "https" => true,
        _ => {
            return Err(UrlError::Unsupported {
                scheme,
                url: redact(raw),
            });
        }
    };
    let malformed = |why| UrlError::Malformed {
        url: redact(raw),
        why,
    };
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(malformed("it contains spaces or control characters"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let Some((h, after)) = v6.split_once(']') else {
            return Err(malformed("an IPv6 address without its closing ]"));
        };
        match after {
            "" => (h, None),
            p if p.starts_with(':') => (h, Some(&p[1..])),
            _ => return Err(malformed("text after the IPv6 address")),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(malformed("it has no host name"));
    }
    let host_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~%:".contains(c) || !c.is_ascii());
    if !host_ok {
        return Err(malformed(
            "the host name has characters a host name cannot have",
        ));
    }
    let port = match port {
        None | Some("") => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(malformed("the port is not a number from 1 to 65535")),
        },
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((n, p)) => (Some(decode(n)), Some(decode(p))),
            None => (Some(decode(u)), None),
        },
    };
    let path = match tail.split('#').next().unwrap_or("") {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    Ok(Location {
        clean: format!("{scheme}://{hostport}{tail}"),
        https,
        host: host.to_string(),
        port,
        path,
        user: user.filter(|u| !u.is_empty()),
        password,
    })
}

pub fn strip_prefix(url: &str) -> &str {
    url.strip_prefix(PREFIX).unwrap_or(url)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with the credentials of every URL in it taken out
/// (`http://user:pw@host/` becomes `http://host/`).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find("://") {
        let (head, tail) = rest.split_at(k + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| "/?#".contains(c) || c.is_whitespace() || "\"'<>".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Passwords to keep out of any text we show.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn new<'a>(secrets: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        Secrets(
            secrets
                .into_iter()
                .flatten()
                // Too short to replace without mangling the text; such a
                // password is still never written by us.
                .filter(|s| s.len() >= 3)
                .map(str::to_string)
                .collect(),
        )
    }

    /// `text` without URL credentials or any of the secrets.
    pub fn scrub(&self, text: &str) -> String {
        let mut t = redact(text);
        for s in &self.0 {
            t = t.replace(s.as_str(), "***");
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls() {
        let l = parse(Some("http://camera/video.cgi")).unwrap();
        assert_eq!(
            (
                l.clean.as_str(),
                l.https,
                l.host.as_str(),
                l.port,
                l.path.as_str()
            ),
            ("http://camera/video.cgi", false, "camera", 80, "/video.cgi")
        );
        let l = parse(Some(
            "mjpeg+https://root:p%40ss:w@10.0.0.2:8443?action=stream",
        ))
        .unwrap();
        assert_eq!(l.clean, "https://10.0.0.2:8443?action=stream");
        assert_eq!((l.port, l.path.as_str()), (8443, "/?action=stream"));
        assert_eq!(l.user.as_deref(), Some("root"));
        assert_eq!(l.password.as_deref(), Some("p@ss:w"));
        let l = parse(Some("HTTP://[::1]:8080/s")).unwrap();
        assert_eq!((l.host.as_str(), l.port), ("::1", 8080));
        assert_eq!(parse(Some("http://cam")).unwrap().path, "/");
        assert_eq!(parse(Some("http://admin@cam/")).unwrap().password, None);
    }

    #[test]
    fn unusable_urls() {
        assert_eq!(parse(None), Err(UrlError::Missing));
        assert_eq!(parse(Some("  ")), Err(UrlError::Missing));
        let e = parse(Some("192.168.1.10/video.cgi")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The location has no scheme: write http://192.168.1.10/video.cgi (http:// or https://)"
        );
        let e = parse(Some("rtsp://admin:secret@cam:554/stream1")).unwrap_err();
        let t = e.to_string();
        assert!(t.contains("use rtspsrc"), "{t}");
        assert!(
            t.contains("rtsp://cam:554/stream1") && !t.contains("secret"),
            "{t}"
        );
        let e = parse(Some("ftp://cam/x")).unwrap_err().to_string();
        assert_eq!(
            e,
            "ftp://cam/x: the scheme ftp:// is not supported: mjpeghttpsrc reads http:// and \
             https:// URLs"
        );
        for (url, why) in [
            ("http://", "it has no host name"),
            ("http:///video", "it has no host name"),
            (
                "http://cam:99999/",
                "the port is not a number from 1 to 65535",
            ),
            ("http://cam:x/", "the port is not a number from 1 to 65535"),
            ("http://[::1/", "an IPv6 address without its closing ]"),
            ("http://ca m/", "it contains spaces or control characters"),
            (
                "http://c<a>m/",
                "the host name has characters a host name cannot have",
            ),
        ] {
            assert_eq!(
                parse(Some(url)),
                Err(UrlError::Malformed {
                    url: url.to_string(),
                    why
                }),
                "{url}"
            );
        }
        let e = parse(Some("http://u:topsecret@ca m/"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("topsecret"), "{e}");
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("No video from http://root:pw@cam/v.cgi (see https://a:b@x:1?q)"),
            "No video from http://cam/v.cgi (see https://x:1?q)"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(redact("http://u:p@h"), "http://h");
        let s = Secrets::new([Some("hunter2"), None, Some("ab")]);
        assert_eq!(
            s.scrub("pw hunter2 at http://x:hunter2@h/ ab"),
            "pw *** at http://h/ ab"
        );
    }
}
