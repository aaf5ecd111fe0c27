//! The external programs the harness drives, found up front with a clear message when missing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Debian packages the harness needs; the project's test script installs them.
pub const APT_PACKAGES: &str = "docker-registry skopeo apache2-utils openssl prometheus";

/// An external program the harness needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// Debian's reference Distribution server (package `docker-registry`).
    DockerRegistry,
    /// `skopeo`, to push images without a daemon (package `skopeo`).
    Skopeo,
    /// `htpasswd`, for bcrypt password files (package `apache2-utils`).
    Htpasswd,
    /// `openssl`, to generate RSA keys (ring cannot) (package `openssl`).
    Openssl,
    /// The Prometheus server, to scrape `landed serve` and evaluate queries (package
    /// `prometheus`).
    Prometheus,
}

impl Tool {
    /// Absolute path of the program.
    pub fn path(self) -> &'static Path {
        Path::new(match self {
            Self::DockerRegistry => "/usr/bin/docker-registry",
            Self::Skopeo => "/usr/bin/skopeo",
            Self::Htpasswd => "/usr/bin/htpasswd",
            Self::Openssl => "/usr/bin/openssl",
            Self::Prometheus => "/usr/bin/prometheus",
        })
    }

    /// The Debian package that provides it.
    pub fn package(self) -> &'static str {
        match self {
            Self::DockerRegistry => "docker-registry",
            Self::Skopeo => "skopeo",
            Self::Htpasswd => "apache2-utils",
            Self::Openssl => "openssl",
            Self::Prometheus => "prometheus",
        }
    }

    /// The program's path, or an error telling how to get it.
    pub fn require(self) -> Result<PathBuf> {
        let path = self.path();
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!(
            "{} is missing (Debian package `{}`). The end-to-end tests need real tools: run the \
             project's test command `scripts/test` (it runs `apt-get install -y {}`), or install \
             them yourself",
            path.display(),
            self.package(),
            APT_PACKAGES
        )
    }
}
