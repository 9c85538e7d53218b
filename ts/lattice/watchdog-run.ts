/**
 * A lattice's side of its watchdog, apart from the Lattice class: it builds
 * a run's Watchdog from the run's options, hands the runner the callbacks
 * that feed it snapshots and cone probes, defers those checks while
 * holdWatchdogChecks() holds them, and adds up what they cost.
 */
import type { CoreLattice, Precision } from '../../native/addon-types.js';
import { invalidTypeError, requireInteger, requirePositiveNumber } from '../errors.js';
import { type LatticeConfig, MAX_STEPS } from './options.js';
import { Watchdog, type WatchdogEvent, type WatchdogOptions, resolveCadence, resolveDifferential } from './watchdog.js';

const DEFAULT_WATCHDOG_TOLERANCE: Record<Precision, number> = { f64: 1e-9, f32: 1e-4 };

/**
 * The relative energy drift a watchdog accepts when its options name none:
 * 1e-9 in f64; 1e-4 in f32, whose rounding alone drifts the energy of the
 * lattice's own kernel by 1e-7 within 50 steps and 1e-5 within 1e5 (at 64^2
 * and 256^2).
 */
export function defaultDriftTolerance(precision: Precision): number {
  return DEFAULT_WATCHDOG_TOLERANCE[precision];
}

/** Lattice.coneProbes: this run's checked probes, and the runner's skips and drops since the lattice was made. */
export interface ConeProbeCounts {
  checked: number;
  /** Checked probes that were extra gathers handed over at the take rate, beyond the plans. */
  extras: number;
  /** Cells the checked probes compared. */
  cellsChecked: number;
  /** Plans due while two were being checked, skipped. */
  skipped: number;
  /** Extra gathers chosen while every extra slot was out, dropped. */
  dropped: number;
}

/** What the runner calls with a run's snapshots and cone probes (CoreLattice.run), null for none. */
export interface WatchdogCallbacks {
  everySteps: number;
  onSnapshot: ((step: number) => void) | null;
  onConeProbe: (() => void) | null;
}

/**
 * What a watchdog's checked cone probes cost so far: the runner's gathers (the
 * dropped extras' too) and the JS thread's CPU time (the oracle's thread
 * aside, as for a full check).
 */
function coneCostMs(watchdog: Watchdog): number {
  const { jsCpuMs, gatherNs, droppedGatherNs } = watchdog.coneStats;
  return jsCpuMs + (gatherNs + droppedGatherNs) / 1e6;
}

/** The watchdog of the lattice `core` (of `config`, `cells` cells), across its runs. */
export class WatchdogRun {
  /** holdWatchdogChecks() calls not yet released. */
  #holds = 0;
  /** The checks a hold deferred: the latest snapshot's and the latest cone probe's. */
  readonly #deferred = new Map<'snapshot' | 'cone', () => void>();
  /** The active run's watchdog, and whether its differential check compares the step kernel's batches; null without one. */
  #running: { watchdog: Watchdog; differential: boolean } | null = null;
  /** Set when the lattice closes: nothing is left to check. */
  #closed = false;
  /** What the snapshot checks have cost this lattice's runs, and the cone probes of its ended runs, in ms, as the watchdog measured each. */
  #checkMs = 0;

  constructor(
    private readonly core: CoreLattice,
    private readonly config: LatticeConfig,
    private readonly cells: number,
    private readonly onRollback: (event: WatchdogEvent) => void,
  ) {}

  /**
   * A run begins with `options` (none: no watchdog) from `initialEnergy`:
   * validates them, primes the watchdog (its first snapshot is taken at
   * once) and returns the runner's callbacks. Throws on bad options before
   * anything changes.
   */
  start(options: WatchdogOptions | undefined, initialEnergy: number): WatchdogCallbacks {
    if (options === undefined) return { everySteps: 0, onSnapshot: null, onConeProbe: null };
    const { everySteps, watchdog, differential } = this.#build(options, initialEnergy);
    watchdog.prime();
    this.#running = { watchdog, differential };
    return {
      everySteps,
      onSnapshot: (step) => this.#checkUnlessHeld(watchdog, 'snapshot', () => this.#checkAccounted(watchdog, step)),
      onConeProbe: watchdog.takesConeProbes ? () => this.#checkUnlessHeld(watchdog, 'cone', () => watchdog.checkCone()) : null,
    };
  }

