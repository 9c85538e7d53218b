/**
 * The predictor (after seed 003's world model): a small model trained online
 * on the archive's outcomes that guesses, before the gauntlet runs, whether a
 * candidate will pass and how fast it will be, so the engine can order
 * candidates and skip the ones it is confident will fail or lose.
 *
 * Two models on the same standardised features, refit (closed form and
 * Newton steps, no dependency) on a sliding window of recent outcomes
 * whenever a prediction follows new data:
 * - L2-regularised logistic regression for "passes every gate";
 * - Bayesian ridge regression for ln(speedup) over passing candidates, with
 *   a residual spread shrunk toward a prior so few samples stay uncertain,
 *   and a predictive spread that grows for candidates unlike any seen
 *   (sd^2 * (1 + x^T A^-1 x), A the penalised normal matrix).
 * Speedups are over a fixed base the caller chooses (the engine uses the
 * reference kernel), so outcomes measured against different incumbents
 * stay comparable; the bar a candidate must clear is passed to predict().
 * The probability of a win is P(pass) * P(ln speedup > ln(bar * winMargin)
 * | pass) under a normal predictive distribution. Candidates are ranked by
 * P(pass) times the speedup under one draw of the ridge weights from their
 * posterior (Thompson sampling), a failure counting as nothing. Ranking by
 * the posterior mean kept a lineage where it started: its kernels carry
 * the genes of the early winner together (streaming stores with a split
 * over the pool, say), the mean credits all of them, and the child that
 * drops one never ranked first, so what each gene is worth was never
 * measured. A draw separates genes the data cannot tell apart, and gives
 * each a turn in proportion to the chance that it pays. A
 * candidate is skipped only when the model has
 * seen at least `minTrainingSamples` outcomes and that probability is below
 * `skipBelowWinProbability`; a fraction `auditFraction` of would-be skips is
 * evaluated anyway, and their outcomes say how many skipped ones would have
 * passed or won.
 */
import { invalidRangeError, invalidTypeError, requireFiniteNumber, requireInteger } from '../errors.js';
import { stripComments } from '../gauntlet/source-rules.js';
import type { AttemptRecord } from '../archive/types.js';
import type { AttemptOutcome } from './strategy-memory.js';

export interface Prediction {
  /** P(the candidate passes every gate). */
  passProbability: number;
  /** Expected speedup over the base, if it passes (the geometric mean of the model's belief). */
  expectedSpeedup: number;
  /** The predictive standard deviation of ln speedup: the residual spread and the model's own uncertainty here. */
  logSpeedupSd: number;
  /** P(it passes and beats the bar by winMargin). */
  winProbability: number;
  /** P(pass) * E[max(0, ln speedup - ln bar)]: how much it is expected to improve on the bar. */
  expectedImprovement: number;
  /** How sure the model is of win or not-win: max(winProbability, 1 - winProbability). */
  confidence: number;
  /** Outcomes the model was fit on. */
  trainedOn: number;
}

/** evaluate: run the gauntlet. skip: do not. audit: a would-be skip evaluated anyway, to check the model. */
export type PredictorDecision = 'evaluate' | 'skip' | 'audit';

export interface PredictorOptions {
  /** No skip before the model has seen this many outcomes (default 30). */
  minTrainingSamples?: number;
  /** Skip when the win probability is below this (default 0.05). */
  skipBelowWinProbability?: number;
  /** Fraction of would-be skips evaluated anyway (default 0.2). */
  auditFraction?: number;
  /** Speedup a win needs, as the benchmark's 3% margin (default 1.03). */
  winMargin?: number;
  /** The sliding window: outcomes kept for fitting (default 4096). */
  maxSamples?: number;
  /** L2 penalty on the standardised weights (default 1). */
  l2?: number;
}

export interface PredictorStats {
  /** Decisions made. */
  predicted: number;
  evaluated: number;
  skipped: number;
  audited: number;
  /** Audited candidates whose outcome came back, and how many of them passed or won. */
  auditOutcomes: number;
  auditedWouldHavePassed: number;
  auditedWouldHaveWon: number;
  /** skipped * (audited winners / audit outcomes): the skipped ones that would have won, estimated; null before any audit came back. */
  estimatedSkippedWinners: number | null;
}

