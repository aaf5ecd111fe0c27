//! What a WebAssembly binary is, read from its header, and the Kubewarden metadata a
//! module may carry in its `io.kubewarden.metadata` custom section (written by
//! `kwctl annotate`).

/// The custom section Kubewarden keeps a policy's metadata in.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// Largest metadata section read (Kubewarden's are a few KiB).
const MAX_METADATA_BYTES: usize = 1 << 20;

/// The kind of a WebAssembly binary, from its preamble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    /// A component (the `landed:policy` ABI).
    Component,
    /// A core module (a waPC guest, or something else).
    CoreModule,
    /// Not WebAssembly binary at all.
    Other,
}

/// Reads the preamble: `\0asm`, then version 1 for a core module, or layer 1 for a component.
pub fn binary_kind(bytes: &[u8]) -> BinaryKind {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => BinaryKind::CoreModule,
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => BinaryKind::Component,
        _ => BinaryKind::Other,
    }
}

/// An unsigned LEB128 number at `*at`, advancing past it.
fn leb_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut value: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The payload of the first custom section called `name` of a core module.
pub fn custom_section<'a>(bytes: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut at = 8;
    while at < bytes.len() {
        let id = *bytes.get(at)?;
        at += 1;
        let size = leb_u32(bytes, &mut at)? as usize;
        let section = bytes.get(at..at.checked_add(size)?)?;
        at += size;
        if id != 0 {
            continue;
        }
        let mut inner = 0;
        let len = leb_u32(section, &mut inner)? as usize;
        let title = section.get(inner..inner.checked_add(len)?)?;
        if title == name.as_bytes() {
            return section.get(inner + len..);
        }
    }
    None
}

/// The Kubewarden metadata of a module, when it has the section; an unreadable one is an
/// error naming the section.
pub fn metadata(bytes: &[u8]) -> Result<Option<serde_json::Value>, String> {
    let Some(section) = custom_section(bytes, METADATA_SECTION) else {
        return Ok(None);
    };
    if section.len() > MAX_METADATA_BYTES {
        return Err(format!(
            "the {METADATA_SECTION} section is {} bytes, over {MAX_METADATA_BYTES}",
            section.len()
        ));
    }
    serde_json::from_slice(section)
        .map(Some)
        .map_err(|e| format!("the {METADATA_SECTION} section is not JSON: {e}"))
}

/// The execution mode the metadata names when it is one landed does not run (`opa`,
/// `gatekeeper`, `wasi`); `kubewarden-wapc` or none is fine.
pub fn unsupported_mode(metadata: Option<&serde_json::Value>) -> Option<&str> {
    let mode = metadata?.get("executionMode")?.as_str()?;
    (mode != "kubewarden-wapc").then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_section(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        let mut section = vec![name.len() as u8];
        section.extend_from_slice(name.as_bytes());
        section.extend_from_slice(payload);
        module.push(0);
        module.push(section.len() as u8);
        module.extend(section);
        module
    }

    #[test]
    fn the_preamble_tells_a_component_from_a_module() {
        assert_eq!(binary_kind(b"\0asm\x01\0\0\0"), BinaryKind::CoreModule);
        assert_eq!(binary_kind(b"\0asm\x0d\0\x01\0"), BinaryKind::Component);
        assert_eq!(binary_kind(b"(module)"), BinaryKind::Other);
        assert_eq!(binary_kind(b"\0as"), BinaryKind::Other);
    }

    #[test]
    fn metadata_is_read_from_its_custom_section() {
        let module = with_section(
            METADATA_SECTION,
            br#"{"protocolVersion":"v1","mutating":false}"#,
        );
        let meta = metadata(&module).ok().flatten().unwrap_or_default();
        assert_eq!(meta["protocolVersion"], "v1");
        assert_eq!(metadata(&with_section("other", b"{}")), Ok(None));
        let bad = metadata(&with_section(METADATA_SECTION, b"{not json"));
        assert!(bad.is_err_and(|e| e.contains(METADATA_SECTION)));
    }

    #[test]
    fn a_truncated_or_lying_section_size_reads_as_no_section() {
        let mut module = with_section(METADATA_SECTION, b"{}");
        module[9] = 0x7f; // the section claims more bytes than there are
        assert_eq!(custom_section(&module, METADATA_SECTION), None);
        let huge = [
            0, b'a', b's', b'm', 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(custom_section(&huge, METADATA_SECTION), None);
    }
}
