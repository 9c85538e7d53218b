/**
 * The search's economy: what the improvement attempts cost the live
 * simulation against what the next one can still win, and the pacing that
 * follows (attempts in flight, wait before the next start). Pure: the clock,
 * the costs and the gain arrive as numbers, so tests drive it with synthetic
 * ones.
 *
 * Cost, in lattice-seconds (wall seconds of the live job's stepping lost):
 * - time the live lattice was held at a step boundary (HeldClock), counted
 *   whole;
 * - CPU of the engine's child processes (compiles, analysers, sandbox runs:
 *   cutime + cstime of this process), times `childCpuCost` lattice-seconds
 *   per CPU-second. The lattice keeps both cores busy with threads that meet
 *   at a barrier every step, so a child's slice on one core stalls the
 *   other thread too: on this project's 2-core VM with a 2-thread kernel at
 *   4096^2, a nice-0 busy loop cost 1.1 to 2.2 lattice-seconds per CPU-second
 *   it got, and one at nice 10 (where the compiler and the analysers run)
 *   4 to 5, in the few CPU-seconds the scheduler gave it. Child CPU spent
 *   while the lattice was held is the held work's own and is not charged
 *   twice: up to `cores` CPU-seconds per held second are left out;
 * - throughput a live trial lost, as measured by the trial (chargeTrialLoss).
 *
 * The warm start's re-verification (warm-start.ts) is a cost of the run
 * but of no attempt: the CPU of its sandbox run is booked apart
 * (chargeReverification). It stays in the run's cost, which the governor
 * spends against, and is left out of what attempts are charged, so it does
 * not make attempts look dearer, in this run or, through the archive, the
 * next (a warm run booked a re-verification's 4 CPU-seconds as its first
 * attempt's cost, 13.2 lattice-seconds; bench net, session 13).
 *
 * An attempt's cost is the mean over the attempts that ended in this run
 * (of the cost they caused: the re-verification's is left out).
 * Before one has, it is what attempts cost earlier runs on this machine and
 * lattice (`carriedAttemptCost`: the median of the last few, kept in the
 * archive, attempt-costs.ts), and only for a machine and lattice never
 * measured the prior `priorAttemptCostSeconds`. At 4096^2 a real attempt
 * costs several times the prior, so a run on an archive that already
 * converged would otherwise start one attempt that paid only on paper.
 * Each attempt that ends is charged the cost measured since the previous
 * one ended (attemptFinished), so the charges add up to the run's cost
 * less the re-verification's.
 *
 * Gain, in lattice-seconds: if the next attempt wins, the live kernel runs
 * faster by a fraction f for the rest of the run, which is worth f x the
 * remaining seconds (less the attempt's own duration, measured). f is
 * e^g - 1 for the predictor's expected ln-speedup improvement g of the next
 * candidate over the incumbent (Predictor.expectedGain), bounded by the
 * headroom under a measured ceiling: ceiling / live MLUPS - 1. Two ceilings
 * are measured and the larger is taken, since each bounds only some
 * kernels: the roofline of one sweep's memory traffic (a kernel that sweeps
 * the lattice once per step cannot pass it) and the live kernel's rate on a
 * lattice that fits in cache (in-cache-ceiling.ts: a temporally blocked
 * kernel passes the roofline, not the rate of its own code without memory
 * stalls). The remaining seconds are the run's known end
 * (--duration, budget.maxWallSeconds) less the time spent; with no known end,
 * the run is taken to go on at least `horizonSeconds`, or as long again as
 * it has run so far, whichever is longer.
 *
 * States: `searching` while the expected gain pays for an attempt's
 * measured cost: the configured interval, and the configured concurrency
 * while the gain is at least CONCURRENT_GAIN_RATIO times the cost, else one
 * in flight. With no gain estimate yet (no candidate has passed) the search
 * goes on with one in flight: nothing is won yet, and on 2 cores a second
 * attempt beside the first only delays the first win; so the first attempt
 * is never starved. `backed-off` once the gain no longer pays: one attempt
 * in flight, started only when the cost since backing off plus the next
 * attempt's expected cost stays within `maxDegradation` of the wall time
 * since then (the converged engine costs the simulation at most that
 * fraction: seed 002's governor). Backed off, the economy judges again when
 * an attempt ends (a new result can raise the gain) and resumes when it pays;
 * a change (an applied or rolled-back kernel, another bottleneck slot)
 * resumes it at once with one probing attempt.
 *
 * A run that starts where an earlier one ended backed off (the same live
 * module, generator, machine and lattice: convergence.ts) starts backed off
 * on that run's figures (startConverged) instead of paying for an attempt
 * to learn again that attempts do not pay; the governor and the changes
 * above then work as after any back-off. The figures a back-off was decided
 * on (converged()) are what the archive keeps for that later run.
 */

