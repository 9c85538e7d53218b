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
import type { AttemptRecord } from '../archive/types.js';
import { backSubstitute, dot, fitLogistic, fitRidge, forwardSubstitute, normalCdf, normalPdf, sigmoid, standardNormal } from './regression.js';
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

/** Candidates expectedGain() averages over: about one generation of the variant search's proposals. */
const RECENT_CANDIDATES = 8;

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
    const ridge = fitRidge(
      timed.map((t) => t.row),
      timed.map((t) => t.target),
      this.l2,
      dimension + 1,
    );
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
