//! A review's policy input shared by every policy of the review and encoded at most once:
//! each part is encoded when a policy that is called first needs it (an answer reused for
//! identical input needs none), and only the settings, which differ between policies, are
//! spliced in per call.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::Serialize;

use super::contract::RequestSummary;
use super::host::ReviewLookups;
use super::reuse::Question;
use super::{ImageInput, InputScope, PolicyContext, PolicyInput};
use crate::resolve::LookupContext;

/// A [`PolicyInput`] (its settings ignored) lent to the policies of one review, with what
/// `resolve-image` answers from (the review's images and who is asking).
#[derive(Debug)]
pub struct PreparedInput<'a> {
    input: &'a PolicyInput,
    lookup: Arc<LookupContext>,
    /// The review's lookup deadline, shared by all its policies' `resolve-image` calls.
    deadline: Option<Instant>,
    /// `{"request":…,"images":[…]` with the whole request.
    full: OnceLock<Encoded>,
    /// The same with the request summarised ([`InputScope::Images`]).
    summary: OnceLock<Encoded>,
    /// `,"context":{…}}`: everything after the settings.
    tail: OnceLock<Encoded>,
    /// `[…]`: the images, shared by both heads.
    images_json: OnceLock<Encoded>,
    /// The images, copied once for the policies' sandboxes when one is called.
    images: OnceLock<Arc<[ImageInput]>>,
    /// The AdmissionReview body the request came in, when there is one.
    review_body: Option<&'a [u8]>,
    /// The AdmissionRequest's text as sent (or rebuilt), for Kubewarden policies.
    as_sent: OnceLock<Encoded>,
}

/// JSON text, or why it could not be encoded (kept as text: the error is not `Clone`).
type Encoded = Result<String, String>;

/// The part of an AdmissionReview body a Kubewarden policy reads.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    request: &'a serde_json::value::RawValue,
}

/// An AdmissionRequest rebuilt from what a [`PolicyInput`] keeps of it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rebuilt<'a> {
    uid: &'a str,
    kind: Gvk<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    name: &'a str,
    operation: &'a str,
    user_info: &'a k8s_openapi::api::authentication::v1::UserInfo,
    object: &'a super::ObjectText,
    dry_run: bool,
}

#[derive(Serialize)]
struct Gvk<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
}

impl<'a> From<&'a super::RequestInfo> for Rebuilt<'a> {
    fn from(r: &'a super::RequestInfo) -> Self {
        Self {
            uid: &r.uid,
            kind: Gvk {
                group: &r.group,
                version: "",
                kind: &r.kind,
            },
            sub_resource: r.sub_resource.as_deref(),
            namespace: r.namespace.as_deref(),
            name: &r.name,
            operation: &r.operation,
            user_info: &r.user_info,
            object: &r.object,
            dry_run: r.dry_run,
        }
    }
}

#[derive(Serialize)]
struct Tail<'a> {
    context: &'a PolicyContext,
}

impl<'a> PreparedInput<'a> {
    /// Lends `input`; `resolve-image` looks up with the request's namespace only.
    pub fn new(input: &'a PolicyInput) -> Self {
        Self::with_lookup(input, lookup_context(input))
    }

    /// Lends `input`; `resolve-image` looks up as `lookup` (the review's own).
    pub fn with_lookup(input: &'a PolicyInput, lookup: LookupContext) -> Self {
        Self {
            input,
            lookup: Arc::new(lookup),
            deadline: None,
            full: OnceLock::new(),
            summary: OnceLock::new(),
            tail: OnceLock::new(),
            images_json: OnceLock::new(),
            images: OnceLock::new(),
            review_body: None,
            as_sent: OnceLock::new(),
        }
    }

    /// The same, with the AdmissionReview `body` the request came in: Kubewarden policies
    /// get its `request` verbatim (read from it only when one runs).
    pub fn with_review_body(mut self, body: &'a [u8]) -> Self {
        self.review_body = Some(body);
        self
    }

    /// The AdmissionRequest's JSON as the API server sent it: the review body's `request`
    /// text, or without a body (a PolicyInput file) rebuilt from the input's request (no
    /// version, resource or old object then).
    pub fn request_as_sent(&self) -> Result<&str, serde_json::Error> {
        let text = self.as_sent.get_or_init(|| match self.review_body {
            Some(body) => serde_json::from_slice::<Envelope<'_>>(body)
                .map(|e| e.request.get().to_owned())
                .map_err(|e| e.to_string()),
            None => encode(&Rebuilt::from(&self.input.request)),
        });
        unencodable(text)
    }

