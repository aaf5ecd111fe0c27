//! A resolver answering from a fixed table: for tests and offline policy runs.

use std::collections::HashMap;

use futures::future::BoxFuture;

use super::{LookupContext, Resolve};
use crate::image::Reference;
use crate::verdict::{Verdict, VerdictClass};

/// Answers from a table keyed by the normalized reference; unknown references are `absent`.
#[derive(Clone, Debug, Default)]
pub struct TableResolver {
    entries: HashMap<String, Verdict>,
}

impl TableResolver {
    /// An empty table (every image absent).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the verdict for a normalized reference string.
    pub fn with(mut self, normalized: impl Into<String>, verdict: Verdict) -> Self {
        self.entries.insert(normalized.into(), verdict);
        self
    }
}

impl Resolve for TableResolver {
    fn resolve<'a>(
        &'a self,
        reference: &'a Reference,
        _ctx: &'a LookupContext,
    ) -> BoxFuture<'a, Verdict> {
        let verdict = self
            .entries
            .get(&reference.to_string())
            .cloned()
            .unwrap_or_else(|| Verdict::new(VerdictClass::Absent, "not in the table"));
        Box::pin(async move { verdict })
    }
}
