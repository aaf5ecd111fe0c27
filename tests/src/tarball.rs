//! A tiny tar + gzip writer: enough to make real, valid image layers without a daemon.
//!
//! The gzip stream uses stored (uncompressed) deflate blocks: valid for every reader, and
//! simple enough to write here without another dependency.

/// A layer: the uncompressed tar (its digest is the config's `diff_id`) and its gzip form.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The tar archive.
    pub tar: Vec<u8>,
    /// The same archive, gzip-compressed (what the registry stores).
    pub gzip: Vec<u8>,
}

/// A layer holding one regular file `name` with `contents`.
pub fn layer_with_file(name: &str, contents: &[u8]) -> Layer {
    let tar = tar_one_file(name, contents);
    let gzip = gzip_stored(&tar);
    Layer { tar, gzip }
}

/// A ustar archive with one regular file (mode 0644, owned by root, mtime 0).
pub fn tar_one_file(name: &str, contents: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let name_bytes = name.as_bytes();
    let name_len = name_bytes.len().min(99);
    header[..name_len].copy_from_slice(&name_bytes[..name_len]);
    put_octal(&mut header[100..108], 0o644);
    put_octal(&mut header[108..116], 0);
    put_octal(&mut header[116..124], 0);
    put_octal(&mut header[124..136], contents.len() as u64);
    put_octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field filled with spaces.
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    let checksum = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(checksum.as_bytes());

    let mut out = Vec::with_capacity(512 + contents.len() + 1536);
    out.extend_from_slice(&header);
    out.extend_from_slice(contents);
    let padding = (512 - contents.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, padding));
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

/// Writes `value` as zero-padded octal followed by a NUL into `field`.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// `data` as a gzip member made of stored deflate blocks.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 0xFFFF;
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(MAX_BLOCK).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE 802.3), as gzip wants it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn tar_is_block_aligned_and_checksummed() {
        let tar = tar_one_file("hello.txt", b"hi");
        assert_eq!(tar.len(), 512 * 4);
        assert_eq!(&tar[257..262], b"ustar");
    }
}
