//! AdmissionReview requests for a Pod, built from the fixture `fixtures/pod-review.json`.

use anyhow::{Context, Result};
use serde_json::{json, Value};

const POD_REVIEW: &str = include_str!("../fixtures/pod-review.json");

/// A Pod CREATE review under construction.
#[derive(Clone, Debug)]
pub struct PodReview {
    review: Value,
}

impl PodReview {
    /// The fixture's Pod `web` in namespace `namespace`, with no containers yet and a fresh uid.
    pub fn new(namespace: &str) -> Result<Self> {
        let mut review: Value =
            serde_json::from_str(POD_REVIEW).context("parsing fixtures/pod-review.json")?;
        let uid = format!(
            "{}-{}-{}-{}-{}",
            crate::random_hex(4),
            crate::random_hex(2),
            crate::random_hex(2),
            crate::random_hex(2),
            crate::random_hex(6)
        );
        review["request"]["uid"] = json!(uid);
        review["request"]["namespace"] = json!(namespace);
        review["request"]["object"]["metadata"]["namespace"] = json!(namespace);
        Ok(Self { review })
    }

    fn spec(&mut self) -> &mut Value {
        &mut self.review["request"]["object"]["spec"]
    }

    /// Adds a container `name` running `image`.
    pub fn container(mut self, name: &str, image: &str) -> Self {
        push(
            &mut self.spec()["containers"],
            json!({"name": name, "image": image}),
        );
        self
    }

    /// Adds an init container `name` running `image`.
    pub fn init_container(mut self, name: &str, image: &str) -> Self {
        push(
            &mut self.spec()["initContainers"],
            json!({"name": name, "image": image}),
        );
        self
    }

    /// Adds `name` to `spec.imagePullSecrets`.
    pub fn pull_secret(mut self, name: &str) -> Self {
        push(&mut self.spec()["imagePullSecrets"], json!({"name": name}));
        self
    }

    /// Sets `spec.serviceAccountName`.
    pub fn service_account(mut self, name: &str) -> Self {
        self.spec()["serviceAccountName"] = json!(name);
        self
    }

    /// Sets annotation `key` on the Pod.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.review["request"]["object"]["metadata"]["annotations"][key] = json!(value);
        self
    }

    /// Sends the review as `username` in `groups` (`request.userInfo`).
    pub fn requested_by(mut self, username: &str, groups: &[&str]) -> Self {
        self.review["request"]["userInfo"] = json!({"username": username, "groups": groups});
        self
    }

    /// The request uid the response must echo.
    pub fn uid(&self) -> String {
        self.review["request"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The AdmissionReview JSON.
    pub fn to_json(&self) -> Value {
        self.review.clone()
    }
}

fn push(list: &mut Value, item: Value) {
    match list.as_array_mut() {
        Some(items) => items.push(item),
        None => *list = json!([item]),
    }
}
