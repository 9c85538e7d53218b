/**
 * The sequential test of a live A/B trial: the incumbent (A) and the
 * candidate (B) take turns on the live lattice in short windows, A B then
 * B A (so a load that drifts linearly over a pair and the next cancels), and
 * after every pair this decides whether the answer is clear.
 *
 * Each pair gives one ratio, candidate over incumbent MLUPS. The estimate is
 * their geometric mean, with a Student-t interval on the log ratios; the
 * interval is taken at level 1 - FALSE_DECISION_RATE / maxPairs at every
 * look, so that over all the looks of a trial the chance that one of them
 * decides wrongly is at most FALSE_DECISION_RATE (Bonferroni). A win needs
 * the whole interval above 1 + minGain (a gain worth a swap, as the
 * sandbox's benchmark demands 3%); a loss is declared as soon as the whole
 * interval lies below it, when the candidate cannot be such a win. A trial
 * that reaches maxPairs undecided is a loss: not applied.
 *
 * Pure: no clock, no lattice. live-changes.ts runs the windows.
 */

/** One A window and one B window, back to back. */
export interface PairedWindows {
  incumbentMlups: number;
  candidateMlups: number;
}

export interface AbSettings {
  /** Least relative gain that is a win: 0.03 asks for 3% more throughput. */
  minGain: number;
  /** Pairs after which an undecided trial stops as a loss; also spreads the error rate over the looks. */
  maxPairs: number;
}

export type AbDecision = 'continue' | 'win' | 'lose';

export interface AbVerdict {
  decision: AbDecision;
  pairs: number;
  /** Candidate over incumbent throughput, the geometric mean of the pairs' ratios (NaN before any usable pair). */
  ratio: number;
  /** Its interval at the look's level; [0, Infinity] while there are too few pairs to bound it. */
  low: number;
  high: number;
  /** One sentence: the figures and why it stopped, or why it goes on. */
  reason: string;
}

/** The chance, over a whole trial, that a look declares a win or a loss the truth does not support. */
export const FALSE_DECISION_RATE = 0.05;
/** Pairs before any decision: the interval needs two log ratios for a spread. */
export const MIN_PAIRS = 2;

/** ln Gamma(x), Lanczos (g = 7, n = 9): 15 significant digits for x > 0. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < 9; i += 1) sum += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The continued fraction of the regularised incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let h = d;
  for (let m = 1; m <= 300; m += 1) {
    const m2 = 2 * m;
    for (const numerator of [(m * (b - m) * x) / ((a + m2 - 1) * (a + m2)), (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))]) {
      d = 1 + numerator * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + numerator / c;
      if (Math.abs(c) < tiny) c = tiny;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}

/** I_x(a, b), the regularised incomplete beta function. */
function incompleteBeta(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** P(T > t) for Student's t with `df` degrees of freedom, t >= 0. */
export function studentTUpperTail(t: number, df: number): number {
  return 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t * t));
}

/** The t with P(T > t) = `tail`, by bisection on the tail (monotone), to a relative 1e-12. */
export function studentTQuantile(tail: number, df: number): number {
  let low = 0;
  let high = 1;
  while (studentTUpperTail(high, df) > tail) high *= 2;
  while (high - low > 1e-12 * high) {
    const middle = (low + high) / 2;
    if (studentTUpperTail(middle, df) > tail) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

function figures(verdict: Pick<AbVerdict, 'pairs' | 'ratio' | 'low' | 'high'>): string {
  const interval = Number.isFinite(verdict.high) ? ` [${verdict.low.toFixed(3)}, ${verdict.high.toFixed(3)}]` : '';
  return `candidate/incumbent ${verdict.ratio.toFixed(3)}${interval} over ${verdict.pairs} pair${verdict.pairs === 1 ? '' : 's'}`;
}

/**
 * The decision after the pairs so far. A pair with a window that measured
 * no throughput (no step ran) says nothing and is left out.
 */
export function abVerdict(windows: readonly PairedWindows[], settings: AbSettings): AbVerdict {
  const logs = windows.filter((w) => w.incumbentMlups > 0 && w.candidateMlups > 0).map((w) => Math.log(w.candidateMlups / w.incumbentMlups));
  const n = logs.length;
  const mean = n > 0 ? logs.reduce((sum, x) => sum + x, 0) / n : Number.NaN;
  const target = 1 + settings.minGain;
  const atCap = windows.length >= settings.maxPairs;
  if (n < MIN_PAIRS) {
    const verdict = { pairs: n, ratio: Math.exp(mean), low: 0, high: Infinity };
    if (!atCap) return { ...verdict, decision: 'continue', reason: `${figures(verdict)}: too few pairs to decide` };
    return { ...verdict, decision: 'lose', reason: `${figures(verdict)}: undecided after ${windows.length} pairs (trial.maxPairs)` };
  }
  const variance = logs.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (n - 1);
  const halfWidth = studentTQuantile(FALSE_DECISION_RATE / settings.maxPairs / 2, n - 1) * Math.sqrt(variance / n);
  const verdict = { pairs: n, ratio: Math.exp(mean), low: Math.exp(mean - halfWidth), high: Math.exp(mean + halfWidth) };
  const gain = `${(settings.minGain * 100).toFixed(1)}%`;
  if (verdict.low > target) return { ...verdict, decision: 'win', reason: `${figures(verdict)}: faster by more than ${gain}` };
  if (verdict.high < target) return { ...verdict, decision: 'lose', reason: `${figures(verdict)}: cannot be ${gain} faster` };
  if (atCap) return { ...verdict, decision: 'lose', reason: `${figures(verdict)}: undecided after ${windows.length} pairs (trial.maxPairs)` };
  return { ...verdict, decision: 'continue', reason: `${figures(verdict)}: not clear yet` };
}
