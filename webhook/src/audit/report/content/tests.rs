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

#[test]
fn each_failed_image_gets_only_the_part_of_the_denial_that_names_it() {
    let got = report(denied_by(
        "require-landed",
        "container \"app\" (spec.template.spec.containers[0].image) image \"app:1\" is absent; \
         container \"sidecar\" (spec.template.spec.containers[1].image) image \"proxy:2\" is absent",
    ));
    let messages: Vec<&str> = got
        .results
        .iter()
        .filter_map(|r| r.message.as_deref())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("\"app:1\"") && !messages[0].contains("proxy"));
    assert!(messages[1].contains("\"proxy:2\"") && !messages[1].contains("app:1"));
}

/// A workload made to blow up its report: thousands of containers with 4 KB references, each
/// named in one policy message. Copying the message into every result would make the report
/// grow with the square of the containers (gigabytes); it must stay bounded and writable.
#[test]
fn attack_huge_workload_report_stays_bounded() {
    let images: Vec<ImageRow> = (0..3000)
        .map(|i| {
            image(
                &format!("c{i}"),
                i,
                &"x".repeat(4096),
                VerdictClass::InvalidReference,
            )
        })
        .collect();
    let message = images
        .iter()
        .map(|i| {
            format!(
                "container {:?} ({}) image {:?} is invalid",
                i.container, i.path, i.reference
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let denial = DenialRow {
        policy: "require-landed".to_owned(),
        message,
    };
    let built = report(workload(Decision::Deny, vec![denial], images));
    assert_eq!(
        built.results.len(),
        2 * MAX_IMAGES,
        "the first images, each policy"
    );
    assert!(built.results.len() <= MAX_RESULTS);
    assert_eq!(built.summary.fail, MAX_IMAGES as u32);
    assert_eq!(built.summary.total(), built.results.len() as u64);
    for r in &built.results {
        assert!(r.message.as_deref().is_none_or(|m| m.len() <= MAX_TEXT));
        assert!(r.properties.values().all(|v| v.len() <= MAX_TEXT));
    }
    let c7 = built
        .results
        .iter()
        .find(|r| r.properties["container"] == "c7")
        .and_then(|r| r.message.as_deref())
        .expect("c7 failed");
    assert!(
        c7.starts_with("container \"c7\" (spec.template.spec.containers[7].image)"),
        "{c7}"
    );
    let now = crate::audit::report::Timestamp {
        seconds: 0,
        nanos: 0,
    };
    let encoded =
        serde_json::to_vec(&crate::audit::report::openreports::ENCODING.encode(&built, now))
            .expect("encodes");
    assert!(encoded.len() < 1024 * 1024, "{} bytes", encoded.len());
}

#[test]
fn bounded_text_is_cut_on_a_character_boundary() {
    let text = "é".repeat(MAX_TEXT);
    let cut = bounded(&text);
    assert!(cut.len() <= MAX_TEXT && cut.ends_with('…'), "{}", cut.len());
    assert_eq!(bounded("short"), "short");
}

#[test]
fn results_beyond_the_cap_keep_the_failures_first() {
    let images: Vec<ImageRow> = (0..MAX_IMAGES)
        .map(|i| image(&format!("c{i}"), i, "app:1", VerdictClass::Landed))
        .collect();
    let denial = DenialRow {
        policy: "landed".to_owned(),
        message: "the object does not decode".to_owned(),
    };
    // Two listed policies pass, the pipeline's own denial fails every image: 300 results.
    let built = report(workload(Decision::Deny, vec![denial], images));
    assert_eq!(built.results.len(), MAX_RESULTS);
    let fails = built
        .results
        .iter()
        .take_while(|r| r.result == PolicyResult::Fail)
        .count();
    assert_eq!(fails, MAX_IMAGES, "every failure kept, before any pass");
    assert_eq!(
        built.summary.fail as usize + built.summary.pass as usize,
        MAX_RESULTS
    );
}
