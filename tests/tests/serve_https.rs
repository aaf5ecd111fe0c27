//! `landed serve` end to end over HTTPS: the seed's Pod denied, and Google tokens refreshed
//! by a long-lived process.

use std::time::Duration;

use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::gar::Gar;
use landed_e2e::review::PodReview;
use landed_e2e::server::LandedServer;
use landed_e2e::{Landed, LandedConfig, Registry, RegistryEntry, RegistryOptions};

/// Sets KUBECONFIG to a fresh fake API server (a webhook always has one).
fn with_kube(landed: &mut Landed) -> FakeKubeApi {
    let kube = FakeKubeApi::start().expect("kube");
    let path = kube
        .write_kubeconfig(landed.home(), "shop")
        .expect("kubeconfig");
    landed.set_env("KUBECONFIG", path.display().to_string());
    kube
}

#[test]
fn partially_pushed_pod_is_denied_over_https() {
    let registry = Registry::start(RegistryOptions::default()).expect("registry");
    let partial = registry.push_partial("team/app", "v2").expect("partial");
    let good = registry.push_image("team/app", "v1").expect("push");
    let mut landed = Landed::new().expect("landed");
    let _kube = with_kube(&mut landed);
    let config = LandedConfig::with_registries(vec![RegistryEntry::for_registry(&registry)]);
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");

    let denied = PodReview::new("shop")
        .expect("fixture")
        .container("checkout-api", &partial.by_tag());
    let (status, body) = server.post("/validate", &denied.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    let response = &body["response"];
    assert_eq!(response["uid"], denied.uid().as_str(), "{body}");
    assert_eq!(response["allowed"], false, "{body}");
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("checkout-api") && message.contains("absent"),
        "{message:?}"
    );

    let allowed = PodReview::new("shop")
        .expect("fixture")
        .container("checkout-api", &good.by_tag());
    let (status, body) = server.post("/validate", &allowed.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["allowed"], true, "{body}");
    server
        .stop_and_check_logs()
        .expect("no credentials in logs");
}

#[test]
fn google_token_is_reused_then_refreshed_by_a_long_lived_server() {
    // gcp_auth treats a token as due 20 s before it expires: with expires_in 22 the token is
    // good for about 2 s.
    let mut gar = Gar::start(22).expect("gar");
    let images: Vec<String> = ["one", "two", "three"]
        .iter()
        .map(|repo| {
            gar.push(&format!("images/{repo}"), "v1")
                .expect("push")
                .by_tag()
        })
        .collect();
    let _kube = with_kube(&mut gar.landed);
    let config = LandedConfig::with_registries(vec![RegistryEntry::for_endpoint(
        landed_e2e::gar::GAR_HOST,
        &gar.registry.endpoint(),
    )
    .ca_file(gar.registry.write_ca(gar.landed.home()).expect("ca"))]);
    let server = LandedServer::start(&mut gar.landed, &config).expect("landed serve");
    let review = |image: &str| {
        let pod = PodReview::new("shop")
            .expect("fixture")
            .container("app", image);
        let (status, body) = server.post("/validate", &pod.to_json()).expect("POST");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["response"]["allowed"], true, "{body}");
        assert!(
            body["response"]["warnings"]
                .as_array()
                .is_none_or(Vec::is_empty),
            "landed without warnings: {body}"
        );
    };

    review(&images[0]);
    review(&images[1]);
    assert_eq!(gar.oauth.request_count(), 1, "a valid token is reused");

    std::thread::sleep(Duration::from_secs(3));
    review(&images[2]);
    assert_eq!(
        gar.oauth.request_count(),
        2,
        "a token past its refresh point is fetched again, and lookups keep working"
    );
    server
        .stop_and_check_logs()
        .expect("no credentials in logs");
}
