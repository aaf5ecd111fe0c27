//! Manifest bodies for policies that read them (Kubewarden's `oci/v1/oci_manifest`): the
//! reference is resolved first (cache, egress rule, credentials, deadline), then its
//! manifest fetched by the digest it resolved to, so the body is content-addressed.

use bytes::Bytes;
use tokio::time::Instant;

use super::{LookupContext, Resolver};
use crate::image::Reference;
use crate::verdict::{Verdict, VerdictClass};

impl Resolver {
    /// The manifest `reference` resolves to, by `deadline`; a reference that did not land
    /// answers its verdict instead.
    pub async fn manifest_until(
        &self,
        reference: &Reference,
        ctx: &LookupContext,
        deadline: Instant,
    ) -> Result<Bytes, Verdict> {
        let verdict = self.resolve_until(reference, ctx, deadline).await;
        let digest = match (&verdict.class, &verdict.digest) {
            (VerdictClass::Landed, Some(digest)) => digest.to_string(),
            _ => return Err(verdict),
        };
        let (host, repo) = (reference.registry(), reference.repository());
        let fetch = self.registry().get(host, repo, &digest, ctx);
        match tokio::time::timeout_at(deadline, fetch).await {
            Ok(Ok((_, body))) => Ok(body),
            Ok(Err(e)) => Err(Verdict::with_cause(
                e.class(),
                e.public_detail(),
                e.to_string(),
            )),
            Err(_) => Err(Verdict::new(
                VerdictClass::Unavailable,
                "the review's lookup deadline passed while fetching the manifest",
            )),
        }
    }
}
