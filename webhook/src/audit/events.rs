//! Kubernetes Events for denials that audit mode recorded but did not enforce
//! (`audit.events: true`); never for dry-run requests.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::PostParams;
use kube::core::Resource;
use kube::Api;

use crate::admission::{Outcome, Request, ReviewObserver, Route};
use crate::mode::Mode;

/// The Event's `reason`.
pub const REASON: &str = "LandedWouldDeny";

/// Creates Events through the Kubernetes client it is handed.
pub struct EventRecorder {
    client: kube::Client,
}

impl EventRecorder {
    /// A recorder writing through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

impl ReviewObserver for EventRecorder {
    /// After a review: one Event on the object when audit mode let a denial through.
    fn after_review(&self, req: &Request, route: Route, outcome: &Outcome) {
        let Outcome::Evaluated(evaluation) = outcome else {
            return;
        };
        if route != Route::Validate || req.dry_run {
            return;
        }
        let messages: Vec<String> = evaluation
            .denials
            .iter()
            .filter(|d| d.mode == Mode::Audit)
            .map(|d| format!("[{}] {}", d.policy, d.message))
            .collect();
        let Some(namespace) = req.namespace.clone().filter(|_| !messages.is_empty()) else {
            return;
        };
        let event = event(req, &namespace, messages.join("; "));
        let client = self.client.clone();
        // The Event is written off the request path: admission latency does not wait for it.
        tokio::spawn(async move {
            let api: Api<Event> = Api::namespaced(client, &namespace);
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                tracing::warn!(namespace = %namespace, error = %e, "cannot create audit Event");
            }
        });
    }
}

fn event(req: &Request, namespace: &str, message: String) -> Event {
    let api_version = if req.kind.group.is_empty() {
        req.kind.version.clone()
    } else {
        format!("{}/{}", req.kind.group, req.kind.version)
    };
    let name = if req.name.is_empty() {
        req.object
            .as_ref()
            .and_then(|o| o.meta().generate_name.clone())
            .unwrap_or_default()
    } else {
        req.name.clone()
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}.landed-", name.trim_end_matches('-'))),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(api_version),
            kind: Some(req.kind.kind.clone()),
            name: Some(name),
            namespace: Some(namespace.to_owned()),
            uid: req.object.as_ref().and_then(|o| o.meta().uid.clone()),
            ..ObjectReference::default()
        },
        reason: Some(REASON.to_owned()),
        message: Some(message),
        type_: Some("Warning".to_owned()),
        source: Some(EventSource {
            component: Some("landed".to_owned()),
            host: None,
        }),
        reporting_component: Some("landed".to_owned()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Event::default()
    }
}
