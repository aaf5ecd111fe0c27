//! Hostile clients against the real server over TLS: big bodies, slow clients, idle
//! connections, deep JSON, huge pods. The server must keep answering everyone else.

mod policy_doubles;
mod server_support;

use policy_doubles::DenyUnlanded;
use std::sync::Arc;
use std::time::{Duration, Instant};

use landed::policy::{FailurePolicy, Loaded, PolicySet, PolicyStore};
use landed::resolve::TableResolver;
use landed::server::ServerLimits;
use reqwest::StatusCode;
use server_support::{client, corpus, start, start_with, tls_config, tls_stream, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        tls_handshake_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(2),
        ..ServerLimits::default()
    }
}

/// A review answered with 200 on a fresh connection.
async fn assert_served(server: &Running) {
    let resp = client(tls_config(&server.ca, None))
        .post(server.validate_url())
        .body(corpus("configmap-create.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Reads until EOF or error; returns how long that took and what was read.
async fn read_to_close(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: Duration,
) -> (Duration, String) {
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut buf))
        .await
        .expect("server closed the connection in time");
    (
        started.elapsed(),
        String::from_utf8_lossy(&buf).into_owned(),
    )
}

#[tokio::test]
async fn oversized_body_gets_413_while_others_are_served() {
    let server = start(limits(), false).await;
    let huge = client(tls_config(&server.ca, None))
        .post(server.validate_url())
        .body(vec![b'['; 8 * 1024 * 1024])
        .send();
    let (huge, ()) = tokio::join!(huge, assert_served(&server));
    // Either a clean 413, or the server closing the connection after answering 413 mid-upload.
    if let Ok(resp) = huge {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert_served(&server).await;
}

#[tokio::test]
async fn client_stalling_in_its_headers_is_disconnected() {
    let server = start(limits(), false).await;
    let mut stalled = tls_stream(&server, tls_config(&server.ca, None)).await;
    let half = "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: applic";
    stalled.write_all(half.as_bytes()).await.expect("write");
    stalled.flush().await.expect("flush");
    let began = Instant::now();
    // A second stalled client that never got past hyper's protocol detection.
    let mut tiny = tls_stream(&server, tls_config(&server.ca, None)).await;
    tiny.write_all(b"POS").await.expect("write");
    tiny.flush().await.expect("flush");
    assert_served(&server).await;
    let (waited, _) = read_to_close(&mut stalled, Duration::from_secs(5)).await;
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
    let (waited_tiny, _) = read_to_close(&mut tiny, Duration::from_secs(5)).await;
    assert!(
        waited_tiny < Duration::from_secs(3),
        "closed after {waited_tiny:?}"
    );
    let total = began.elapsed();
    eprintln!("stalled clients disconnected {total:?} after they stalled (timeout 500ms)");
    assert!(total >= Duration::from_millis(450), "{total:?}");
    assert_served(&server).await;
}

#[tokio::test]
async fn slow_body_upload_gets_408_after_the_request_timeout() {
    let server = start(limits(), false).await;
    let mut slow = tls_stream(&server, tls_config(&server.ca, None)).await;
    let head = "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"apiVersion\":";
    slow.write_all(head.as_bytes()).await.expect("write");
    slow.flush().await.expect("flush");
    let started = Instant::now();
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(6), slow.read(&mut buf))
        .await
        .expect("answered in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    eprintln!("stalled body upload answered 408 after {waited:?} (timeout 2s)");
    assert_served(&server).await;
}

#[tokio::test]
async fn idle_tcp_and_tls_connections_do_not_starve_reviews() {
    // A long handshake timeout, so the raw TCP connections stay open during the review.
    let server = start(
        ServerLimits {
            tls_handshake_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            ..ServerLimits::default()
        },
        false,
    )
    .await;
    let mut idle_tcp = Vec::new();
    for _ in 0..200 {
        idle_tcp.push(
            tokio::net::TcpStream::connect(server.addr)
                .await
                .expect("connect"),
        );
    }
    let mut idle_tls = Vec::new();
    for _ in 0..200 {
        idle_tls.push(tls_stream(&server, tls_config(&server.ca, None)).await);
    }
    let started = Instant::now();
    assert_served(&server).await;
    let took = started.elapsed();
    eprintln!("review with 400 idle connections open answered in {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop((idle_tcp, idle_tls));
}

#[tokio::test]
async fn over_the_connection_cap_is_refused_until_a_slot_frees() {
    let server = start(
        ServerLimits {
            max_connections: 4,
            ..limits()
        },
        false,
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tls_stream(&server, tls_config(&server.ca, None)).await);
    }
    let refused = client(tls_config(&server.ca, None))
        .post(server.validate_url())
        .body(corpus("configmap-create.json"))
        .send()
        .await;
    assert!(refused.is_err(), "a fifth connection is closed on accept");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_served(&server).await;
}

#[tokio::test]
async fn deeply_nested_json_gets_400_quickly() {
    let server = start(limits(), false).await;
    let started = Instant::now();
    let resp = client(tls_config(&server.ca, None))
        .post(server.validate_url())
        .body(vec![b'['; 100_000])
        .send()
        .await
        .expect("send");
    let took = started.elapsed();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().await.expect("body");
    assert!(text.starts_with("malformed AdmissionReview"), "{text}");
    eprintln!("100k '[' refused in {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

fn pod_with_containers(n: usize) -> Vec<u8> {
    let containers: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "name": format!("c{i}"),
                "image": format!("registry.example.com/team/app-{i}:1.0"),
            })
        })
        .collect();
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "huge", "namespace": "shop"},
        "spec": {"containers": containers},
    });
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-4000-8000-000000001000",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "huge", "namespace": "shop", "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": pod, "oldObject": null, "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    });
    serde_json::to_vec(&review).expect("json")
}

