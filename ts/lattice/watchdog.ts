/**
 * The watchdog of a running lattice: TypeScript decides, Rust checks. Every K
 * steps the runner hands over a snapshot of both levels (and, when it was
 * probed, a few cells of the newest level after the live batch that
 * followed it); the oracle checks it: every value finite, energy drift
 * within tolerance, and the differential check (differential-check.ts) of
 * the kernel's batch at cells drawn afresh for every check. The core's count of kernel calls that left the FP
 * environment changed must not have risen. At a slower cadence in wall time
 * the probe takes the whole newest level and the oracle steps the whole
 * lattice off the JS thread (the full check): a kernel wrong at one cell of
 * 4096^2 escapes the sampled cells for hundreds of checks, never this one.
 * Between snapshots, cone probes check the kernel's batches the same way
 * without a snapshot, unseen by the kernel: before every batch the runner
 * gathers the light cones of a few cells drawn afresh from both levels, and
 * after it their newest values, and hands over the gather of the boundary
 * the watchdog's plan drew (coneEverySteps apart on average) and, with
 * `maxCostShare`, as many others, drawn after their batches, as the share
 * still affords (the take rate, in cells a step); every batch is capped where one cone of its length fits the budget, so a probed
 * batch is as long as any. The oracle steps the cones off the JS thread and
 * a mismatch rolls back as a failed differential check does, to the last
 * verified snapshot (a cone probe is never a restore point).
 * With `maxCostShare` (the engine's default) the snapshots are spaced so
 * that the checks cost the run at most that share of its time: each check
 * measures its own cost and defers the next snapshot by a random whole
 * number of K-step intervals (watchdog-cadence.ts). A good snapshot becomes the
 * restore point; a bad one rolls the slot back to last-known-good, restores
 * the state (and step counter) from the last good snapshot, and the lattice
 * emits a 'watchdog' event saying which check failed.
 */
import { randomInt } from 'node:crypto';
import type { CoreLattice, CoreRecovery, CoreSlot, CoreSnapshot, Precision } from '../../native/addon-types.js';
import type { FullCheckMismatch } from '../generated/oracle-napi.js';
import type { KernelHostExit, KernelHostLayer } from '../modules/kernel-host.js';
import { oracleAddon } from '../../native/loader.js';
import { invalidRangeError, invalidTypeError, requireFiniteNumber, requireInteger } from '../errors.js';
import { seededRandom } from '../util/random.js';
import { ConeChecks, type ConeProbeStats, emptyConeStats } from './cone-checks.js';
import { ULPS_PER_STEP, compareProbe, drawProbeCells, mismatchDetail } from './differential-check.js';
import { cellCount } from './initial-conditions.js';
import { SnapshotCadence } from './watchdog-cadence.js';

export type { ConeProbeStats } from './cone-checks.js';

export interface WatchdogOptions {
  /** Check every this many steps (and at the start of the run). */
  everySteps: number;
  /**
   * Largest allowed |E - E0| / E0 (default 1e-9 for f64, 1e-4 for f32); in
   * f32 a check at step n allows driftToleranceAt()'s more, its rounding's.
   */
  driftTolerance?: number;
  /** The differential check (default on, with its defaults); false turns it off. */
  differential?: DifferentialOptions | false;
  /**
   * Largest share of the run's time the checks may take, in (0, 1]: after
   * each check the next snapshot is deferred by a random whole number of
   * everySteps intervals whose mean makes the check's measured cost this
   * share (watchdog-cadence.ts; the engine's default is
   * DEFAULT_MAX_COST_SHARE). Absent: a snapshot every everySteps steps,
   * whatever it costs.
   */
  maxCostShare?: number;
  /** The clock the cadence reads, in ms (default performance.now), for tests. */
  now?: () => number;
}