export type EconomyState = 'searching' | 'backed-off';

export interface EconomyOptions {
  /** Milliseconds on the engine's monotonic clock. */
  now: () => number;
  /** Fraction of the wall time the search may cost once it has backed off. */
  maxDegradation: number;
  /** Lattice-seconds one CPU-second of a child process costs. */
  childCpuCost: number;
  /** Cores of the machine: CPU-seconds per held second that are the held work's own. */
  cores: number;
  /** Assumed remaining run time when the run's end is not known. */
  horizonSeconds: number;
  /** The configured concurrency and least time between two starts. */
  maxConcurrent: number;
  intervalMs: number;
  /** What an attempt is taken to cost before one has ended in this run, when no earlier run measured one. */
  priorAttemptCostSeconds: number;
  /** What attempts cost earlier runs on this machine and lattice; null: never measured. */
  carriedAttemptCost?: CarriedAttemptCost | null;
}

/** Earlier runs' measured attempt costs under this run's key (attempt-costs.ts). */
export interface CarriedAttemptCost {
  /** Lattice-seconds and wall seconds per attempt: medians of the last `attempts`. */
  costSeconds: number;
  wallSeconds: number;
  attempts: number;
}

/**
 * Where the attempt cost a decision was judged by comes from: this run's
 * ended attempts, earlier runs' (carried in the archive), or the prior.
 */
export type AttemptCostSource = { kind: 'measured'; attempts: number } | { kind: 'carried'; attempts: number } | { kind: 'prior'; attempts: 0 };

/** The source as a clause for a sentence: "measured over 3 attempts of this run". */
export function describeCostSource(source: AttemptCostSource): string {
  const attempts = `${source.attempts} ${source.attempts === 1 ? 'attempt' : 'attempts'}`;
  if (source.kind === 'measured') return `measured over ${attempts} of this run`;
  if (source.kind === 'carried') return `carried from ${attempts} of earlier runs on this machine and lattice`;
  return 'the prior: no attempt measured on this machine and lattice';
}

/** What one ended attempt was charged (attemptFinished). */
export interface AttemptCharge {
  costSeconds: number;
  wallSeconds: number;
}

/** Cumulative measurements since the run began. */
export interface CostReadings {
  heldSeconds: number;
  childCpuSeconds: number;
}

/** What the economy needs to know at a decision. */
export interface EconomyView {
  /** Cumulative costs measured so far. */
  readings: CostReadings;
  /** Seconds until the run's known end, or null when it has none. */
  remainingSeconds: number | null;
  /** The predictor's expected ln-speedup improvement of the next attempt over the incumbent; null: unknown. */
  expectedImprovement: number | null;
  /** The live kernel's recent free-running MLUPS; null: unknown. */
  liveMlups: number | null;
  /** The ceilings measured so far (null: not measured); the larger bounds the gain. */
  rooflineMlups: number | null;
  inCacheMlups: number | null;
}

export type CeilingKind = 'roofline' | 'in-cache';

/** The figures a back-off was decided on: what the archive keeps when a run ends backed off (convergence.ts). */
export interface ConvergedFigures {
  /** Lattice-seconds the next attempt was expected to win, and what one was judged to cost. */
  expectedGainSeconds: number;
  attemptCostSeconds: number;
  /** The ceiling that bounded the gain; null: none was known. */
  ceiling: { kind: CeilingKind; mlups: number } | null;
  /** The live step module's in-cache rate, when measured (whichever ceiling was larger). */
  inCacheMlups: number | null;
  /** The live kernel's free-running MLUPS; null: no free sample yet. */
  liveMlups: number | null;
}

/**
 * Whether the roofline bounds what the search hopes for: the live kernel is
 * at or above it, or its headroom under it is below the predictor's
 * expected improvement. Only then is the in-cache ceiling worth measuring
 * (it holds the live lattice): a kernel far below the roofline, as the
 * reference is, has the headroom the gain needs already.
 */
export function rooflineBinds(view: Pick<EconomyView, 'rooflineMlups' | 'liveMlups' | 'expectedImprovement'>): boolean {
  const { rooflineMlups: roofline, liveMlups: live, expectedImprovement: hope } = view;
  if (roofline === null || live === null || !(live > 0)) return false;
  const headroom = roofline / live - 1;
  return headroom <= 0 || (hope !== null && Math.expm1(Math.max(0, hope)) > headroom);
}

