//! A review's policy input encoded once and shared by every policy of the review: only the
//! settings differ between policies, so they are spliced into the shared JSON per call.

use std::sync::Arc;

use serde::Serialize;

use kube::core::GroupVersionKind;

use super::contract::RequestSummary;
use super::{ImageInput, InputScope, PolicyContext, PolicyInput};
use crate::admission::WorkloadKind;
use crate::resolve::LookupContext;

/// [`PolicyInput`] as JSON with the settings left out, in each [`InputScope`] a policy of the
/// review reads, plus what `resolve-image` answers from (the review's images and who is
/// asking).
#[derive(Clone, Debug)]
pub struct PreparedInput {
    /// `{"request":…,"images":[…]` with the whole request; `None` when no policy reads it.
    full: Option<String>,
    /// The same with the request summarised ([`InputScope::Images`]).
    summary: String,
    /// `,"context":{…}}` — everything after the settings.
    tail: String,
    images: Arc<[ImageInput]>,
    lookup: Arc<LookupContext>,
}

#[derive(Serialize)]
struct Tail<'a> {
    context: &'a PolicyContext,
}

impl PreparedInput {
    /// Encodes `input` (all but its settings) once; `resolve-image` looks up with the
    /// namespace and the pull secrets and service account of the object's pod spec.
    pub fn new(input: &PolicyInput) -> Result<Self, serde_json::Error> {
        Self::with_lookup(input, lookup_context(input))
    }

    /// Encodes `input` once; `resolve-image` looks up as `lookup` (the review's own).
    pub fn with_lookup(
        input: &PolicyInput,
        lookup: LookupContext,
    ) -> Result<Self, serde_json::Error> {
        Self::for_scopes(input, lookup, true)
    }

    /// Encodes `input` once, the whole request only when `full` (some policy reads it).
    pub fn for_scopes(
        input: &PolicyInput,
        lookup: LookupContext,
        full: bool,
    ) -> Result<Self, serde_json::Error> {
        let images = serde_json::to_string(&input.images)?;
        let head = |request: String| format!("{{\"request\":{request},\"images\":{images}");
        let full = match full {
            true => Some(head(serde_json::to_string(&input.request)?)),
            false => None,
        };
        let summary = head(serde_json::to_string(&RequestSummary::from(
            &input.request,
        ))?);
        let mut tail = serde_json::to_string(&Tail {
            context: &input.context,
        })?;
        tail.replace_range(..1, ","); // the opening brace becomes a separator
        Ok(Self {
            full,
            summary,
            tail,
            images: input.images.clone().into(),
            lookup: Arc::new(lookup),
        })
    }

    /// The input JSON with `settings`, byte for byte what encoding the whole
    /// [`PolicyInput`] gives; an error if it was prepared without the request.
    pub fn json(&self, settings: &serde_json::Value) -> Result<String, serde_json::Error> {
        self.json_in(InputScope::Full, settings)
    }

    /// The input JSON a policy reading `scope` gets with `settings`; an error when that scope
    /// was not prepared (see [`PreparedInput::has`]).
    pub fn json_in(
        &self,
        scope: InputScope,
        settings: &serde_json::Value,
    ) -> Result<String, serde_json::Error> {
        let head = match scope {
            InputScope::Full => self.full.as_deref().ok_or_else(|| {
                serde::ser::Error::custom("the review's input was prepared without its request")
            })?,
            InputScope::Images => &self.summary,
        };
        self.splice(head, settings)
    }

    /// Whether the input in `scope` was prepared.
    pub fn has(&self, scope: InputScope) -> bool {
        scope == InputScope::Images || self.full.is_some()
    }

    fn splice(
        &self,
        head: &str,
        settings: &serde_json::Value,
    ) -> Result<String, serde_json::Error> {
        let settings = serde_json::to_string(settings)?;
        let mut json = String::with_capacity(head.len() + settings.len() + self.tail.len() + 12);
        json.push_str(head);
        json.push_str(",\"settings\":");
        json.push_str(&settings);
        json.push_str(&self.tail);
        Ok(json)
    }

    /// The review's images, for `resolve-image` answers.
    pub fn images(&self) -> &Arc<[ImageInput]> {
        &self.images
    }

    /// Who is asking, for `resolve-image` lookups.
    pub fn lookup(&self) -> &Arc<LookupContext> {
        &self.lookup
    }
}

/// Who is asking, for `resolve-image` lookups, outside the review path (which hands its
/// own): found the way the pipeline finds it, from the pod spec of the object as sent.
fn lookup_context(input: &PolicyInput) -> LookupContext {
    let request = &input.request;
    let gvk = GroupVersionKind::gvk(&request.group, "", &request.kind);
    let spec = WorkloadKind::from_gvk(&gvk)
        .and_then(|kind| kind.pod_spec(request.object.json()).ok())
        .and_then(|found| found.spec);
    match spec {
        Some(spec) => LookupContext::for_pod(request.namespace.clone(), &spec),
        None => LookupContext {
            namespace: request.namespace.clone(),
            ..LookupContext::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mode, OnUndetermined};
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
        let prepared = PreparedInput::new(&input(serde_json::Value::Null)).expect("encodes");
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
        let prepared =
            PreparedInput::for_scopes(&input(serde_json::Value::Null), Default::default(), false)
                .expect("encodes");
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
        assert!(!prepared.has(InputScope::Full));
        assert!(prepared.json_in(InputScope::Full, &settings).is_err());
        assert!(prepared.json(&settings).is_err());
    }

    #[test]
    fn lookups_use_the_pod_templates_credentials() {
        let prepared = PreparedInput::new(&input(serde_json::Value::Null)).expect("encodes");
        assert_eq!(
            **prepared.lookup(),
            LookupContext {
                namespace: Some("shop".into()),
                pull_secrets: vec!["regcred".into()],
                service_account: Some("builder".into()),
            }
        );
        assert_eq!(prepared.images().len(), 1);
    }
}
