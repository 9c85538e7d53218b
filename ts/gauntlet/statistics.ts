/**
 * The benchmark's statistics, from raw interleaved times: medians, a
 * bootstrap interval of the ratio of medians and a two-sided Mann-Whitney U
 * test. Deterministic: the bootstrap draws from a seeded generator.
 */
import { seededRandom } from '../util/random.js';
import type { BenchmarkStatistics } from './types.js';
import { median } from '../util/median.js';

export { median };

const BOOTSTRAP_RESAMPLES = 1000;
export const SIGNIFICANCE = 0.05;
/**
 * The smallest change in time that counts as faster or slower: two builds of
 * the same code can differ by a percent or two, which enough samples make
 * "significant" without it being an improvement worth a swap.
 */
export const MIN_EFFECT = 0.03;

function resample(values: readonly number[], random: () => number): number[] {
  return values.map(() => values[Math.floor(random() * values.length)]!);
}

/** 95% percentile-bootstrap interval of median(a) / median(b). */
export function bootstrapRatioInterval(a: readonly number[], b: readonly number[], seed = 1): [number, number] {
  const random = seededRandom(seed);
  const ratios: number[] = [];
  for (let i = 0; i < BOOTSTRAP_RESAMPLES; i += 1) ratios.push(median(resample(a, random)) / median(resample(b, random)));
  ratios.sort((x, y) => x - y);
  return [ratios[Math.floor(0.025 * BOOTSTRAP_RESAMPLES)]!, ratios[Math.ceil(0.975 * BOOTSTRAP_RESAMPLES) - 1]!];
}

/** Standard normal upper tail, Abramowitz-Stegun 7.1.26 (error < 1.5e-7). */
function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** Two-sided Mann-Whitney U p-value, normal approximation with tie correction. */
export function mannWhitneyP(a: readonly number[], b: readonly number[]): number {
  const all = [...a.map((v) => ({ v, fromA: true })), ...b.map((v) => ({ v, fromA: false }))].sort((x, y) => x.v - y.v);
  const n = all.length;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && all[j + 1]!.v === all[i]!.v) j += 1;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k += 1) if (all[k]!.fromA) rankSumA += rank;
    const ties = j - i + 1;
    tieTerm += ties ** 3 - ties;
    i = j + 1;
  }
  const [n1, n2] = [a.length, b.length];
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return Math.min(1, 2 * normalTail(Math.max(0, z)));
}

export function compareTimes(lattice: string, extents: number[], steps: number, candidateNs: number[], incumbentNs: number[]): BenchmarkStatistics {
  const candidateMedianNs = median(candidateNs);
  const incumbentMedianNs = median(incumbentNs);
  const [ratioLow, ratioHigh] = bootstrapRatioInterval(candidateNs, incumbentNs);
  const pValue = mannWhitneyP(candidateNs, incumbentNs);
  const significant = pValue < SIGNIFICANCE;
  const verdict = significant && ratioHigh < 1 - MIN_EFFECT ? 'faster' : significant && ratioLow > 1 + MIN_EFFECT ? 'slower' : 'indistinguishable';
  return {
    lattice,
    extents,
    steps,
    samples: candidateNs.length,
    candidateMedianNs,
    incumbentMedianNs,
    ratio: candidateMedianNs / incumbentMedianNs,
    ratioLow,
    ratioHigh,
    pValue,
    verdict,
  };
}
