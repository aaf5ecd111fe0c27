//! The breakglass annotation: who may use it, which policies it skips, and what a use (or a
//! refused attempt) leaves behind in the log.

use serde::Deserialize;
use tracing::warn;

use super::review::Request;

/// The annotation that lets a workload skip some policies with a recorded reason.
pub const BREAKGLASS_ANNOTATION: &str = "landed.dev/breakglass";

/// The policies breakglass skips unless `breakglass.skips` says otherwise: only the existence
/// check, so a fix can ship while a registry misbehaves without switching other rules off.
pub const DEFAULT_SKIPS: [&str; 1] = ["require-landed"];

/// Longest reason kept in warnings, logs and audit annotations (the value is the requester's).
pub const MAX_REASON_CHARS: usize = 256;

/// The breakglass annotation (`breakglass:` in landed.yaml).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BreakglassConfig {
    /// Whether the annotation is honoured at all.
    pub enabled: bool,
    /// The annotation key; its value must be a non-empty reason.
    pub annotation: String,
    /// Usernames (`request.userInfo.username`) that may use it.
    pub users: Vec<String>,
    /// Groups (`request.userInfo.groups`) whose members may use it.
    pub groups: Vec<String>,
    /// Policies a use skips; unset means [`DEFAULT_SKIPS`].
    pub skips: Option<Vec<String>>,
}

impl Default for BreakglassConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            annotation: BREAKGLASS_ANNOTATION.to_owned(),
            users: Vec::new(),
            groups: Vec::new(),
            skips: None,
        }
    }
}

impl BreakglassConfig {
    /// Whether any requester may use it (neither `users` nor `groups` set: the weak default).
    pub fn open_to_everyone(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Whether `name` is a policy a use skips.
    pub fn skips(&self, name: &str) -> bool {
        match &self.skips {
            Some(skips) => skips.iter().any(|s| s == name),
            None => DEFAULT_SKIPS.contains(&name),
        }
    }

    /// Checks the section against the configured policy names: the annotation key must be set
    /// while enabled, and every name written under `skips` must be a configured policy (a
    /// typo would otherwise make breakglass skip nothing without anyone noticing).
    pub fn validate<'a>(&self, policies: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.annotation.trim().is_empty() {
            return Err(
                "breakglass.annotation must not be empty while breakglass is enabled".into(),
            );
        }
        let Some(skips) = &self.skips else {
            // The default names a built-in that may not be configured: then it skips nothing.
            return Ok(());
        };
        let policies: Vec<&str> = policies.into_iter().collect();
        let unknown: Vec<&str> = skips
            .iter()
            .map(String::as_str)
            .filter(|s| !policies.contains(s))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(format!(
            "breakglass.skips names {} that {} not a configured policy (configured: {})",
            quoted(&unknown),
            if unknown.len() == 1 { "is" } else { "are" },
            quoted(&policies),
        ))
    }

    /// The annotation to read from a reviewed object (`None` while breakglass is disabled).
    pub fn annotation_key(&self) -> Option<&str> {
        self.enabled.then_some(self.annotation.as_str())
    }

    /// What the object's breakglass annotation (`annotation`, read by
    /// [`Self::annotation_key`]) means for this request: `None` when it is absent, empty or
    /// breakglass is disabled.
    pub fn judge(&self, req: &Request, annotation: Option<&str>) -> Option<Breakglass> {
        if !self.enabled {
            return None;
        }
        let reason = annotation?.trim();
        if reason.is_empty() {
            return None;
        }
        let reason = bounded(reason);
        let user = req.user_info.username.clone().unwrap_or_default();
        if self.permits(req) {
            Some(Breakglass::Used {
                reason,
                user,
                skipped: Vec::new(),
            })
        } else {
            Some(Breakglass::Refused { reason, user })
        }
    }

    fn permits(&self, req: &Request) -> bool {
        if self.open_to_everyone() {
            return true;
        }
        let info = &req.user_info;
        let user = info
            .username
            .as_ref()
            .is_some_and(|u| self.users.contains(u));
        let group = info
            .groups
            .iter()
            .flatten()
            .any(|g| self.groups.contains(g));
        user || group
    }
}

/// What the breakglass annotation did to one review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Breakglass {
    /// Honoured: `skipped` are the policies it skipped on this endpoint.
    Used {
        /// The annotation's value (bounded).
        reason: String,
        /// The requester's username.
        user: String,
        /// Policies not run because of it, in policy order.
        skipped: Vec<String>,
    },
    /// Present, but the requester may not use it: the review went on as if it were absent.
    Refused {
        /// The annotation's value (bounded).
        reason: String,
        /// The requester's username.
        user: String,
    },
}

impl Breakglass {
    /// Whether the annotation was honoured.
    pub fn is_used(&self) -> bool {
        matches!(self, Self::Used { .. })
    }

    /// A use with the policies it skipped recorded; a refusal as it is.
    pub fn with_skipped(self, skipped: Vec<String>) -> Self {
        match self {
            Self::Used { reason, user, .. } => Self::Used {
                reason,
                user,
                skipped,
            },
            refused => refused,
        }
    }

