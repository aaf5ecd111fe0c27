//! The scan: every distinct image resolved once (bounded concurrency, the shared resolver),
//! then every workload run through the same pipeline and policies as admission.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::StreamExt;
use serde::Serialize;

use super::inventory::Workload;
use super::AuditError;
use crate::admission::{self, extract, Breakglass, Outcome, Pipeline, Request, Route};
use crate::image::Reference;
use crate::mode::Mode;
use crate::resolve::{LookupContext, Resolve};
use crate::verdict::{Verdict, VerdictClass};

/// Told how far the scan got (a progress bar, or nothing).
pub trait Progress: Send + Sync {
    /// A phase with `total` steps begins.
    fn begin(&self, phase: &'static str, total: usize);
    /// One step is done.
    fn advance(&self);
    /// The scan is over.
    fn end(&self);
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &'static str, _: usize) {}
    fn advance(&self) {}
    fn end(&self) {}
}

/// What enforce mode would do with a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Admitted.
    Allow,
    /// Denied by at least one policy.
    Deny,
    /// Let through by the breakglass annotation.
    Breakglass,
}

/// One policy's "no".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DenialRow {
    /// The policy.
    pub policy: String,
    /// Its message.
    pub message: String,
}

/// One container image of a workload with its verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageRow {
    /// Container name.
    pub container: String,
    /// JSON path of the image field.
    pub path: String,
    /// The reference as written.
    pub reference: String,
    /// The normalized reference, when it parsed.
    pub normalized: Option<String>,
    /// The verdict class.
    pub verdict: VerdictClass,
    /// The manifest digest, when known.
    pub digest: Option<String>,
    /// Evidence.
    pub detail: String,
}

/// What the scan found for one workload.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Namespace.
    pub namespace: String,
    /// Kind.
    pub kind: &'static str,
    /// API version of the kind (`apps/v1`).
    pub api_version: String,
    /// Name.
    pub name: String,
    /// Uid, when known.
    pub uid: Option<String>,
    /// How many listed objects it stands for besides itself (pods, replica sets, jobs).
    pub owned: usize,
    /// The mode configured for its namespace (the scan reports what enforce would do).
    pub mode: Mode,
    /// What enforce mode would do.
    pub decision: Decision,
    /// The denials, in policy order.
    pub denials: Vec<DenialRow>,
    /// Warnings the client would see.
    pub warnings: Vec<String>,
    /// Every image with its verdict.
    pub images: Vec<ImageRow>,
}

/// The whole scan.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Findings {
    /// One entry per reported workload, in listing order.
    pub workloads: Vec<Finding>,
    /// Workloads not reviewed (excluded namespace, no pod spec, no images).
    pub skipped: usize,
    /// Distinct lookups made (image × credentials).
    pub lookups: usize,
}

impl Findings {
    /// Exit code like `landed check` (2 > 1 > 3 > 0): 2 when an image reference is invalid,
    /// 1 when something would be denied, 3 when a verdict is undetermined, else 0.
    pub fn exit_code(&self) -> u8 {
        let images = || self.workloads.iter().flat_map(|w| &w.images);
        if images().any(|i| i.verdict == VerdictClass::InvalidReference) {
            2
        } else if self.workloads.iter().any(|w| w.decision == Decision::Deny) {
            1
        } else if images().any(|i| i.verdict.is_undetermined()) {
            3
        } else {
            0
        }
    }
}

type Key = (String, LookupContext);

/// Answers from verdicts resolved beforehand; anything else goes to the real resolver.
struct Prefetched {
    verdicts: HashMap<Key, Verdict>,
    fallback: Arc<dyn Resolve>,
}

impl Resolve for Prefetched {
    fn resolve<'a>(
        &'a self,
        reference: &'a Reference,
        ctx: &'a LookupContext,
    ) -> BoxFuture<'a, Verdict> {
        match self.verdicts.get(&(reference.to_string(), ctx.clone())) {
            Some(v) => Box::pin(futures::future::ready(v.clone())),
            None => self.fallback.resolve(reference, ctx),
        }
    }
}

