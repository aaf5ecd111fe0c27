//! One connection's life after its TLS handshake: the first request must come soon, an idle
//! connection and an old one are closed gracefully (GOAWAY on HTTP/2, so requests in flight
//! finish and new ones go to a new connection), and a server shutdown closes it the same way.
//!
//! hyper's HTTP/2 server has keep-alive pings but no idle timeout or maximum age, and
//! axum-server closes connections only all at once, so the server drives each connection
//! itself: the service it is given counts the requests in flight, and this loop calls
//! `graceful_shutdown` on the one connection whose time is up.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, Version};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::ServerLimits;

/// Extra time after the request timeout for a gracefully closed connection to send its last
/// answers before it is dropped.
const DRAIN_MARGIN: Duration = Duration::from_secs(1);

/// How long a connection may live and idle.
#[derive(Clone, Copy, Debug)]
pub struct Lifetime {
    first_request: Duration,
    http1_idle: Duration,
    http2_idle: Duration,
    max_age: Duration,
    drain: Duration,
}

impl Lifetime {
    /// The lifetime the limits give every connection.
    pub fn new(limits: &ServerLimits) -> Self {
        Self {
            first_request: limits.header_read_timeout,
            http1_idle: limits.idle_timeout,
            http2_idle: limits.http2_idle_timeout,
            max_age: limits.max_connection_age,
            drain: limits.request_timeout + DRAIN_MARGIN,
        }
    }
}

/// Serves `app` on `io` until the client closes, the connection idles or ages out, or the
/// server shuts down (`shutdown`: graceful; `force`: drop now).
pub async fn serve<I>(
    io: I,
    app: Router,
    builder: &Builder<TokioExecutor>,
    lifetime: Lifetime,
    shutdown: &CancellationToken,
    force: &CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let opened = Instant::now();
    let activity = Arc::new(Activity::new(opened));
    let service = Tracked {
        inner: TowerToHyperService::new(app),
        activity: activity.clone(),
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let age_limit = opened + lifetime.max_age;
    let reason = loop {
        let check = activity.next_check(&lifetime);
        tokio::select! {
            biased;
            _ = force.cancelled() => return,
            result = conn.as_mut() => {
                if let Err(err) = result {
                    debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.cancelled() => break Close::Shutdown,
            _ = sleep_until(age_limit) => break Close::MaxAge,
            _ = sleep_until(check) => match activity.expired(&lifetime) {
                // Never sent a request: nothing to drain, as with a stalled TLS handshake.
                Some(Close::NoRequest) => return,
                Some(reason) => break reason,
                None => {}
            },
        }
    };
    debug!(reason = reason.as_str(), "closing connection gracefully");
    conn.as_mut().graceful_shutdown();
    // On shutdown the server's grace bounds the drain (through `force`); otherwise the
    // request timeout bounds what is still in flight.
    tokio::select! {
        biased;
        _ = force.cancelled() => {}
        _ = conn.as_mut() => {}
        _ = sleep(lifetime.drain), if reason != Close::Shutdown => {
            debug!("connection still busy after its drain time; dropped");
        }
    }
}

/// Why a connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Close {
    NoRequest,
    Idle,
    MaxAge,
    Shutdown,
}

impl Close {
    fn as_str(self) -> &'static str {
        match self {
            Self::NoRequest => "no request",
            Self::Idle => "idle",
            Self::MaxAge => "max age",
            Self::Shutdown => "shutdown",
        }
    }
}

/// What the connection's requests have done so far.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    started: AtomicBool,
    http2: AtomicBool,
    inflight: AtomicUsize,
    last_done: Mutex<Instant>,
}

impl Activity {
    fn new(opened: Instant) -> Self {
        Self {
            opened,
            started: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            last_done: Mutex::new(opened),
        }
    }

    /// Counts a request in flight until the guard is dropped.
    fn begin(self: &Arc<Self>, version: Version) -> InFlight {
        self.started.store(true, Ordering::Release);
        if version == Version::HTTP_2 {
            self.http2.store(true, Ordering::Release);
        }
        self.inflight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn idle_limit(&self, lifetime: &Lifetime) -> Duration {
        match self.http2.load(Ordering::Acquire) {
            true => lifetime.http2_idle,
            false => lifetime.http1_idle,
        }
    }

    fn last_done(&self) -> Instant {
        *self
            .last_done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// When to look again: the earliest the connection could be out of time. Requests only
    /// push that later, so a check that finds time left just schedules the next one.
    fn next_check(&self, lifetime: &Lifetime) -> Instant {
        if !self.started.load(Ordering::Acquire) {
            return self.opened + lifetime.first_request;
        }
        let idle = self.idle_limit(lifetime);
        if self.inflight.load(Ordering::Acquire) > 0 {
            return Instant::now() + idle;
        }
        self.last_done() + idle
    }

    /// Why the connection should close now, if it should.
    fn expired(&self, lifetime: &Lifetime) -> Option<Close> {
        let now = Instant::now();
        if !self.started.load(Ordering::Acquire) {
            return (now >= self.opened + lifetime.first_request).then_some(Close::NoRequest);
        }
        if self.inflight.load(Ordering::Acquire) > 0 {
            return None;
        }
        (now >= self.last_done() + self.idle_limit(lifetime)).then_some(Close::Idle)
    }
}

/// One request in flight; its end is the connection's latest activity.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self
            .0
            .last_done
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router as hyper calls it, counting each request of the connection while it runs.
#[derive(Clone, Debug)]
struct Tracked {
    inner: TowerToHyperService<Router>,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = TrackedFuture<
        <TowerToHyperService<Router> as hyper::service::Service<Request<Incoming>>>::Future,
    >;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = self.activity.begin(req.version());
        TrackedFuture {
            inner: self.inner.call(req),
            _guard: guard,
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's answer, holding its [`InFlight`] guard until it is ready or dropped.
    struct TrackedFuture<F> {
        #[pin]
        inner: F,
        _guard: InFlight,
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifetime() -> Lifetime {
        Lifetime {
            first_request: Duration::from_secs(5),
            http1_idle: Duration::from_secs(120),
            http2_idle: Duration::from_secs(60),
            max_age: Duration::from_secs(300),
            drain: Duration::from_secs(13),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_request_expires_at_the_first_request_timeout() {
        let activity = Arc::new(Activity::new(Instant::now()));
        assert_eq!(activity.expired(&lifetime()), None);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(activity.expired(&lifetime()), Some(Close::NoRequest));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_counts_from_the_last_answer_and_never_while_one_is_in_flight() {
        let activity = Arc::new(Activity::new(Instant::now()));
        let request = activity.begin(Version::HTTP_2);
        tokio::time::advance(Duration::from_secs(600)).await;
        assert_eq!(
            activity.expired(&lifetime()),
            None,
            "a request is in flight"
        );
        drop(request);
        let check = activity.next_check(&lifetime());
        assert_eq!(
            check,
            Instant::now() + Duration::from_secs(60),
            "HTTP/2 idle"
        );
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(activity.expired(&lifetime()), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(activity.expired(&lifetime()), Some(Close::Idle));
    }
}
