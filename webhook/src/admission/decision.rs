//! Turning what the steps found into the AdmissionResponse, mode by mode.

use json_patch::{Patch, PatchOperation};
use kube::core::admission::AdmissionResponse;
use tracing::{debug, info, warn};

use super::breakglass::Breakglass;
use super::review::Request;
use super::route::Route;
use crate::mode::Mode;
use crate::policy::ImageInput;

/// The audit annotation recording what enforce mode would have denied.
pub const WOULD_DENY_ANNOTATION: &str = "would-deny";

/// Audit annotations of breakglass: the reason of a use, the policies it skipped, and the
/// reason of a refused attempt.
const BREAKGLASS_ANNOTATION: &str = "breakglass";
const BREAKGLASS_SKIPPED_ANNOTATION: &str = "breakglass-skipped";
const BREAKGLASS_REFUSED_ANNOTATION: &str = "breakglass-refused";

/// One policy's "no", with the mode that governs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Denial {
    /// The policy that denied (or `landed` for the pipeline itself).
    pub policy: String,
    /// User-facing reason.
    pub message: String,
    /// Enforce denies, warn warns, audit records.
    pub mode: Mode,
}

/// What the policies said about a reviewed object.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// Denials in policy order.
    pub denials: Vec<Denial>,
    /// Warnings from the policies.
    pub warnings: Vec<String>,
    /// Patch operations from mutating policies, in policy order.
    pub patch: Vec<PatchOperation>,
    /// The images with their verdicts (empty when no policy that runs needed them).
    pub images: Vec<ImageInput>,
    /// What the breakglass annotation did, when the object carries one.
    pub breakglass: Option<Breakglass>,
}

/// How a review ended before it became a response.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Nothing to check (operation, kind, namespace, no images).
    Skipped(&'static str),
    /// Checked and judged by the policies (those breakglass did not skip).
    Evaluated(Evaluation),
}

impl Outcome {
    /// An object of a handled kind that does not decode: denied like any policy denial.
    pub fn decode_failure(mode: Mode, message: String) -> Self {
        Self::Evaluated(Evaluation {
            denials: vec![Denial {
                policy: "landed".to_owned(),
                message,
                mode,
            }],
            ..Evaluation::default()
        })
    }

    /// The response for `req` on `route`.
    pub fn respond(&self, req: &Request, route: Route) -> AdmissionResponse {
        let mut response = AdmissionResponse::from(req);
        let evaluation = match self {
            Self::Skipped(_) => return response,
            Self::Evaluated(evaluation) => evaluation,
        };
        match route {
            Route::Mutate => mutate_response(response, evaluation),
            Route::Validate => {
                let mut warnings = Vec::new();
                if let Some(breakglass) = &evaluation.breakglass {
                    warnings.push(breakglass.warning());
                    annotate_breakglass(&mut response, breakglass);
                }
                let mut enforced = Vec::new();
                let mut audited = Vec::new();
                for denial in &evaluation.denials {
                    match denial.mode {
                        Mode::Enforce => enforced.push(denial.message.as_str()),
                        Mode::Warn => warnings
                            .push(format!("landed (warn mode) would deny: {}", denial.message)),
                        Mode::Audit => audited.push(denial.message.as_str()),
                    }
                }
                // Policy warnings (e.g. "could not verify") reach the client in every mode:
                // an undetermined verdict is never silent. Only audit denials stay quiet.
                warnings.extend(evaluation.warnings.iter().map(|w| format!("landed: {w}")));
                if !audited.is_empty() {
                    response
                        .audit_annotations
                        .insert(WOULD_DENY_ANNOTATION.to_owned(), audited.join("; "));
                }
                if !warnings.is_empty() {
                    response.warnings = Some(warnings);
                }
                if enforced.is_empty() {
                    response
                } else {
                    response.deny(format!("landed: {}", enforced.join("; ")))
                }
            }
        }
    }

    /// The decision as logged and counted: skip, breakglass (allowed with policies skipped by
    /// it), deny, audit-deny, warn or allow.
    pub fn decision(&self, response: &AdmissionResponse) -> &'static str {
        match (self, response.allowed) {
            (Self::Skipped(_), _) => "skip",
            (_, false) => "deny",
            (Self::Evaluated(e), true) if e.breakglass_used() => "breakglass",
            (Self::Evaluated(e), true) if e.denials.iter().any(|d| d.mode == Mode::Audit) => {
                "audit-deny"
            }
            (Self::Evaluated(e), true) if e.denials.iter().any(|d| d.mode == Mode::Warn) => "warn",
            (_, true) => "allow",
        }
    }

    /// One log line per decision, with the images and their verdicts, the decision and the
    /// review's latency. A clean allow (no denial, warning or patch) is logged at debug: at
    /// thousands of Pods a minute it is the bulk of the volume and the metrics count it;
    /// everything a person may need to act on is logged at info or above.
    pub fn log(&self, response: &AdmissionResponse, latency_ms: f64) {
        let decision = self.decision(response);
        match self {
            Self::Skipped(reason) => tracing::debug!(reason, latency_ms, "review skipped"),
            Self::Evaluated(evaluation) => {
                let images = ImagesField(&evaluation.images);
                let denials = DenialsField(&evaluation.denials);
                if evaluation.is_clean() {
                    debug!(decision, images = %images, latency_ms, "review decided");
                } else {
                    info!(decision, images = %images, denials = %denials, latency_ms, "review decided");
                }
            }
        }
    }
}

impl Evaluation {
    /// Nothing to tell anyone: no denial (in any mode), no warning, no patch, no breakglass.
    pub fn is_clean(&self) -> bool {
        self.denials.is_empty()
            && self.warnings.is_empty()
            && self.patch.is_empty()
            && self.breakglass.is_none()
    }

    /// Whether the breakglass annotation was honoured.
    pub fn breakglass_used(&self) -> bool {
        self.breakglass.as_ref().is_some_and(Breakglass::is_used)
    }
}

fn annotate_breakglass(response: &mut AdmissionResponse, breakglass: &Breakglass) {
    let notes = &mut response.audit_annotations;
    match breakglass {
        Breakglass::Used {
            reason, skipped, ..
        } => {
            notes.insert(BREAKGLASS_ANNOTATION.to_owned(), reason.clone());
            notes.insert(BREAKGLASS_SKIPPED_ANNOTATION.to_owned(), skipped.join(","));
        }
        Breakglass::Refused { reason, .. } => {
            notes.insert(BREAKGLASS_REFUSED_ANNOTATION.to_owned(), reason.clone());
        }
    }
}

/// `image=verdict,…`, written only when the log line is.
struct ImagesField<'a>(&'a [ImageInput]);

impl std::fmt::Display for ImagesField<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, image) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{}={}", image.reference, image.verdict)?;
        }
        Ok(())
    }
}

/// `[policy] message; …`, written only when the log line is.
struct DenialsField<'a>(&'a [Denial]);

impl std::fmt::Display for DenialsField<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, denial) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            write!(f, "{sep}[{}] {}", denial.policy, denial.message)?;
        }
        Ok(())
    }
}

fn mutate_response(response: AdmissionResponse, evaluation: &Evaluation) -> AdmissionResponse {
    // Audit never mutates; a patch is applied only where every denial is non-audit.
    let audit = evaluation.denials.iter().any(|d| d.mode == Mode::Audit);
    if evaluation.patch.is_empty() || audit {
        return response;
    }
    let patch = Patch(evaluation.patch.clone());
    match response.clone().with_patch(patch) {
        Ok(patched) => patched,
        Err(err) => {
            warn!(error = %err, "cannot serialize patch; answering without it");
            response
        }
    }
}
