//! The Kubernetes API accepting a pull-secret read and never answering, under one long-lived
//! `landed serve`: the hung read is cut at `resolve.requestTimeout`, the review still finds the
//! pod's own pull secret and admits the image inside the deadline, and the read that hung is
//! asked again next time instead of being remembered as "no pull secrets".

use std::time::{Duration, Instant};

use landed_e2e::docker_config::{pull_secret_config, Login};
use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::review::PodReview;
use landed_e2e::scenario::tls_basic_registry;
use landed_e2e::server::LandedServer;
use landed_e2e::{LandedConfig, RegistryEntry};
use serde_json::Value;

const USER: &str = "puller";
const PASSWORD: &str = "kube-hang-pa55-41d7";
const DEADLINE: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// Reviews a Pod in `shop` running `image` with pull secret `regcred`; the response and time.
fn review(server: &LandedServer, image: &str) -> (Value, Duration) {
    let pod = PodReview::new("shop")
        .expect("fixture")
        .container("app", image)
        .pull_secret("regcred");
    let started = Instant::now();
    let (status, body) = server.post("/validate", &pod.to_json()).expect("post");
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["uid"], pod.uid().as_str(), "{body}");
    (body["response"].clone(), took)
}

fn no_warnings(response: &Value) -> bool {
    response["warnings"]
        .as_array()
        .is_none_or(|warnings| warnings.is_empty())
}

#[test]
fn kube_api_that_hangs_is_cut_per_read_and_asked_again() {
    let (registry, mut landed) = tls_basic_registry(USER, PASSWORD).expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    // A second tag, so the second review needs credentials again instead of a cached verdict.
    let other = registry.push_image("team/app", "v2").expect("push");
    // The first API request — the pod's service account — hangs.
    let kube = FakeKubeApi::start_stalling_first(1).expect("kube");
    let login = Login::new(&registry.host(), USER, PASSWORD);
    kube.add_pull_secret(
        "shop",
        "regcred",
        &pull_secret_config(std::slice::from_ref(&login)),
    );
    landed.add_secret(login.encoded());
    let kubeconfig = kube
        .write_kubeconfig(landed.home(), "shop")
        .expect("kubeconfig");
    landed.set_env("KUBECONFIG", kubeconfig.display().to_string());
    let ca = registry.write_ca(landed.home()).expect("ca");
    let config = LandedConfig {
        registries: vec![RegistryEntry::for_registry(&registry).ca_file(ca)],
        deadline: Some(DEADLINE),
        request_timeout: Some(REQUEST_TIMEOUT),
        connect_timeout: Some(REQUEST_TIMEOUT),
        ..LandedConfig::default()
    };
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");

    let (during, took) = review(&server, &image.by_tag());
    eprintln!(
        "kube API hang: review answered in {:.3}s (read cut at {:.1}s, deadline {:.1}s)",
        took.as_secs_f64(),
        REQUEST_TIMEOUT.as_secs_f64(),
        DEADLINE.as_secs_f64()
    );
    assert_eq!(during["allowed"], true, "{during}\n{}", server.log());
    assert!(
        no_warnings(&during),
        "the pod's own pull secret still reaches the registry while the service account read \
         hangs: {during}\n{}",
        server.log()
    );
    assert!(
        took >= REQUEST_TIMEOUT,
        "the hung read was waited for: {took:?}"
    );
    assert!(took < DEADLINE, "inside the deadline: {took:?}");

    let (after, took) = review(&server, &other.by_tag());
    assert_eq!(after["allowed"], true, "{after}");
    assert!(no_warnings(&after), "{after}");
    assert!(took < REQUEST_TIMEOUT, "nothing waits any more: {took:?}");
    let account_reads = kube
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/shop/serviceaccounts/default")
        .count();
    assert_eq!(
        account_reads,
        2,
        "the read that hung is not cached as an empty answer: {:?}",
        kube.requests()
    );
}