export interface DifferentialOptions {
  /**
   * Cells compared per checked batch, drawn afresh for every check (default
   * DEFAULT_PROBE_CELLS), or 'all' for the whole lattice (small lattices: the
   * oracle then steps the whole lattice). A cone probe takes at most this
   * many: as many as the runner gathers at every batch boundary, a fixed
   * share of the batch's work (ConeProbe::boundary_cells), at least one.
   */
  cells?: number | 'all';
  /**
   * Most light-cone values the oracle gathers per check (default
   * DEFAULT_PROBE_CONE_VALUES): a batch of k steps costs (2k+1)^dims values
   * per cell, so the core probes an evenly spaced share of the drawn cells
   * when a long batch or many dimensions would exceed it. With cone probes
   * on it also caps every batch where one cone of its length fits (31 steps
   * in 3-D, 10 in 4-D at the default). Ignored with 'all'.
   */
  coneValues?: number;
  /** Probe every this many snapshots (default DEFAULT_PROBE_EVERY_SNAPSHOTS). */
  everySnapshots?: number;
  /** Seed of the cell draws, for reproducible tests (default: a fresh random seed per run). */
  seed?: number;
  /**
   * Compare the whole lattice every this many ms of wall time (default
   * DEFAULT_FULL_CHECK_EVERY_MS; 0: never): the next snapshot's probe takes
   * every cell of the newest level, and the oracle steps the whole lattice
   * on a libuv thread while the run goes on. The first is due this long
   * after the run starts.
   */
  fullCheckEveryMs?: number;
  /** The clock the full check's cadence reads, in ms (default performance.now), for tests. */
  now?: () => number;
  /**
   * A cone probe every this many steps on average, between and whatever
   * the snapshots (default: the watchdog's everySteps; 0: none; none with
   * cells 'all', whose every snapshot compares the whole lattice).
   */
  coneEverySteps?: number;
}

/**
 * Cells per check. Drawn uniformly, so a kernel wrong at one cell of N is
 * found by one check with probability cells / N, and a frozen, swapped or
 * skipped field, wrong nearly everywhere, at once. The core gathers them
 * from the newest level after the batch that follows the snapshot and the
 * oracle steps their light cones, (2k+1)^dims values each for a batch of k:
 * at 4096^2 f64 a few milliseconds per check against the energy check's
 * hundred (bench/results/watchdog.json).
 */
export const DEFAULT_PROBE_CELLS = 4096;
/**
 * Light-cone values per check: 2^18 keeps all 4096 cells for one-step
 * batches in 1-D to 3-D, about 700 for 9-step batches in 2-D, and 15 for
 * 65 steps; a batch that runs wrong, wrong nearly everywhere, is found by
 * any of them.
 */
export const DEFAULT_PROBE_CONE_VALUES = 2 ** 18;
/** Probe every snapshot: a probe costs the live run a gather of a few thousand cells. */
export const DEFAULT_PROBE_EVERY_SNAPSHOTS = 1;
/**
 * A full check every two minutes: at 4096^2 f64 the oracle's steps of the
 * whole lattice take a core for about a second and the JS thread a quarter
 * of one (bench/results/watchdog.json), and the sampled checks pause
 * meanwhile (the runner takes no snapshot while one is out). Once a minute
 * cost the run about 2% (2.9% measured, under load), the limit.
 */
export const DEFAULT_FULL_CHECK_EVERY_MS = 120_000;

/** Emitted as the lattice's 'watchdog' event after an automatic rollback. */
export interface WatchdogEvent {
  /**
   * Which check failed: a non-finite value, the energy drift, the
   * differential check (the kernel's step disagrees with the oracle's at
   * probed cells), the FP environment (a kernel call left MXCSR or the x87
   * control word changed; the core restored it), or the kernel host (the
   * confined host stepping the live module crashed, hung, exited or replied
   * garbage).
   */
  reason: 'non-finite' | 'energy-drift' | 'differential' | 'fp-environment' | 'kernel-host';
  /** A sentence naming what was found. */
  detail: string;
  slot: CoreSlot;
  /** Step of the snapshot that failed. */
  checkedStep: number;
  /** stepCount when the rollback took effect. */
  failedStep: number;
  /** Where the state was restored to; null if no snapshot had passed yet. */
  restoredStep: number | null;
  rolledBackFrom: string;
  rolledBackTo: string;
  energyDrift: number;
  /**
   * For 'kernel-host': the host's pid, how it ended (a SIGSYS is a seccomp
   * kill; Landlock refusals are errors inside the host, which it cannot
   * report once confined), its confinement layers, and when the runner had
   * recovered (CLOCK_MONOTONIC ns, as process.hrtime.bigint()).
   */
  kernelHost?: { pid: number; exit: KernelHostExit | null; layers: KernelHostLayer[]; recoveredNs: number };
}

export interface WatchdogPhysics {
  extents: number[];
  c: number;
  h: number;
  dt: number;
  /** r^2 exactly as the core steps with it. */
  courant2: number;
  precision: Precision;
}

