//! Segments in shared memory: creation, sealing, attaching by descriptor,
//! the commit protocol and the metadata block.

mod support;

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use ouroboros_segment::{Expected, Precision, Segment};
use support::layout;

fn memfd(flags: libc::c_uint) -> OwnedFd {
    let name = CString::new("test").unwrap();
    let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    assert!(fd >= 0);
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn seals_of(segment: &Segment) -> libc::c_int {
    unsafe { libc::fcntl(segment.fd(), libc::F_GET_SEALS) }
}

#[test]
fn a_new_segment_is_sealed_zeroed_and_verifies() {
    let layout = layout(&[8, 8], Precision::F64);
    let segment = Segment::create(&layout).unwrap();
    let seals = seals_of(&segment);
    for seal in [libc::F_SEAL_SHRINK, libc::F_SEAL_GROW, libc::F_SEAL_SEAL] {
        assert_ne!(seals & seal, 0, "seal {seal:#x}");
    }
    assert_eq!(
        unsafe { libc::ftruncate(segment.fd(), 0) },
        -1,
        "a sealed segment cannot shrink"
    );
    assert!(segment.read_level(1).iter().all(|&byte| byte == 0));
    assert_eq!(
        (
            segment.step_count(),
            segment.generation(),
            segment.current_level()
        ),
        (0, 0, 0)
    );
    segment.verify(None).unwrap();
}

#[test]
fn an_attached_segment_shares_the_bytes_without_a_copy() {
    let layout = layout(&[4, 4, 4], Precision::F32);
    let owner = Segment::create(&layout).unwrap();
    let bytes: Vec<u8> = (0..layout.level_bytes()).map(|i| (i % 251) as u8).collect();
    owner.write_level(1, &bytes);
    owner.set_step_count(12);
    owner.write_metadata(b"engine state").unwrap();
    owner.commit();

    let expected = Expected {
        extents: vec![4, 4, 4],
        precision: Precision::F32,
    };
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(owner.fd()) };
    let successor = Segment::attach(fd, Some(&expected)).unwrap();
    assert_ne!(successor.fd(), owner.fd(), "the successor owns a duplicate");
    assert_eq!(successor.read_level(1), bytes);
    assert_eq!(successor.step_count(), 12);
    assert_eq!(successor.read_metadata().unwrap(), b"engine state");

    successor.set_step_count(13);
    assert_eq!(successor.bump_generation(), 1);
    successor.write_level(0, &bytes);
    assert_eq!(owner.step_count(), 13);
    assert_eq!(owner.generation(), 1);
    assert_eq!(owner.read_level(0), bytes);
}

#[test]
fn verify_refuses_a_record_changed_since_the_last_commit() {
    let segment = Segment::create(&layout(&[5], Precision::F64)).unwrap();
    segment.set_step_count(3);
    segment.set_current_level(1);
    let error = segment.verify(None).unwrap_err();
    assert_eq!(error.kind(), "commit-checksum");
    segment.commit();
    segment.verify(None).unwrap();
    segment.write_metadata(b"abc").unwrap();
    assert_eq!(segment.verify(None).unwrap_err().kind(), "commit-checksum");
    segment.commit();
    segment.verify(None).unwrap();
}

#[test]
fn metadata_larger_than_the_block_is_refused() {
    let layout = layout(&[3], Precision::F64);
    let segment = Segment::create(&layout).unwrap();
    let too_long = vec![7u8; layout.metadata_capacity() as usize + 1];
    let error = segment.write_metadata(&too_long).unwrap_err();
    assert_eq!(error.kind(), "metadata-too-long");
    assert!(error.to_string().contains("at most 65536 bytes"));
    let exact = vec![7u8; layout.metadata_capacity() as usize];
    segment.write_metadata(&exact).unwrap();
    assert_eq!(segment.read_metadata().unwrap(), exact);
}

#[test]
fn attach_refuses_unsealed_or_foreign_descriptors_and_wrong_layouts() {
    let unsealed = memfd(libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
    let error = Segment::attach(unsealed.as_fd(), None).unwrap_err();
    assert_eq!(error.kind(), "not-sealed");
    assert_eq!(
        error.found_expected().unwrap(),
        ("0x0".into(), "F_SEAL_SHRINK set".into())
    );

    let dir = support::temp_dir("foreign");
    let file = std::fs::File::create(dir.join("plain")).unwrap();
    let error = Segment::attach(file.as_fd(), None).unwrap_err();
    assert_eq!(error.found_expected().unwrap().0, "none (not a memfd)");

    // Sealed but empty: too small for even a header.
    let small = memfd(libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
    assert_eq!(
        unsafe { libc::fcntl(small.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) },
        0
    );
    let error = Segment::attach(small.as_fd(), None).unwrap_err();
    assert_eq!(
        (error.kind(), error.found_expected().unwrap().0.as_str()),
        ("truncated", "0")
    );

    let segment = Segment::create(&layout(&[6, 6], Precision::F64)).unwrap();
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(segment.fd()) };
    let expected = Expected {
        extents: vec![6, 6],
        precision: Precision::F32,
    };
    let error = Segment::attach(fd, Some(&expected)).unwrap_err();
    assert_eq!(error.kind(), "layout-mismatch");
    assert_eq!(error.field().as_deref(), Some("precision"));
}

#[test]
fn attach_refuses_a_segment_smaller_than_its_header_says() {
    let real = layout(&[64, 64], Precision::F64);
    let header_page = ouroboros_segment::header::encode(&real);
    let fd = memfd(libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
    let short = real.scratch_offset();
    assert_eq!(
        unsafe { libc::ftruncate(fd.as_raw_fd(), short as libc::off_t) },
        0
    );
    let written = unsafe {
        libc::pwrite(
            fd.as_raw_fd(),
            header_page.as_ptr().cast(),
            header_page.len(),
            0,
        )
    };
    assert_eq!(written as usize, header_page.len());
    assert_eq!(
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) },
        0
    );
    let error = Segment::attach(fd.as_fd(), None).unwrap_err();
    assert_eq!(error.kind(), "truncated");
    assert_eq!(
        error.found_expected().unwrap(),
        (short.to_string(), real.segment_bytes().to_string())
    );
}

#[test]
fn the_descriptor_can_be_kept_open_across_exec() {
    let segment = Segment::create(&layout(&[3], Precision::F64)).unwrap();
    let flags = || unsafe { libc::fcntl(segment.fd(), libc::F_GETFD) } & libc::FD_CLOEXEC;
    assert_ne!(flags(), 0, "closed on exec by default");
    segment.set_close_on_exec(false).unwrap();
    assert_eq!(flags(), 0);
    segment.set_close_on_exec(true).unwrap();
    assert_ne!(flags(), 0);
}

#[test]
fn the_mapping_outlives_the_segment_while_someone_holds_it() {
    let layout = layout(&[16], Precision::F64);
    let segment = Segment::create(&layout).unwrap();
    let mapping = segment.mapping();
    let level = segment.level_ptr(0);
    drop(segment);
    unsafe { level.write(42) };
    assert_eq!(unsafe { level.read() }, 42);
    assert_eq!(mapping.len() as u64, layout.segment_bytes());
}
