//! Review bodies up to [`MAX_BODY_BYTES`], and a 413 the client can read on HTTP/1.1 and
//! HTTP/2 alike.
//!
//! Answering while the client is still uploading is allowed, but over HTTP/2 it ends the
//! stream with RST_STREAM(NO_ERROR) right behind the response (h2 does that when the request
//! body is dropped unread), and clients such as curl 7.88 report "Stream error in the HTTP/2
//! framing layer" without showing the 413. So the rest of an oversized body is read and
//! discarded first, within a budget, and the 413 then ends a stream the client has finished.

use std::time::Duration;

use axum::body::{BodyDataStream, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures::StreamExt;
use tracing::{debug, warn};

/// The API server never sends more than 3 MiB; anything larger is refused with 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How far past the cap an oversized body is read (and discarded) before the 413; a body
/// declared larger than the cap plus this is answered at once, as it would be cut off anyway.
pub const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// Longest time spent discarding an oversized body before answering 413 regardless.
pub const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A request body of at most [`MAX_BODY_BYTES`].
#[derive(Debug)]
pub struct ReviewBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ReviewBody {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let declared = declared_length(req.headers());
        let mut stream = req.into_body().into_data_stream();
        if let Some(length) = declared.filter(|&n| n > MAX_BODY_BYTES) {
            let unread = length.saturating_sub(MAX_BODY_BYTES);
            return Err(too_large(stream, (unread <= DRAIN_BYTES).then_some(length)).await);
        }
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|err| {
                debug!(error = %err, "request body not read");
                (StatusCode::BAD_REQUEST, "cannot read the request body").into_response()
            })?;
            if buf.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large(stream, Some(DRAIN_BYTES)).await);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Self(buf.freeze()))
    }
}

/// The `Content-Length`, when there is exactly one that parses.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()?.trim().parse().ok()
}

/// Reads and discards up to `drain` more bytes of `rest` (none when `None`) within
/// [`DRAIN_TIME`], then answers 413.
async fn too_large(mut rest: BodyDataStream, drain: Option<usize>) -> Response {
    if let Some(budget) = drain {
        let drained = tokio::time::timeout(DRAIN_TIME, async {
            let mut read = 0usize;
            while let Some(Ok(chunk)) = rest.next().await {
                read += chunk.len();
                if read > budget {
                    return false;
                }
            }
            true
        })
        .await
        .unwrap_or(false);
        if !drained {
            debug!("oversized body not drained; answering 413 before the client finished");
        }
    }
    warn!(limit_bytes = MAX_BODY_BYTES, "request body too large");
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over {MAX_BODY_BYTES} bytes"),
    )
        .into_response()
}
