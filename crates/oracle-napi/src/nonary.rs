//! Balanced nonary arithmetic: digits -4..=4, little-endian, any length.
//! Inputs may carry extra high zeros (an empty array is 0); outputs are
//! canonical. A digit outside -4..=4 is an `InvalidArg` error.

use napi::bindgen_prelude::Int8Array;
use napi::Result;
use napi_derive::napi;
use ouroboros_oracle::nonary;

use crate::convert::invalid_arg;

fn validate_both(a: &[i8], b: &[i8]) -> Result<()> {
    nonary::validate("a", a)
        .and_then(|()| nonary::validate("b", b))
        .map_err(invalid_arg)
}

/// a + b.
#[napi(catch_unwind)]
pub fn nonary_add(a: Int8Array, b: Int8Array) -> Result<Int8Array> {
    validate_both(&a, &b)?;
    Ok(nonary::add(&a, &b).into())
}

/// -a.
#[napi(catch_unwind)]
pub fn nonary_neg(a: Int8Array) -> Result<Int8Array> {
    nonary::validate("a", &a).map_err(invalid_arg)?;
    Ok(nonary::neg(&a).into())
}

/// a - b.
#[napi(catch_unwind)]
pub fn nonary_sub(a: Int8Array, b: Int8Array) -> Result<Int8Array> {
    validate_both(&a, &b)?;
    Ok(nonary::sub(&a, &b).into())
}

/// a * b.
#[napi(catch_unwind)]
pub fn nonary_mul(a: Int8Array, b: Int8Array) -> Result<Int8Array> {
    validate_both(&a, &b)?;
    Ok(nonary::mul(&a, &b).into())
}

/// -1, 0 or 1 as a is less than, equal to or greater than b.
#[napi(catch_unwind)]
pub fn nonary_compare(a: Int8Array, b: Int8Array) -> Result<i32> {
    validate_both(&a, &b)?;
    Ok(nonary::compare(&a, &b) as i32)
}
