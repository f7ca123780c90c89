// SPDX-License-Identifier: MIT OR Apache-2.0

//! A web server on 127.0.0.1 that serves one file, as a file server does:
//! with its Content-Length, or (as a script that streams it would) without
//! one, closing the connection at its end. It counts the requests and the
//! bytes it sent, and stops when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// `Content-Length` given.
    Given,
    /// No `Content-Length`: the end of the file is the end of the connection.
    Close,
}

pub struct FileServer {
    pub port: u16,
    /// The request lines received (`GET /rec.mjpg HTTP/1.1`).
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Bytes of the file sent, over every request.
    pub bytes_sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FileServer {
    pub fn start(body: Vec<u8>, content_type: &str, length: Length) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let bytes_sent = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, b, st) = (requests.clone(), bytes_sent.clone(), stop.clone());
        let content_type = content_type.to_string();
        let handle = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(clone) = conn.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(clone);
                let mut line = String::new();
                let mut first = None;
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" || line == "\n" => break,
                        Ok(_) => {
                            if first.is_none() {
                                first = Some(line.trim_end().to_string());
                            }
                        }
                    }
                }
                let Some(first) = first else { continue };
                r.lock().unwrap().push(first);
                let mut head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n");
                if length == Length::Given {
                    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                head.push_str("Connection: close\r\n\r\n");
                let mut conn = conn;
                if conn.write_all(head.as_bytes()).is_err() {
                    continue;
                }
                for chunk in body.chunks(16 * 1024) {
                    if st.load(Ordering::Relaxed) || conn.write_all(chunk).is_err() {
                        break;
                    }
                    b.fetch_add(chunk.len(), Ordering::Relaxed);
                }
            }
        });
        FileServer {
            port,
            requests,
            bytes_sent,
            stop,
            handle: Some(handle),
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