interface Sample {
  features: number[];
  outcome: AttemptOutcome;
}

interface Fit {
  means: number[];
  scales: number[];
  /** Intercept first, then one weight per feature. */
  pass: Float64Array;
  logSpeedup: Float64Array;
  /** Cholesky factor of the ridge fit's penalised normal matrix, for the predictive spread. */
  ridgeFactor: Float64Array;
  residualSd: number;
}

/** The residual prior: ln speedups of passing kernels spread about 25%, worth two samples. */
const PRIOR_RESIDUAL_SD = 0.25;
const PRIOR_RESIDUAL_SAMPLES = 2;
/** A tiny penalty keeps the intercept finite when every sample is of one class. */
const INTERCEPT_L2 = 1e-2;
const NEWTON_ITERATIONS = 30;
/** Candidates expectedGain() averages over: about one generation of the variant search's proposals. */
const RECENT_CANDIDATES = 8;

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Φ, the standard normal CDF (Abramowitz and Stegun 7.1.26, error below 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The lower Cholesky factor L of a symmetric positive definite A (row-major, n x n): A = L L^T. */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j <= i; j += 1) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k += 1) sum -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = i === j ? Math.sqrt(Math.max(sum, 1e-12)) : sum / l[j * n + j]!;
    }
  }
  return l;
}

/** y with L y = b: half of a solve, and all that x^T A^-1 x = |y|^2 needs. */
function forwardSubstitute(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    let sum = b[i]!;
    for (let k = 0; k < i; k += 1) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  return y;
}

/** x with L^T x = y: the other half. */
function backSubstitute(l: Float64Array, y: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i -= 1) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k += 1) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}

/** Solves L L^T x = b. */
function solveFactored(l: Float64Array, b: Float64Array, n: number): Float64Array {
  return backSubstitute(l, forwardSubstitute(l, b, n), n);
}

/** A standard normal draw from uniform ones (Box-Muller). */
function standardNormal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Solves A x = b for a symmetric positive definite A (row-major, n x n). */
function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  return solveFactored(cholesky(a, n), b, n);
}

function dot(weights: Float64Array, row: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i += 1) sum += weights[i]! * row[i]!;
  return sum;
}

/** Penalised normal equations: X^T W X + P and X^T r, accumulated row by row. */
function weightedSystem(rows: Float64Array[], weights: ArrayLike<number>, residuals: ArrayLike<number>, l2: number) {
  const n = rows[0]!.length;
  const matrix = new Float64Array(n * n);
  const vector = new Float64Array(n);
  rows.forEach((row, index) => {
    const w = weights[index]!;
    for (let i = 0; i < n; i += 1) {
      vector[i] = vector[i]! + row[i]! * residuals[index]!;
      for (let j = 0; j <= i; j += 1) matrix[i * n + j] = matrix[i * n + j]! + w * row[i]! * row[j]!;
    }
  });
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < i; j += 1) matrix[j * n + i] = matrix[i * n + j]!;
    matrix[i * n + i] = matrix[i * n + i]! + (i === 0 ? INTERCEPT_L2 : l2);
  }
  return { matrix, vector };
}

/** ln(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** The penalised negative log-likelihood the logistic fit minimises. */
function logisticLoss(rows: Float64Array[], labels: number[], beta: Float64Array, l2: number): number {
  let loss = 0;
  rows.forEach((row, i) => {
    const z = dot(beta, row);
    loss += softplus(z) - labels[i]! * z;
  });
  beta.forEach((b, i) => {
    loss += 0.5 * (i === 0 ? INTERCEPT_L2 : l2) * b * b;
  });
  return loss;
}

