//! Checkpoint files: the segment's bytes `0..scratch_offset` (header,
//! metadata block, both levels; scratch is not state), written atomically.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::SegmentError;
use crate::header::{self, Expected};
use crate::segment::{read_layout, Segment};
use crate::sys;

fn io_at(operation: &str, path: &Path) -> impl Fn(std::io::Error) -> SegmentError {
    let operation = format!("{operation} {}", path.display());
    move |source| SegmentError::io(operation.clone(), source)
}

/// A temporary name beside `path`, unique to this process and moment.
fn temporary_path(path: &Path) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let name = path
        .file_name()
        .map_or_else(Default::default, |name| name.to_string_lossy());
    path.with_file_name(format!(".{name}.{}.{nanos}.tmp", std::process::id()))
}

/// Commits `segment` (a checkpoint is a freeze point), seals its levels
/// (the checkpoint record: a CRC-32C of each level by role, and a checksum
/// over them and the commit record) and writes it to
/// `path` atomically: a temporary file in the same directory is written and
/// fsynced, renamed over `path`, and the directory fsynced. A failure at any
/// point leaves whatever was at `path` untouched.
pub fn write(segment: &Segment, path: &Path) -> Result<(), SegmentError> {
    segment.seal_checkpoint();
    let temporary = temporary_path(path);
    let result = write_then_rename(segment, &temporary, path);
    if result.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn write_then_rename(segment: &Segment, temporary: &Path, path: &Path) -> Result<(), SegmentError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(temporary)
        .map_err(io_at("creating", temporary))?;
    let bytes = segment.layout().checkpoint_bytes() as usize;
    // SAFETY: the mapping is at least `segment_bytes` >= `checkpoint_bytes`
    // long and stays mapped while `segment` is borrowed.
    unsafe {
        sys::write_all(file.as_fd(), segment.mapping().as_ptr(), bytes, || {
            format!("writing {}", temporary.display())
        })?
    };
    file.sync_all().map_err(io_at("fsync of", temporary))?;
    drop(file);
    fs::rename(temporary, path).map_err(io_at("renaming the temporary file to", path))?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(io_at("fsync of directory", directory))
}

/// Reads the checkpoint at `path` into a new segment after checking, in
/// order: that it is a regular file, magic, size, version, header
/// checksum, layout, `expected`, the commit record, the metadata checksum,
/// the checkpoint record and each level's checksum.
pub fn read(path: &Path, expected: Option<&Expected>) -> Result<Segment, SegmentError> {
    // Non-blocking: opening a FIFO for reading would wait for a writer before it could be refused.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_at("opening", path))?;
    let kind = file
        .metadata()
        .map_err(io_at("reading the metadata of", path))?
        .file_type();
    if !kind.is_file() {
        return Err(SegmentError::NotARegularFile {
            path: path.display().to_string(),
            found: if kind.is_dir() {
                "a directory"
            } else if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_char_device() || kind.is_block_device() {
                "a device"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            },
        });
    }
    let size = sys::file_size(file.as_fd())?;
    let layout = read_layout(file.as_fd(), size, "checkpoint file")?;
    let wanted = layout.checkpoint_bytes();
    if size < wanted {
        return Err(SegmentError::Truncated {
            what: "checkpoint file",
            found: size,
            expected: wanted,
        });
    }
    if size > wanted {
        return Err(SegmentError::TrailingBytes {
            found: size,
            expected: wanted,
        });
    }
    if let Some(expected) = expected {
        header::check_expected(&layout, expected)?;
    }
    let segment = Segment::create(&layout)?;
    // SAFETY: the new segment's mapping is `segment_bytes` >= `wanted` long,
    // and no other process has its descriptor yet.
    unsafe {
        sys::read_exact_at(
            file.as_fd(),
            segment.mapping().as_ptr(),
            wanted as usize,
            0,
            || format!("reading {}", path.display()),
        )?
    };
    segment.verify(None)?;
    segment.verify_checkpoint()?;
    Ok(segment)
}
