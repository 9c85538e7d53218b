/**
 * The watchdog of a running lattice: TypeScript decides, Rust checks. Every K
 * steps the runner hands over a snapshot of both levels; the oracle checks it
 * (every value finite, energy drift within tolerance). A good snapshot becomes
 * the restore point; a bad one rolls the step slot back to last-known-good,
 * restores the state (and step counter) from the last good snapshot, and the
 * lattice emits a 'watchdog' event saying why.
 */
import type { CoreLattice, CoreSlot } from '../../native/addon-types.js';
import type { KernelHostExit, KernelHostLayer } from '../modules/kernel-host.js';
import { oracleAddon } from '../../native/loader.js';
import { cellCount } from './initial-conditions.js';

export interface WatchdogOptions {
  /** Check every this many steps (and at the start of the run). */
  everySteps: number;
  /** Largest allowed |E - E0| / E0 (default 1e-9 for f64, 1e-4 for f32). */
  driftTolerance?: number;
}

/** Emitted as the lattice's 'watchdog' event after an automatic rollback. */
export interface WatchdogEvent {
  /** 'kernel-host': the confined host stepping the live module crashed, hung, exited or replied garbage. */
  reason: 'non-finite' | 'energy-drift' | 'kernel-host';
  /** A sentence naming what the oracle found. */
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
}

export class Watchdog {
  /**
   * Where each snapshot is copied for the oracle, allocated at the first and
   * reused: two levels of a large lattice, freshly allocated every K steps,
   * cost the running kernel more in page faults and collections than the
   * check itself.
   */
  #levels: { previous: Float64Array; current: Float64Array } | null = null;

  constructor(
    private readonly core: CoreLattice,
    private readonly physics: WatchdogPhysics,
    private readonly initialEnergy: number,
    private readonly driftTolerance: number,
    private readonly onRollback: (event: WatchdogEvent) => void,
  ) {}

  /** Called with each snapshot the runner announces. */
  check(step: number): void {
    const { extents, c, h, dt } = this.physics;
    if (this.#levels === null) {
      const cells = cellCount(extents);
      this.#levels = { previous: new Float64Array(cells), current: new Float64Array(cells) };
    }
    const { previous, current } = this.#levels;
    if (this.core.copySnapshot(previous, current) !== step) return;
    const report = oracleAddon().checkInvariants({
      extents,
      c,
      h,
      dt,
      previous,
      current,
      initialEnergy: this.initialEnergy,
      driftTolerance: this.driftTolerance,
      readout: null,
      stepped: null,
      shiftedStepped: null,
    });
    const finiteDrift = Number.isFinite(report.energyDrift);
    if (report.allFinite && finiteDrift && report.energyDrift <= this.driftTolerance) {
      this.core.settleSnapshot(step, true);
      return;
    }
    this.core.settleSnapshot(step, false);
    const recovery = this.core.recover('step');
    const nonFinite = !report.allFinite || !finiteDrift;
    this.onRollback({
      reason: nonFinite ? 'non-finite' : 'energy-drift',
      detail: nonFinite
        ? `a non-finite value at cell ${report.firstNonFinite ?? '?'} of the snapshot at step ${step}`
        : `energy drift ${report.energyDrift.toExponential(3)} at step ${step} exceeds the tolerance ${this.driftTolerance}`,
      slot: 'step',
      checkedStep: step,
      failedStep: recovery.failedStep,
      restoredStep: recovery.restoredStep,
      rolledBackFrom: recovery.rollback.fromName,
      rolledBackTo: recovery.rollback.toName,
      energyDrift: report.energyDrift,
    });
  }
}
