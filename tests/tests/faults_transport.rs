//! Connections that break, certificates that fail and names that do not resolve, seen through
//! `landed check`: each is `unavailable` (exit 3), never `absent`, inside the deadline.

use landed_e2e::faults::FaultKind;
use landed_e2e::faults_check::check_fault;

#[test]
fn reset_before_any_answer_is_unavailable() {
    let checked = check_fault(FaultKind::ResetBeforeResponse);
    checked.assert_detail_mentions(&["reset", "closed", "connection"]);
}

#[test]
fn reset_in_the_middle_of_the_manifest_body_is_unavailable() {
    let checked = check_fault(FaultKind::ResetMidBody);
    checked.assert_detail_mentions(&["body", "reset", "closed"]);
}

#[test]
fn certificate_from_an_untrusted_ca_is_unavailable() {
    let checked = check_fault(FaultKind::UntrustedCertificate);
    checked.assert_detail_mentions(&["UnknownIssuer", "certificate"]);
}

#[test]
fn expired_certificate_from_the_trusted_ca_is_unavailable() {
    let checked = check_fault(FaultKind::ExpiredCertificate);
    checked.assert_detail_mentions(&["Expired", "expired"]);
}

#[test]
fn unresolvable_registry_name_is_unavailable() {
    let checked = check_fault(FaultKind::DnsFailure);
    // A resolver that stalls rather than answering NXDOMAIN is cut off by the deadline.
    checked.assert_detail_mentions(&["dns", "resolve", "lookup", "no answer", "timeout"]);
}
