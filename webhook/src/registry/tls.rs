//! One reqwest client per registry endpoint: rustls with ring, the system's roots plus the
//! entry's `caFile`, connect and whole-request timeouts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};
use rustls::RootCertStore;

use super::egress::resolver::EgressResolver;
use super::egress::{Egress, Reach, Refusal, RefusalReason, MAX_REDIRECTS};

/// Why a registry client cannot be built from the config.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A `registries:` entry is inconsistent (e.g. http without `insecureHttp`).
    #[error("{0}")]
    InvalidEntry(String),
    /// The `caFile` cannot be read.
    #[error("cannot read caFile {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The `caFile` holds no usable certificate.
    #[error("caFile {path} holds no usable PEM certificate")]
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Tls(#[source] rustls::Error),
    /// reqwest refused the configuration.
    #[error("HTTP client setup failed: {0}")]
    Http(#[source] reqwest::Error),
}

/// Connection budgets for registry requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// One whole request, body included.
    pub request: Duration,
}

/// The system's trust roots, loaded once (it reads many files).
fn native_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "skipping a system trust root");
        }
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "loaded system trust roots");
        store
    })
}

fn roots_with(ca_file: Option<&Path>) -> Result<RootCertStore, SetupError> {
    let mut roots = native_roots().clone();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|source| SetupError::CaFile {
            path: path.to_owned(),
            source,
        })?;
        let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
            .filter_map(Result::ok)
            .collect();
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(SetupError::NoCertificates {
                path: path.to_owned(),
            });
        }
    }
    Ok(roots)
}

/// A pooled HTTP client trusting the system roots and `ca_file`, connecting only where
/// `egress` lets an endpoint with `reach` connect: names are checked on their resolved
/// addresses, redirects hop by hop (at most [`MAX_REDIRECTS`], never from https to http).
pub fn http_client(
    ca_file: Option<&Path>,
    timeouts: Timeouts,
    egress: &Arc<Egress>,
    reach: Reach,
) -> Result<reqwest::Client, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(SetupError::Tls)?
        .with_root_certificates(roots_with(ca_file)?)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("landed/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(EgressResolver::new(egress.clone(), reach.clone())))
        .redirect(redirect_policy(egress.clone(), reach))
        // The next hop has no business knowing which repository was asked for.
        .referer(false)
        .build()
        .map_err(SetupError::Http)
}

/// Every redirect hop is held to the egress rule, never downgrades https to http, and the
/// chain stops after [`MAX_REDIRECTS`]. (reqwest drops `Authorization` on a hop to another
/// host, port or scheme.)
fn redirect_policy(egress: Arc<Egress>, reach: Reach) -> Policy {
    Policy::custom(move |attempt: Attempt<'_>| {
        let previous = attempt.previous();
        if previous.len() > MAX_REDIRECTS {
            let refusal = Refusal {
                reason: RefusalReason::TooManyRedirects,
                public: format!("the registry redirected more than {MAX_REDIRECTS} times"),
                cause: format!(
                    "redirect to {} after {} hops",
                    attempt.url(),
                    previous.len()
                ),
            };
            return attempt.error(refusal);
        }
        let downgrade = previous.last().is_some_and(|p| p.scheme() == "https")
            && attempt.url().scheme() != "https";
        if downgrade {
            let refusal = Refusal {
                reason: RefusalReason::InsecureScheme,
                public: "the registry redirected from https to plain http".into(),
                cause: format!("redirect downgrade to {}", attempt.url()),
            };
            return attempt.error(refusal);
        }
        match egress.check_url(attempt.url(), &reach) {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(refusal),
        }
    })
}
