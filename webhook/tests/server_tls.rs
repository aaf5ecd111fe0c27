//! TLS hardening of the real server: TLS 1.2+ only, and client certificates (mTLS) that
//! survive a serving-certificate rotation.

mod server_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use landed::server::certs::CertAuthority;
use landed::server::ServerLimits;
use reqwest::StatusCode;
use server_support::{client, corpus, start, tls_config, Running};

const OPENSSL: &str = "/usr/bin/openssl";

/// Runs `openssl s_client` with `version` (e.g. `-tls1_1`) off the runtime's threads;
/// true when the handshake succeeded, with openssl's output.
async fn openssl_handshake(server: &Running, version: &'static str) -> (bool, String) {
    let (addr, ca) = (server.addr, server.dir().join("ca.crt"));
    tokio::task::spawn_blocking(move || s_client(addr, &ca, version))
        .await
        .expect("join")
}

fn s_client(addr: std::net::SocketAddr, ca: &Path, version: &str) -> (bool, String) {
    let output = Command::new(OPENSSL)
        .args(["s_client", "-connect"])
        .arg(addr.to_string())
        .args([version, "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile"])
        .arg(ca)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // A refused handshake still prints a session block, with no cipher.
    let negotiated = text.contains("New, TLSv1") && !text.contains("Cipher is (NONE)");
    (output.status.success() && negotiated, text)
}

#[tokio::test]
async fn tls_1_1_and_1_0_clients_are_refused() {
    if !Path::new(OPENSSL).exists() {
        eprintln!("SKIPPED: {OPENSSL} not found; the version list is checked by a unit test in server::tls");
        return;
    }
    let server = start(ServerLimits::default(), false).await;
    let (ok, text) = openssl_handshake(&server, "-tls1_2").await;
    assert!(ok, "TLS 1.2 must be accepted:\n{text}");
    for version in ["-tls1_1", "-tls1"] {
        let (ok, text) = openssl_handshake(&server, version).await;
        assert!(!ok, "{version} must be refused:\n{text}");
        // rustls answers an old ClientHello with an alert (or openssl refuses to offer it).
        assert!(
            text.contains("alert") || text.contains("no protocols available"),
            "{version}: {text}"
        );
    }
}

async fn review(server: &Running, tls: rustls::ClientConfig) -> reqwest::Result<StatusCode> {
    let resp = client(tls)
        .post(server.validate_url())
        .body(corpus("pod-create.json"))
        .send()
        .await?;
    Ok(resp.status())
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_its_certificates_are_served() {
    let server = start(ServerLimits::default(), true).await;
    let api = server
        .ca
        .issue_client("kube-apiserver", 1)
        .expect("client cert");
    let identity = Some((api.cert_pem.as_str(), api.key_pem.as_str()));

    let served = review(&server, tls_config(&server.ca, identity)).await;
    assert_eq!(served.expect("served"), StatusCode::OK);

    let anonymous = review(&server, tls_config(&server.ca, None)).await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate is refused"
    );

    let stranger = CertAuthority::generate(1)
        .expect("other ca")
        .issue_client("intruder", 1)
        .expect("other cert");
    let other = Some((stranger.cert_pem.as_str(), stranger.key_pem.as_str()));
    let refused = review(&server, tls_config(&server.ca, other)).await;
    assert!(refused.is_err(), "a certificate from another CA is refused");
}

#[tokio::test]
async fn rotated_serving_certificate_keeps_client_verification() {
    let server = start(ServerLimits::default(), true).await;
    let api = server.ca.issue_client("kube-apiserver", 1).expect("client");
    let identity = Some((api.cert_pem.as_str(), api.key_pem.as_str()));
    let rotated = server.ca.issue(&["localhost".into()], 1).expect("new leaf");
    rotated.write(server.dir()).expect("rotate");
    let want = rustls::pki_types::pem::PemObject::from_pem_slice(rotated.cert_pem.as_bytes())
        .map(|der: rustls::pki_types::CertificateDer<'static>| der.to_vec())
        .expect("der");
    let watcher = reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(&server.ca, identity))
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut rotated_seen = false;
    for _ in 0..100 {
        let resp = watcher
            .post(server.validate_url())
            .body(corpus("pod-create.json"))
            .send()
            .await
            .expect("served with a client certificate");
        let served = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .map(<[u8]>::to_vec);
        if served.as_deref() == Some(want.as_slice()) {
            rotated_seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rotated_seen, "the rotated certificate was never served");
    let anonymous = review(&server, tls_config(&server.ca, None)).await;
    assert!(anonymous.is_err(), "still refused after the rotation");
}
