//! HTTP/2, the protocol the API server speaks to webhooks, against the real server over TLS:
//! idle connections cannot hold every connection slot, old connections are closed with
//! GOAWAY after their in-flight review, and an oversized body gets a 413 the client can read.

mod server_support;

use std::convert::Infallible;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use landed::server::ServerLimits;
use server_support::{client, corpus, start, tls_config, tls_stream, Running};
use tokio::task::JoinHandle;
use tokio::time::Instant;

type Body = UnsyncBoxBody<Bytes, Infallible>;

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        tls_handshake_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(5),
        ..ServerLimits::default()
    }
}

/// An HTTP/2 connection (ALPN h2), optionally pinging every `ping` as the API server's Go
/// client does; the task ends, with the time, when the server has closed the connection.
async fn h2(server: &Running, ping: Option<Duration>) -> (SendRequest<Body>, JoinHandle<Instant>) {
    let mut tls = tls_config(&server.ca, None);
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let stream = tls_stream(server, tls).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    builder.timer(TokioTimer::new());
    if let Some(every) = ping {
        builder
            .keep_alive_interval(every)
            .keep_alive_while_idle(true);
    }
    let (send, conn) = builder
        .handshake(TokioIo::new(stream))
        .await
        .expect("h2 handshake");
    let ended = tokio::spawn(async move {
        let _ = conn.await;
        Instant::now()
    });
    (send, ended)
}

fn review_request(body: Body) -> hyper::Request<Body> {
    hyper::Request::post("https://localhost/validate")
        .header("content-type", "application/json")
        .body(body)
        .expect("request")
}

/// One review on `send`; its status.
async fn review(send: &mut SendRequest<Body>) -> u16 {
    send.ready().await.expect("connection usable");
    let body = Full::new(Bytes::from(corpus("configmap-create.json"))).boxed_unsync();
    let resp = send
        .send_request(review_request(body))
        .await
        .expect("answer");
    let status = resp.status().as_u16();
    resp.into_body().collect().await.expect("body");
    status
}

/// A review on a fresh connection of a fresh client.
async fn fresh_client_is_served(server: &Running) -> bool {
    client(tls_config(&server.ca, None))
        .post(server.validate_url())
        .body(corpus("configmap-create.json"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

#[tokio::test]
async fn idle_http2_connections_holding_every_slot_are_closed_and_a_new_client_is_served() {
    let idle = Duration::from_secs(1);
    let server = start(
        ServerLimits {
            max_connections: 4,
            http2_idle_timeout: idle,
            idle_timeout: idle,
            ..limits()
        },
        false,
    )
    .await;
    // An attacker fills every slot with a connection that sent one review, then only pings
    // (every 200 ms, far more often than the API server's 30 s health check).
    let mut held = Vec::new();
    for _ in 0..4 {
        let (mut send, ended) = h2(&server, Some(Duration::from_millis(200))).await;
        assert_eq!(review(&mut send).await, 200);
        held.push((send, ended, Instant::now()));
    }
    assert!(
        !fresh_client_is_served(&server).await,
        "with every slot held, a new connection is closed on accept"
    );
    for (send, ended, answered) in held {
        let closed = tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .expect("the idle connection is closed")
            .expect("task");
        let after = closed - answered;
        eprintln!(
            "idle HTTP/2 connection closed {after:?} after its last answer (idle timeout {idle:?})"
        );
        assert!(
            after >= idle - Duration::from_millis(100) && after < idle * 3,
            "{after:?}"
        );
        assert!(send.is_closed(), "no new stream on a closed connection");
    }
    assert!(
        fresh_client_is_served(&server).await,
        "a new client is served once the idle connections are gone"
    );
}

#[tokio::test]
async fn a_connection_past_max_connection_age_finishes_its_review_then_closes_while_a_new_one_works(
) {
    let age = Duration::from_millis(1500);
    let server = start(
        ServerLimits {
            max_connection_age: age,
            http2_idle_timeout: Duration::from_secs(30),
            ..limits()
        },
        false,
    )
    .await;
    let opened = Instant::now();
    let (mut busy, busy_ended) = h2(&server, None).await;
    let (mut quiet, quiet_ended) = h2(&server, None).await;
    assert_eq!(review(&mut busy).await, 200);
    assert_eq!(review(&mut quiet).await, 200);

    // A review whose body is still uploading when the connection reaches its maximum age.
    let (tx, rx) = mpsc::unbounded::<Bytes>();
    let body = StreamBody::new(rx.map(|chunk| Ok(Frame::data(chunk)))).boxed_unsync();
    busy.ready().await.expect("usable");
    let in_flight = tokio::spawn(busy.send_request(review_request(body)));
    let text = corpus("configmap-create.json");
    let (head, tail) = text.split_at(text.len() / 2);
    tx.unbounded_send(Bytes::copy_from_slice(head))
        .expect("send head");

    // The idle one goes at its age, though it is far from its idle timeout.
    let quiet_closed = tokio::time::timeout(Duration::from_secs(5), quiet_ended)
        .await
        .expect("closed at max age")
        .expect("task");
    let lived = quiet_closed - opened;
    eprintln!("connection without requests closed after {lived:?} (max age {age:?})");
    assert!(lived >= age && lived < age * 2, "{lived:?}");
    assert!(quiet.is_closed());

    // Past the age, the in-flight review still gets its answer.
    tokio::time::sleep_until(opened + age + Duration::from_millis(300)).await;
    assert!(
        !busy_ended.is_finished(),
        "kept open for the review in flight"
    );
    tx.unbounded_send(Bytes::copy_from_slice(tail))
        .expect("send tail");
    drop(tx);
    let resp = in_flight.await.expect("task").expect("answered");
    assert_eq!(resp.status(), 200);
    let answer = resp.into_body().collect().await.expect("body").to_bytes();
    let review: serde_json::Value = serde_json::from_slice(&answer).expect("review json");
    assert_eq!(review["response"]["allowed"], true, "{review}");
    let busy_closed = tokio::time::timeout(Duration::from_secs(5), busy_ended)
        .await
        .expect("closed once the review was answered")
        .expect("task");
    assert!(busy_closed - opened >= age + Duration::from_millis(300));
    assert!(busy.is_closed(), "no new review on the old connection");
    assert!(
        fresh_client_is_served(&server).await,
        "a new connection works"
    );
}

/// curl's HTTP status and protocol for a POST of `file` to the server, with a Content-Length
/// or chunked; fails if curl reports an error (e.g. "Stream error in the HTTP/2 framing
/// layer", what an HTTP/2 upload over the cap used to end in).
async fn curl(server: &Running, http: &str, file: &Path, content_length: bool) -> String {
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["-sS", http, "--cacert"])
        .arg(server.dir().join("ca.crt"))
        .args(["-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
        .args(["-H", "Content-Type: application/json"]);
    if !content_length {
        cmd.args(["-H", "Transfer-Encoding: chunked"]);
    }
    let out = cmd
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(server.validate_url())
        .output()
        .await
        .expect("curl runs (apt-get install curl)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl {http}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn oversized_body_gets_413_over_http2_and_http1_with_and_without_content_length() {
    let server = start(limits(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("review.json");
    std::fs::write(&file, vec![b'['; 4 * 1024 * 1024]).expect("write body");
    for (http, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        for content_length in [true, false] {
            let answer = curl(&server, http, &file, content_length).await;
            assert_eq!(
                answer,
                format!("413 {version}"),
                "{http}, content-length: {content_length}"
            );
        }
    }
    assert!(fresh_client_is_served(&server).await);
}
