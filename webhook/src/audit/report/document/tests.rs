//! Encoding one workload's content: names, owner, and what differs between the two APIs.

use super::*;
use crate::audit::report::{openreports, wgpolicy};

fn content(name: &str, uid: Option<&str>) -> WorkloadReport {
    WorkloadReport {
        scope: Scope {
            api_version: "v1".to_owned(),
            kind: "Pod".to_owned(),
            name: name.to_owned(),
            namespace: "shop".to_owned(),
            uid: uid.map(str::to_owned),
        },
        results: Vec::new(),
        summary: Summary::default(),
    }
}

const NOW: Timestamp = Timestamp {
    seconds: 1,
    nanos: 0,
};

#[test]
fn the_two_apis_differ_only_in_type_and_report_level_source() {
    let c = content("web", Some("u-1"));
    let open = openreports::ENCODING.encode(&c, NOW);
    let wg = wgpolicy::ENCODING.encode(&c, NOW);
    assert_eq!(
        (open.api_version.as_str(), open.kind.as_str()),
        ("openreports.io/v1alpha1", "Report")
    );
    assert_eq!(
        (wg.api_version.as_str(), wg.kind.as_str()),
        ("wgpolicyk8s.io/v1alpha2", "PolicyReport")
    );
    assert_eq!(open.source.as_deref(), Some("landed"));
    assert_eq!(wg.source, None);
    let json = serde_json::to_value(&wg).expect("encodes");
    assert!(
        json.get("source").is_none(),
        "no field the PolicyReport CRD lacks"
    );
    assert_eq!((open.metadata, open.scope), (wg.metadata, wg.scope));
}

#[test]
fn the_report_is_named_after_its_workload_and_owned_by_it() {
    let doc = openreports::ENCODING.encode(&content("web", Some("u-1")), NOW);
    assert_eq!(doc.metadata.name, "pod-web");
    assert_eq!(doc.metadata.owner_references[0].uid, "u-1");
    let unowned = openreports::ENCODING.encode(&content("web", None), NOW);
    assert!(unowned.metadata.owner_references.is_empty());
}

#[test]
fn a_name_too_long_for_the_prefix_falls_back_to_the_uid_or_is_cut() {
    let long = "a".repeat(253);
    let with_uid = openreports::ENCODING.encode(&content(&long, Some("u-1")), NOW);
    assert_eq!(with_uid.metadata.name, "u-1");
    let without = openreports::ENCODING.encode(&content(&long, None), NOW);
    assert_eq!(without.metadata.name.len(), 253);
    assert!(without.metadata.name.starts_with("pod-a"));
    // Cut where a dash falls: the name still ends with a letter or digit.
    let dashed = format!("{}-b", "a".repeat(248));
    let cut = openreports::ENCODING.encode(&content(&dashed, None), NOW);
    assert_eq!(cut.metadata.name, format!("pod-{}", "a".repeat(248)));
}