    /// The warning the client gets.
    pub fn warning(&self) -> String {
        match self {
            Self::Used {
                reason, skipped, ..
            } if skipped.is_empty() => format!(
                "landed: breakglass annotation used ({reason}); it skipped no policy on this review"
            ),
            Self::Used {
                reason, skipped, ..
            } => format!(
                "landed: breakglass annotation used ({reason}); skipped policies: {}",
                skipped.join(", ")
            ),
            Self::Refused { user, .. } => format!(
                "landed: breakglass is not permitted for {}; the annotation was ignored",
                if user.is_empty() {
                    "this requester"
                } else {
                    user
                }
            ),
        }
    }

    /// One warn line per use or refused attempt, with who, why and on what.
    pub fn log(&self, req: &Request) {
        let namespace = req.namespace.as_deref().unwrap_or("");
        let name = req.name.as_str();
        match self {
            Self::Used {
                reason,
                user,
                skipped,
            } => warn!(
                user = %user,
                reason = %reason,
                namespace,
                name,
                skipped = %skipped.join(","),
                "breakglass used"
            ),
            Self::Refused { reason, user } => warn!(
                user = %user,
                reason = %reason,
                namespace,
                name,
                "breakglass refused: requester not in breakglass.users or breakglass.groups"
            ),
        }
    }
}

/// The reason cut to [`MAX_REASON_CHARS`] characters.
fn bounded(reason: &str) -> String {
    match reason.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => format!("{}…", &reason[..end]),
        None => reason.to_owned(),
    }
}

fn quoted(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WorkloadKind;

    fn config(users: &[&str], groups: &[&str]) -> BreakglassConfig {
        BreakglassConfig {
            users: users.iter().map(|s| (*s).to_owned()).collect(),
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
            ..BreakglassConfig::default()
        }
    }

    fn request(user: &str, groups: &[&str], reason: &str) -> (Request, Option<String>) {
        let review = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u", "name": "web", "namespace": "shop", "operation": "CREATE",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "userInfo": {"username": user, "groups": groups},
                "object": {"metadata": {"annotations": {BREAKGLASS_ANNOTATION: reason}}},
            }
        });
        let req = super::super::decode(review.to_string().as_bytes()).expect("review");
        let object = req.object.as_ref().expect("object").json();
        let view = WorkloadKind::Pod
            .read(object, Some(BREAKGLASS_ANNOTATION))
            .expect("reads");
        let annotation = view.annotation.map(|a| a.into_owned());
        (req, annotation)
    }

    #[test]
    fn without_users_or_groups_anyone_may_use_it() {
        let (req, object) = request("mallory", &[], "INC-1");
        assert!(matches!(
            config(&[], &[]).judge(&req, object.as_deref()),
            Some(Breakglass::Used { .. })
        ));
    }

    #[test]
    fn with_groups_only_members_and_listed_users_may_use_it() {
        let bg = config(&["ci@example.iam"], &["oncall@example.com"]);
        let (req, object) = request("alice", &["oncall@example.com"], "INC-1");
        assert!(matches!(
            bg.judge(&req, object.as_deref()),
            Some(Breakglass::Used { .. })
        ));
        let (req, object) = request("ci@example.iam", &[], "INC-1");
        assert!(matches!(
            bg.judge(&req, object.as_deref()),
            Some(Breakglass::Used { .. })
        ));
        let (req, object) = request("mallory", &["system:authenticated"], "INC-1");
        assert_eq!(
            bg.judge(&req, object.as_deref()),
            Some(Breakglass::Refused {
                reason: "INC-1".into(),
                user: "mallory".into()
            })
        );
    }

    #[test]
    fn an_empty_reason_or_a_disabled_breakglass_is_no_breakglass() {
        let (req, object) = request("alice", &[], "   ");
        assert_eq!(config(&[], &[]).judge(&req, object.as_deref()), None);
        let (req, object) = request("alice", &[], "INC-1");
        let off = BreakglassConfig {
            enabled: false,
            ..BreakglassConfig::default()
        };
        assert_eq!(off.judge(&req, object.as_deref()), None);
    }

    #[test]
    fn long_reasons_are_cut() {
        let (req, object) = request("alice", &[], &"é".repeat(10_000));
        let Some(Breakglass::Used { reason, .. }) = config(&[], &[]).judge(&req, object.as_deref())
        else {
            panic!("used");
        };
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS + 1);
    }

    #[test]
    fn skips_default_to_require_landed_and_unknown_names_are_refused() {
        let bg = BreakglassConfig::default();
        assert!(bg.skips("require-landed") && !bg.skips("allowed-registries"));
        // The default may name a policy that is not configured.
        bg.validate(["allowed-registries"]).expect("default skips");
        let typo = BreakglassConfig {
            skips: Some(vec!["require-landd".into()]),
            ..BreakglassConfig::default()
        };
        let err = typo
            .validate(["require-landed", "pin-digest"])
            .expect_err("unknown skip");
        assert!(err.contains("\"require-landd\""), "{err}");
        assert!(err.contains("\"require-landed\", \"pin-digest\""), "{err}");
    }
}
