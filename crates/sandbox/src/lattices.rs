//! The lattices the checks run on: never the benchmark's, always including
//! extent 3, odd and prime extents, one even one, and every dimension count.

/// The largest lattice a correctness case uses, to keep a run short.
pub const MAX_CASE_CELLS: usize = 20_000;

const PRIMES: [usize; 9] = [7, 5, 11, 3, 13, 5, 3, 7, 3];

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

/// Three lattices of `dims` axes: all extent 3, odd primes, and odd extents
/// with an even last axis.
pub fn differential_extents(dims: usize) -> Vec<Vec<usize>> {
    let primes = (0..dims)
        .map(|a| PRIMES[(a + dims) % PRIMES.len()] + if dims == 1 { 24 } else { 0 })
        .collect();
    let mixed = (0..dims)
        .map(|a| if a + 1 == dims { 8 } else { 3 + 2 * (a % 3) })
        .collect();
    vec![vec![3; dims], capped(primes), capped(mixed)]
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
        for dims in 1..=9 {
            let sets = differential_extents(dims);
            assert_eq!(sets[0], vec![3; dims]);
            for extents in &sets {
                assert_eq!(extents.len(), dims);
                assert!(extents.iter().all(|&n| n >= 3));
                assert!(extents.iter().product::<usize>() <= MAX_CASE_CELLS);
            }
        }
    }

    #[test]
    fn extents_parse_or_name_the_problem() {
        assert_eq!(parse_extents("128,96").unwrap(), vec![128, 96]);
        assert!(parse_extents("2,5").unwrap_err().contains(">= 3"));
        assert!(parse_extents("a").unwrap_err().contains("not an integer"));
    }
}