/** Newton steps with backtracking: a full step can overshoot while the data are (nearly) separable. */
function fitLogistic(rows: Float64Array[], labels: number[], l2: number): Float64Array {
  const n = rows[0]!.length;
  let beta = new Float64Array(n);
  let loss = logisticLoss(rows, labels, beta, l2);
  for (let iteration = 0; iteration < NEWTON_ITERATIONS; iteration += 1) {
    const p = rows.map((row) => sigmoid(dot(beta, row)));
    const { matrix, vector } = weightedSystem(rows, p.map((pi) => Math.max(pi * (1 - pi), 1e-9)), labels.map((y, i) => y - p[i]!), l2);
    // The penalty's own gradient, so the solve gives the Newton step of the penalised likelihood.
    for (let i = 0; i < n; i += 1) vector[i] = vector[i]! - (i === 0 ? INTERCEPT_L2 : l2) * beta[i]!;
    const step = solveSpd(matrix, vector, n);
    let scale = 1;
    let next = beta.map((b, i) => b + step[i]!);
    let nextLoss = logisticLoss(rows, labels, next, l2);
    while (nextLoss > loss && scale > 1e-6) {
      scale /= 2;
      next = beta.map((b, i) => b + scale * step[i]!);
      nextLoss = logisticLoss(rows, labels, next, l2);
    }
    const largest = step.reduce((max, value) => Math.max(max, Math.abs(scale * value)), 0);
    if (nextLoss > loss) break;
    beta = next;
    loss = nextLoss;
    if (largest < 1e-8) break;
  }
  return beta;
}

interface RidgeFit {
  beta: Float64Array;
  factor: Float64Array;
  residualSd: number;
}

function fitRidge(rows: Float64Array[], targets: number[], l2: number, dimension: number): RidgeFit {
  if (rows.length === 0) {
    const { matrix } = weightedSystem([new Float64Array(dimension)], [0], [0], l2);
    return { beta: new Float64Array(dimension), factor: cholesky(matrix, dimension), residualSd: PRIOR_RESIDUAL_SD };
  }
  const { matrix, vector } = weightedSystem(rows, rows.map(() => 1), targets, l2);
  const factor = cholesky(matrix, dimension);
  const beta = solveFactored(factor, vector, dimension);
  const squares = rows.reduce((sum, row, i) => sum + (targets[i]! - dot(beta, row)) ** 2, 0);
  const variance = (squares + PRIOR_RESIDUAL_SAMPLES * PRIOR_RESIDUAL_SD ** 2) / (rows.length + PRIOR_RESIDUAL_SAMPLES);
  return { beta, factor, residualSd: Math.sqrt(variance) };
}

/** The standard normal density. */
function normalPdf(x: number): number {
  return Math.exp(-(x * x) / 2) / Math.sqrt(2 * Math.PI);
}

function probability(name: string, value: unknown, openAtZero = false): number {
  const number = requireFiniteNumber(name, value);
  if (number < 0 || number > 1 || (openAtZero && number === 0)) {
    throw invalidRangeError(name, openAtZero ? 'must be in (0, 1]' : 'must be in [0, 1]', value);
  }
  return number;
}

export class Predictor {
  readonly minTrainingSamples: number;
  readonly skipBelowWinProbability: number;
  readonly auditFraction: number;
  readonly winMargin: number;
  readonly maxSamples: number;
  readonly l2: number;
  private readonly samples: Sample[] = [];
  /** Features of the last candidates predicted or learned, the newest last: what the generator proposes now. */
  private readonly recent: number[][] = [];
  private timedOutcomes = 0;
  private dimension: number | null = null;
  private fit: Fit | null = null;
  private counts = {
    predicted: 0,
    evaluated: 0,
    skipped: 0,
    audited: 0,
    auditOutcomes: 0,
    auditedWouldHavePassed: 0,
    auditedWouldHaveWon: 0,
  };

