//! The server over real TLS: reviews, bad input, health, certificate rotation and draining.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use landed::admission::Pipeline;
use landed::config::Config;
use landed::image::Reference;
use landed::policy::{PolicySet, PolicyStore};
use landed::resolve::{LookupContext, Resolve, TableResolver};
use landed::server::certs::{CertAuthority, CertBundle};
use landed::server::{serve, ServeOptions, TlsFiles};
use landed::verdict::Verdict;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reviews");

/// Answers after a delay, so a review is in flight when shutdown begins.
struct Slow(Duration);

impl Resolve for Slow {
    fn resolve<'a>(&'a self, _: &'a Reference, _: &'a LookupContext) -> BoxFuture<'a, Verdict> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Verdict::landed(
                "sha256:0000000000000000000000000000000000000000000000000000000000000000"
                    .parse()
                    .expect("digest"),
            )
        })
    }
}

struct Running {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn write_certs(dir: &Path) -> (TlsFiles, String) {
    let bundle = CertBundle::generate(&["localhost".into(), "127.0.0.1".into()], 1).expect("certs");
    let paths = bundle.write(dir).expect("write certs");
    (
        TlsFiles {
            cert: paths.cert,
            key: paths.key,
            client_ca: None,
        },
        bundle.ca_pem,
    )
}

async fn start(resolver: Arc<dyn Resolve>, grace: Duration) -> (Running, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tls, ca) = write_certs(dir.path());
    let mut config = Config::default();
    config.resolve.deadline = Duration::from_secs(5);
    let store = Arc::new(PolicyStore::new(PolicySet::default()));
    let pipeline = Arc::new(Pipeline::new(config.review_settings(None), resolver, store));
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tls,
        reload_interval: Duration::from_millis(100),
        shutdown_grace: grace,
        limits: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        serve(pipeline, options, token, move |addr| {
            let _ = tx.send(addr);
        })
        .await
        .expect("server runs");
    });
    let addr = rx.await.expect("server listening");
    (
        Running {
            addr,
            shutdown,
            task,
            _dir: dir,
        },
        ca,
    )
}

fn client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(ca_pem))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

fn tls_config(ca_pem: &str) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CORPUS}/{name}")).expect("fixture")
}

fn landed_table() -> Arc<dyn Resolve> {
    Arc::new(TableResolver::new())
}

#[tokio::test]
async fn answers_a_review_over_https_with_the_request_uid() {
    let (server, ca) = start(landed_table(), Duration::from_secs(1)).await;
    let url = format!("https://localhost:{}/validate", server.addr.port());
    let resp = client(&ca)
        .post(&url)
        .body(corpus("pod-create.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let review: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    assert_eq!(
        review["response"]["uid"],
        "00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(review["response"]["allowed"], true);
    server.shutdown.cancel();
}

#[tokio::test]
async fn bad_input_gets_400_or_413_with_a_reason() {
    let (server, ca) = start(landed_table(), Duration::from_secs(1)).await;
    let client = client(&ca);
    let url = format!("https://127.0.0.1:{}/validate", server.addr.port());

    let resp = client
        .post(&url)
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp
        .text()
        .await
        .expect("body")
        .starts_with("malformed AdmissionReview"));

    let v1beta1 = String::from_utf8(corpus("pod-create.json"))
        .expect("utf8")
        .replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1");
    let resp = client.post(&url).body(v1beta1).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp
        .text()
        .await
        .expect("body")
        .contains("admission.k8s.io/v1beta1"));

    let huge = vec![b' '; 3 * 1024 * 1024 + 1];
    let resp = client.post(&url).body(huge).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The server keeps answering good requests after all of the above.
    let resp = client
        .post(&url)
        .body(corpus("pod-create.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    server.shutdown.cancel();
}

#[tokio::test]
async fn health_and_readiness() {
    let (server, ca) = start(landed_table(), Duration::from_secs(1)).await;
    let client = client(&ca);
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"ready": true}),
        "ready, and nothing more"
    );
    server.shutdown.cancel();
}

/// The DER of the certificate the server presented for this response.
fn served_cert(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("tls info")
        .to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("pem")
        .to_vec()
}

#[tokio::test]
async fn rotated_certificate_is_served_without_a_failed_request() {
    let (server, _) = start(landed_table(), Duration::from_secs(1)).await;
    // Rotation as cert-manager does it: a new leaf from the same CA, written in place.
    let ca = CertAuthority::generate(2).expect("ca");
    let names = ["localhost".to_owned()];
    let first = ca.issue(&names, 1).expect("first");
    first.write(server._dir.path()).expect("write first");
    let url = format!("https://localhost:{}/validate", server.addr.port());
    let body = corpus("deployment-create.json");
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(&ca.pem()))
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    // Wait until the first leaf of our CA is served (it replaced the start-up pair).
    let mut attempts = 0;
    loop {
        attempts += 1;
        match client.post(&url).body(body.clone()).send().await {
            Ok(resp) if served_cert(&resp) == der(&first.cert_pem) => break,
            _ if attempts < 100 => tokio::time::sleep(Duration::from_millis(50)).await,
            _ => panic!("first certificate never served"),
        }
    }
    let second = ca.issue(&names, 1).expect("second");
    let requester = {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        let want = der(&second.cert_pem);
        tokio::spawn(async move {
            // Every request must succeed, before, during and after the swap.
            for n in 0..500 {
                let resp = client.post(&url).body(body.clone()).send().await;
                let resp =
                    resp.unwrap_or_else(|e| panic!("request {n} failed during rotation: {e}"));
                assert_eq!(resp.status(), StatusCode::OK);
                if served_cert(&resp) == want {
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("the rotated certificate was never served");
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    second.write(server._dir.path()).expect("rotate");
    let requests = requester.await.expect("requester");
    assert!(
        requests > 0,
        "some requests were served with the old certificate first"
    );
    server.shutdown.cancel();
}

#[tokio::test]
async fn shutdown_drains_in_flight_reviews_and_stops_accepting() {
    let (server, ca) = start(
        Arc::new(Slow(Duration::from_millis(800))),
        Duration::from_secs(5),
    )
    .await;
    let client = client(&ca);
    let url = format!("https://127.0.0.1:{}/validate", server.addr.port());
    let in_flight = {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            client
                .post(&url)
                .body(corpus("pod-create.json"))
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.shutdown.cancel();
    let resp = in_flight
        .await
        .expect("join")
        .expect("in-flight review completes");
    assert_eq!(resp.status(), StatusCode::OK);
    let review: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(review["response"]["allowed"], true);
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("server exits after draining")
        .expect("server task");
    assert!(
        client
            .post(&url)
            .body(corpus("pod-create.json"))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}
