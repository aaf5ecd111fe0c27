//! What a report says, whatever API it is written in: per workload, one result per image
//! and policy, with the image's verdict class and evidence as properties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::scan::{Decision, Finding, Findings, ImageRow};

/// The outcome of one policy on one image (the enum both report APIs share).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyResult {
    /// The policy admitted it.
    Pass,
    /// The policy would deny it.
    Fail,
    /// Not met, but not scored.
    Warn,
    /// The policy could not be evaluated.
    Error,
    /// Not evaluated (breakglass).
    Skip,
}

/// Result counts by outcome; they add up to the number of results.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Results that passed.
    pub pass: u32,
    /// Results that failed.
    pub fail: u32,
    /// Results with a warning.
    pub warn: u32,
    /// Results where the policy erred.
    pub error: u32,
    /// Results not evaluated.
    pub skip: u32,
}

impl Summary {
    /// The counts of `rows`.
    pub fn of(rows: &[Row]) -> Self {
        let mut summary = Self::default();
        for row in rows {
            let slot = match row.result {
                PolicyResult::Pass => &mut summary.pass,
                PolicyResult::Fail => &mut summary.fail,
                PolicyResult::Warn => &mut summary.warn,
                PolicyResult::Error => &mut summary.error,
                PolicyResult::Skip => &mut summary.skip,
            };
            *slot = slot.saturating_add(1);
        }
        summary
    }

    /// All results counted.
    pub fn total(&self) -> u64 {
        [self.pass, self.fail, self.warn, self.error, self.skip]
            .iter()
            .map(|&n| u64::from(n))
            .sum()
    }
}

/// The workload a report is about (its `scope`, and each result's resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `apps/v1`, `v1`, `batch/v1`.
    pub api_version: String,
    /// Deployment, Pod, …
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Uid, when the API server gave one.
    pub uid: Option<String>,
}

/// One policy's outcome on one image of the workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The policy name.
    pub policy: String,
    /// pass, fail or skip.
    pub result: PolicyResult,
    /// The policy's denial, or the breakglass reason.
    pub message: Option<String>,
    /// `container`, `path`, `image`, `normalized`, `verdict`, `digest`, `detail`.
    pub properties: BTreeMap<String, String>,
}

/// One workload's report content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadReport {
    /// The workload.
    pub scope: Scope,
    /// One row per image and policy (per policy when no image verdicts were needed).
    pub results: Vec<Row>,
    /// The rows' counts.
    pub summary: Summary,
}

/// One report per workload; `policies` are the names of the policies that ran.
pub fn build(findings: &Findings, policies: &[String]) -> Vec<WorkloadReport> {
    findings
        .workloads
        .iter()
        .map(|f| {
            let results = rows(f, policies);
            WorkloadReport {
                scope: Scope {
                    api_version: f.api_version.clone(),
                    kind: f.kind.to_owned(),
                    name: f.name.clone(),
                    namespace: f.namespace.clone(),
                    uid: f.uid.clone(),
                },
                summary: Summary::of(&results),
                results,
            }
        })
        .collect()
}

/// Longest message or property value written, in bytes: image references, registry detail
/// and policy messages come from workloads and registries, and a report must stay well under
/// the API server's object size limit (1.5 MiB in etcd).
pub const MAX_TEXT: usize = 512;
/// Most results in one report; beyond it failures are kept first (logged).
pub const MAX_RESULTS: usize = 200;

/// `text` cut to [`MAX_TEXT`] bytes on a character boundary, marked with `…` when cut.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The image's verdict and evidence, as string properties.
fn properties(image: &ImageRow) -> BTreeMap<String, String> {
    let mut p = BTreeMap::from([
        ("container".to_owned(), bounded(&image.container)),
        ("path".to_owned(), bounded(&image.path)),
        ("image".to_owned(), bounded(&image.reference)),
        ("verdict".to_owned(), image.verdict.to_string()),
    ]);
    if let Some(n) = &image.normalized {
        p.insert("normalized".to_owned(), bounded(n));
    }
    if let Some(d) = &image.digest {
        p.insert("digest".to_owned(), bounded(d));
    }
    if !image.detail.is_empty() {
        p.insert("detail".to_owned(), bounded(&image.detail));
    }
    p
}

/// Images reported per workload; the rest are left out (logged).
pub const MAX_IMAGES: usize = 100;
/// Parts of one policy's denial matched against the images.
const MAX_PARTS: usize = 100;
/// How much of each part is searched for an image's name: the built-ins name it first.
const MATCH_WINDOW: usize = 2048;