/** The differential check as a run uses it: options resolved and validated. */
export interface DifferentialPlan {
  cells: number;
  /** 0: no limit (every cell, 'all'). */
  coneValues: number;
  everySnapshots: number;
  seed: number;
  /** 0: no full check (or every probe already takes every cell). */
  fullCheckEveryMs: number;
  now: () => number;
  /** 0: no cone probes. */
  coneEverySteps: number;
}

/**
 * Validates `options.differential` for a lattice of `latticeCells` cells
 * watched every `everySteps` steps (the cone probes' default spacing; 0:
 * none by default); null when off.
 */
export function resolveDifferential(options: DifferentialOptions | false | undefined, latticeCells: number, everySteps = 0): DifferentialPlan | null {
  if (options === false) return null;
  const given = options ?? {};
  if (given === null || typeof given !== 'object') {
    throw invalidTypeError('watchdog.differential', "false or an object such as { cells: 4096 } or { cells: 'all' }", options);
  }
  const cells =
    given.cells === 'all' ? latticeCells : Math.min(latticeCells, requireInteger('watchdog.differential.cells', given.cells ?? DEFAULT_PROBE_CELLS, 1));
  const everySnapshots = requireInteger('watchdog.differential.everySnapshots', given.everySnapshots ?? DEFAULT_PROBE_EVERY_SNAPSHOTS, 1, 2 ** 40);
  const seed = given.seed === undefined ? randomInt(2 ** 32) : requireInteger('watchdog.differential.seed', given.seed, 0, 2 ** 32 - 1);
  const coneValues = given.cells === 'all' ? 0 : requireInteger('watchdog.differential.coneValues', given.coneValues ?? DEFAULT_PROBE_CONE_VALUES, 1, 2 ** 40);
  const fullCheckEveryMs = requireInteger('watchdog.differential.fullCheckEveryMs', given.fullCheckEveryMs ?? DEFAULT_FULL_CHECK_EVERY_MS, 0, 2 ** 40);
  const now = given.now ?? (() => performance.now());
  if (typeof now !== 'function') throw invalidTypeError('watchdog.differential.now', 'a function returning ms', given.now);
  const coneEverySteps = requireInteger('watchdog.differential.coneEverySteps', given.coneEverySteps ?? everySteps, 0, 2 ** 40);
  return {
    cells,
    coneValues,
    everySnapshots,
    seed,
    fullCheckEveryMs: cells >= latticeCells ? 0 : fullCheckEveryMs,
    now,
    coneEverySteps: coneValues === 0 ? 0 : coneEverySteps,
  };
}

/** How a run's snapshots are spaced when the checks' cost is bounded. */
export interface CadencePlan {
  cadence: SnapshotCadence;
  now: () => number;
  maxCostShare: number;
}

/**
 * The cadence `options` ask for, its draws from a generator of its own
 * seeded from `seed` (the differential's, or a fresh random one); null for a
 * snapshot every K steps.
 */
export function resolveCadence(options: WatchdogOptions, everySteps: number, seed = randomInt(2 ** 32)): CadencePlan | null {
  if (options.maxCostShare === undefined) return null;
  const share = requireFiniteNumber('watchdog.maxCostShare', options.maxCostShare);
  if (!(share > 0 && share <= 1)) throw invalidRangeError('watchdog.maxCostShare', 'must be a number in (0, 1], such as 0.01', share);
  const now = options.now ?? (() => performance.now());
  if (typeof now !== 'function') throw invalidTypeError('watchdog.now', 'a function returning ms', options.now);
  return { cadence: new SnapshotCadence(everySteps, share, seededRandom((seed ^ 0x5bd1e995) >>> 0)), now, maxCostShare: share };
}

interface SnapshotLevels {
  previous: Float64Array;
  current: Float64Array;
}

/**
 * Six standard deviations of an f32 lattice's energy drift per square root
 * of its steps: the rounding of each step moves the energy of even the
 * lattice's own kernel by about 2^-24 of it, in a random walk (measured with
 * the reference kernel: 1.4e-8 to 4.6e-8 per root step at 32x32x24, 64^2 and
 * 256^2, over 1e5 to 3.4e5 steps).
 */
const F32_DRIFT_PER_ROOT_STEP = 6 * 2 ** -24;

