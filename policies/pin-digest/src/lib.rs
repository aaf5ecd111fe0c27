//! `pin-digest` (mutating): rewrites every landed image to the digest it resolved to, so
//! the kubelet pulls exactly what was checked. Only patches when `context.mutating` is true
//! (the `/mutate` endpoint); on `/validate` it always allows.
//!
//! Settings: `{"keepTag": true}` (default) writes `registry/repo:tag@digest`; `false`
//! writes `registry/repo@digest`.

use landed_policy_sdk::{Image, Input, Output, PatchOp, Settings, Verdict};
use serde::Deserialize;

/// Settings of `pin-digest`.
#[derive(Debug, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PinSettings {
    /// Keep the tag beside the digest (readable; the digest wins when both are given).
    pub keep_tag: bool,
}

impl Default for PinSettings {
    fn default() -> Self {
        Self { keep_tag: true }
    }
}

impl Settings for PinSettings {}

/// Turns `spec.template.spec.initContainers[0].image` into the JSON pointer
/// `/spec/template/spec/initContainers/0/image` (RFC 6901 escaping of `~` and `/`).
pub fn json_pointer(path: &str) -> Result<String, String> {
    let mut pointer = String::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return Err(format!("empty segment in path {path:?}"));
        }
        if !key.is_empty() {
            pointer.push('/');
            pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("unclosed [ in path {path:?}"))?;
            let index = &rest[1..close];
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("bad index {index:?} in path {path:?}"));
            }
            pointer.push('/');
            pointer.push_str(index);
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("unexpected {rest:?} in path {path:?}"));
            }
        }
    }
    Ok(pointer)
}

/// `registry/repo[:tag]@digest` for a normalized reference.
pub fn pinned(normalized: &str, digest: &str, keep_tag: bool) -> String {
    let name = normalized.split('@').next().unwrap_or(normalized);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let base = match name[last_slash..].rfind(':') {
        Some(colon) if !keep_tag => &name[..last_slash + colon],
        _ => name,
    };
    format!("{base}@{digest}")
}

fn patch_for(image: &Image, keep_tag: bool) -> Option<Result<PatchOp, String>> {
    if image.verdict != Verdict::Landed {
        return None;
    }
    let digest = image.digest.as_deref()?;
    let normalized = image.normalized.as_deref().unwrap_or(&image.reference);
    let value = pinned(normalized, digest, keep_tag);
    if value == image.reference {
        return None;
    }
    Some(json_pointer(&image.path).map(|path| PatchOp::Replace {
        path,
        value: value.into(),
    }))
}

/// Decides one review.
pub fn validate(input: &Input, settings: &PinSettings) -> Output {
    if !input.context.mutating {
        return Output::allow();
    }
    let mut ops = Vec::new();
    let mut out = Output::allow();
    for image in &input.images {
        match patch_for(image, settings.keep_tag) {
            Some(Ok(op)) => ops.push(op),
            Some(Err(e)) => {
                out = out.with_warning(format!("cannot pin image {:?}: {e}", image.reference));
            }
            None => {}
        }
    }
    out.with_patch(ops)
}

landed_policy_sdk::export_policy!(validate, PinSettings);

#[cfg(test)]
mod tests;