/** The larger of the measured ceilings, and which it is; null when neither is known. */
export function ceilingOf(view: Pick<EconomyView, 'rooflineMlups' | 'inCacheMlups'>): { kind: CeilingKind; mlups: number } | null {
  const { rooflineMlups: roofline, inCacheMlups: inCache } = view;
  if (inCache !== null && (roofline === null || inCache > roofline)) return { kind: 'in-cache', mlups: inCache };
  return roofline === null ? null : { kind: 'roofline', mlups: roofline };
}

export interface EconomyDecision {
  state: EconomyState;
  /** Attempts that may be in flight now. */
  maxInFlight: number;
  /** Milliseconds to wait before the next start (0: now). */
  waitMs: number;
}

/** A change of state, for the 'economy' event and the log. */
export interface EconomyTransition {
  state: EconomyState;
  reason: string;
  /** The figures the decision was made on, in lattice-seconds. */
  expectedGainSeconds: number | null;
  attemptCostSeconds: number;
  attemptCostSource: AttemptCostSource;
  costSeconds: number;
}

/** The economy's figures for the summary. */
export interface EconomyReport {
  state: EconomyState;
  /** Lattice-seconds the search cost the live job (held, child CPU, trials), the re-verification's included. */
  costSeconds: number;
  childCpuSeconds: number;
  trialLossSeconds: number;
  /** Lattice-seconds of that cost booked apart to the warm start's re-verification, charged to no attempt. */
  reverificationCostSeconds: number;
  /** Mean lattice-seconds per attempt that ended, and mean wall seconds it took. */
  attemptCostSeconds: number | null;
  attemptSeconds: number | null;
  /** The cost per attempt the economy judges by now, in lattice-seconds, and where it comes from (measured, carried, prior). */
  judgedAttemptCostSeconds: number;
  attemptCostSource: AttemptCostSource;
  /** The last gain estimate, in lattice-seconds; null: unknown. */
  expectedGainSeconds: number | null;
  /** The ceiling the last decision bounded the gain by; null: none known. */
  ceiling: { kind: CeilingKind; mlups: number } | null;
  backoffs: number;
  resumes: number;
}

/** A second attempt in flight costs as much as the first and brings the gain only sooner: worth it only when the gain is this many times the cost. */
export const CONCURRENT_GAIN_RATIO = 3;

export class Economy {
  private current: EconomyState = 'searching';
  private readonly startedMs: number;
  private finishedAttempts = 0;
  private attemptWallSeconds = 0;
  /** The run's cost when the last attempt ended: the next one to end is charged what came after. */
  private chargedSeconds = 0;
  private trialLossSeconds = 0;
  private reverificationSeconds = 0;
  private latest: CostReadings = { heldSeconds: 0, childCpuSeconds: 0 };
  private backedOffAtMs = 0;
  private costAtBackoff = 0;
  private probe = false;
  /** An attempt ended since the last decision: a backed-off economy judges the gain again. */
  private rejudge = false;
  private lastStartMs = -Infinity;
  private lastGainSeconds: number | null = null;
  private lastCeiling: { kind: CeilingKind; mlups: number } | null = null;
  private backoffs = 0;
  private resumes = 0;
  /** What the present back-off was decided on; null while searching. */
  private backedOffOn: ConvergedFigures | null = null;

  constructor(
    private readonly options: EconomyOptions,
    private readonly onTransition: (transition: EconomyTransition) => void = () => {},
  ) {
    this.startedMs = options.now();
  }

  get state(): EconomyState {
    return this.current;
  }

  /** Lattice-seconds lost so far, from the latest readings. */
  costSeconds(readings: CostReadings = this.latest): number {
    const chargedCpu = Math.max(0, readings.childCpuSeconds - this.options.cores * readings.heldSeconds);
    return readings.heldSeconds + chargedCpu * this.options.childCpuCost + this.trialLossSeconds;
  }

  /** A live trial's measured loss of throughput, in lattice-seconds. */
  chargeTrialLoss(seconds: number): void {
    if (Number.isFinite(seconds) && seconds > 0) this.trialLossSeconds += seconds;
  }

  /**
   * CPU-seconds of child processes that were the warm start's
   * re-verification: already in the readings' child CPU, they are charged
   * at the same rate but to no attempt.
   */
  chargeReverification(childCpuSeconds: number): void {
    if (Number.isFinite(childCpuSeconds) && childCpuSeconds > 0) this.reverificationSeconds += childCpuSeconds * this.options.childCpuCost;
  }

