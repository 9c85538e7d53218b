//! SplitMix64: small, seedable and the same on every machine, so that every
//! random state, dojo waveform and test field is reproducible from its seed.
//!
//! The sandbox draws the states it checks kernels on from it and the oracle's
//! tests their data; it lives here because both are on the checking side and
//! the sandbox already depends on the oracle, while nothing the kernels are
//! built from does.

/// The generator: a 64-bit counter stepped by the golden-ratio increment and
/// mixed by Stafford's variant 13 finaliser.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform integer in [low, high].
    pub fn int(&mut self, low: usize, high: usize) -> usize {
        low + (self.next_u64() % (high - low + 1) as u64) as usize
    }

    /// `count` values uniform in [-amplitude, amplitude).
    pub fn field(&mut self, count: usize, amplitude: f64) -> Vec<f64> {
        (0..count)
            .map(|_| self.range(-amplitude, amplitude))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    /// The reference stream for seed 0 (Vigna's splitmix64.c): a change to the
    /// constants or the shifts would change every seeded state in the project.
    #[test]
    fn matches_the_reference_stream() {
        let mut rng = SplitMix64::new(0);
        let drawn: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            drawn,
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = SplitMix64::new(42);
        for _ in 0..1000 {
            let value = rng.range(-3.0, 3.0);
            assert!((-3.0..3.0).contains(&value));
            assert!((5..=9).contains(&rng.int(5, 9)));
        }
        assert!(rng.field(100, 0.5).iter().all(|v| (-0.5..0.5).contains(v)));
    }
}