  constructor(options: PredictorOptions = {}) {
    this.minTrainingSamples = requireInteger('minTrainingSamples', options.minTrainingSamples ?? 30, 1, 1_000_000);
    this.skipBelowWinProbability = probability('skipBelowWinProbability', options.skipBelowWinProbability ?? 0.05);
    this.auditFraction = probability('auditFraction', options.auditFraction ?? 0.2);
    this.winMargin = requireFiniteNumber('winMargin', options.winMargin ?? 1.03);
    if (this.winMargin <= 0) throw invalidRangeError('winMargin', 'must be a finite number > 0', this.winMargin);
    this.maxSamples = requireInteger('maxSamples', options.maxSamples ?? 4096, 1, 1_000_000);
    this.l2 = requireFiniteNumber('l2', options.l2 ?? 1);
    if (this.l2 <= 0) throw invalidRangeError('l2', 'must be a finite number > 0', this.l2);
  }

  /** Trains on every finished attempt of the archive, oldest first; `sampleOf` gives its features and outcome, or null to leave it out. */
  static fromRecords(
    records: readonly AttemptRecord[],
    sampleOf: (record: AttemptRecord) => { features: number[]; outcome: AttemptOutcome } | null,
    options?: PredictorOptions,
  ): Predictor {
    const predictor = new Predictor(options);
    for (const record of [...records].sort((a, b) => a.id - b.id)) {
      const sample = sampleOf(record);
      if (sample !== null) predictor.update(sample.features, sample.outcome);
    }
    return predictor;
  }

  get trainedOn(): number {
    return this.samples.length;
  }

  private checkFeatures(features: unknown): number[] {
    if (!Array.isArray(features)) throw invalidTypeError('features', 'an array of finite numbers', features);
    if (this.dimension !== null && features.length !== this.dimension) {
      throw invalidRangeError('features.length', `must be ${this.dimension}, the length the predictor was first given`, features.length);
    }
    features.forEach((value, index) => requireFiniteNumber(`features[${index}]`, value));
    this.dimension ??= features.length;
    return features as number[];
  }

  /** Learns one evaluated candidate; `decision` "audit" marks one the model wanted to skip. */
  update(features: number[], outcome: AttemptOutcome, decision: PredictorDecision = 'evaluate'): void {
    this.samples.push({ features: [...this.checkFeatures(features)], outcome: { ...outcome } });
    if (this.samples.length > this.maxSamples) this.samples.shift();
    if (outcome.passed && outcome.speedup !== null && outcome.speedup > 0) this.timedOutcomes += 1;
    this.remember(features);
    this.fit = null;
    if (decision === 'audit') {
      this.counts.auditOutcomes += 1;
      if (outcome.passed) this.counts.auditedWouldHavePassed += 1;
      if (outcome.won) this.counts.auditedWouldHaveWon += 1;
    }
  }

  private standardise(features: readonly number[], fit: Pick<Fit, 'means' | 'scales'>): Float64Array {
    const row = new Float64Array(features.length + 1);
    row[0] = 1;
    features.forEach((value, i) => {
      row[i + 1] = (value - fit.means[i]!) / fit.scales[i]!;
    });
    return row;
  }

  private refit(): Fit {
    const dimension = this.dimension ?? 0;
    const count = this.samples.length;
    const means = Array.from({ length: dimension }, (_, i) => this.samples.reduce((sum, s) => sum + s.features[i]!, 0) / Math.max(1, count));
    const scales = means.map((mean, i) => {
      const variance = this.samples.reduce((sum, s) => sum + (s.features[i]! - mean) ** 2, 0) / Math.max(1, count);
      return variance > 1e-24 ? Math.sqrt(variance) : 1;
    });
    const rows = this.samples.map((sample) => this.standardise(sample.features, { means, scales }));
    const labels = this.samples.map((sample) => (sample.outcome.passed ? 1 : 0));
    const pass = count === 0 ? new Float64Array(dimension + 1) : fitLogistic(rows, labels, this.l2);
    const timed = this.samples.flatMap(({ outcome }, i) =>
      outcome.passed && outcome.speedup !== null && outcome.speedup > 0 ? [{ row: rows[i]!, target: Math.log(outcome.speedup) }] : [],
    );
    const ridge = fitRidge(timed.map((t) => t.row), timed.map((t) => t.target), this.l2, dimension + 1);
    return { means, scales, pass, logSpeedup: ridge.beta, ridgeFactor: ridge.factor, residualSd: ridge.residualSd };
  }

