//! The outages `check_outages` covers (nothing listening, stalled, 429 storm, 5xx), under the
//! fault tests' short budgets: the same verdicts, each answered inside the 1 s deadline, with
//! the figures printed for docs/reliability.md.

use landed_e2e::faults::FaultKind;
use landed_e2e::faults_check::check_fault;

#[test]
fn registry_down_answers_inside_the_deadline() {
    check_fault(FaultKind::RegistryDown).assert_detail_mentions(&["connect"]);
}

#[test]
fn registry_answering_after_the_deadline_is_cut_at_the_deadline() {
    check_fault(FaultKind::Slow).assert_detail_mentions(&["timeout", "no answer"]);
}

#[test]
fn rate_limit_storm_answers_inside_the_deadline() {
    check_fault(FaultKind::RateLimitStorm).assert_detail_mentions(&["TOOMANYREQUESTS", "429"]);
}

#[test]
fn server_error_answers_inside_the_deadline() {
    check_fault(FaultKind::ServerError).assert_detail_mentions(&["500", "registry error"]);
}
