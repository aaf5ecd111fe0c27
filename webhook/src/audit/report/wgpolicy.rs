//! wg-policy PolicyReports (`wgpolicyk8s.io/v1alpha2` `PolicyReport`), the format landed
//! wrote first; kept for consumers that have not moved to OpenReports. It has no
//! report-level `source`: each result carries it.

use super::document::Encoding;

/// How landed writes wg-policy PolicyReports.
pub const ENCODING: Encoding = Encoding {
    group: "wgpolicyk8s.io",
    version: "v1alpha2",
    kind: "PolicyReport",
    plural: "policyreports",
    report_source: false,
};
