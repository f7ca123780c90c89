// SPDX-License-Identifier: MIT OR Apache-2.0

//! Response bodies: nothing, some bytes, or a client's endless stream, which
//! hyper pulls only when the connection can take more (that is the
//! back-pressure that makes a slow client skip frames).

use crate::fanout::FrameStream;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Next = Pin<Box<dyn Future<Output = (FrameStream, Option<Bytes>)> + Send>>;

pub enum Body {
    Full(Option<Bytes>),
    Stream(Option<Next>, Option<FrameStream>),
}

impl Body {
    pub fn empty() -> Self {
        Body::Full(None)
    }

    pub fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Body::Full((!data.is_empty()).then_some(data))
    }

    pub fn stream(stream: FrameStream) -> Self {
        Body::Stream(None, Some(stream))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Body::Stream(next, idle) => {
                if next.is_none() {
                    let Some(mut stream) = idle.take() else {
                        return Poll::Ready(None);
                    };
                    *next = Some(Box::pin(async move {
                        let chunk = stream.next_chunk().await;
                        (stream, chunk)
                    }));
                }
                let fut = next.as_mut().expect("set above");
                match fut.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready((stream, chunk)) => {
                        *next = None;
                        match chunk {
                            Some(c) => {
                                *idle = Some(stream);
                                Poll::Ready(Some(Ok(Frame::data(c))))
                            }
                            // The stream is over: the client leaves the hub now.
                            None => Poll::Ready(None),
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(data) => data.is_none(),
            Body::Stream(next, idle) => next.is_none() && idle.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Body::Stream(..) => SizeHint::default(),
        }
    }
}
