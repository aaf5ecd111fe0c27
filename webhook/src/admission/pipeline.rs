//! The request path: skip → extract → resolve → policies → decision.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use kube::core::admission::{AdmissionResponse, Operation};
use tracing::{info_span, Instrument};

use super::breakglass::Breakglass;
use super::decision::{Denial, Evaluation, Outcome};
use super::extract::{self, FoundImage};
use super::input::request_info;
use super::observe::{ReviewObserver, ReviewRecord};
use super::review::Request;
use super::route::Route;
use super::settings::ReviewSettings;
use crate::image::{ParsedReferences, Reference};
use crate::mode::Mode;
use crate::policy::{
    FailurePolicy, ImageInput, Loaded, PolicyContext, PolicyInput, PolicyStore, PreparedInput,
};
use crate::resolve::{no_answer, LookupContext, Resolve};
use crate::verdict::{Verdict, VerdictClass};
use crate::workload::WorkloadKind;

/// Everything a review needs, shared by the server and `landed review`.
pub struct Pipeline {
    settings: Arc<ReviewSettings>,
    resolver: Arc<dyn Resolve>,
    policies: Arc<PolicyStore>,
    observers: Vec<Arc<dyn ReviewObserver>>,
    references: Arc<ParsedReferences>,
}

impl Pipeline {
    /// A pipeline over its settings, a resolver and the serving policies.
    pub fn new(
        settings: ReviewSettings,
        resolver: Arc<dyn Resolve>,
        policies: Arc<PolicyStore>,
    ) -> Self {
        Self {
            settings: Arc::new(settings),
            resolver,
            policies,
            observers: Vec::new(),
            references: Arc::default(),
        }
    }