  /**
   * What the model expects of a candidate with these features against a
   * bar of `barSpeedup` (the incumbent's speedup over the same base as the
   * outcomes'; default 1, for outcomes measured against the incumbent itself).
   */
  predict(features: number[], barSpeedup = 1): Prediction {
    const checked = this.checkFeatures(features);
    if (!(barSpeedup > 0) || !Number.isFinite(barSpeedup)) throw invalidRangeError('barSpeedup', 'must be a finite number > 0', barSpeedup);
    this.remember(checked);
    return this.estimate(checked, barSpeedup);
  }

  /**
   * What the next candidate is expected to improve on a bar of
   * `barSpeedup`, in ln speedup (Prediction.expectedImprovement): the mean
   * over the last candidates the model saw, predicted or learned, under the
   * current fit, the generator's next proposal being taken to resemble its
   * recent ones. null until a candidate has passed with a measured speedup:
   * before that the ridge model's prior (no speedup at all) says nothing
   * about what a search of this space finds.
   */
  expectedGain(barSpeedup = 1): number | null {
    if (!(barSpeedup > 0) || !Number.isFinite(barSpeedup)) throw invalidRangeError('barSpeedup', 'must be a finite number > 0', barSpeedup);
    if (this.timedOutcomes === 0 || this.recent.length === 0) return null;
    const gains = this.recent.map((features) => this.estimate(features, barSpeedup).expectedImprovement);
    return gains.reduce((sum, gain) => sum + gain, 0) / gains.length;
  }

  private remember(features: readonly number[]): void {
    this.recent.push([...features]);
    if (this.recent.length > RECENT_CANDIDATES) this.recent.shift();
  }

  private estimate(checked: readonly number[], barSpeedup: number): Prediction {
    this.fit ??= this.refit();
    const row = this.standardise(checked, this.fit);
    const passProbability = this.passProbability(this.fit, row);
    const meanLogSpeedup = dot(this.fit.logSpeedup, row);
    const leverage = forwardSubstitute(this.fit.ridgeFactor, row, row.length).reduce((sum, y) => sum + y * y, 0);
    const logSpeedupSd = this.fit.residualSd * Math.sqrt(1 + leverage);
    const bar = Math.log(barSpeedup);
    const winProbability = passProbability * normalCdf((meanLogSpeedup - bar - Math.log(this.winMargin)) / logSpeedupSd);
    const z = (meanLogSpeedup - bar) / logSpeedupSd;
    const expectedImprovement = passProbability * (logSpeedupSd * normalPdf(z) + (meanLogSpeedup - bar) * normalCdf(z));
    return {
      passProbability,
      expectedSpeedup: Math.exp(meanLogSpeedup),
      logSpeedupSd,
      winProbability,
      expectedImprovement,
      confidence: Math.max(winProbability, 1 - winProbability),
      trainedOn: this.samples.length,
    };
  }

  /**
   * Indices of the candidates, the most promising first, by P(pass) x
   * speedup, the speedup under one draw of the ridge weights from their
   * posterior (Thompson sampling; see above); without `random`, under the
   * posterior mean. Ties keep their order.
   */
  rank(candidates: number[][], random?: () => number): number[] {
    const checked = candidates.map((features) => this.checkFeatures(features));
    this.fit ??= this.refit();
    const fit = this.fit;
    const weights = random === undefined ? fit.logSpeedup : this.posteriorDraw(fit, random);
    const promise = checked.map((features) => {
      const row = this.standardise(features, fit);
      return this.passProbability(fit, row) * Math.exp(dot(weights, row));
    });
    return promise.map((_, i) => i).sort((a, b) => promise[b]! - promise[a]! || a - b);
  }

  /** P(pass) of a standardised row; a coin toss before any outcome. */
  private passProbability(fit: Fit, row: Float64Array): number {
    return this.samples.length === 0 ? 0.5 : sigmoid(dot(fit.pass, row));
  }

