//! Which webhook path a review came in on: the one word the steps and the response share.

/// Which webhook path a review came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/validate`: allow or deny, with warnings.
    Validate,
    /// `/mutate`: patches only (digest pinning); never denies.
    Mutate,
}

impl Route {
    /// The path's name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Mutate => "mutate",
        }
    }
}