/**
 * The drift a check at `step` accepts: the tolerance, and in f32 the random
 * walk of the rounding as well. A fixed bound in f32 is one the lattice's
 * own kernel crosses in a long enough run, after which every check fails and
 * rolls the state back to the same snapshot, for good: the correctness of
 * each step is the differential checks', which are exact.
 */
export function driftToleranceAt(tolerance: number, precision: Precision, step: number): number {
  return precision === 'f32' ? tolerance + F32_DRIFT_PER_ROOT_STEP * Math.sqrt(step) : tolerance;
}

/** The most differential check times a watchdog keeps (differentialCheckTimesMs). */
const MAX_CHECK_TIMES = 100_000;

export class Watchdog {
  /**
   * Where each snapshot is copied for the oracle, allocated at the first and
   * reused: levels of a large lattice, freshly allocated every K steps, cost
   * the running kernel more in page faults and collections than the check.
   */
  #levels: SnapshotLevels | null = null;
  #narrow: [Float32Array, Float32Array] | null = null;
  readonly #random: () => number;
  #snapshotsUntilProbe = 0;
  /** The core's per-slot FP restore counts at the last check. */
  #fpRestoresSeen: Record<CoreSlot, number>;
  /** When the last full check was planned (or the run primed), on the plan's clock. */
  #lastFullCheckMs = 0;
  /** The next probed snapshot takes every cell for a full check. */
  #fullCheckPlanned = false;
  /** A full check holds its snapshot out, unsettled, until the oracle's thread answers: settled then. */
  #fullCheckInFlight: Promise<void> | null = null;
  /** Rollbacks so far: a cone probe's verdict on a state rolled back since it was taken is moot. */
  #rollbacks = 0;
  /** Where the last rollback that put back no other kernel restored the state to (null: nowhere); undefined after any other. */
  #futileRestore: number | null | undefined = undefined;
  /**
   * Why the watchdog stopped the run, when it did: a check failed again
   * after a rollback that put back no other kernel (the slot's live module
   * is its own last-known-good) had restored the state to the same step as
   * the last such rollback. The same kernel from the same state fails the
   * same way, so the run would roll back to that step for good. Null while
   * the run goes on.
   */
  gaveUp: string | null = null;
  /** The cone probes' checks, when the run takes them. */
  readonly #cones: ConeChecks | null;
  /** When each differential check (a snapshot's probe, a cone probe or a full check) gave its verdict, on the watchdog's clock. */
  readonly differentialCheckTimesMs: number[] = [];
  /** The energy drift of the last snapshot checked, and its step; null before the first. */
  lastChecked: { step: number; energyDrift: number } | null = null;
  /**
   * What the last passed check cost the run, in ms: the runner's copy of
   * both levels and the JS thread's work (its copy, the oracle's sums and
   * the differential check), not a full check's steps off the JS thread.
   */
  lastCheckCostMs = 0;
  readonly #now: () => number;

  constructor(
    private readonly core: CoreLattice,
    private readonly physics: WatchdogPhysics,
    private readonly initialEnergy: number,
    private readonly driftTolerance: number,
    private readonly differential: DifferentialPlan | null,
    private readonly onRollback: (event: WatchdogEvent) => void,
    private readonly cadence: CadencePlan | null = null,
  ) {
    this.#random = seededRandom(differential?.seed ?? 0);
    this.#now = cadence?.now ?? (() => performance.now());
    const hooks = {
      rollbacks: () => this.#rollbacks,
      rollBack: (detail: string, step: number) => this.#rollBack({ reason: 'differential', slot: 'step', detail }, step, this.lastChecked?.energyDrift ?? 0),
      noteCheck: (atMs: number) => this.#noteDifferentialCheck(atMs),
    };
    const cones = differential !== null && differential.coneEverySteps > 0;
    this.#cones = cones ? new ConeChecks(core, physics, differential, cadence, this.#now, hooks) : null;
    this.#fpRestoresSeen = core.fpRestores();
  }

  /** Before the run starts: its first snapshot is taken at once, so its probe cells must be in place. */
  prime(): void {
    this.#snapshotsUntilProbe = 0;
    this.#lastFullCheckMs = this.differential?.now() ?? 0;
    this.#planNextProbe();
    this.#cones?.arm(this.core.stepCount);
  }

  /** The run has ended: what the core announces from now on is another run's. */
  end(): void {
    this.#cones?.end();
  }

