/** What the parts of `ouroboros bench watchdog` share: the lattice they step and how their rounds are summed up. */
import { median } from '../util/median.js';

/** The time step of every lattice the bench runs (its Courant number in 2-D), and the kernel it steps. */
export const DT = 0.6;
export const KERNEL = 'rows';

export interface RoundedFigure {
  /** Median over rounds of (with - without) / without, in percent. */
  medianPct: number;
  roundPct: number[];
}

export function rounded(roundPct: number[]): RoundedFigure {
  return { medianPct: median(roundPct), roundPct };
}
