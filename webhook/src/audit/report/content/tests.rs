//! Report content: one result per image and policy, denials narrowed to the images they
//! name, breakglass skipped, summaries that add up.

use super::*;
use crate::audit::scan::DenialRow;
use crate::mode::Mode;
use crate::verdict::VerdictClass;

fn image(container: &str, index: usize, reference: &str, verdict: VerdictClass) -> ImageRow {
    ImageRow {
        container: container.to_owned(),
        path: format!("spec.template.spec.containers[{index}].image"),
        reference: reference.to_owned(),
        normalized: Some(format!("docker.io/library/{reference}")),
        verdict,
        digest: None,
        detail: format!("registry said {verdict}"),
    }
}

fn workload(decision: Decision, denials: Vec<DenialRow>, images: Vec<ImageRow>) -> Finding {
    Finding {
        namespace: "shop".to_owned(),
        kind: "Deployment",
        api_version: "apps/v1".to_owned(),
        name: "web".to_owned(),
        uid: Some("u-1".to_owned()),
        owned: 2,
        mode: Mode::Enforce,
        decision,
        denials,
        warnings: vec!["breakglass: incident 42 (skipped: require-landed)".to_owned()],
        images,
    }
}

fn policies() -> Vec<String> {
    vec!["require-landed".to_owned(), "no-latest-tag".to_owned()]
}

/// The one report built for `f`.
fn report(f: Finding) -> WorkloadReport {
    let findings = Findings {
        workloads: vec![f],
        ..Findings::default()
    };
    let mut reports = build(&findings, &policies());
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

fn results(f: Finding) -> Vec<(String, String, PolicyResult)> {
    report(f)
        .results
        .iter()
        .map(|r| {
            (
                r.policy.clone(),
                r.properties["container"].clone(),
                r.result,
            )
        })
        .collect()
}

fn two_images() -> Vec<ImageRow> {
    vec![
        image("app", 0, "app:1", VerdictClass::Landed),
        image("sidecar", 1, "proxy:2", VerdictClass::Absent),
    ]
}

/// The two-image workload, denied by `policy` with `message`.
fn denied_by(policy: &str, message: &str) -> Finding {
    let denial = DenialRow {
        policy: policy.to_owned(),
        message: message.to_owned(),
    };
    workload(Decision::Deny, vec![denial], two_images())
}

#[test]
fn a_denial_fails_only_the_image_it_names() {
    let got = results(denied_by(
        "require-landed",
        "container \"sidecar\" (spec.template.spec.containers[1].image) image \"proxy:2\" is absent",
    ));
    let want = [
        ("require-landed", "app", PolicyResult::Pass),
        ("require-landed", "sidecar", PolicyResult::Fail),
        ("no-latest-tag", "app", PolicyResult::Pass),
        ("no-latest-tag", "sidecar", PolicyResult::Pass),
    ]
    .map(|(p, c, r)| (p.to_owned(), c.to_owned(), r));
    assert_eq!(got, want);
}

#[test]
fn a_denial_naming_no_image_fails_them_all() {
    let got = results(denied_by("no-latest-tag", "this workload is not allowed"));
    let failed: Vec<_> = got
        .iter()
        .filter(|r| r.2 == PolicyResult::Fail)
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    assert_eq!(
        failed,
        [("no-latest-tag", "app"), ("no-latest-tag", "sidecar")]
    );
}

#[test]
fn breakglass_skips_every_result_with_its_reason() {
    let report = &report(workload(Decision::Breakglass, vec![], two_images()));
    assert!(report
        .results
        .iter()
        .all(|r| r.result == PolicyResult::Skip));
    assert!(report.results[0]
        .message
        .as_deref()
        .is_some_and(|m| m.contains("incident 42")));
    assert_eq!(report.summary.skip, 4);
}

#[test]
fn properties_carry_the_verdict_class_and_detail() {
    let report = &report(workload(Decision::Allow, vec![], two_images()));
    let sidecar = &report.results[1].properties;
    assert_eq!(sidecar["verdict"], "absent");
    assert_eq!(sidecar["detail"], "registry said absent");
    assert_eq!(sidecar["image"], "proxy:2");
    assert_eq!(sidecar["path"], "spec.template.spec.containers[1].image");
    assert!(!sidecar.contains_key("digest"), "no digest was known");
    assert_eq!(report.scope.kind, "Deployment");
    assert_eq!(report.scope.uid.as_deref(), Some("u-1"));
}

#[test]
fn a_workload_without_image_verdicts_still_gets_one_result_per_policy() {
    let report = &report(workload(Decision::Allow, vec![], vec![]));
    assert_eq!(report.results.len(), 2);
    assert!(report.results.iter().all(|r| r.properties.is_empty()));
}

#[test]
fn summary_adds_up_to_the_results() {
    let denial = DenialRow {
        policy: "landed".to_owned(),
        message: "the object does not decode".to_owned(),
    };
    for f in [
        workload(Decision::Deny, vec![denial.clone()], two_images()),
        workload(Decision::Breakglass, vec![], two_images()),
        workload(Decision::Allow, vec![], two_images()),
    ] {
        let report = &report(f);
        let s = &report.summary;
        assert_eq!(s.total(), report.results.len() as u64);
        let count = |want| report.results.iter().filter(|r| r.result == want).count() as u32;
        assert_eq!(s.pass, count(PolicyResult::Pass));
        assert_eq!(s.fail, count(PolicyResult::Fail));
        assert_eq!(s.skip, count(PolicyResult::Skip));
    }
    // A denial by a policy not in the list (the pipeline's own) gets its own results.
    let own = report(workload(Decision::Deny, vec![denial], two_images()));
    assert_eq!(own.results.len(), 6);
}
