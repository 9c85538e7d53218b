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

/// `N` compensated sums that the caller spreads its terms over, combined at
/// the end. Each lane keeps Neumaier's bound, and the combination adds a few
/// roundings of the total at most; what it buys is `N` independent chains of
/// dependent additions instead of one, so a sum over a whole lattice runs at
/// the adder's throughput rather than its latency (about three times faster
/// with four lanes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompensatedLanes<const N: usize> {
    lanes: [CompensatedSum; N],
}

impl<const N: usize> Default for CompensatedLanes<N> {
    fn default() -> Self {
        Self {
            lanes: [CompensatedSum::default(); N],
        }
    }
}

impl<const N: usize> CompensatedLanes<N> {
    /// Adds `term` to lane `index % N`.
    pub fn add(&mut self, index: usize, term: f64) {
        self.lanes[index % N].add(term);
    }

    pub fn total(&self) -> f64 {
        let mut all = CompensatedSum::default();
        for lane in &self.lanes {
            all.add(lane.sum);
            // A lane that met an infinite term has a NaN compensation: its plain sum is the answer.
            if lane.sum.is_finite() {
                all.add(lane.compensation);
            }
        }
        all.total()
    }
}

#[cfg(test)]
mod tests {
    use super::{CompensatedLanes, CompensatedSum};

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

    #[test]
    fn lanes_keep_small_terms_whichever_lane_they_land_in() {
        let terms = [1.0, 1e100, 1.0, -1e100, 0.25, 3.0, -1e100, 1e100];
        for first in 0..4 {
            let mut lanes = CompensatedLanes::<4>::default();
            for (i, &term) in terms.iter().enumerate() {
                lanes.add(first + i, term);
            }
            assert_eq!(lanes.total(), 5.25, "terms starting in lane {first}");
        }
    }

    #[test]
    fn lanes_match_one_compensated_sum_to_an_ulp() {
        let terms: Vec<f64> = (0..10_000)
            .map(|i| ((i as f64) * 0.37).sin() * 10f64.powi(i % 7 - 3))
            .collect();
        let mut one = CompensatedSum::default();
        let mut lanes = CompensatedLanes::<4>::default();
        for (i, &term) in terms.iter().enumerate() {
            one.add(term);
            lanes.add(i, term);
        }
        let (a, b) = (one.total(), lanes.total());
        assert!((a - b).abs() <= f64::EPSILON * a.abs(), "{a} against {b}");
    }

    #[test]
    fn lanes_propagate_non_finite_terms() {
        let mut lanes = CompensatedLanes::<4>::default();
        lanes.add(0, 1.0);
        lanes.add(1, f64::INFINITY);
        assert_eq!(lanes.total(), f64::INFINITY);
        lanes.add(2, f64::NAN);
        assert!(lanes.total().is_nan());
    }
}
