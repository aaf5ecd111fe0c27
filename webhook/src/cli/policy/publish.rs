//! `landed policy push` and `pull`: policies to and from OCI registries with landed's own
//! registry client, credentials and egress rule (those of `landed check`), and the OCI
//! references `inspect` accepts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::super::ConfigArg;
use crate::image::{Digest, DigestAlgorithm};
use crate::policy::publish::{push as push_artifact, PolicyArtifact, PublishError};
use crate::policy::{oci_reference, FetchPolicy, FetchedPolicy, OciFetcher};
use crate::registry::RegistryError;
use crate::resolve::Resolver;
use crate::verdict::VerdictClass;

/// Exit code when the registry refused or failed (usage errors exit 2).
const EXIT_REFUSED: u8 = 1;

/// `landed policy push FILE REGISTRY/REPO:TAG`.
pub async fn push(config: &ConfigArg, file: &Path, target: &str) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let size = bytes.len();
    let title = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("policy.wasm");
    let artifact = PolicyArtifact::new(bytes, title, &now_rfc3339())
        .with_context(|| format!("{} cannot be pushed", file.display()))?;
    let target = target.trim_start_matches("oci://");
    let reference =
        oci_reference(target).with_context(|| format!("{target:?} is not a valid reference"))?;
    let resolver = Resolver::for_operator(&config.load()?)?;
    let client = resolver.registry();
    match push_artifact(client, &reference, &artifact).await {
        Ok(pushed) => {
            println!(
                "pushed {target} ({} ABI, {size} bytes, {} of 2 blobs uploaded)",
                artifact.abi.as_str(),
                pushed.uploaded
            );
            println!("digest: {}", pushed.digest);
            println!("paste into landed.yaml (under the policy's entry):");
            println!("  oci: {target}@{}", pushed.digest);
            Ok(ExitCode::SUCCESS)
        }
        Err(PublishError::Reference(message)) => anyhow::bail!(message),
        Err(err) => {
            let identity = client
                .credential_identity(reference.registry())
                .await
                .ok()
                .flatten();
            eprintln!("error: push to {target} failed: {err}");
            if let Some(hint) = err
                .registry()
                .and_then(|e| push_hint(e, identity.as_deref()))
            {
                eprintln!("{hint}");
            }
            Ok(ExitCode::from(EXIT_REFUSED))
        }
    }
}

/// What to do about a refused push, naming whose credentials were sent (never the secret).
fn push_hint(err: &RegistryError, identity: Option<&str>) -> Option<String> {
    let fix = "landed pushes with what it reads for lookups: Application Default \
               Credentials for Google registries, else the docker config \
               ($DOCKER_CONFIG/config.json, `docker login`); they must allow push";
    let refused = match identity {
        None => "landed found no credentials for this registry, and it wants some".to_owned(),
        Some(who) => format!(
            "the registry did not accept the credentials from {who} for a push (wrong, \
             expired, or without push rights)"
        ),
    };
    match err {
        RegistryError::NotContacted(refusal) => {
            return Some(format!(
                "landed's egress rule kept it from contacting the registry ({}): list the \
                 registry under `registries:` in landed.yaml or change `egress:`.",
                refusal.public
            ))
        }
        RegistryError::Credentials { .. } => return Some(format!("{fix}.")),
        _ => {}
    }
    match err.class() {
        VerdictClass::Unauthorized => Some(format!("{refused}. {fix}.")),
        VerdictClass::Forbidden => Some(format!(
            "the registry accepted {} but denied the push (read-only access, or no such \
             repository). {fix}.",
            identity.unwrap_or("the request")
        )),
        VerdictClass::Absent => Some(
            "the registry has no such repository: create it first (GAR: a Docker-format \
             repository)."
                .to_owned(),
        ),
        _ => None,
    }
}

/// `landed policy pull REF -o FILE`.
pub async fn pull(config: &ConfigArg, reference: &str, out: &Path) -> anyhow::Result<ExitCode> {
    let fetched = match fetch(config, reference).await {
        Ok(fetched) => fetched,
        Err(err) => {
            eprintln!("error: {err:#}");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    };
    write_atomically(out, &fetched.bytes)?;
    let file_digest = Digest::compute(DigestAlgorithm::Sha256, &fetched.bytes);
    println!(
        "pulled {reference} to {} ({} bytes, sha256:{})",
        out.display(),
        fetched.bytes.len(),
        file_digest.encoded()
    );
    if let Some(manifest) = &fetched.manifest_digest {
        println!("digest: {manifest}");
        let pinned = oci_reference(reference).is_ok_and(|r| r.digest().is_some());
        if !pinned {
            let bare = reference.trim_start_matches("oci://");
            println!("pinned: oci: {bare}@{manifest}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The policy at `reference`, its layer and (when pinned) manifest digest-verified, with the
/// same fetcher `landed serve` loads `oci:` policies with.
pub async fn fetch(config: &ConfigArg, reference: &str) -> anyhow::Result<FetchedPolicy> {
    let resolver = Resolver::for_operator(&config.load()?)?;
    OciFetcher::new(resolver)
        .fetch(reference)
        .await
        .map_err(|reason| anyhow::anyhow!("cannot pull {reference}: {reason}"))
}

/// The OCI reference `inspect` was given instead of a file: `oci://…`, or, when no such file
/// exists, a reference whose first component is a registry host (`registry.example/…`,
/// `host:5000/…`, `localhost/…`) and that does not end in `.wasm` (a mistyped file name
/// stays a file error).
pub fn oci_target(arg: &Path) -> Option<&str> {
    let text = arg.to_str()?;
    let host = text.split('/').next().unwrap_or_default();
    let registry_like = host.contains(['.', ':']) || host == "localhost";
    let named = text.starts_with("oci://")
        || (!arg.exists() && text.contains('/') && registry_like && !text.ends_with(".wasm"));
    (named && oci_reference(text).is_ok()).then_some(text)
}

/// Writes `bytes` to `path` whole or not at all (a temp file beside it, then a rename).
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Now as RFC 3339 UTC, for `org.opencontainers.image.created`.
fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_tells_references_from_files() {
        let cases = [
            ("oci://registry.example/p/rule:1", true),
            ("registry.example/p/rule:1", true),
            ("127.0.0.1:5000/p/rule@sha256:0000000000000000000000000000000000000000000000000000000000000000", true),
            ("localhost/p/rule:1", true),
            ("target/my_rule.wasm", false),
            ("policies/target/components/no_latest_tag.wasm", false),
            ("./rule.wasm", false),
            ("rule", false),
        ];
        for (arg, oci) in cases {
            assert_eq!(oci_target(Path::new(arg)).is_some(), oci, "{arg}");
        }
    }
}