  /** Whether the run takes cone probes: the lattice passes the runner onCone only then. */
  get takesConeProbes(): boolean {
    return this.#cones !== null;
  }

  /** What the cone probes checked so far cost. */
  get coneStats(): ConeProbeStats {
    return this.#cones?.stats ?? emptyConeStats();
  }

  /** Called with each cone probe the runner announces (ConeChecks.check). */
  checkCone(): void {
    this.#cones?.check();
  }

  /** Sends the cone probes taken and not yet sent, and resolves once none is being checked (at once when none is). */
  async coneSettled(): Promise<void> {
    await this.#cones?.settled();
  }

  #noteDifferentialCheck(atMs: number): void {
    if (this.differentialCheckTimesMs.length < MAX_CHECK_TIMES) this.differentialCheckTimesMs.push(atMs);
  }

  /** Resolves once no full check is under way (at once when none is). */
  fullCheckSettled(): Promise<void> {
    return this.#fullCheckInFlight ?? Promise.resolve();
  }

  /** Called with each snapshot the runner announces. */
  check(step: number): void {
    const startedMs = this.#now();
    const levels = this.#arrays();
    const snapshot = this.core.copySnapshot(levels.previous, levels.current);
    if (snapshot === null || snapshot.step !== step) return;
    this.#check(snapshot, levels, startedMs);
  }

  /**
   * Called before a passed snapshot is settled (the runner takes no other
   * while it is out): what this check cost the run, and with a cadence how
   * far off that sets the next snapshot (SnapshotCadence).
   */
  #deferNextSnapshot(snapshot: CoreSnapshot, startedMs: number): void {
    this.lastCheckCostMs = this.#now() - startedMs + snapshot.captureNs / 1e6;
    if (this.cadence !== null) this.core.deferSnapshots(this.cadence.cadence.next(snapshot.step, startedMs, this.lastCheckCostMs));
  }

  #check(snapshot: CoreSnapshot, levels: SnapshotLevels, startedMs: number): void {
    const step = snapshot.step;
    // A whole-level probe's level, when this snapshot is the full check's.
    const probeLevel = this.#fullCheckPlanned ? snapshot.probeLevel : null;
    const full = probeLevel !== null;
    this.#planNextProbe();
    const { extents, c, h, dt } = this.physics;
    const report = oracleAddon().checkInvariants({
      extents,
      c,
      h,
      dt,
      previous: levels.previous,
      current: levels.current,
      initialEnergy: this.initialEnergy,
      driftTolerance: driftToleranceAt(this.driftTolerance, this.physics.precision, step),
      readout: null,
      stepped: null,
      shiftedStepped: null,
    });
    this.lastChecked = { step, energyDrift: report.energyDrift };
    const failure = this.#energyFailure(report, step) ?? this.#fpFailure() ?? (full ? null : this.#differentialFailure(snapshot, levels));
    if (failure === null) this.#deferNextSnapshot(snapshot, startedMs);
    if (failure === null && full) {
      this.#startFullCheck(snapshot, probeLevel, levels, report.energyDrift);
      return;
    }
    if (failure === null) {
      this.core.settleSnapshot(step, true);
      return;
    }
    this.core.settleSnapshot(step, false);
    this.#rollBack(failure, step, report.energyDrift);
  }

  #rollBack(failure: Failure, step: number, energyDrift: number): void {
    // Once it has given up, the notices the runner sent before it stopped are checked and fail as that one did: the
    // run is over, and nothing is rolled back any more.
    if (this.gaveUp !== null) return;
    // The state goes back before any deferred step: the module put back is checked at the next multiple of K.
    if (this.cadence !== null) this.core.deferSnapshots(0);
    this.#rollbacks += 1;
    const recovery = this.core.recover(failure.slot);
    // The next cone probe is drawn from where the state now is, not from steps it will take again.
    this.#cones?.arm(recovery.restoredStep ?? this.core.stepCount);
    this.#fpRestoresSeen = this.core.fpRestores();
    this.onRollback({
      ...failure,
      checkedStep: step,
      failedStep: recovery.failedStep,
      restoredStep: recovery.restoredStep,
      rolledBackFrom: recovery.rollback.fromName,
      rolledBackTo: recovery.rollback.toName,
      energyDrift,
    });
    const futile = recovery.rollback.fromId === recovery.rollback.toId;
    if (futile && this.#futileRestore === recovery.restoredStep) this.#giveUp(failure, recovery);
    this.#futileRestore = futile ? recovery.restoredStep : undefined;
  }

  #giveUp(failure: Failure, recovery: CoreRecovery): void {
    const key = failure.reason === 'energy-drift' ? ' (watchdog.driftTolerance)' : '';
    const restored = recovery.restoredStep === null ? 'with no verified snapshot to restore' : `after the state was restored to step ${recovery.restoredStep}`;
    this.gaveUp =
      `the watchdog stopped the run: ${failure.detail}${key}, again ${restored}, and the kernel that failed, ` +
      `${recovery.rollback.toName}, is the ${failure.slot} slot's last-known-good: nothing is left to roll back to`;
    this.core.stop();
  }

  /**
   * The oracle steps the snapshot's levels over the whole lattice on a libuv
   * thread and compares the kernel's whole newest level after the probed
   * batch(es). The snapshot stays out meanwhile, so the runner takes no
   * other (it goes on stepping), and it is settled, or rolled back from,
   * when the answer comes: nothing taken after the checked batch becomes a
   * restore point before the batch is known good. The arrays are the
   * check's until then; a snapshot that comes meanwhile (after a recovery
   * dropped this one) gets others.
   */
  #startFullCheck(snapshot: CoreSnapshot, probeLevel: Float64Array, levels: SnapshotLevels, energyDrift: number): void {
    this.#levels = null;
    const { extents, courant2, precision } = this.physics;
    const oracle = oracleAddon();
    const { step, probeSteps: steps } = snapshot;
    const answer =
      precision === 'f32'
        ? oracle.fullCheckF32Async(new Float32Array(levels.previous), new Float32Array(levels.current), extents, courant2, steps, probeLevel, ULPS_PER_STEP)
        : oracle.fullCheckF64Async(levels.previous, levels.current, extents, courant2, steps, probeLevel, ULPS_PER_STEP);
    this.#fullCheckInFlight = answer
      .then((mismatch) => this.#settleFullCheck(step, steps, mismatch, energyDrift))
      .catch((error: unknown) => {
        // Only a closed lattice is expected here (closed while the oracle ran): nothing is left to settle or restore.
        if (!(error instanceof Error && /is closed/.test(error.message)))
          process.emitWarning(`the watchdog's full check of step ${step} failed: ${String(error)}`);
      })
      .finally(() => {
        this.#fullCheckInFlight = null;
        this.#levels ??= levels;
      });
  }

  #settleFullCheck(step: number, steps: number, mismatch: FullCheckMismatch | null, energyDrift: number): void {
    this.#noteDifferentialCheck(this.#now());
    if (mismatch === null) {
      this.core.settleSnapshot(step, true);
      return;
    }
    this.core.settleSnapshot(step, false);
    const cells = cellCount(this.physics.extents);
    this.#rollBack(
      {
        reason: 'differential',
        slot: 'step',
        detail:
          `differential check of the whole lattice: the kernel's ${steps} step(s) from ${step} to ${step + steps} differ from the oracle's ` +
          `at ${mismatch.cells} of ${cells} cells, first cell ${mismatch.firstCell}: ${mismatch.actual} where the oracle has ${mismatch.expected} ` +
          `(tolerance ${mismatch.tolerance.toExponential(3)})`,
      },
      step,
      energyDrift,
    );
  }

  /** An f32 lattice's snapshot back in f32 (exact: it was widened from f32), in arrays allocated once. */
  #narrowed(levels: SnapshotLevels): [Float32Array, Float32Array] {
    if (this.#narrow === null) this.#narrow = [new Float32Array(levels.previous.length), new Float32Array(levels.current.length)];
    this.#narrow[0].set(levels.previous);
    this.#narrow[1].set(levels.current);
    return this.#narrow;
  }

  #arrays(): SnapshotLevels {
    if (this.#levels === null) {
      const cells = cellCount(this.physics.extents);
      this.#levels = { previous: new Float64Array(cells), current: new Float64Array(cells) };
    }
    return this.#levels;
  }

  /**
   * Hands the core the cells the next snapshot probes, drawn afresh, or none
   * when it is not due; and whether the probe spans a one-step batch before
   * the live one, a fair coin of the same generator, so that every check has
   * an even chance of checking a live batch at either parity of `current`
   * (and of any call counter), and one-step calls are checked as well: a
   * kernel wrong on one parity, in one-step calls or in batches survives m
   * checks with probability 2^-m at most. A second coin adds a batch of the
   * size that ends each snapshot interval when k does not divide it
   * (everySteps mod k) before the live one: a kernel wrong only at that size
   * survives m checks with probability 2^-m too, where it was never probed.
   */
  #planNextProbe(): void {
    const plan = this.differential;
    this.#fullCheckPlanned = plan !== null && this.#fullCheckDue(plan);
    if (this.#fullCheckPlanned) {
      this.#lastFullCheckMs = plan!.now();
      // The same coins as a sampled probe: the full check may span a one-step call and a remainder batch too.
      const delayed = this.#random() < 0.5;
      this.core.setProbeWholeLevel(delayed, this.#random() < 0.5);
      return;
    }
    if (plan === null || this.#snapshotsUntilProbe-- > 0) {
      this.core.setProbe(new Float64Array(0), false, 0, false);
      return;
    }
    this.#snapshotsUntilProbe = plan.everySnapshots - 1;
    const cells = drawProbeCells(cellCount(this.physics.extents), plan.cells, this.#random);
    const delayed = this.#random() < 0.5;
    this.core.setProbe(cells, delayed, plan.coneValues, this.#random() < 0.5);
  }

  #fullCheckDue(plan: DifferentialPlan): boolean {
    return plan.fullCheckEveryMs > 0 && this.#fullCheckInFlight === null && plan.now() - this.#lastFullCheckMs >= plan.fullCheckEveryMs;
  }

  #energyFailure(report: { allFinite: boolean; energyDrift: number; firstNonFinite: number | null }, step: number): Failure | null {
    const finiteDrift = Number.isFinite(report.energyDrift);
    const tolerance = driftToleranceAt(this.driftTolerance, this.physics.precision, step);
    if (report.allFinite && finiteDrift && report.energyDrift <= tolerance) return null;
    const nonFinite = !report.allFinite || !finiteDrift;
    return {
      reason: nonFinite ? 'non-finite' : 'energy-drift',
      slot: 'step',
      detail: nonFinite
        ? `a non-finite value at cell ${report.firstNonFinite ?? '?'} of the snapshot at step ${step}`
        : `energy drift ${report.energyDrift.toExponential(3)} at step ${step} exceeds the tolerance ${Number(tolerance.toPrecision(3))}`,
    };
  }

  #fpFailure(): Failure | null {
    const now = this.core.fpRestores();
    for (const slot of ['step', 'readout'] as const) {
      const calls = now[slot] - this.#fpRestoresSeen[slot];
      if (calls > 0) {
        return {
          reason: 'fp-environment',
          slot,
          detail:
            `${calls} ${slot} kernel call(s) since the last check left the FP environment changed ` +
            '(MXCSR or the x87 control word: flush-to-zero, denormals-are-zero, rounding or exception masks); the core restored it',
        };
      }
    }
    return null;
  }

  #differentialFailure(snapshot: CoreSnapshot, levels: SnapshotLevels): Failure | null {
    const cells = snapshot.probeCells;
    if (cells.length === 0) return null;
    const { extents, courant2, precision } = this.physics;
    const { previous, current } = levels;
    const oracle = oracleAddon();
    // The very batch (or one-step call and batch) that ran live, stepped by the oracle through the cells' light cones.
    const steps = snapshot.probeSteps;
    const narrowed = precision === 'f32' ? this.#narrowed(levels) : null;
    const expected =
      narrowed === null
        ? oracle.stepAtCellsF64(previous, current, extents, courant2, steps, cells)
        : oracle.stepAtCellsF32(...narrowed, extents, courant2, steps, cells);
    const scales =
      narrowed === null
        ? oracle.cellsConeScalesF64(previous, current, extents, courant2, steps, cells)
        : oracle.cellsConeScalesF32(...narrowed, extents, courant2, steps, cells);
    const mismatch = compareProbe(cells, snapshot.probeValues, expected, scales, precision, steps);
    this.#noteDifferentialCheck(this.#now());
    return mismatch === null
      ? null
      : { reason: 'differential', slot: 'step', detail: mismatchDetail(mismatch, snapshot.step, steps, cells.length, 'differential check') };
  }
}

interface Failure {
  reason: WatchdogEvent['reason'];
  slot: CoreSlot;
  detail: string;
}
