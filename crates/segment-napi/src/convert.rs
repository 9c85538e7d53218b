//! JS values to segment types, and segment errors to JS data.

use napi::{Error, Result, Status};
use napi_derive::napi;
use ouroboros_segment::{Expected, Layout, Precision, SegmentError};

/// Why a segment or file was refused, as data; `ts/handoff/errors.ts`
/// turns it into a `SegmentError`.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct SegmentFault {
    /// Stable kebab-case name, one of `SegmentError::kind`'s.
    #[napi(
        ts_type = "'bad-magic' | 'unknown-version' | 'truncated' | 'trailing-bytes' | 'header-checksum' | 'commit-checksum' | 'metadata-checksum' | 'checkpoint-checksum' | 'level-checksum' | 'not-a-regular-file' | 'inconsistent-layout' | 'layout-mismatch' | 'invalid-layout' | 'metadata-too-long' | 'not-sealed' | 'io'"
    )]
    pub kind: String,
    pub field: Option<String>,
    pub found: Option<String>,
    pub expected: Option<String>,
    pub message: String,
}

impl From<SegmentError> for SegmentFault {
    fn from(error: SegmentError) -> Self {
        let (found, expected) = error.found_expected().unzip();
        Self {
            kind: error.kind().to_owned(),
            field: error.field(),
            found,
            expected,
            message: error.to_string(),
        }
    }
}

/// The shape of a new segment; validated in TypeScript.
#[napi(object, object_to_js = false)]
pub struct LayoutInput {
    pub extents: Vec<f64>,
    #[napi(ts_type = "'f64' | 'f32'")]
    pub precision: String,
    pub metadata_capacity_bytes: f64,
}

/// The configuration an attached or read segment must hold.
#[napi(object, object_to_js = false)]
pub struct ExpectedInput {
    pub extents: Vec<f64>,
    #[napi(ts_type = "'f64' | 'f32'")]
    pub precision: String,
}

fn invalid_arg(message: String) -> Error {
    Error::new(Status::InvalidArg, message)
}

/// The JS number called `name` as an unsigned integer below 2^53.
pub fn whole_number(name: &str, value: f64) -> Result<u64> {
    if value.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&value) {
        Ok(value as u64)
    } else {
        Err(invalid_arg(format!(
            "{name} = {value}: must be an integer in 0..=2^53-1"
        )))
    }
}

fn precision(value: &str) -> Result<Precision> {
    match value {
        "f64" => Ok(Precision::F64),
        "f32" => Ok(Precision::F32),
        other => Err(invalid_arg(format!(
            "precision = {other:?}: must be \"f64\" or \"f32\""
        ))),
    }
}

fn extents(values: &[f64]) -> Result<Vec<u64>> {
    values
        .iter()
        .enumerate()
        .map(|(axis, &extent)| whole_number(&format!("extents[{axis}]"), extent))
        .collect()
}

pub fn layout(input: &LayoutInput) -> Result<Layout> {
    let capacity = whole_number("metadataCapacityBytes", input.metadata_capacity_bytes)?;
    Layout::new(
        &extents(&input.extents)?,
        precision(&input.precision)?,
        capacity,
    )
    .map_err(|error| invalid_arg(error.to_string()))
}

pub fn expected(input: Option<&ExpectedInput>) -> Result<Option<Expected>> {
    input
        .map(|input| {
            Ok(Expected {
                extents: extents(&input.extents)?,
                precision: precision(&input.precision)?,
            })
        })
        .transpose()
}
