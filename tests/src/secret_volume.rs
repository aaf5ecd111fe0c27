//! A directory laid out like a Secret volume the kubelet mounts, and updated the way the
//! kubelet updates it.
//!
//! Each file is a symlink `NAME -> ..data/NAME`; `..data` is a symlink to a timestamped
//! directory holding the real files. An update writes a new timestamped directory, points a
//! temporary symlink at it and renames that over `..data`, so readers see either the whole old
//! set or the whole new set, never a certificate from one and a key from the other.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

const DATA: &str = "..data";

/// A Secret volume under a directory of its own.
pub struct SecretVolume {
    dir: PathBuf,
    generation: u32,
}

impl SecretVolume {
    /// Creates `dir` (which must not exist yet) holding `files` (name, content).
    pub fn create(dir: &Path, files: &[(&str, &[u8])]) -> Result<Self> {
        fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut volume = Self {
            dir: dir.to_path_buf(),
            generation: 0,
        };
        volume.update(files)?;
        for (name, _) in files {
            symlink(Path::new(DATA).join(name), dir.join(name))
                .with_context(|| format!("linking {name}"))?;
        }
        Ok(volume)
    }

    /// Replaces every file at once, as the kubelet does when the Secret changes.
    pub fn update(&mut self, files: &[(&str, &[u8])]) -> Result<()> {
        self.generation += 1;
        let name = format!("..gen_{:04}", self.generation);
        let generation = self.dir.join(&name);
        fs::create_dir(&generation)?;
        for (file, content) in files {
            fs::write(generation.join(file), content).with_context(|| format!("writing {file}"))?;
        }
        let tmp = self.dir.join("..data_tmp");
        let _ = fs::remove_file(&tmp);
        symlink(&name, &tmp)?;
        fs::rename(&tmp, self.dir.join(DATA)).context("swapping ..data")?;
        Ok(())
    }

    /// The path a reader opens for `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_the_new_content_through_the_same_path() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("tls");
        let mut volume =
            SecretVolume::create(&dir, &[("tls.crt", b"one"), ("tls.key", b"k1")]).expect("create");
        let crt = volume.path("tls.crt");
        assert_eq!(fs::read(&crt).expect("read"), b"one");
        volume
            .update(&[("tls.crt", b"two"), ("tls.key", b"k2")])
            .expect("update");
        assert_eq!(fs::read(&crt).expect("read"), b"two");
        assert_eq!(fs::read(volume.path("tls.key")).expect("read"), b"k2");
        assert!(fs::symlink_metadata(&crt)
            .expect("meta")
            .file_type()
            .is_symlink());
    }
}
