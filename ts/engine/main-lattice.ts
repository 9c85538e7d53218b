/**
 * The main job's lattice as the configuration describes it: the reference
 * kernel live, c = h = 1, the chosen initial state. It is not running yet;
 * Engine.start() runs it with the watchdog. With `sharedState` (a generator
 * that proposes untrusted kernels, see trust.ts) the state lives in a
 * shared-memory segment that a kernel host can map.
 */
import { initialState } from '../lattice/initial-conditions.js';
import { Lattice } from '../lattice/lattice.js';
import type { WatchdogOptions } from '../lattice/watchdog.js';
import { defaultDriftTolerance } from '../lattice/watchdog-run.js';
import type { EngineConfig } from './config.js';

/** The relative energy drift the main job's watchdog accepts: watchdog.driftTolerance, or the lattice precision's own for 0. */
export function driftTolerance(config: Pick<EngineConfig, 'watchdog' | 'lattice'>): number {
  return config.watchdog.driftTolerance > 0 ? config.watchdog.driftTolerance : defaultDriftTolerance(config.lattice.precision);
}

/** The main job's watchdog as the configuration sets it: the lattice's run takes it. */
export function watchdogOptions(config: Pick<EngineConfig, 'watchdog' | 'lattice'>): WatchdogOptions {
  const settings = config.watchdog;
  return {
    everySteps: settings.everySteps,
    driftTolerance: driftTolerance(config),
    maxCostShare: settings.maxCostShare,
    differential: { fullCheckEveryMs: settings.fullCheckEveryMs, coneEverySteps: settings.coneEverySteps },
  };
}

export function createMainLattice(settings: EngineConfig['lattice'], seed = 1, sharedState = false): Lattice {
  const lat = new Lattice({
    extents: settings.extents,
    dt: settings.dt,
    precision: settings.precision,
    sharedState,
    batchLatencyMs: settings.batchLatencyMs,
    maxBatchSteps: settings.maxBatchSteps,
    ...(settings.threads > 0 ? { threads: settings.threads } : {}),
  });
  try {
    const state = initialState(settings.init, { extents: settings.extents, precision: settings.precision, courantNumber: lat.courantNumber }, seed);
    lat.setState(state.previous, state.current);
  } catch (error) {
    lat.close();
    throw error;
  }
  return lat;
}