  /** Ridge weights drawn from N(beta, sd^2 A^-1): beta + sd L^-T z, with A = L L^T and z standard normal. */
  private posteriorDraw(fit: Fit, random: () => number): Float64Array {
    const n = fit.logSpeedup.length;
    const z = Array.from({ length: n }, () => standardNormal(random));
    const offset = backSubstitute(fit.ridgeFactor, z, n);
    return fit.logSpeedup.map((beta, i) => beta + fit.residualSd * offset[i]!);
  }

  /** Whether to run the gauntlet on a candidate; `random` is the engine's seeded source. */
  decide(prediction: Prediction, random: () => number): PredictorDecision {
    this.counts.predicted += 1;
    const confidentLoser = prediction.trainedOn >= this.minTrainingSamples && prediction.winProbability < this.skipBelowWinProbability;
    const decision: PredictorDecision = !confidentLoser ? 'evaluate' : random() < this.auditFraction ? 'audit' : 'skip';
    if (decision === 'evaluate') this.counts.evaluated += 1;
    else if (decision === 'audit') this.counts.audited += 1;
    else this.counts.skipped += 1;
    return decision;
  }

  stats(): PredictorStats {
    const { auditOutcomes, auditedWouldHaveWon, skipped } = this.counts;
    return {
      ...this.counts,
      estimatedSkippedWinners: auditOutcomes === 0 ? null : (skipped * auditedWouldHaveWon) / auditOutcomes,
    };
  }
}

interface SourceFeature {
  name: string;
  /** Occurrences in the source with comments and string literals blanked. */
  pattern: RegExp;
}

/** What `sourceFeatures` measures, in order; each count enters as ln(1 + count). */
export const SOURCE_FEATURES: readonly SourceFeature[] = [
  { name: 'for loops', pattern: /\bfor\s*\(/g },
  { name: 'while loops', pattern: /\bwhile\s*\(/g },
  { name: 'parallel_for calls', pattern: /\bparallel_for\b/g },
  { name: '__restrict qualifiers', pattern: /\b__restrict(?:__)?\b/g },
  { name: 'pragmas', pattern: /^[ \t]*#[ \t]*pragma\b/gm },
  { name: 'unroll hints', pattern: /#[ \t]*pragma[ \t]+(?:GCC[ \t]+unroll|unroll|clang[ \t]+loop[ \t]+unroll)/g },
  {
    name: 'vectorisation hints',
    pattern: /#[ \t]*pragma[ \t]+(?:omp[ \t]+simd|GCC[ \t]+ivdep|clang[ \t]+loop[ \t]+vectorize)|__builtin_assume_aligned|\balignas\b/g,
  },
  { name: 'streaming stores', pattern: /__builtin_nontemporal_store/g },
  { name: 'other builtins', pattern: /\b__builtin_(?!nontemporal_store|assume_aligned)\w+/g },
  { name: '% operators', pattern: /%(?!=)/g },
  { name: '/ operators', pattern: /\/(?![=/*])/g },
  { name: 'branches', pattern: /\bif\s*\(|\?/g },
  { name: 'templates', pattern: /\btemplate\s*</g },
  { name: 'inline hints', pattern: /\binline\b|__attribute__\s*\(\(\s*always_inline/g },
];

/** Names of the numbers `sourceFeatures` returns, in order. */
export const SOURCE_FEATURE_NAMES: readonly string[] = [
  'ln bytes',
  'ln lines',
  ...SOURCE_FEATURES.map((feature) => `ln(1 + ${feature.name})`),
];

/** Numeric features of a kernel's C++ source, for the predictor. */
export function sourceFeatures(source: string): number[] {
  const code = stripComments(source);
  return [
    Math.log1p(Buffer.byteLength(source, 'utf8')),
    Math.log1p(source.split('\n').length),
    ...SOURCE_FEATURES.map(({ pattern }) => Math.log1p(code.match(pattern)?.length ?? 0)),
  ];
}
