//! End-to-end harness for `landed`.
//!
//! Everything here is real where it can be: Debian's reference Distribution server
//! (`docker-registry`), images pushed with `skopeo`, TLS with a private CA, htpasswd and token
//! auth, and the real `landed` binary run as a user would run it. What cannot run on a
//! developer machine (Google's OAuth endpoint, a kube API server, registries that rate-limit or
//! stall) is replaced by small in-process fakes that speak the same protocol.
//!
//! The tests are synchronous `#[test]` functions: every fake runs on one shared background
//! runtime ([`runtime`]), so a test may block on a child process without starving them.
//!
//! Tools needed at test time (the project's test script installs them):
//! `docker-registry`, `skopeo`, `htpasswd` (apache2-utils), `openssl` and `prometheus`. See
//! [`tools`].

pub mod admin;
pub mod binary;
pub mod config;
pub mod docker_config;
pub mod fakes;
pub mod fault_server;
pub mod faults;
pub mod faults_check;
pub mod gar;
pub mod images;
pub mod landed;
pub mod load;
pub mod outputs;
pub mod pki;
pub mod prometheus;
pub mod promql;
pub mod registry;
pub mod review;
pub mod runtime;
pub mod scenario;
pub mod secret_volume;
pub mod server;
pub mod shutdown;
pub mod tarball;
pub mod tools;

pub use config::{LandedConfig, RegistryEntry};
pub use images::PushedImage;
pub use landed::{CheckResult, Landed, RunOutput};
pub use registry::{Registry, RegistryAuth, RegistryOptions};

/// A random lowercase hex string of `bytes` random bytes, for unique names and contents.
pub fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    // The system RNG does not fail on Linux; fall back to the clock just in case.
    if ring::rand::SystemRandom::new().fill(&mut buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