/// Scans `workloads` (already collapsed to their roots) with `pipeline`'s settings, resolver
/// and policies, at most `concurrency` lookups at a time.
pub async fn scan(
    pipeline: &Pipeline,
    workloads: Vec<Workload>,
    concurrency: usize,
    progress: &dyn Progress,
) -> Result<Findings, AuditError> {
    let mut wanted: HashMap<Key, Reference> = HashMap::new();
    // Namespaces the pipeline skips need no lookup.
    let settings = pipeline.settings();
    let included = workloads
        .iter()
        .filter(|w| !settings.skips_namespace(Some(&w.namespace)));
    for w in included {
        let Ok(Some(found)) = extract::pod_images(w.kind, Some(&w.namespace), &w.object) else {
            continue;
        };
        for image in found.images {
            if let Ok(reference) = Reference::parse(&image.image) {
                wanted
                    .entry((reference.to_string(), found.lookup.clone()))
                    .or_insert(reference);
            }
        }
    }
    progress.begin("resolving images", wanted.len());
    let resolver = pipeline.resolver().clone();
    let verdicts: HashMap<Key, Verdict> = futures::stream::iter(wanted)
        .map(|(key, reference)| {
            let resolver = resolver.clone();
            async move {
                let verdict = resolver.resolve(&reference, &key.1).await;
                progress.advance();
                (key, verdict)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let lookups = verdicts.len();
    let audit = pipeline.with_resolver(Arc::new(Prefetched {
        verdicts,
        fallback: resolver,
    }));
    progress.begin("evaluating workloads", workloads.len());
    let mut findings = Findings {
        lookups,
        ..Findings::default()
    };
    for w in workloads {
        let request = request_for(&w)?;
        let outcome = audit.evaluate(&request, Route::Validate).await;
        progress.advance();
        match finding(
            &w,
            audit.settings().effective(Some(&w.namespace)).0,
            outcome,
        ) {
            Some(f) => findings.workloads.push(f),
            None => findings.skipped += 1,
        }
    }
    progress.end();
    Ok(findings)
}

/// A CREATE review of the workload as it is, as the API server would send it (dry run).
fn request_for(w: &Workload) -> Result<Request, AuditError> {
    let api_version = w.object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let review = serde_json::json!({
        "apiVersion": admission::review::API_VERSION,
        "kind": admission::review::KIND,
        "request": {
            "uid": format!("landed-audit-{}", w.uid.as_deref().unwrap_or(&w.name)),
            "kind": {"group": group, "version": version, "kind": w.kind.kind()},
            "resource": {"group": group, "version": version, "resource": w.kind.resource()},
            "name": w.name,
            "namespace": w.namespace,
            "operation": "CREATE",
            "userInfo": {"username": "landed-audit"},
            "object": w.object,
            "dryRun": true,
        }
    });
    let body = serde_json::to_vec(&review).map_err(AuditError::Encode)?;
    admission::decode(&body).map_err(AuditError::Review)
}

fn finding(w: &Workload, mode: Mode, outcome: Outcome) -> Option<Finding> {
    let (decision, mut evaluation) = match outcome {
        Outcome::Skipped(_) => return None,
        Outcome::Evaluated(e) if !e.denials.is_empty() => (Decision::Deny, e),
        Outcome::Evaluated(e) if e.breakglass_used() => (Decision::Breakglass, e),
        Outcome::Evaluated(e) => (Decision::Allow, e),
    };
    // The scan reviews as its own user, so a breakglass restricted to users or groups is
    // refused here whoever created the workload: only a use is worth reporting.
    if let Some(Breakglass::Used {
        reason, skipped, ..
    }) = &evaluation.breakglass
    {
        let skipped = skipped.join(", ");
        evaluation
            .warnings
            .insert(0, format!("breakglass: {reason} (skipped: {skipped})"));
    }
    Some(Finding {
        namespace: w.namespace.clone(),
        kind: w.kind.kind(),
        api_version: w.object["apiVersion"].as_str().unwrap_or("v1").to_owned(),
        name: w.name.clone(),
        uid: w.uid.clone(),
        owned: w.owned,
        mode,
        decision,
        denials: evaluation
            .denials
            .into_iter()
            .map(|d| DenialRow {
                policy: d.policy,
                message: d.message,
            })
            .collect(),
        warnings: evaluation.warnings,
        images: evaluation
            .images
            .into_iter()
            .map(|i| ImageRow {
                container: i.container,
                path: i.path,
                reference: i.reference,
                normalized: i.normalized,
                verdict: i.verdict,
                digest: i.digest,
                detail: i.detail,
            })
            .collect(),
    })
}
