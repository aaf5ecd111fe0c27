//! The sections of landed.yaml the policy host is built from.

use std::path::Path;

use super::engine::PolicyLimits;
use super::loader::PolicyConfig;

/// `policies:`, `policyDir:` and `policyLimits:` (`Config` converts into it).
#[derive(Clone, Copy, Debug)]
pub struct PoliciesConfig<'a> {
    /// The configured entries; `None` runs the default built-ins.
    pub entries: Option<&'a [PolicyConfig]>,
    /// Directory of the built-in components, when configured.
    pub dir: Option<&'a Path>,
    /// Per-call limits of every policy.
    pub limits: &'a PolicyLimits,
}

impl PolicyLimits {
    /// Checks that every limit leaves a policy room to run.
    pub fn validate(&self) -> Result<(), String> {
        if self.deadline.is_zero() {
            return Err("policyLimits.deadline must be above zero".into());
        }
        let zero = [
            ("maxMemoryMib", self.max_memory_mib == 0),
            ("maxTableElements", self.max_table_elements == 0),
            ("maxOutputBytes", self.max_output_bytes == 0),
            ("maxConcurrent", self.max_concurrent == 0),
        ];
        match zero.iter().find(|(_, is_zero)| *is_zero) {
            Some((field, _)) => Err(format!("policyLimits.{field} must be at least 1")),
            None => Ok(()),
        }
    }
}
