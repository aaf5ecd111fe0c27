//! Credential sources that fail, seen through `landed check`: a registry's token server down
//! or answering garbage, Google's OAuth endpoint down or answering garbage. Each is
//! `unavailable` (exit 3) inside the deadline: never `absent`, and never `unauthorized`
//! either, since no credentials were refused.

use landed_e2e::faults::FaultKind;
use landed_e2e::faults_check::check_fault;

#[test]
fn token_server_down_is_unavailable() {
    let checked = check_fault(FaultKind::TokenServerDown);
    checked.assert_detail_mentions(&["token request"]);
}

#[test]
fn token_server_answering_garbage_is_unavailable() {
    let checked = check_fault(FaultKind::TokenServerGarbage);
    checked.assert_detail_mentions(&["token"]);
}

#[test]
fn google_oauth_endpoint_down_is_unavailable() {
    let checked = check_fault(FaultKind::OAuthDown);
    checked.assert_detail_mentions(&["gcp", "credentials", "no answer"]);
}

#[test]
fn google_oauth_endpoint_answering_garbage_is_unavailable() {
    let checked = check_fault(FaultKind::OAuthGarbage);
    checked.assert_detail_mentions(&["gcp", "credentials"]);
}
