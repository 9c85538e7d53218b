use std::fmt;
use std::io;

/// Why a segment or checkpoint file was refused. Each names the field, the
/// value found and the value expected, so the message says what to do.
#[derive(Debug)]
pub enum SegmentError {
    /// The first 8 bytes are not [`crate::MAGIC`].
    BadMagic {
        found: [u8; 8],
    },
    UnknownVersion {
        found: u32,
    },
    /// The segment or file (`what`) is shorter than its layout needs.
    Truncated {
        what: &'static str,
        found: u64,
        expected: u64,
    },
    /// A checkpoint file longer than its layout says.
    TrailingBytes {
        found: u64,
        expected: u64,
    },
    /// A stored checksum (`field`) differs from the one computed.
    ChecksumMismatch {
        field: &'static str,
        found: u32,
        expected: u32,
    },
    /// A header field disagrees with the layout the other fields imply.
    InconsistentLayout {
        field: String,
        found: String,
        expected: String,
    },
    /// The segment's layout is not the one the caller expects.
    LayoutMismatch {
        field: String,
        found: String,
        expected: String,
    },
    /// A layout that cannot exist (bad extents, capacity, overflow).
    InvalidLayout {
        field: String,
        found: String,
        expected: String,
    },
    /// Metadata longer than the block's capacity.
    MetadataTooLong {
        found: u64,
        expected: u64,
    },
    /// A checkpoint path that names something other than a regular file.
    NotARegularFile {
        path: String,
        found: &'static str,
    },
    /// The descriptor is not a memfd sealed against shrinking.
    NotSealed {
        found: String,
    },
    Io {
        operation: String,
        source: io::Error,
    },
}

impl SegmentError {
    /// A stable kebab-case name, what JS code matches on.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadMagic { .. } => "bad-magic",
            Self::UnknownVersion { .. } => "unknown-version",
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing-bytes",
            Self::ChecksumMismatch { field, .. } => match *field {
                "header_checksum" => "header-checksum",
                "commit_checksum" => "commit-checksum",
                "checkpoint_checksum" => "checkpoint-checksum",
                "level_current_checksum" | "level_previous_checksum" => "level-checksum",
                _ => "metadata-checksum",
            },
            Self::NotARegularFile { .. } => "not-a-regular-file",
            Self::InconsistentLayout { .. } => "inconsistent-layout",
            Self::LayoutMismatch { .. } => "layout-mismatch",
            Self::InvalidLayout { .. } => "invalid-layout",
            Self::MetadataTooLong { .. } => "metadata-too-long",
            Self::NotSealed { .. } => "not-sealed",
            Self::Io { .. } => "io",
        }
    }

    /// The header field (or argument) at fault, when there is one.
    pub fn field(&self) -> Option<String> {
        match self {
            Self::BadMagic { .. } => Some("magic".into()),
            Self::UnknownVersion { .. } => Some("format_version".into()),
            Self::Truncated { .. } | Self::TrailingBytes { .. } => Some("segment_bytes".into()),
            Self::ChecksumMismatch { field, .. } => Some((*field).into()),
            Self::InconsistentLayout { field, .. }
            | Self::LayoutMismatch { field, .. }
            | Self::InvalidLayout { field, .. } => Some(field.clone()),
            Self::MetadataTooLong { .. } => Some("metadata_length".into()),
            Self::NotSealed { .. } => Some("seals".into()),
            Self::NotARegularFile { .. } => Some("path".into()),
            Self::Io { .. } => None,
        }
    }

    /// The value found and the value expected, as text, when there are any.
    pub fn found_expected(&self) -> Option<(String, String)> {
        match self {
            Self::BadMagic { found } => Some((
                format!("{:?}", String::from_utf8_lossy(found)),
                format!("{:?}", String::from_utf8_lossy(&crate::MAGIC)),
            )),
            Self::UnknownVersion { found } => {
                Some((found.to_string(), crate::FORMAT_VERSION.to_string()))
            }
            Self::Truncated {
                found, expected, ..
            }
            | Self::TrailingBytes { found, expected }
            | Self::MetadataTooLong { found, expected } => {
                Some((found.to_string(), expected.to_string()))
            }
            Self::ChecksumMismatch {
                found, expected, ..
            } => Some((format!("{found:#010x}"), format!("{expected:#010x}"))),
            Self::InconsistentLayout {
                found, expected, ..
            }
            | Self::LayoutMismatch {
                found, expected, ..
            }
            | Self::InvalidLayout {
                found, expected, ..
            } => Some((found.clone(), expected.clone())),
            Self::NotSealed { found } => Some((found.clone(), "F_SEAL_SHRINK set".into())),
            Self::NotARegularFile { found, .. } => Some(((*found).into(), "a regular file".into())),
            Self::Io { .. } => None,
        }
    }

    pub(crate) fn io(operation: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            operation: operation.into(),
            source,
        }
    }

    pub(crate) fn last_os_error(operation: impl Into<String>) -> Self {
        Self::io(operation, io::Error::last_os_error())
    }
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (found, expected) = self.found_expected().unwrap_or_default();
        match self {
            Self::BadMagic { .. } => write!(
                f,
                "magic = {found}: expected {expected}; this is not an Ouroboros state segment or checkpoint"
            ),
            Self::UnknownVersion { .. } => write!(
                f,
                "format_version = {found}: this build reads version {expected}; use the build that wrote it"
            ),
            Self::Truncated { what, .. } => write!(
                f,
                "{what} is {found} bytes: its layout needs {expected}; it was truncated or cut short while written"
            ),
            Self::TrailingBytes { .. } => write!(
                f,
                "checkpoint file is {found} bytes: its layout says exactly {expected}; it is not a checkpoint this build wrote"
            ),
            Self::ChecksumMismatch { field, .. } => write!(
                f,
                "{field} = {found}: the bytes it covers checksum to {expected}; the segment is corrupt or was not committed"
            ),
            Self::InconsistentLayout { field, .. } => write!(
                f,
                "{field} = {found}: the rest of the header implies {expected}; the header is corrupt"
            ),
            Self::LayoutMismatch { field, .. } => write!(
                f,
                "{field} = {found}: the lattice expects {expected}; this state belongs to a different configuration"
            ),
            Self::InvalidLayout { field, .. } => {
                write!(f, "{field} = {found}: must be {expected}")
            }
            Self::MetadataTooLong { .. } => write!(
                f,
                "metadata_length = {found}: the metadata block holds at most {expected} bytes; create the segment with a larger metadata capacity"
            ),
            Self::NotSealed { .. } => write!(
                f,
                "seals = {found}: expected {expected}; attach only to a segment made by Segment::create"
            ),
            Self::NotARegularFile { path, .. } => write!(
                f,
                "{path} is {found}: a checkpoint is a regular file that `checkpoint()` wrote"
            ),
            Self::Io { operation, source } => write!(f, "{operation}: {source}"),
        }
    }
}

impl std::error::Error for SegmentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
