//! Pacing per registry: a concurrency limit, back-off after 429 (honouring Retry-After), and
//! for GAR one AIMD window per project (its quota is per project).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::registry::config::{canonical_host, gar_project};
use crate::registry::RegistryError;

/// A 429 is not acted on twice within this time: one burst of answers is one signal.
const DECREASE_COOLDOWN: Duration = Duration::from_secs(1);

/// An additive-increase, multiplicative-decrease concurrency window.
pub struct Aimd {
    sem: Arc<Semaphore>,
    state: Mutex<AimdState>,
    max: usize,
}

struct AimdState {
    limit: usize,
    /// Permits to drop as they come back, after a shrink found them in use.
    debt: usize,
    successes: usize,
    last_decrease: Option<Instant>,
}

/// A slot in an [`Aimd`] window; returning it may pay the window's shrink debt.
pub struct AimdPermit {
    permit: Option<OwnedSemaphorePermit>,
    aimd: Arc<Aimd>,
}

impl Drop for AimdPermit {
    fn drop(&mut self) {
        let mut st = self.aimd.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.debt > 0 {
            st.debt -= 1;
            if let Some(p) = self.permit.take() {
                p.forget();
            }
        }
    }
}

impl Aimd {
    /// A window of `max` slots, starting fully open.
    pub fn new(max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            sem: Arc::new(Semaphore::new(max)),
            state: Mutex::new(AimdState {
                limit: max,
                debt: 0,
                successes: 0,
                last_decrease: None,
            }),
            max,
        })
    }

    /// Waits for a slot.
    pub async fn acquire(self: &Arc<Self>) -> AimdPermit {
        let permit = self.sem.clone().acquire_owned().await.ok();
        AimdPermit {
            permit,
            aimd: self.clone(),
        }
    }

    /// The current window size.
    pub fn limit(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).limit
    }

    /// Halves the window (at least 1).
    pub fn on_rate_limited(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st
            .last_decrease
            .is_some_and(|t| t.elapsed() < DECREASE_COOLDOWN)
        {
            return;
        }
        let new = (st.limit / 2).max(1);
        let shrink = st.limit - new;
        st.limit = new;
        st.successes = 0;
        st.last_decrease = Some(Instant::now());
        let forgotten = self.sem.forget_permits(shrink);
        st.debt += shrink - forgotten;
    }

    /// Grows the window by one after a window's worth of successes.
    pub fn on_success(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.limit >= self.max {
            return;
        }
        st.successes += 1;
        if st.successes >= st.limit {
            st.successes = 0;
            st.limit += 1;
            if st.debt > 0 {
                st.debt -= 1;
            } else {
                self.sem.add_permits(1);
            }
        }
    }
}

/// Per-key state kept for at most a fixed number of keys (registries, GAR projects): a
/// review names hosts and projects at will, so the least used are dropped beyond the cap.
type Bounded<V> = quick_cache::sync::Cache<String, V>;

/// Every pacing state of one resolver.
pub struct Limits {
    per_registry: usize,
    per_project: usize,
    default_retry: Duration,
    max_retry: Duration,
    registries: Bounded<Arc<Semaphore>>,
    projects: Bounded<Arc<Aimd>>,
    backoff: Bounded<Instant>,
}

/// Slots held for one request.
pub struct Permits {
    _registry: Option<OwnedSemaphorePermit>,
    _project: Option<AimdPermit>,
}

impl Limits {
    /// Limits of `per_registry` concurrent requests and `per_project` per GAR project, for
    /// at most `max_keys` registries and as many projects (a dropped one starts afresh);
    /// 429s without Retry-After back off `default_retry`, and never longer than `max_retry`.
    pub fn new(
        per_registry: usize,
        per_project: usize,
        default_retry: Duration,
        max_retry: Duration,
        max_keys: usize,
    ) -> Self {
        let max_keys = max_keys.max(1);
        Self {
            per_registry: per_registry.max(1),
            per_project: per_project.max(1),
            default_retry,
            max_retry,
            registries: Bounded::new(max_keys),
            projects: Bounded::new(max_keys),
            backoff: Bounded::new(max_keys),
        }
    }

    /// The key a back-off applies to: the GAR project, else the registry.
    fn pace_key(host: &str, repo: &str) -> String {
        let host = canonical_host(host);
        match gar_project(&host, repo) {
            Some(project) => format!("{host}/{project}"),
            None => host,
        }
    }