    /// The same, its policies' lookups ending at `deadline` (the review's `resolve.deadline`):
    /// all policies of a review share what is left of it. Without one, each evaluation's
    /// lookups get a fresh budget.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The review's input (its `settings` are not any policy's).
    pub fn input(&self) -> &'a PolicyInput {
        self.input
    }

    /// The input JSON with `settings`, byte for byte what encoding the whole
    /// [`PolicyInput`] gives.
    pub fn json(&self, settings: &serde_json::Value) -> Result<String, serde_json::Error> {
        self.json_in(InputScope::Full, settings)
    }

    /// The input JSON a policy reading `scope` gets with `settings`.
    pub fn json_in(
        &self,
        scope: InputScope,
        settings: &serde_json::Value,
    ) -> Result<String, serde_json::Error> {
        let head = match scope {
            InputScope::Full => self.full.get_or_init(|| {
                let request = encode(&self.input.request)?;
                self.head(&request)
            }),
            InputScope::Images => self.summary.get_or_init(|| {
                let request = encode(&RequestSummary::from(&self.input.request))?;
                self.head(&request)
            }),
        };
        let tail = self.tail.get_or_init(|| {
            let mut tail = encode(&Tail {
                context: &self.input.context,
            })?;
            tail.replace_range(..1, ","); // the opening brace becomes a separator
            Ok(tail)
        });
        let settings = serde_json::to_string(settings)?;
        let (head, tail) = (unencodable(head)?, unencodable(tail)?);
        let mut json = String::with_capacity(head.len() + settings.len() + tail.len() + 12);
        json.push_str(head);
        json.push_str(",\"settings\":");
        json.push_str(&settings);
        json.push_str(tail);
        Ok(json)
    }

    fn head(&self, request: &str) -> Encoded {
        let images = self.images_json.get_or_init(|| encode(&self.input.images));
        let images = images.as_deref().map_err(Clone::clone)?;
        Ok(format!("{{\"request\":{request},\"images\":{images}"))
    }

    /// What an [`InputScope::Images`] policy is asked with `settings`, as its kept answers
    /// are looked up by.
    pub(crate) fn question<'s>(&'s self, settings: &'s serde_json::Value) -> Question<'s> {
        Question {
            request: RequestSummary::from(&self.input.request),
            images: &self.input.images,
            settings,
            context: &self.input.context,
        }
    }

    /// The review's images, for `resolve-image` answers.
    pub fn images(&self) -> &Arc<[ImageInput]> {
        self.images
            .get_or_init(|| self.input.images.as_slice().into())
    }

    /// Who is asking, for `resolve-image` lookups.
    pub fn lookup(&self) -> &Arc<LookupContext> {
        &self.lookup
    }

    /// When the review's lookups end, if this is a review's input.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// What `resolve-image` answers from: who is asking, the images, the deadline.
    pub(crate) fn lookups(&self) -> ReviewLookups {
        ReviewLookups {
            context: self.lookup.clone(),
            images: self.images().clone(),
            deadline: self.deadline,
        }
    }
}

fn encode(value: &impl Serialize) -> Encoded {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

fn unencodable(part: &Encoded) -> Result<&str, serde_json::Error> {
    part.as_deref()
        .map_err(|reason| serde::ser::Error::custom(reason.clone()))
}

/// Who is asking when the caller names no one: the request's namespace only (callers that
/// know the pod spec hand its context in with [`PreparedInput::with_lookup`]).
fn lookup_context(input: &PolicyInput) -> LookupContext {
    LookupContext {
        namespace: input.request.namespace.clone(),
        ..LookupContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mode::{Mode, OnUndetermined};
    use crate::policy::{ContainerType, ObjectText, RequestInfo};
    use crate::verdict::VerdictClass;

    fn input(settings: serde_json::Value) -> PolicyInput {
        PolicyInput {
            request: RequestInfo {
                uid: "u\"1".into(),
                group: "apps".into(),
                kind: "Deployment".into(),
                sub_resource: None,
                operation: "CREATE".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
                user_info: Default::default(),
                dry_run: true,
                object: ObjectText::from_value(&serde_json::json!({"spec": {"template": {"spec": {
                    "serviceAccountName": "builder",
                    "imagePullSecrets": [{"name": "regcred"}],
                    "containers": [{"name": "app", "image": "app:1"}]}}}})),
            },
            images: vec![ImageInput {
                path: "spec.template.spec.containers[0].image".into(),
                container: "app".into(),
                container_type: ContainerType::Container,
                reference: "app:1".into(),
                normalized: Some("docker.io/library/app:1".into()),
                verdict: VerdictClass::Landed,
                digest: Some(format!("sha256:{}", "a".repeat(64))),
                detail: "HEAD 200 — \u{1F600}".into(),
                stale: false,
            }],
            settings,
            context: PolicyContext {
                mode: Mode::Audit,
                on_undetermined: OnUndetermined::Deny,
                mutating: true,
            },
        }
    }

    #[test]
    fn spliced_json_is_exactly_the_whole_input_encoded() {
        let review = input(serde_json::Value::Null);
        let prepared = PreparedInput::new(&review);
        for settings in [
            serde_json::Value::Null,
            serde_json::json!({"registries": ["ghcr.io/", "quay.io/"], "n": 1}),
        ] {
            let whole = serde_json::to_string(&input(settings.clone())).expect("encodes");
            assert_eq!(prepared.json(&settings).expect("encodes"), whole);
        }
    }

    #[test]
    fn the_images_scope_names_no_object_and_no_user() {
        let settings = serde_json::json!({"tags": ["latest"]});
        let whole = serde_json::to_value(input(settings.clone())).expect("encodes");
        let review = input(serde_json::Value::Null);
        let prepared = PreparedInput::with_lookup(&review, Default::default());
        let json = prepared
            .json_in(InputScope::Images, &settings)
            .expect("encodes");
        let seen: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(
            seen["request"],
            serde_json::json!({"group": "apps", "kind": "Deployment", "operation": "CREATE",
                "namespace": "shop", "dryRun": true})
        );
        for key in ["images", "settings", "context"] {
            assert_eq!(seen[key], whole[key], "{key}");
        }
        assert!(
            !json.contains("regcred") && !json.contains("u\\\"1"),
            "{json}"
        );
        assert!(
            prepared.full.get().is_none(),
            "the whole request is not encoded until a policy reads it"
        );
        let full: serde_json::Value =
            serde_json::from_str(&prepared.json(&settings).expect("encodes")).expect("JSON");
        assert_eq!(full, whole);
    }

    #[test]
    fn without_a_context_lookups_use_the_namespace_alone() {
        let review = input(serde_json::Value::Null);
        let prepared = PreparedInput::new(&review);
        assert_eq!(
            **prepared.lookup(),
            LookupContext {
                namespace: Some("shop".into()),
                ..LookupContext::default()
            }
        );
        assert_eq!(prepared.images().len(), 1);
    }
}