/// What names an image in a denial. Policies answer per workload; the built-ins name each
/// image they refuse by its JSON path and quoted reference, one `; `-joined part per image.
struct Needle {
    path: String,
    quoted: String,
}

impl Needle {
    fn of(image: &ImageRow) -> Self {
        Self {
            path: image.path.clone(),
            quoted: format!("{:?}", image.reference),
        }
    }

    fn found_in(&self, part: &str) -> bool {
        let mut end = part.len().min(MATCH_WINDOW);
        while !part.is_char_boundary(end) {
            end -= 1;
        }
        let window = &part[..end];
        window.contains(&self.path) || window.contains(&self.quoted)
    }
}

/// One policy's denial, split into its `; `-joined parts, with the images each part names.
/// Bounded work: at most [`MAX_PARTS`] parts × [`MAX_IMAGES`] images × [`MATCH_WINDOW`].
struct Denial<'a> {
    parts: Vec<&'a str>,
    named: Vec<Vec<usize>>,
}

impl<'a> Denial<'a> {
    fn of(f: &'a Finding, policy: &str, needles: &[Needle]) -> Option<Self> {
        let parts: Vec<&str> = f
            .denials
            .iter()
            .filter(|d| d.policy == policy)
            .flat_map(|d| d.message.split("; "))
            .take(MAX_PARTS)
            .collect();
        let named = parts
            .iter()
            .map(|p| {
                let hits = needles.iter().enumerate().filter(|(_, n)| n.found_in(p));
                hits.map(|(i, _)| i).collect()
            })
            .collect();
        (!parts.is_empty()).then_some(Self { parts, named })
    }

    /// The parts naming image `index`; every part when no part names any image (the denial
    /// cannot be narrowed, so it fails them all); none otherwise.
    fn about(&self, index: Option<usize>) -> Option<String> {
        let narrowable = self.named.iter().any(|n| !n.is_empty());
        let parts: Vec<&str> = match index {
            Some(i) if narrowable => self
                .parts
                .iter()
                .zip(&self.named)
                .filter(|(_, n)| n.contains(&i))
                .map(|(p, _)| *p)
                .collect(),
            _ => self.parts.clone(),
        };
        (!parts.is_empty()).then(|| bounded(&parts.join("; ")))
    }
}

fn rows(f: &Finding, policies: &[String]) -> Vec<Row> {
    let mut names_run: Vec<&str> = policies.iter().map(String::as_str).collect();
    for d in &f.denials {
        if !names_run.contains(&d.policy.as_str()) {
            names_run.push(&d.policy);
        }
    }
    if f.images.len() > MAX_IMAGES {
        tracing::warn!(
            namespace = %f.namespace,
            kind = f.kind,
            name = %f.name,
            images = f.images.len(),
            kept = MAX_IMAGES,
            "report limited to the first images"
        );
    }
    let images = &f.images[..f.images.len().min(MAX_IMAGES)];
    let needles: Vec<Needle> = images.iter().map(Needle::of).collect();
    let indices: Vec<Option<usize>> = if images.is_empty() {
        vec![None]
    } else {
        (0..images.len()).map(Some).collect()
    };
    let mut out = Vec::new();
    for policy in names_run {
        let denial = Denial::of(f, policy, &needles);
        for &index in &indices {
            let (result, message) = match (&denial, f.decision) {
                (_, Decision::Breakglass) => {
                    (PolicyResult::Skip, Some(bounded(&f.warnings.join("; "))))
                }
                (Some(d), _) => match d.about(index) {
                    Some(m) => (PolicyResult::Fail, Some(m)),
                    None => (PolicyResult::Pass, None),
                },
                (None, _) => (PolicyResult::Pass, None),
            };
            out.push(Row {
                policy: policy.to_owned(),
                result,
                message,
                properties: index
                    .and_then(|i| images.get(i))
                    .map(properties)
                    .unwrap_or_default(),
            });
        }
    }
    if out.len() > MAX_RESULTS {
        tracing::warn!(
            namespace = %f.namespace,
            kind = f.kind,
            name = %f.name,
            results = out.len(),
            kept = MAX_RESULTS,
            "report cut to its most results, failures first"
        );
        // Stable: failures first, each group in policy and image order.
        out.sort_by_key(|r| r.result != PolicyResult::Fail);
        out.truncate(MAX_RESULTS);
    }
    out
}

#[cfg(test)]
mod tests;
