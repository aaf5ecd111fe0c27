//! Who is asking for an image: the credential scope of one lookup.

/// Who is asking: the workload's namespace and the pull secrets it can use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LookupContext {
    /// Namespace of the workload, if namespaced.
    pub namespace: Option<String>,
    /// Names of the pod's `imagePullSecrets`.
    pub pull_secrets: Vec<String>,
    /// The pod's service account (its `imagePullSecrets` count too).
    pub service_account: Option<String>,
}
