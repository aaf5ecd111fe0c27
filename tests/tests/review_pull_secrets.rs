//! `landed review` of Pods: pull secrets read through kube from a fake API server, and the
//! seed's partially pushed image denied with a message a user can act on.

use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::review::PodReview;
use landed_e2e::scenario::{plain_registry, registry_with_pull_secret};
use landed_e2e::{Landed, Registry};

const USER: &str = "puller";
const PASSWORD: &str = "pull-pa55-6c3e";

/// The registry, API server and user of [`registry_with_pull_secret`], with `team/app:v1`.
fn setup() -> (Registry, FakeKubeApi, Landed, String) {
    registry_with_pull_secret(USER, PASSWORD, "team/app").expect("registry and pull secret")
}

#[test]
fn pod_pull_secret_from_the_api_server_is_used() {
    let (_registry, kube, landed, image) = setup();
    let review = PodReview::new("shop")
        .expect("fixture")
        .container("app", &image)
        .pull_secret("regcred");

    let run = landed.review(&review.to_json()).expect("run");
    let response = run.response().expect("response");
    assert_eq!(
        response["uid"],
        review.uid().as_str(),
        "{}",
        run.output.describe()
    );
    assert_eq!(response["allowed"], true, "{}", run.output.describe());
    assert!(
        run.warnings().expect("warnings").is_empty(),
        "a landed image needs no warning: {}",
        run.output.describe()
    );
    assert!(
        kube.requests()
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/shop/secrets/regcred"),
        "the secret was read through the API: {:?}",
        kube.requests()
    );
}

#[test]
fn service_account_pull_secret_from_the_api_server_is_used() {
    let (_registry, kube, landed, image) = setup();
    kube.add_service_account("shop", "builder", &["regcred"]);
    let review = PodReview::new("shop")
        .expect("fixture")
        .container("app", &image)
        .service_account("builder");

    let run = landed.review(&review.to_json()).expect("run");
    assert!(run.allowed().expect("allowed"), "{}", run.output.describe());
    assert!(
        run.warnings().expect("warnings").is_empty(),
        "{}",
        run.output.describe()
    );
    let paths: Vec<String> = kube.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.contains(&"/api/v1/namespaces/shop/serviceaccounts/builder".to_owned()),
        "{paths:?}"
    );
}

#[test]
fn pod_without_a_usable_secret_is_allowed_with_an_unauthorized_warning() {
    let (_registry, _kube, landed, image) = setup();
    let review = PodReview::new("shop")
        .expect("fixture")
        .container("app", &image);

    let run = landed.review(&review.to_json()).expect("run");
    assert!(run.allowed().expect("allowed"), "{}", run.output.describe());
    let warnings = run.warnings().expect("warnings").join("\n");
    assert!(
        warnings.contains("unauthorized") && warnings.contains("team/app"),
        "the warning names the image and the verdict: {warnings:?}"
    );
}

#[test]
fn pod_with_a_partially_pushed_image_is_denied() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let kube = FakeKubeApi::start().expect("kube");
    let kubeconfig = kube
        .write_kubeconfig(landed.home(), "shop")
        .expect("kubeconfig");
    landed.set_env("KUBECONFIG", kubeconfig.display().to_string());
    let good = registry.push_image("team/sidecar", "v1").expect("push");
    let partial = registry.push_partial("team/app", "v2").expect("partial");
    let review = PodReview::new("shop")
        .expect("fixture")
        .container("log-shipper", &good.by_tag())
        .container("checkout-api", &partial.by_tag());

    let run = landed.review(&review.to_json()).expect("run");
    let response = run.response().expect("response");
    assert_eq!(response["uid"], review.uid().as_str());
    assert_eq!(response["allowed"], false, "{}", run.output.describe());
    let message = run.message().expect("message");
    assert!(
        message.contains("checkout-api")
            && message.contains("absent")
            && message.contains("team/app"),
        "the message names the container, the image and the verdict: {message:?}"
    );
    assert!(
        !message.contains("log-shipper"),
        "the landed sidecar is not blamed: {message:?}"
    );
}
