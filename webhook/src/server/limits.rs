//! Limits against hostile or broken clients: timeouts, HTTP/2 streams, connection cap.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

use super::ServerConfig;

/// How long and how much one client may take from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time for a new connection to send its first request's headers.
    pub header_read_timeout: Duration,
    /// Time an HTTP/1.1 keep-alive connection may wait for (the headers of) its next request.
    pub idle_timeout: Duration,
    /// Time an HTTP/2 connection may go without a request in flight before its GOAWAY.
    pub http2_idle_timeout: Duration,
    /// Age at which a connection is closed gracefully (GOAWAY, or `Connection: close`).
    pub max_connection_age: Duration,
    /// Time for a client to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Time for a whole request, body upload included; a backstop above the review deadline.
    pub request_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Open connections at once (TLS handshakes included); more are closed on accept.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self::from_config(&ServerConfig::default())
    }
}

impl ServerLimits {
    /// The limits configured under `server:`.
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            http2_idle_timeout: server.http2_idle_timeout,
            max_connection_age: server.max_connection_age,
            tls_handshake_timeout: server.tls_handshake_timeout,
            request_timeout: server.effective_request_timeout(),
            max_concurrent_streams: server.max_concurrent_streams,
            max_connections: server.max_connections,
        }
    }
}

/// Middleware: answers 408 when a request (body upload included) outlives `limit`.
pub async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            warn!(timeout_s = limit.as_secs_f64(), "request timed out");
            (StatusCode::REQUEST_TIMEOUT, "request took too long").into_response()
        }
    }
}

/// An acceptor that refuses connections beyond a fixed number open at once.
#[derive(Clone, Debug)]
pub struct ConnectionCap {
    permits: Arc<Semaphore>,
}

impl ConnectionCap {
    /// At most `max` connections open at once.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl<I, S> Accept<I, S> for ConnectionCap {
    type Stream = Capped<I>;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Capped<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        std::future::ready(match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok((
                Capped {
                    inner: stream,
                    _permit: permit,
                },
                service,
            )),
            Err(_) => Err(io::Error::other("connection limit reached")),
        })
    }
}

/// A connection holding one slot of its [`ConnectionCap`] until it is dropped.
#[derive(Debug)]
pub struct Capped<I> {
    inner: I,
    _permit: OwnedSemaphorePermit,
}

impl<I: AsyncRead + Unpin> AsyncRead for Capped<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Capped<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_refuses_beyond_max_and_frees_on_drop() {
        let cap = ConnectionCap::new(1);
        let first = cap.accept(tokio::io::empty(), ()).into_inner();
        let first = first.expect("first connection accepted");
        let second = cap.accept(tokio::io::empty(), ()).into_inner();
        assert!(second.is_err(), "second connection over the cap");
        drop(first);
        let third = cap.accept(tokio::io::empty(), ()).into_inner();
        assert!(third.is_ok(), "slot freed when the connection closed");
    }
}
