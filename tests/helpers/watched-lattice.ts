// The lattice and watchdog the cone probe and cadence suites share: a
// 64 x 64 (or other) lattice of a random state, either a Lattice whose run
// builds its own watchdog, or a bare core with a Watchdog of the test's own
// (its options, clock and spies the test's).
import { Lattice, type WatchdogEvent } from '@ouroboros-engine/core';
import type { CoreLattice, Precision } from '../../dist/native/addon-types.js';
import { coreAddon, kernelModulePath, oracleAddon } from '../../dist/native/loader.js';
import { randomState } from '../../dist/ts/lattice/initial-conditions.js';
import { type CadencePlan, type DifferentialPlan, Watchdog } from '../../dist/ts/lattice/watchdog.js';

/** A Lattice of a random state (seed 3); `maxBatchSteps` fixes the batches' length once the sizer has ramped up. */
export function watchedLattice(extents: number[], precision: Precision = 'f64', maxBatchSteps?: number): Lattice {
  const batches = maxBatchSteps === undefined ? {} : { maxBatchSteps, batchLatencyMs: 10_000 };
  const lat = new Lattice({ extents, dt: extents.length > 2 ? 0.5 : 0.6, threads: 2, precision, ...batches });
  const state = randomState(lat, 3);
  lat.setState(state.previous, state.current);
  return lat;
}

/** The lattice's 'watchdog' events, as they come. */
export function watchdogEvents(lat: Lattice): WatchdogEvent[] {
  const events: WatchdogEvent[] = [];
  lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
  return events;
}

/** A bare core stepping the reference kernel (or the module at `kernelPath`), with what a Watchdog of it needs. */
export interface WatchedCore {
  core: CoreLattice;
  /** Every rollback's detail. */
  rollbacks: string[];
  /** A watchdog of the core, built as Lattice.run builds one. */
  watchdog(differential: DifferentialPlan | null, cadence?: CadencePlan | null): Watchdog;
  /** Calls `observe` with the arguments and result of each call of the core's `method`. */
  spy<M extends 'armConeProbe' | 'takeConeProbe' | 'deferSnapshots'>(
    method: M,
    observe: (args: Parameters<CoreLattice[M]>, result: ReturnType<CoreLattice[M]>) => void,
  ): void;
  close(): void;
}

export function watchedCore(extents: number[] = [64, 64], maxBatchSteps?: number, kernelPath = kernelModulePath('reference')): WatchedCore {
  const dt = extents.length > 2 ? 0.5 : 0.6;
  const courant2 = dt * dt;
  const batches = maxBatchSteps === undefined ? {} : { maxBatchSteps, batchLatencyNs: 10_000_000_000 };
  const core = new (coreAddon().LatticeCore)({ extents, courant2, precision: 'f64', kernelPath, threads: 2, ...batches });
  const state = randomState({ extents, precision: 'f64', courantNumber: dt }, 3);
  core.setState(state.previous, state.current);
  const energy = oracleAddon().energy(state.previous as Float64Array, state.current as Float64Array, extents, 1, 1, dt);
  const physics = { extents, c: 1, h: 1, dt, courant2, precision: 'f64' as const };
  const rollbacks: string[] = [];
  return {
    core,
    rollbacks,
    watchdog: (differential, cadence = null) => new Watchdog(core, physics, energy, 1e-9, differential, (event) => rollbacks.push(event.detail), cadence),
    spy: (method, observe) => {
      const original = (core[method] as (...args: unknown[]) => unknown).bind(core);
      // The addon's methods are read-only on its prototype: the spy is the instance's own.
      Object.defineProperty(core, method, {
        value: (...args: unknown[]) => {
          const result = original(...args);
          observe(args as never, result as never);
          return result;
        },
      });
    },
    close: () => core.close(),
  };
}
