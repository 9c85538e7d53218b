/// A running sum with Neumaier's compensation.
///
/// The error stays near one rounding of the total instead of growing with the
/// number of terms, so energy drift checks see the scheme, not the sum.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    pub fn add(&mut self, term: f64) {
        let total = self.sum + term;
        // The low-order bits lost by `total`, recovered from whichever
        // operand was smaller in magnitude.
        self.compensation += if self.sum.abs() >= term.abs() {
            (self.sum - total) + term
        } else {
            (term - total) + self.sum
        };
        self.sum = total;
    }

    pub fn total(&self) -> f64 {
        // An infinite term turns the compensation into NaN (inf - inf);
        // the plain sum then carries the honest answer.
        if self.sum.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CompensatedSum;

    #[test]
    fn keeps_small_terms_a_naive_sum_loses() {
        let mut sum = CompensatedSum::default();
        for term in [1.0, 1e100, 1.0, -1e100] {
            sum.add(term);
        }
        assert_eq!(sum.total(), 2.0);
    }

    #[test]
    fn non_finite_terms_propagate() {
        let mut sum = CompensatedSum::default();
        sum.add(1.0);
        sum.add(f64::INFINITY);
        assert_eq!(sum.total(), f64::INFINITY);
        sum.add(f64::NAN);
        assert!(sum.total().is_nan());
    }
}