    /// `rate_limited` at once while a back-off for this registry (or GAR project) runs.
    pub fn check_backoff(&self, host: &str, repo: &str) -> Result<(), RegistryError> {
        let key = Self::pace_key(host, repo);
        match self.backoff.get(&key) {
            Some(until) if until > Instant::now() => Err(RegistryError::BackingOff {
                retry_after: until.saturating_duration_since(Instant::now()),
                key,
            }),
            Some(_) => {
                self.backoff.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The GAR project window for a repository, if it is on GAR.
    pub fn project_window(&self, host: &str, repo: &str) -> Option<Arc<Aimd>> {
        let host = canonical_host(host);
        let project = gar_project(&host, repo)?;
        Some(get_or_insert(
            &self.projects,
            format!("{host}/{project}"),
            || Aimd::new(self.per_project),
        ))
    }

    /// Waits for a registry slot and, on GAR, a project slot.
    pub async fn acquire(&self, host: &str, repo: &str) -> Permits {
        let registry = get_or_insert(&self.registries, canonical_host(host), || {
            Arc::new(Semaphore::new(self.per_registry))
        });
        let project = match self.project_window(host, repo) {
            Some(window) => Some(window.acquire().await),
            None => None,
        };
        Permits {
            _registry: registry.acquire_owned().await.ok(),
            _project: project,
        }
    }

    /// Feeds an answer back: 429 starts a back-off and shrinks the window, success grows it.
    pub fn record<T>(&self, host: &str, repo: &str, answer: &Result<T, RegistryError>) {
        let window = self.project_window(host, repo);
        match answer {
            Err(RegistryError::RateLimited { retry_after, .. }) => {
                let wait = retry_after
                    .unwrap_or(self.default_retry)
                    .min(self.max_retry);
                let key = Self::pace_key(host, repo);
                tracing::info!(registry = %key, retry_after_ms = wait.as_millis() as u64, "registry rate limited us; backing off");
                self.backoff.insert(key, Instant::now() + wait);
                if let Some(w) = window {
                    w.on_rate_limited();
                }
            }
            Ok(_) => {
                if let Some(w) = window {
                    w.on_success();
                }
            }
            Err(_) => {}
        }
    }
}

/// The state for `key`, made by `make` when absent (or dropped earlier).
fn get_or_insert<V: Clone>(map: &Bounded<V>, key: String, make: impl FnOnce() -> V) -> V {
    match map.get_or_insert_with(&key, || Ok::<V, std::convert::Infallible>(make())) {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn aimd_halves_and_grows_back() {
        let w = Aimd::new(8);
        let held: Vec<_> = futures::future::join_all((0..8).map(|_| w.acquire())).await;
        w.on_rate_limited();
        assert_eq!(w.limit(), 4);
        drop(held);
        // After the shrink only 4 slots are available.
        assert_eq!(w.sem.available_permits(), 4);
        for _ in 0..4 {
            w.on_success();
        }
        assert_eq!(w.limit(), 5);
        assert_eq!(w.sem.available_permits(), 5);
        w.on_rate_limited(); // within the cooldown: ignored
        assert_eq!(w.limit(), 5);
    }

    #[test]
    fn backoff_is_per_gar_project() {
        let limits = Limits::new(4, 4, Duration::from_secs(1), Duration::from_secs(60), 64);
        let limited: Result<(), RegistryError> = Err(RegistryError::RateLimited {
            status: 429,
            code: None,
            retry_after: Some(Duration::from_secs(30)),
            message: String::new(),
        });
        limits.record("us-docker.pkg.dev", "proj-a/repo/img", &limited);
        assert!(limits
            .check_backoff("us-docker.pkg.dev", "proj-a/other")
            .is_err());
        assert!(limits
            .check_backoff("us-docker.pkg.dev", "proj-b/repo/img")
            .is_ok());
        limits.record("reg.example", "x/y", &limited);
        assert!(limits.check_backoff("reg.example", "z").is_err());
    }

    #[tokio::test]
    async fn pacing_state_for_hosts_and_projects_a_review_names_at_will_stays_bounded() {
        let limits = Limits::new(4, 4, Duration::from_secs(1), Duration::from_secs(60), 32);
        for i in 0..2_000 {
            drop(limits.acquire(&format!("h{i}.example"), "x/y").await);
            drop(
                limits
                    .acquire("us-docker.pkg.dev", &format!("proj-{i}/r/i"))
                    .await,
            );
        }
        assert!(limits.registries.len() <= 32, "{}", limits.registries.len());
        assert!(limits.projects.len() <= 32, "{}", limits.projects.len());
    }
}
