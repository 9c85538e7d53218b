/**
 * The freeze point of a handoff or a checkpoint: the metadata a successor
 * needs besides the field (config with the runner's batch settings, step count, every slot's modules by
 * sha256 and whether each ran confined, the profiler's counters, the lattice's own bookkeeping), and the
 * commit that seals it into the segment.
 */
import type { CoreLattice, CoreModuleInfo } from '../../native/addon-types.js';
import type { HandoffMetadata, ModuleRef } from '../handoff/metadata.js';
import type { StateSegment } from '../handoff/segment.js';
import type { KernelModuleInfo } from '../modules/module-manager.js';
import { moduleSha256 } from './handoff.js';
import type { LatticeConfig } from './options.js';
import { SLOTS } from './slots.js';

/** Keys of the lattice's own entries in the metadata's engine state. */
export const ENGINE_THREADS = 'lattice.threads';
export const ENGINE_INITIAL_ENERGY = 'lattice.initialEnergy';

/** What the metadata is read from: a lattice's private parts, at a step boundary. */
export interface FreezeSource {
  core: CoreLattice;
  config: LatticeConfig;
  /** The modules this lattice loaded, whose sha256 is already known. */
  modules: ReadonlyMap<number, KernelModuleInfo>;
  initialEnergy: number;
}

/** Runs `work` while no step of `core` is in flight: at once when stopped, else with the run held at a boundary. */
export function atFreezePoint<T>(core: CoreLattice, work: () => T): T {
  if (!core.running) return work();
  const wasPaused = core.paused;
  core.pause();
  // Returns only once the runner holds at a boundary; paused, it stays there.
  core.waitForBoundary();
  try {
    return work();
  } finally {
    if (!wasPaused) core.resume();
  }
}

/** The metadata of the state as it stands; call it at a step boundary. */
export function captureMetadata({ core, config, modules, initialEnergy }: FreezeSource): HandoffMetadata {
  const slots = core.slots();
  const counters = core.profileCounters();
  const profile = core.profile();
  const ref = (info: CoreModuleInfo): ModuleRef | null => {
    const known = modules.get(info.id);
    const sha256 = known?.sha256 ?? moduleSha256(info.path);
    if (!sha256) return null;
    // A module's trust travels with it: one that ran in a kernel host comes back only in one.
    return known && 'confined' in known && known.confined === true ? { path: info.path, sha256, confined: true } : { path: info.path, sha256 };
  };
  const { extents, c, h, dt, precision, threads, batchLatencyMs, maxBatchSteps } = config;
  return {
    config: { extents, c, h, dt, precision, batchLatencyMs, maxBatchSteps },
    stepCount: core.stepCount,
    slots: SLOTS.map((slot) => ({ slot, live: ref(slots[slot].live), lastKnownGood: ref(slots[slot].lastKnownGood) })),
    counters: SLOTS.map((slot) => ({ slot, ...counters[slot], p50Ns: profile[slot].p50Ns, p99Ns: profile[slot].p99Ns })),
    engineState: { [ENGINE_THREADS]: String(threads), [ENGINE_INITIAL_ENERGY]: String(initialEnergy) },
    batchSteps: core.batchSteps,
  };
}

/** Writes `metadata`, bumps the generation and commits: the state a successor resumes. Returns the generation. */
export function freeze(segment: StateSegment, metadata: HandoffMetadata): number {
  segment.writeMetadata(metadata);
  const generation = segment.bumpGeneration();
  segment.commit();
  return generation;
}
