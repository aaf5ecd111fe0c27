//! Resolver cache outcomes: hit, miss and stale serves.

use super::{CacheLabels, Metrics};

/// A cache outcome, as a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheResult {
    /// Answered from the cache.
    Hit,
    /// Asked the registry.
    Miss,
    /// A recent `landed` served because the registry failed now.
    Stale,
}

impl CacheResult {
    /// The label value.
    fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Stale => "stale",
        }
    }
}

impl Metrics {
    /// Records one cache outcome.
    pub fn cache(&self, result: CacheResult) {
        self.cache
            .get_or_create(&CacheLabels {
                result: result.as_str(),
            })
            .inc();
    }

    /// Creates the three series at 0 (a closed set), so rates and ratios read 0 rather than
    /// "no data" before the first stale serve.
    pub(super) fn start_cache_results_at_zero(&self) {
        for result in [CacheResult::Hit, CacheResult::Miss, CacheResult::Stale] {
            let _ = self.cache.get_or_create(&CacheLabels {
                result: result.as_str(),
            });
        }
    }
}
