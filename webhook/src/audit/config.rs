//! `audit:` in landed.yaml.

use std::time::Duration;

use serde::Deserialize;

use super::report::ReportFormat;

/// In-server audit settings; every field optional.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Create a Kubernetes Event on the object for each audit-mode would-be denial (never
    /// for dry-run requests).
    pub events: bool,
    /// The periodic scan of running workloads (off unless an interval is set).
    pub background_scan: BackgroundScanConfig,
    /// Whether the background scan writes reports (the name predates OpenReports).
    pub policy_reports: bool,
    /// Which report API those are written in.
    pub reports: ReportFormat,
}

/// `audit.backgroundScan`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BackgroundScanConfig {
    /// Time between scans; no scan when absent.
    #[serde(with = "humantime_serde")]
    pub interval: Option<Duration>,
}
