//! The floor servers answer as a minimal webhook does: allowed, with the request's uid, over
//! TLS; and refuse what is not an AdmissionReview (kube's types) or has no uid (a Value).

use std::path::Path;

use landed_bench::client::ReviewClient;
use landed_bench::floor::Decode;
use landed_bench::setup::FloorProcess;
use landed_e2e::pki::Ca;
use landed_e2e::review::PodReview;
use landed_e2e::runtime::block_on;
use landed_e2e::server::SERVING_NAMES;

#[test]
fn kube_floor_allows_every_review_echoing_its_uid_and_refuses_garbage() {
    floor_allows_every_review_echoing_its_uid_and_refuses_garbage(Decode::Kube);
}

#[test]
fn value_floor_allows_every_review_echoing_its_uid_and_refuses_garbage() {
    floor_allows_every_review_echoing_its_uid_and_refuses_garbage(Decode::Value);
}

#[test]
fn uid_floor_allows_every_review_echoing_its_uid_and_refuses_garbage() {
    floor_allows_every_review_echoing_its_uid_and_refuses_garbage(Decode::Uid);
}

fn floor_allows_every_review_echoing_its_uid_and_refuses_garbage(decode: Decode) {
    let ca = Ca::new("floor test CA").expect("ca");
    let served = ca.server_cert(&SERVING_NAMES).expect("cert");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &served.cert_pem).expect("write cert");
    std::fs::write(&key, &served.key_pem).expect("write key");
    let client = ReviewClient::new(ca.cert_pem()).expect("client");
    let floor = FloorProcess::start(
        Path::new(env!("CARGO_BIN_EXE_landed-floor")),
        &cert,
        &key,
        decode,
        &client,
    )
    .expect("floor");

    // Even an image that exists nowhere: the floor checks nothing.
    let review = PodReview::new("shop")
        .expect("fixture")
        .container("app", "registry.invalid/nothing:here");
    let answer = client
        .review_once(&floor.url(), &review.to_json())
        .expect("a well-formed answer echoing the uid");
    assert!(answer.allowed);

    let status = block_on(async {
        client
            .fresh()
            .expect("client")
            .post(format!("{}/validate", floor.url()))
            .header("Content-Type", "application/json")
            .body(r#"{"apiVersion":"v1","kind":"Pod"}"#)
            .send()
            .await
            .map(|r| r.status().as_u16())
    })
    .expect("POST");
    assert!((400..500).contains(&status), "got {status}");
}