  /** The part of the cost the attempts caused: all of it but the re-verification's. */
  private attemptsCostSeconds(readings: CostReadings = this.latest): number {
    return Math.max(0, this.costSeconds(readings) - this.reverificationSeconds);
  }

  attemptStarted(): void {
    this.lastStartMs = this.options.now();
    this.probe = false;
  }

  /**
   * An attempt ended after `wallSeconds`, with the costs measured now; the
   * state is judged again at the next decision. Returns what it is charged:
   * the cost since the last attempt ended (or the run began).
   */
  attemptFinished(wallSeconds: number, readings: CostReadings = this.latest): AttemptCharge {
    this.latest = readings;
    this.finishedAttempts += 1;
    this.attemptWallSeconds += Math.max(0, wallSeconds);
    this.rejudge = true;
    const total = this.attemptsCostSeconds();
    const charge = { costSeconds: Math.max(0, total - this.chargedSeconds), wallSeconds: Math.max(0, wallSeconds) };
    this.chargedSeconds = Math.max(total, this.chargedSeconds);
    return charge;
  }

  /** Something changed that can change what an attempt wins: a back-off ends with one probing attempt. */
  change(reason: string): void {
    if (this.current !== 'backed-off') return;
    this.probe = true;
    this.resume(reason, this.lastGainSeconds, this.attemptCost());
  }

  /** Where attemptCost() comes from now. */
  attemptCostSource(): AttemptCostSource {
    if (this.finishedAttempts > 0) return { kind: 'measured', attempts: this.finishedAttempts };
    const carried = this.options.carriedAttemptCost ?? null;
    return carried === null ? { kind: 'prior', attempts: 0 } : { kind: 'carried', attempts: carried.attempts };
  }

  private resume(reason: string, gain: number | null, cost: number): void {
    this.current = 'searching';
    this.backedOffOn = null;
    this.resumes += 1;
    this.onTransition({
      state: 'searching',
      reason: `resumed: ${reason}`,
      expectedGainSeconds: gain,
      attemptCostSeconds: cost,
      attemptCostSource: this.attemptCostSource(),
      costSeconds: this.costSeconds(),
    });
  }

  /** Mean cost of an attempt that ended in this run; before one has, the carried cost, else the prior. */
  private attemptCost(readings: CostReadings = this.latest): number {
    if (this.finishedAttempts > 0) return this.attemptsCostSeconds(readings) / this.finishedAttempts;
    return this.options.carriedAttemptCost?.costSeconds ?? this.options.priorAttemptCostSeconds;
  }

  /** Mean wall seconds of an attempt that ended in this run; before one has, the carried figure, else 0. */
  private attemptDuration(): number {
    if (this.finishedAttempts > 0) return this.attemptWallSeconds / this.finishedAttempts;
    return this.options.carriedAttemptCost?.wallSeconds ?? 0;
  }

  private elapsedSeconds(): number {
    return (this.options.now() - this.startedMs) / 1000;
  }

  /** Expected lattice-seconds the next attempt wins, or null when the predictor has no estimate. */
  expectedGainSeconds(view: EconomyView): number | null {
    if (view.expectedImprovement === null) return null;
    let fraction = Math.expm1(Math.max(0, view.expectedImprovement));
    const ceiling = ceilingOf(view);
    if (ceiling !== null && view.liveMlups !== null && view.liveMlups > 0) {
      fraction = Math.min(fraction, Math.max(0, ceiling.mlups / view.liveMlups - 1));
    }
    const remaining = view.remainingSeconds ?? Math.max(this.options.horizonSeconds, this.elapsedSeconds());
    return fraction * Math.max(0, remaining - this.attemptDuration());
  }

  /**
   * Whether a ceiling could change the next decision: a ceiling only bounds
   * the gain, so when the gain it could at most bound (the predictor's hope
   * over the remaining time) does not pay for an attempt, measuring one
   * (the in-cache ceiling holds the live lattice) buys nothing.
   */
  ceilingCanMatter(view: EconomyView): boolean {
    const unbounded = this.expectedGainSeconds({ ...view, rooflineMlups: null, inCacheMlups: null });
    return unbounded === null || unbounded >= this.attemptCost(view.readings);
  }

