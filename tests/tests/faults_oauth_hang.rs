//! Google's OAuth endpoint accepting the connection and never answering, then recovering, as
//! a long-lived `landed serve` lives through it: the review during the hang is `unavailable`
//! inside the deadline, and once the endpoint answers again GAR images are `landed` again —
//! the hung token request must not keep every later lookup waiting behind it.

use std::time::Duration;

use landed_e2e::fakes::google_oauth::FakeGoogleOAuth;
use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::fault_server::{review, OPEN};
use landed_e2e::faults_check::{fault_config, FAULT_DEADLINE};
use landed_e2e::gar::{Gar, GAR_HOST};
use landed_e2e::server::LandedServer;
use landed_e2e::RegistryEntry;

#[test]
fn google_oauth_endpoint_that_hangs_is_cut_at_the_deadline_and_then_recovers() {
    let oauth = FakeGoogleOAuth::start_stalling_first(3600, 1).expect("oauth");
    let mut gar = Gar::with_oauth(oauth).expect("gar");
    let v1 = gar.push("images/app", "v1").expect("push");
    let v2 = gar.push("images/app", "v2").expect("push");
    let kube = FakeKubeApi::start().expect("kube");
    let kubeconfig = kube
        .write_kubeconfig(gar.landed.home(), OPEN)
        .expect("kubeconfig");
    gar.landed
        .set_env("KUBECONFIG", kubeconfig.display().to_string());
    let ca = gar.registry.write_ca(gar.landed.home()).expect("ca");
    let config = fault_config(vec![RegistryEntry::for_endpoint(
        GAR_HOST,
        &gar.registry.endpoint(),
    )
    .ca_file(ca)]);
    let server = LandedServer::start(&mut gar.landed, &config).expect("landed serve");

    let during = review(&server, OPEN, &v1.by_tag()).expect("review");
    assert_eq!(during.allowed(), Some(true), "{during:?}");
    assert!(
        during.warnings().contains("is unavailable"),
        "while the token endpoint hangs: {during:?}"
    );
    assert!(
        during.took < FAULT_DEADLINE + Duration::from_millis(500),
        "{during:?}"
    );

    // The endpoint answers again (it hangs only its first request).
    let other = review(&server, OPEN, &v2.by_tag()).expect("review");
    let again = review(&server, OPEN, &v1.by_tag()).expect("review");
    eprintln!(
        "fault OAuthHang: landed serve -> unavailable in {:.3}s (deadline {:.1}s); after the \
         endpoint recovered: {} in {:.3}s, then {} in {:.3}s; token requests {}",
        during.took.as_secs_f64(),
        FAULT_DEADLINE.as_secs_f64(),
        if other.warnings().is_empty() {
            "landed"
        } else {
            "not landed"
        },
        other.took.as_secs_f64(),
        if again.warnings().is_empty() {
            "landed"
        } else {
            "not landed"
        },
        again.took.as_secs_f64(),
        gar.oauth.request_count()
    );
    for (image, reviewed) in [(&v2, &other), (&v1, &again)] {
        assert_eq!(reviewed.allowed(), Some(true), "{reviewed:?}");
        assert_eq!(
            reviewed.warnings(),
            "",
            "{} once the token endpoint answers again: {reviewed:?}\n{}",
            image.by_tag(),
            server.log()
        );
    }
    assert_eq!(
        gar.oauth.request_count(),
        2,
        "one hung token request, then one answered"
    );
}
