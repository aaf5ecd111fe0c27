//! A CA and a serving certificate signed by it (`landed certs`, `landed serve --dev`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Key or certificate generation failed.
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// PEM texts of a CA and a serving certificate with its key.
pub struct CertBundle {
    /// CA certificate (the webhook's `caBundle`).
    pub ca_pem: String,
    /// Serving certificate.
    pub cert_pem: String,
    /// Serving key (PKCS#8). Kept out of Debug on purpose.
    pub key_pem: String,
}

/// Where [`CertBundle::write`] put the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertPaths {
    /// `ca.crt`.
    pub ca: PathBuf,
    /// `tls.crt`.
    pub cert: PathBuf,
    /// `tls.key`.
    pub key: PathBuf,
}

/// A certificate authority held in memory, issuing serving certificates.
pub struct CertAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl CertAuthority {
    /// A fresh self-signed CA valid for `days`.
    pub fn generate(days: i64) -> Result<Self, CertError> {
        let now = OffsetDateTime::now_utc();
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name = name("landed webhook CA");
        ca.not_before = now - Duration::minutes(5);
        ca.not_after = now + Duration::days(days);
        Ok(Self {
            issuer: CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?,
        })
    }

    /// The CA certificate (the webhook's `caBundle`).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A serving certificate for `names` (DNS names or IP addresses), valid for `days`.
    pub fn issue(&self, names: &[String], days: i64) -> Result<CertBundle, CertError> {
        let now = OffsetDateTime::now_utc();
        let mut leaf = CertificateParams::new(Vec::<String>::new())?;
        leaf.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.as_str().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        leaf.distinguished_name = name(names.first().map_or("landed", String::as_str));
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.not_before = now - Duration::minutes(5);
        leaf.not_after = now + Duration::days(days);
        self.sign(leaf)
    }

    /// A client certificate (mTLS, e.g. for the API server) named `common_name`, valid for `days`.
    pub fn issue_client(&self, common_name: &str, days: i64) -> Result<CertBundle, CertError> {
        let now = OffsetDateTime::now_utc();
        let mut leaf = CertificateParams::new(Vec::<String>::new())?;
        leaf.distinguished_name = name(common_name);
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        leaf.not_before = now - Duration::minutes(5);
        leaf.not_after = now + Duration::days(days);
        self.sign(leaf)
    }

    fn sign(&self, leaf: CertificateParams) -> Result<CertBundle, CertError> {
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &self.issuer)?;
        Ok(CertBundle {
            ca_pem: self.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl CertBundle {
    /// A fresh CA (valid twice as long) and a certificate for `names`, valid for `days`.
    pub fn generate(names: &[String], days: i64) -> Result<Self, CertError> {
        CertAuthority::generate(days.saturating_mul(2))?.issue(names, days)
    }

    /// Writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<CertPaths, CertError> {
        let paths = CertPaths {
            ca: dir.join("ca.crt"),
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        };
        write_file(&paths.ca, &self.ca_pem, 0o644)?;
        write_file(&paths.cert, &self.cert_pem, 0o644)?;
        write_file(&paths.key, &self.key_pem, 0o600)?;
        Ok(paths)
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), CertError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| CertError::Write {
        path: path.to_owned(),
        source,
    };
    // Write to a sibling and rename, so a watcher never reads half a file.
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_cert_is_signed_by_the_ca_and_names_every_san() {
        let bundle =
            CertBundle::generate(&["localhost".into(), "127.0.0.1".into()], 30).expect("generate");
        assert!(bundle.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(bundle.key_pem.contains("PRIVATE KEY"));
        assert_ne!(bundle.ca_pem, bundle.cert_pem);
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = bundle.write(dir.path()).expect("write");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&paths.key)
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