  /**
   * The run has ended, after its last notice: the checks a hold deferred run
   * now, while the core still holds what they read (the next run's
   * snapshots replace it), and the run's watchdog ends.
   */
  end(): void {
    const deferred = [...this.#deferred.values()];
    this.#deferred.clear();
    for (const check of deferred) check();
    if (this.#running !== null) {
      this.#running.watchdog.end();
      this.#checkMs += coneCostMs(this.#running.watchdog);
    }
    this.#running = null;
  }

  /**
   * The lattice is closing: the checks a hold deferred, and the notices its
   * run sends before its end, are dropped, since the core's state is gone.
   */
  close(): void {
    this.#closed = true;
    this.#deferred.clear();
  }

  /** The run's summary, its error the watchdog's reason when it stopped the run (Watchdog.gaveUp). */
  summarize<Summary extends { error: string | null }>(summary: Summary): Summary {
    const gaveUp = this.#running?.watchdog.gaveUp ?? null;
    return gaveUp !== null && summary.error === null ? { ...summary, error: gaveUp } : summary;
  }

  /** Whether the active run has a watchdog. */
  get running(): boolean {
    return this.#running !== null;
  }

  /** Whether the active run's watchdog compares the step kernel's batches with the oracle's. */
  get differentialRunning(): boolean {
    return this.#running?.differential ?? false;
  }

  /** Lattice.checkedEnergyDrift. */
  get lastChecked(): { step: number; energyDrift: number } | null {
    return this.#running?.watchdog.lastChecked ?? null;
  }

  /** Lattice.coneProbes. */
  get coneProbes(): ConeProbeCounts | null {
    const running = this.#running;
    if (running === null) return null;
    const { checked, extras, cellsChecked } = running.watchdog.coneStats;
    const counters = this.core.watchdogCounters();
    return { checked, extras, cellsChecked, skipped: counters.coneSkips, dropped: counters.coneExtraDrops };
  }

  /** Lattice.watchdogCheckMs: the ended runs' checks and the active run's. */
  get checkMs(): number {
    return this.#checkMs + (this.#running === null ? 0 : coneCostMs(this.#running.watchdog));
  }

  /** Lattice.holdWatchdogChecks. */
  hold(): () => void {
    this.#holds += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds -= 1;
      if (this.#holds > 0) return;
      const deferred = [...this.#deferred.values()];
      this.#deferred.clear();
      for (const check of deferred) check();
    };
  }

  #build(options: WatchdogOptions, initialEnergy: number): { everySteps: number; watchdog: Watchdog; differential: boolean } {
    if (options === null || typeof options !== 'object') {
      throw invalidTypeError('watchdog', 'an object such as { everySteps: 100, driftTolerance: 1e-9 }', options);
    }
    const { extents, c, h, dt, courantNumber, precision } = this.config;
    const everySteps = requireInteger('watchdog.everySteps', options.everySteps, 1, MAX_STEPS);
    const tolerance = requirePositiveNumber('watchdog.driftTolerance', options.driftTolerance ?? defaultDriftTolerance(precision));
    const differential = resolveDifferential(options.differential, this.cells, everySteps);
    const cadence = resolveCadence(options, everySteps, differential?.seed);
    const physics = { extents, c, h, dt, courant2: courantNumber * courantNumber, precision };
    const watchdog = new Watchdog(this.core, physics, initialEnergy, tolerance, differential, this.onRollback, cadence);
    return { everySteps, watchdog, differential: differential !== null };
  }

  /**
   * Runs a check of `watchdog`'s run now, or when the holds are released.
   * The core tells of a run's end only after the run's last notice, so every
   * notice comes while its run is the active one; one that came later, once
   * the run's watchdog had ended or the next run's had begun, would be judged
   * against a state that is not its run's, and is dropped; so is every
   * notice once the lattice has closed.
   */
  #checkUnlessHeld(watchdog: Watchdog, kind: 'snapshot' | 'cone', check: () => void): void {
    if (this.#closed || this.#running?.watchdog !== watchdog) return;
    if (this.#holds > 0) this.#deferred.set(kind, check);
    else check();
  }

  /**
   * Runs one of the watchdog's checks and adds what it cost to checkMs. The
   * watchdog measures a passed check's cost (its lastCheckCostMs); a failed
   * one, which rolls back, counts at the last passed check's.
   */
  #checkAccounted(watchdog: Watchdog, step: number): void {
    const before = watchdog.lastChecked;
    watchdog.check(step);
    if (watchdog.lastChecked !== before) this.#checkMs += watchdog.lastCheckCostMs;
  }
}
