//! OpenReports (`openreports.io/v1alpha1` `Report`): the format Kubewarden's audit scanner
//! writes by default and Kyverno supports. The report names its `source` too.

use super::document::Encoding;

/// How landed writes OpenReports.
pub const ENCODING: Encoding = Encoding {
    group: "openreports.io",
    version: "v1alpha1",
    kind: "Report",
    plural: "reports",
    report_source: true,
};