    /// Tells `observer` about every review once it is answered (the server's audit Events).
    pub fn with_observer(mut self, observer: Arc<dyn ReviewObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The policies this pipeline runs.
    pub fn policies(&self) -> &Arc<PolicyStore> {
        &self.policies
    }

    /// The settings it reviews with.
    pub fn settings(&self) -> &ReviewSettings {
        &self.settings
    }

    /// The resolver it asks.
    pub fn resolver(&self) -> &Arc<dyn Resolve> {
        &self.resolver
    }

    /// The same pipeline asking another resolver (the audit scan answers from prefetched
    /// verdicts).
    pub fn with_resolver(&self, resolver: Arc<dyn Resolve>) -> Self {
        Self {
            settings: self.settings.clone(),
            resolver,
            policies: self.policies.clone(),
            observers: Vec::new(),
            references: self.references.clone(),
        }
    }

    /// Reviews one request; the response's uid is always the request's.
    pub async fn review(&self, req: &Request, route: Route) -> AdmissionResponse {
        self.review_sent(req, None, route).await
    }

    /// Reviews one request decoded from the AdmissionReview `body`, which Kubewarden
    /// policies read the request from verbatim (`None`: they get it rebuilt).
    pub async fn review_sent(
        &self,
        req: &Request,
        body: Option<&[u8]>,
        route: Route,
    ) -> AdmissionResponse {
        let started = Instant::now();
        let span = info_span!(
            "review",
            uid = %req.uid,
            kind = %req.kind.kind,
            namespace = req.namespace.as_deref().unwrap_or(""),
            name = %req.name,
            operation = ?req.operation,
            endpoint = ?route,
        );
        let outcome = self
            .evaluate_sent(req, body, route)
            .instrument(span.clone())
            .await;
        let response = outcome.respond(req, route);
        let _enter = span.enter();
        // With pinning on, an object passes /mutate then /validate: one use, logged once.
        if let (Outcome::Evaluated(e), Route::Validate) = (&outcome, route) {
            if let Some(breakglass) = &e.breakglass {
                breakglass.log(req);
            }
        }
        // Decision and latency go on the one log line rather than into the span: recording
        // a span field re-encodes all of the span's fields in the JSON log layer.
        outcome.log(&response, started.elapsed().as_secs_f64() * 1e3);
        ReviewRecord {
            request: req,
            mode: self.settings.effective(req.namespace.as_deref()).0,
            route,
            outcome: &outcome,
            response: &response,
            elapsed: started.elapsed(),
        }
        .record(crate::metrics::global());
        for observer in &self.observers {
            observer.after_review(req, route, &outcome);
        }
        response
    }

    /// What the steps find for a request, before it becomes a response (no log, no metric).
    pub async fn evaluate(&self, req: &Request, route: Route) -> Outcome {
        self.evaluate_sent(req, None, route).await
    }

    /// [`Pipeline::evaluate`] of a request decoded from the AdmissionReview `body`.
    pub async fn evaluate_sent(&self, req: &Request, body: Option<&[u8]>, route: Route) -> Outcome {
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return Outcome::Skipped("operation not reviewed");
        }
        let Some(kind) = WorkloadKind::from_gvk(&req.kind) else {
            return Outcome::Skipped("kind not handled");
        };
        let namespace = req.namespace.as_deref();
        if self.settings.skips_namespace(namespace) {
            return Outcome::Skipped("namespace excluded");
        }
        let (mode, on_undetermined) = self.settings.effective(namespace);
        let Some(object) = &req.object else {
            return Outcome::Skipped("request has no object");
        };
        // One pass over the object for its pod spec and its breakglass annotation.
        let breakglass_key = self.settings.breakglass.annotation_key();
        let view = match kind.read(object.json(), breakglass_key) {
            Ok(view) => view,
            Err(err) => return Outcome::decode_failure(mode, err.to_string()),
        };
        let breakglass = self
            .settings
            .breakglass
            .judge(req, view.annotation.as_deref());
        let Some(spec) = &view.spec else {
            return Outcome::Skipped("object has no pod spec");
        };
        let found = extract::found_images(kind, namespace, spec);
        let ctx = found.lookup;
        let mut images = found.images;
        if req.operation == Operation::Update && !self.settings.check_unchanged_images {
            images = extract::changed(images, &self.old_images(kind, req));
        }
        if images.is_empty() {
            return Outcome::Skipped("no new or changed images");
        }
        let set = self.policies.current();
        let mutating = route == Route::Mutate;
        let used = breakglass.as_ref().is_some_and(Breakglass::is_used);
        let skipped = |p: &Loaded| used && self.settings.breakglass.skips(p.policy.name());
        let applicable = |p: &&Loaded| p.runs_on.includes(mutating);
        let runs = |p: &&Loaded| applicable(p) && !skipped(p);
        let breakglass = breakglass.map(|b| {
            let names = set
                .policies
                .iter()
                .filter(applicable)
                .filter(|p| skipped(p));
            b.with_skipped(names.map(|p| p.policy.name().to_owned()).collect())
        });
        if used && !set.policies.iter().any(|p| runs(&p)) {
            // Breakglass skipped every policy of this route: nothing needs a verdict, so
            // the registry (often the reason for breakglass) is not asked.
            return Outcome::Evaluated(Evaluation {
                breakglass,
                ..Evaluation::default()
            });
        }
        // One lookup deadline for the review: its images first, then its policies'
        // `resolve-image` calls share what is left.
        let deadline = tokio::time::Instant::now() + self.settings.lookup_deadline;
        let images = self.resolve_all(images, &ctx, deadline).await;
        let input = PolicyInput {
            request: request_info(req),
            images,
            settings: serde_json::Value::Null,
            context: PolicyContext {
                mode,
                on_undetermined,
                mutating,
            },
        };
        let policies = set.policies.iter().filter(runs);
        let mut evaluation = run_policies(policies, input, body, ctx, deadline, mode).await;
        evaluation.breakglass = breakglass;
        Outcome::Evaluated(evaluation)
    }

    fn old_images(&self, kind: WorkloadKind, req: &Request) -> Vec<FoundImage> {
        // An old object that does not decode hides nothing: every image is checked then.
        req.old_object
            .as_ref()
            .and_then(|old| extract::pod_images(kind, None, old.json()).ok().flatten())
            .map(|found| found.images)
            .unwrap_or_default()
    }

