//! The corpus (`bench/data/`, see its README): AdmissionReview bodies as the kube-apiserver
//! sends them, with every image written `{{REGISTRY}}/repo:tag` for the registry of the run.

use std::ops::RangeInclusive;
use std::path::PathBuf;

/// What the corpus writes for the registry host; replaced by the run's registry.
pub const PLACEHOLDER: &str = "{{REGISTRY}}";

/// One review of the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Review {
    /// The 1 KB Pod with 3 containers and nothing else (the load bench's review until #27).
    PodSmall,
    /// A Pod CREATE by the ReplicaSet controller: managedFields, a full spec.
    PodReplicaset,
    /// A Deployment UPDATE from `kubectl apply` (a rollout: one image changes).
    DeploymentUpdateApply,
    /// A CronJob CREATE from `kubectl apply`.
    CronjobCreate,
}

impl Review {
    /// Every review, smallest first.
    pub const ALL: [Review; 4] = [
        Review::PodSmall,
        Review::PodReplicaset,
        Review::DeploymentUpdateApply,
        Review::CronjobCreate,
    ];

    /// Its name, as `--review` spells it and its file is named.
    pub fn name(self) -> &'static str {
        match self {
            Review::PodSmall => "pod-small",
            Review::PodReplicaset => "pod-replicaset",
            Review::DeploymentUpdateApply => "deployment-update-apply",
            Review::CronjobCreate => "cronjob-create",
        }
    }

    /// What the API server sends, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Review::PodSmall => "Pod CREATE, 3 containers with a name and an image only",
            Review::PodReplicaset => "Pod CREATE by the ReplicaSet controller",
            Review::DeploymentUpdateApply => "Deployment UPDATE from kubectl apply, 1 image new",
            Review::CronjobCreate => "CronJob CREATE from kubectl apply",
        }
    }

    /// The sizes its body may have as sent (bytes): what keeps each one what it stands for.
    pub fn size_range(self) -> RangeInclusive<usize> {
        match self {
            Review::PodSmall => 700..=1_500,
            Review::PodReplicaset => 5_000..=15_000,
            Review::DeploymentUpdateApply => 20_000..=40_000,
            Review::CronjobCreate => 3_000..=10_000,
        }
    }

    /// The file's text, placeholder unreplaced (compiled in: the binary runs from anywhere).
    pub fn text(self) -> &'static str {
        match self {
            Review::PodSmall => include_str!("../data/pod-small.json"),
            Review::PodReplicaset => include_str!("../data/pod-replicaset.json"),
            Review::DeploymentUpdateApply => include_str!("../data/deployment-update-apply.json"),
            Review::CronjobCreate => include_str!("../data/cronjob-create.json"),
        }
    }

    /// The body to send when the registry is `host` (`127.0.0.1:PORT`).
    pub fn body(self, host: &str) -> String {
        self.text().replace(PLACEHOLDER, host)
    }

    /// Every distinct image the review names, object and oldObject and the last-applied
    /// annotation alike, as (repository, tag), in order of first appearance.
    pub fn images(self) -> Vec<(&'static str, &'static str)> {
        images_in(self.text())
    }
}

/// The `{{REGISTRY}}/repo:tag` references in `text` (also inside escaped JSON strings).
pub fn images_in(text: &str) -> Vec<(&str, &str)> {
    let mut found: Vec<(&str, &str)> = Vec::new();
    let prefix = format!("{PLACEHOLDER}/");
    for (at, _) in text.match_indices(&prefix) {
        let rest = &text[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "._-/:".contains(c)))
            .unwrap_or(rest.len());
        let reference = &rest[..end];
        let image = reference.rsplit_once(':').unwrap_or((reference, ""));
        if !found.contains(&image) {
            found.push(image);
        }
    }
    found
}

/// `bench/data/` in the source tree.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_images_plain_and_escaped_once_each() {
        let text = r#"{"image":"{{REGISTRY}}/bench/a:1","x":"{\"image\":\"{{REGISTRY}}/bench/a:1\"}","i":"{{REGISTRY}}/b/c:2.0"}"#;
        assert_eq!(images_in(text), vec![("bench/a", "1"), ("b/c", "2.0")]);
    }

    #[test]
    fn every_review_names_tagged_images() {
        for review in Review::ALL {
            let images = review.images();
            assert!(!images.is_empty(), "{}", review.name());
            for (repo, tag) in images {
                assert!(
                    !repo.is_empty() && !tag.is_empty() && tag != "latest",
                    "{repo}:{tag}"
                );
            }
        }
    }
}
