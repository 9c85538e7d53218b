//! Thin wrappers over the system calls the segment needs, each returning
//! a `SegmentError::Io` that names the operation.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::SegmentError;

fn check(
    result: libc::c_int,
    operation: impl FnOnce() -> String,
) -> Result<libc::c_int, SegmentError> {
    if result < 0 {
        Err(SegmentError::last_os_error(operation()))
    } else {
        Ok(result)
    }
}

/// A new sealable memfd, closed on exec until told otherwise.
pub fn memfd_create(name: &CStr) -> Result<OwnedFd, SegmentError> {
    // SAFETY: `name` is a valid C string.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    check(fd, || "memfd_create".into())?;
    // SAFETY: a fresh descriptor this process owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> Result<(), SegmentError> {
    // SAFETY: plain syscall on a valid descriptor.
    let result = unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) };
    check(result, || format!("ftruncate to {len} bytes"))?;
    Ok(())
}

pub fn add_seals(fd: BorrowedFd<'_>, seals: libc::c_int) -> Result<(), SegmentError> {
    // SAFETY: plain syscall on a valid descriptor.
    let result = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) };
    check(result, || "fcntl(F_ADD_SEALS)".into())?;
    Ok(())
}

/// The seals on `fd`, or `None` when it is not a file that supports them.
pub fn seals(fd: BorrowedFd<'_>) -> Option<libc::c_int> {
    // SAFETY: plain syscall on a valid descriptor.
    let result = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    (result >= 0).then_some(result)
}

/// A close-on-exec duplicate of `fd`, which the caller then owns.
pub fn duplicate(fd: BorrowedFd<'_>) -> Result<OwnedFd, SegmentError> {
    fd.try_clone_to_owned()
        .map_err(|source| SegmentError::io(format!("dup of descriptor {}", fd.as_raw_fd()), source))
}

pub fn set_close_on_exec(fd: BorrowedFd<'_>, close: bool) -> Result<(), SegmentError> {
    let raw = fd.as_raw_fd();
    // SAFETY: plain syscalls on a valid descriptor.
    let flags = check(unsafe { libc::fcntl(raw, libc::F_GETFD) }, || {
        "fcntl(F_GETFD)".into()
    })?;
    let flags = if close {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    check(unsafe { libc::fcntl(raw, libc::F_SETFD, flags) }, || {
        "fcntl(F_SETFD)".into()
    })?;
    Ok(())
}

/// Reads exactly `len` bytes at file offset `offset` into `dest`.
///
/// # Safety
/// `dest` must be valid for `len` bytes of writes.
pub unsafe fn read_exact_at(
    fd: BorrowedFd<'_>,
    dest: *mut u8,
    len: usize,
    offset: u64,
    operation: impl Fn() -> String,
) -> Result<(), SegmentError> {
    let mut done = 0usize;
    while done < len {
        let chunk = (len - done).min(1 << 30);
        // SAFETY: `dest + done .. + chunk` lies within the caller's range.
        let read = unsafe {
            libc::pread(
                fd.as_raw_fd(),
                dest.add(done).cast(),
                chunk,
                (offset + done as u64) as libc::off_t,
            )
        };
        if read < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(SegmentError::io(operation(), error));
        }
        if read == 0 {
            return Err(SegmentError::io(
                operation(),
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        done += read as usize;
    }
    Ok(())
}

/// Writes exactly `len` bytes from `src` at the file's current position.
///
/// # Safety
/// `src` must be valid for `len` bytes of reads.
pub unsafe fn write_all(
    fd: BorrowedFd<'_>,
    src: *const u8,
    len: usize,
    operation: impl Fn() -> String,
) -> Result<(), SegmentError> {
    let mut done = 0usize;
    while done < len {
        let chunk = (len - done).min(1 << 30);
        // SAFETY: `src + done .. + chunk` lies within the caller's range.
        let written = unsafe { libc::write(fd.as_raw_fd(), src.add(done).cast(), chunk) };
        if written < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(SegmentError::io(operation(), error));
        }
        done += written as usize;
    }
    Ok(())
}

/// Size of the file behind `fd`.
pub fn file_size(fd: BorrowedFd<'_>) -> Result<u64, SegmentError> {
    // SAFETY: `stat` is plain data, filled by fstat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let result = unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) };
    check(result, || "fstat".into())?;
    Ok(stat.st_size as u64)
}