    /// Resolves every distinct reference once, all concurrently, by `deadline`.
    async fn resolve_all(
        &self,
        images: Vec<FoundImage>,
        ctx: &LookupContext,
        deadline: tokio::time::Instant,
    ) -> Vec<ImageInput> {
        let budget = self.settings.lookup_deadline;
        let parsed: Vec<_> = images
            .iter()
            .map(|i| self.references.parse(&i.image))
            .collect();
        let mut unique: HashMap<&str, &Reference> = HashMap::new();
        for parsed in parsed.iter().flatten() {
            unique
                .entry(&parsed.normalized)
                .or_insert(&parsed.reference);
        }
        // The resolver answers by the deadline itself (with a stale answer when it has one);
        // the guard a little later only protects against a resolver that breaks that promise.
        let guard = deadline + DEADLINE_GUARD;
        let lookups = unique.into_iter().map(|(key, reference)| async move {
            let lookup = self.resolver.resolve_until(reference, ctx, deadline);
            let verdict = tokio::time::timeout_at(guard, lookup)
                .await
                .unwrap_or_else(|_| no_answer(budget));
            (key, verdict)
        });
        let verdicts: HashMap<&str, Verdict> = join_all(lookups).await.into_iter().collect();
        for (image, verdict) in &verdicts {
            // The client reads the short detail; the operator gets the whole cause here,
            // inside the review's span (uid, namespace, name).
            if let (Some(cause), false) = (&verdict.cause, verdict.class == VerdictClass::Landed) {
                tracing::info!(image, verdict = %verdict.class, cause = %cause, "image not verified");
            }
        }
        images
            .into_iter()
            .zip(&parsed)
            .map(|(image, parsed)| {
                let (normalized, verdict) = match parsed {
                    Ok(parsed) => {
                        let verdict = verdicts
                            .get(parsed.normalized.as_str())
                            .cloned()
                            .unwrap_or_else(|| no_answer(budget));
                        (Some(parsed.normalized.clone()), verdict)
                    }
                    Err(err) => (
                        None,
                        Verdict::new(VerdictClass::InvalidReference, err.to_string()),
                    ),
                };
                ImageInput {
                    path: image.path,
                    container: image.container,
                    container_type: image.container_type,
                    reference: image.image,
                    normalized,
                    verdict: verdict.class,
                    digest: verdict.digest.map(|d| d.to_string()),
                    detail: verdict.detail,
                    stale: verdict.stale,
                }
            })
            .collect()
    }
}

/// Runs `policies` (those of the route that breakglass did not skip) in order and
/// combines their answers.
async fn run_policies(
    policies: impl Iterator<Item = &Loaded>,
    input: PolicyInput,
    body: Option<&[u8]>,
    ctx: LookupContext,
    deadline: tokio::time::Instant,
    mode: Mode,
) -> Evaluation {
    let mut evaluation = Evaluation::default();
    // Shared by every policy of the review; each part is encoded when a policy that is
    // called first needs it, so a review whose answers are all reused encodes nothing.
    let mut prepared = PreparedInput::with_lookup(&input, ctx).with_deadline(deadline.into_std());
    if let Some(body) = body {
        prepared = prepared.with_review_body(body);
    }
    for loaded in policies {
        let name = loaded.policy.name();
        let mode = loaded.mode.unwrap_or(mode);
        let answer = loaded.policy.evaluate(&prepared, &loaded.settings).await;
        match answer {
            Ok(output) => {
                evaluation.warnings.extend(output.warnings);
                if !output.allowed {
                    let message = output
                        .message
                        .unwrap_or_else(|| format!("denied by policy {name}"));
                    evaluation.denials.push(Denial {
                        policy: name.to_owned(),
                        message,
                        mode,
                    });
                }
                if let Some(patch) = output.patch {
                    evaluation.patch.extend(patch.0);
                }
            }
            Err(err) => match loaded.failure_policy {
                FailurePolicy::Fail => evaluation.denials.push(Denial {
                    policy: name.to_owned(),
                    message: format!("{err} (failurePolicy: Fail)"),
                    mode,
                }),
                FailurePolicy::Ignore => evaluation
                    .warnings
                    .push(format!("{err}; ignored (failurePolicy: Ignore)")),
            },
        }
    }
    drop(prepared);
    evaluation.images = input.images;
    evaluation
}

/// How long past the review deadline a resolver may take before the pipeline stops waiting.
const DEADLINE_GUARD: Duration = Duration::from_millis(50);