  /** The pacing now; may change state (reported through onTransition). */
  decide(view: EconomyView): EconomyDecision {
    this.latest = view.readings;
    const gain = this.expectedGainSeconds(view);
    this.lastGainSeconds = gain;
    this.lastCeiling = ceilingOf(view);
    const cost = this.attemptCost(view.readings);
    const pays = gain === null || gain >= cost;
    if (this.current === 'searching' && !pays && !this.probe) this.backOff(gain!, cost, view);
    else if (this.current === 'backed-off' && this.rejudge && pays) this.resume('the last attempt raised the expected gain above the cost', gain, cost);
    this.rejudge = false;
    const intervalWaitMs = Math.max(0, this.lastStartMs + this.options.intervalMs - this.options.now());
    if (this.current === 'backed-off') {
      return { state: this.current, maxInFlight: 1, waitMs: Math.max(intervalWaitMs, this.governorWaitMs(cost, view.readings)) };
    }
    const concurrent = gain !== null && gain >= CONCURRENT_GAIN_RATIO * cost;
    return { state: this.current, maxInFlight: concurrent ? this.options.maxConcurrent : 1, waitMs: intervalWaitMs };
  }

  private backOff(gain: number, cost: number, view: EconomyView): void {
    this.enterBackoff({
      expectedGainSeconds: gain,
      attemptCostSeconds: cost,
      ceiling: this.lastCeiling,
      inCacheMlups: view.inCacheMlups,
      liveMlups: view.liveMlups,
    });
    const ceiling = this.lastCeiling === null ? '' : ` (under the ${this.lastCeiling.kind} ceiling of ${this.lastCeiling.mlups.toFixed(0)} MLUPS)`;
    const source = this.attemptCostSource();
    const reason = `the next attempt is expected to win ${gain.toFixed(1)} lattice-seconds${ceiling} and costs ${cost.toFixed(1)} (${describeCostSource(source)})`;
    this.onTransition({
      state: 'backed-off',
      reason,
      expectedGainSeconds: gain,
      attemptCostSeconds: cost,
      attemptCostSource: source,
      costSeconds: this.costAtBackoff,
    });
  }

  private enterBackoff(figures: ConvergedFigures): void {
    this.current = 'backed-off';
    this.backoffs += 1;
    this.backedOffAtMs = this.options.now();
    this.costAtBackoff = this.costSeconds();
    this.backedOffOn = figures;
  }

  /**
   * Starts backed off, as an earlier run on this machine and lattice ended,
   * on the figures it decided from (`because` says which run and why they
   * hold here): from now on the governor paces the attempts, and a change or
   * an ended attempt whose result pays resumes the search. Does nothing
   * once the economy has left its initial search.
   */
  startConverged(figures: ConvergedFigures, because: string): void {
    if (this.current !== 'searching' || this.backoffs > 0) return;
    this.lastGainSeconds = figures.expectedGainSeconds;
    this.lastCeiling = figures.ceiling;
    this.enterBackoff(figures);
    const gain = figures.expectedGainSeconds;
    this.onTransition({
      state: 'backed-off',
      reason: `${because}: the next attempt was expected to win ${gain.toFixed(1)} lattice-seconds and cost ${figures.attemptCostSeconds.toFixed(1)}`,
      expectedGainSeconds: gain,
      attemptCostSeconds: figures.attemptCostSeconds,
      attemptCostSource: this.attemptCostSource(),
      costSeconds: this.costAtBackoff,
    });
  }

  /** The figures the present back-off was decided on; null while searching. */
  converged(): ConvergedFigures | null {
    return this.current === 'backed-off' ? this.backedOffOn : null;
  }

  /**
   * Backed off, the next start waits until the cost since backing off plus
   * the attempt's expected cost is within maxDegradation of the wall time
   * since then.
   */
  private governorWaitMs(attemptCost: number, readings: CostReadings): number {
    if (this.options.maxDegradation === 0) return Infinity;
    const spent = this.costSeconds(readings) - this.costAtBackoff;
    const allowedAtSeconds = (spent + attemptCost) / this.options.maxDegradation;
    const sinceSeconds = (this.options.now() - this.backedOffAtMs) / 1000;
    return Math.max(0, (allowedAtSeconds - sinceSeconds) * 1000);
  }

  report(): EconomyReport {
    return {
      state: this.current,
      costSeconds: this.costSeconds(),
      childCpuSeconds: this.latest.childCpuSeconds,
      trialLossSeconds: this.trialLossSeconds,
      reverificationCostSeconds: this.reverificationSeconds,
      attemptCostSeconds: this.finishedAttempts === 0 ? null : this.attemptCost(),
      attemptSeconds: this.finishedAttempts === 0 ? null : this.attemptWallSeconds / this.finishedAttempts,
      judgedAttemptCostSeconds: this.attemptCost(),
      attemptCostSource: this.attemptCostSource(),
      expectedGainSeconds: this.lastGainSeconds,
      ceiling: this.lastCeiling,
      backoffs: this.backoffs,
      resumes: this.resumes,
    };
  }
}
