/// The largest magnitude of a readout digit: digits are balanced nonary.
pub const DIGIT_MAX: i8 = 4;

/// A field read out as one balanced nonary digit per cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readout {
    /// Every cell was finite: its value rounded and clamped to -4..=4.
    Digits(Vec<i8>),
    /// Some cell was NaN or infinite; `index` is the lowest such cell.
    NonFinite { index: usize },
}

/// Rounds each cell to the nearest integer, ties away from zero
/// ([`f64::round`]), and clamps it to -4..=4. Negative zero reads as 0.
///
/// A field with any non-finite cell has no digits: the readout names the
/// lowest non-finite index instead.
pub fn readout(field: &[f64]) -> Readout {
    if let Some(index) = field.iter().position(|value| !value.is_finite()) {
        return Readout::NonFinite { index };
    }
    let max = f64::from(DIGIT_MAX);
    // The clamped value is an integer in -4..=4, so the cast is exact.
    let digits = field
        .iter()
        .map(|value| value.round().clamp(-max, max) as i8)
        .collect();
    Readout::Digits(digits)
}