#[tokio::test]
async fn pod_with_1000_containers_is_denied_in_time_naming_every_path() {
    let store = Arc::new(PolicyStore::new(PolicySet {
        policies: vec![Loaded::new(
            DenyUnlanded("deny-unlanded"),
            FailurePolicy::Fail,
        )],
    }));
    let server = start_with(limits(), false, Arc::new(TableResolver::new()), store).await;
    let body = pod_with_containers(1000);
    let started = Instant::now();
    let resp = client(tls_config(&server.ca, None))
        .post(server.validate_url())
        .body(body)
        .send()
        .await
        .expect("send");
    let took = started.elapsed();
    assert_eq!(resp.status(), StatusCode::OK);
    let review: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(review["response"]["allowed"], false);
    let message = review["response"]["status"]["message"]
        .as_str()
        .expect("message");
    for i in 0..1000 {
        let path = format!("spec.containers[{i}].image");
        assert!(message.contains(&path), "{path} missing");
    }
    eprintln!("1,000-container pod denied in {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// Sends one HTTP/1.1 review on `stream` and reads its whole answer; the status code, or
/// `None` when the server had closed the connection.
async fn keep_alive_review(
    stream: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
) -> Option<u16> {
    let body = corpus("configmap-create.json");
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(&body).await.ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        let Some((head, rest)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse().ok())
            .expect("content-length");
        if rest.len() >= length {
            return head.split(' ').nth(1).and_then(|code| code.parse().ok());
        }
    }
}

#[tokio::test]
async fn keep_alive_connections_outlive_the_header_timeout_until_the_idle_timeout() {
    // Headers must come within 0.5 s, but a kept-alive connection may idle for 2 s: a
    // client (the API server) reusing it after a pause must not race a server-side close.
    let server = start(
        ServerLimits {
            idle_timeout: Duration::from_secs(2),
            ..limits()
        },
        false,
    )
    .await;
    let mut stream = tls_stream(&server, tls_config(&server.ca, None)).await;
    assert_eq!(keep_alive_review(&mut stream).await, Some(200));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        keep_alive_review(&mut stream).await,
        Some(200),
        "reused after idling longer than the header timeout"
    );
    let (idle_closed_after, _) = read_to_close(&mut stream, Duration::from_secs(5)).await;
    eprintln!("idle keep-alive connection closed {idle_closed_after:?} after its last answer (idle timeout 2s)");
    assert!(
        idle_closed_after >= Duration::from_millis(1500),
        "closed by the idle timeout, not the header timeout: {idle_closed_after:?}"
    );
}
