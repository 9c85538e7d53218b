//! Balanced nonary integers of any length.
//!
//! A number is a little-endian string of digits in -4..=4 (index 0 is the
//! least significant, worth 9^0). Inputs may be non-canonical: extra
//! most-significant zeros are allowed and the empty string is 0. Every
//! output is canonical: no most-significant zero digit, and zero is exactly
//! `[0]`.

use std::cmp::Ordering;

use crate::OracleError;

/// The base: each digit is worth 9 times the one below it.
const RADIX: i64 = 9;

/// The largest digit magnitude.
const DIGIT_MAX: i8 = 4;

/// Checks that every digit of the number called `array` lies in -4..=4.
pub fn validate(array: &'static str, digits: &[i8]) -> Result<(), OracleError> {
    match digits
        .iter()
        .position(|digit| !(-DIGIT_MAX..=DIGIT_MAX).contains(digit))
    {
        Some(index) => Err(OracleError::NonaryDigit {
            array,
            index,
            value: digits[index],
        }),
        None => Ok(()),
    }
}

/// The same number without most-significant zeros; zero becomes `[0]`.
pub fn canonical(digits: &[i8]) -> Vec<i8> {
    let significant = digits
        .iter()
        .rposition(|&digit| digit != 0)
        .map_or(0, |top| top + 1);
    if significant == 0 {
        vec![0]
    } else {
        digits[..significant].to_vec()
    }
}

/// a + b. Digits must be valid (see [`validate`]).
pub fn add(a: &[i8], b: &[i8]) -> Vec<i8> {
    let len = a.len().max(b.len());
    let column_sums = (0..len).map(|i| {
        i64::from(a.get(i).copied().unwrap_or(0)) + i64::from(b.get(i).copied().unwrap_or(0))
    });
    normalise(column_sums)
}

/// -a. Digits must be valid.
pub fn neg(a: &[i8]) -> Vec<i8> {
    let negated: Vec<i8> = a.iter().map(|&digit| -digit).collect();
    canonical(&negated)
}

/// a - b. Digits must be valid.
pub fn sub(a: &[i8], b: &[i8]) -> Vec<i8> {
    add(a, &neg(b))
}

/// a * b, schoolbook. Digits must be valid.
pub fn mul(a: &[i8], b: &[i8]) -> Vec<i8> {
    if a.is_empty() || b.is_empty() {
        return vec![0];
    }
    // Each column holds at most min(len) products of magnitude <= 16, far
    // from overflowing i64 for any string that fits in memory.
    let mut columns = vec![0i64; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            columns[i + j] += i64::from(x) * i64::from(y);
        }
    }
    normalise(columns)
}

/// The order of a and b by value. Digits must be valid.
pub fn compare(a: &[i8], b: &[i8]) -> Ordering {
    // The first differing digit from the top decides: all lower digits of a
    // balanced number are worth at most 4 (9^k - 1) / 8 < 9^k / 2 together.
    let len = a.len().max(b.len());
    (0..len)
        .rev()
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|order| order.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The canonical digits of `value`.
pub fn from_i128(value: i128) -> Vec<i8> {
    let radix = i128::from(RADIX);
    let mut rest = value;
    let mut digits = Vec::new();
    while rest != 0 {
        let (quotient, remainder) = (rest.div_euclid(radix), rest.rem_euclid(radix));
        let (digit, quotient) = if remainder > i128::from(DIGIT_MAX) {
            (remainder - radix, quotient + 1)
        } else {
            (remainder, quotient)
        };
        digits.push(digit as i8);
        rest = quotient;
    }
    canonical(&digits)
}

/// The value of `digits`, or `None` when it does not fit in `i128`.
/// Digits must be valid.
pub fn to_i128(digits: &[i8]) -> Option<i128> {
    let radix = i128::from(RADIX);
    digits.iter().rev().try_fold(0i128, |high, &digit| {
        let digit = i128::from(digit);
        // high * 9 + digit can fit while high * 9 alone overflows (by at most
        // 4); borrowing one unit of `high` keeps the intermediate in range.
        if high > 0 && digit < 0 {
            (high - 1).checked_mul(radix)?.checked_add(digit + radix)
        } else if high < 0 && digit > 0 {
            (high + 1).checked_mul(radix)?.checked_add(digit - radix)
        } else {
            high.checked_mul(radix)?.checked_add(digit)
        }
    })
}

/// Canonical digits of `sum_i columns[i] 9^i`, carrying every column into
/// -4..=4.
fn normalise(columns: impl IntoIterator<Item = i64>) -> Vec<i8> {
    let mut digits = Vec::new();
    let mut carry = 0i64;
    for column in columns {
        let (digit, next_carry) = split_digit(column + carry);
        digits.push(digit);
        carry = next_carry;
    }
    while carry != 0 {
        let (digit, next_carry) = split_digit(carry);
        digits.push(digit);
        carry = next_carry;
    }
    canonical(&digits)
}

/// `value = digit + 9 * carry` with the digit in -4..=4.
fn split_digit(value: i64) -> (i8, i64) {
    let digit = (value + i64::from(DIGIT_MAX)).rem_euclid(RADIX) - i64::from(DIGIT_MAX);
    (digit as i8, (value - digit) / RADIX)
}
