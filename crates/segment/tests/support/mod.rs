//! Shared helpers: small layouts and ways to craft damaged headers.
#![allow(dead_code)]

use ouroboros_segment::{crc32c, offset, Layout, Precision, DEFAULT_METADATA_CAPACITY_BYTES};

pub fn layout(extents: &[u64], precision: Precision) -> Layout {
    Layout::new(extents, precision, DEFAULT_METADATA_CAPACITY_BYTES).unwrap()
}

pub fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

pub fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Recomputes the header checksum, so a crafted layout field is reached.
pub fn reseal_header(bytes: &mut [u8]) {
    let checksum = crc32c(&bytes[..offset::HEADER_CHECKSUM]);
    put_u32(bytes, offset::HEADER_CHECKSUM, checksum);
}

/// Recomputes the commit checksum, so a crafted record field is reached.
pub fn reseal_commit(bytes: &mut [u8]) {
    let checksum = crc32c(&bytes[offset::COMMIT_START..offset::COMMIT_CHECKSUM]);
    put_u32(bytes, offset::COMMIT_CHECKSUM, checksum);
}

/// A fresh directory under the system's temporary one, removed with all it
/// holds when the guard drops: at the end of the test, and also when the test
/// fails, since a panic unwinds through the guard.
pub struct TempDir(std::path::PathBuf);

/// The prefix of every directory these tests create, for finding leftovers.
pub const TEMP_PREFIX: &str = "ouro-segment-";

impl TempDir {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Not unwrapped: a failed removal must not turn an unwinding test's
        // panic into an abort that hides its message.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary directory named after the test that uses it.
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "{TEMP_PREFIX}{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}
