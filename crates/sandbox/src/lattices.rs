//! The lattices the checks run on: always including extent 3, odd extents
//! drawn from the run's seed, one even one, and every dimension count; and
//! a cell's flat index to its coordinates and back.

use crate::rng::Rng;

/// The largest lattice a correctness case uses, to keep a run short.
pub const MAX_CASE_CELLS: usize = 20_000;

/// The largest drawn extent for each dimension count, so that a drawn
/// lattice stays near `MAX_CASE_CELLS` before capping.
const DRAWN_LIMIT: [usize; 10] = [0, 61, 41, 21, 11, 7, 5, 5, 3, 3];

/// The coordinates of the flat index `cell` (row-major, last axis fastest).
pub fn coords(extents: &[usize], mut cell: usize) -> Vec<usize> {
    let mut coords = vec![0; extents.len()];
    for axis in (0..extents.len()).rev() {
        coords[axis] = cell % extents[axis];
        cell /= extents[axis];
    }
    coords
}

/// The flat index of `coords`, the inverse of [`coords`].
pub fn flat(extents: &[usize], coords: &[usize]) -> usize {
    coords
        .iter()
        .zip(extents)
        .fold(0, |index, (&x, &n)| index * n + x)
}

fn capped(mut extents: Vec<usize>) -> Vec<usize> {
    while extents.iter().product::<usize>() > MAX_CASE_CELLS {
        let largest = (0..extents.len())
            .max_by_key(|&a| extents[a])
            .expect("at least one axis");
        extents[largest] = if extents[largest] > 4 {
            (extents[largest] / 2) | 1
        } else {
            3
        };
    }
    extents
}

/// Three lattices of `dims` axes: all extent 3, odd extents drawn from
/// `rng`, and odd extents with an even last axis.
pub fn differential_extents(dims: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let drawn = (0..dims)
        .map(|_| rng.int(1, DRAWN_LIMIT[dims].max(3) / 2) * 2 + 1)
        .collect();
    let mixed = (0..dims)
        .map(|a| if a + 1 == dims { 8 } else { 3 + 2 * (a % 3) })
        .collect();
    vec![vec![3; dims], capped(drawn), capped(mixed)]
}

/// The held-out benchmark lattice, drawn for every evaluation so that no
/// kernel can learn it: `dims` odd extents (at least 3), each within 15%
/// of the `dims`-th root of `cells`, so the lattice keeps the size asked for
/// to within a factor of about 1.3 either way in 2-D.
pub fn held_out_extents(dims: usize, cells: usize, rng: &mut Rng) -> Vec<usize> {
    let base = (cells as f64).powf(1.0 / dims as f64);
    let low = ((base * 0.85) as usize).max(3) / 2;
    let high = ((base * 1.15) as usize).max(3) / 2;
    (0..dims).map(|_| rng.int(low, high) * 2 + 1).collect()
}

/// Parses "128,128" into extents; each must be >= 3, 1..=9 of them.
pub fn parse_extents(text: &str) -> Result<Vec<usize>, String> {
    let extents: Vec<usize> = text
        .split(',')
        .map(|part| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| format!("extents \"{text}\": \"{part}\" is not an integer"))
        })
        .collect::<Result<_, _>>()?;
    if extents.is_empty() || extents.len() > 9 || extents.iter().any(|&n| n < 3) {
        return Err(format!(
            "extents \"{text}\": need 1 to 9 integers, each >= 3"
        ));
    }
    Ok(extents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dimension_count_gets_small_odd_and_extent_3_lattices() {
        let mut rng = Rng::new(7);
        for dims in 1..=9 {
            let sets = differential_extents(dims, &mut rng);
            assert_eq!(sets[0], vec![3; dims]);
            for extents in &sets {
                assert_eq!(extents.len(), dims);
                assert!(extents.iter().all(|&n| n >= 3));
                assert!(extents.iter().product::<usize>() <= MAX_CASE_CELLS);
            }
        }
    }

    #[test]
    fn the_held_out_lattice_is_odd_sized_like_the_live_one_and_drawn_afresh() {
        let mut rng = Rng::new(11);
        for dims in 1..=9 {
            let extents = held_out_extents(dims, 8192, &mut rng);
            assert_eq!(extents.len(), dims);
            assert!(extents.iter().all(|&n| n >= 3 && n % 2 == 1), "{extents:?}");
            let cells: usize = extents.iter().product();
            assert!(cells <= 3 * 8192, "{extents:?}");
        }
        let drawn: std::collections::HashSet<Vec<usize>> = (0..20)
            .map(|_| held_out_extents(2, 8192, &mut rng))
            .collect();
        assert!(drawn.len() > 10, "{drawn:?}");
    }

    #[test]
    fn extents_parse_or_name_the_problem() {
        assert_eq!(parse_extents("128,96").unwrap(), vec![128, 96]);
        assert!(parse_extents("2,5").unwrap_err().contains(">= 3"));
        assert!(parse_extents("a").unwrap_err().contains("not an integer"));
    }
}
