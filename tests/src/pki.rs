//! Private certificate authorities and keys for TLS registries, the token server and the
//! Google service-account key.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::tools::Tool;

/// A private certificate authority (ECDSA P-256), able to issue server certificates.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, both PEM.
#[derive(Clone, Debug)]
pub struct CertifiedKey {
    /// The certificate chain (leaf first), PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl Ca {
    /// A fresh CA whose common name is `name`.
    pub fn new(name: &str) -> Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().context("generating the CA key")?;
        let cert = params.self_signed(&key).context("self-signing the CA")?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Writes the CA certificate to `path` and returns the path.
    pub fn write_cert(&self, path: &Path) -> Result<PathBuf> {
        std::fs::write(path, &self.cert_pem)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path.to_path_buf())
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub fn server_cert(&self, names: &[&str]) -> Result<CertifiedKey> {
        self.issue_server_cert(names, false)
    }

    /// Like [`Ca::server_cert`], but valid only during 2020: expired, otherwise flawless.
    pub fn expired_server_cert(&self, names: &[&str]) -> Result<CertifiedKey> {
        self.issue_server_cert(names, true)
    }

    fn issue_server_cert(&self, names: &[&str], expired: bool) -> Result<CertifiedKey> {
        let sans: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(sans)?;
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate().context("generating a server key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing a server certificate")?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A fresh 2048-bit RSA private key as PKCS#8 PEM ("BEGIN PRIVATE KEY").
///
/// ring cannot generate RSA keys, and both RS256 users here (the registry token server and
/// Google service-account keys) need one, so `openssl genpkey` makes it.
pub fn rsa_pkcs8_pem() -> Result<String> {
    let openssl = Tool::Openssl.require()?;
    let out = Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .env_clear()
        .output()
        .context("running openssl genpkey")?;
    if !out.status.success() {
        bail!(
            "openssl genpkey failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pem = String::from_utf8(out.stdout).context("openssl printed non-UTF-8")?;
    if !pem.contains("BEGIN PRIVATE KEY") {
        bail!("openssl genpkey did not print a PKCS#8 key");
    }
    Ok(pem)
}
