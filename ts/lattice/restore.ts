/**
 * Building a lattice's bookkeeping back from a frozen state's metadata: the
 * checks the metadata must pass against the segment, each slot's modules
 * (after their sha256 checks, with fallbacks), the profiler's counters, and
 * the report of how it all came back.
 */
import type { CoreLattice } from '../../native/addon-types.js';
import { MetadataError } from '../handoff/errors.js';
import type { HandoffMetadata, ModuleRef, SlotCounters } from '../handoff/metadata.js';
import type { StateSegment } from '../handoff/segment.js';
import { type HandoffMode, type ModuleRestore, chooseModules } from './handoff.js';
import { SLOTS, type Slot } from './slots.js';
import type { FrozenState } from './successor.js';

/** How a lattice came back from a checkpoint or a restart (`lat.handoff`). */
export interface HandoffReport {
  mode: HandoffMode;
  /** The step the lattice goes on from: the frozen state's step count. */
  resumedAtStep: number;
  /** Handoffs the state has been through. */
  generation: number;
  /** Freeze (the predecessor's last step) to resume, for exec and spawn; null for a checkpoint. */
  downtimeMs: number | null;
  modules: ModuleRestore[];
  /** One line per module that could not be loaded again and what ran instead. */
  warnings: string[];
  /** The predecessor's profiler counters at the freeze; `lat.profile()` goes on from them. */
  counters: SlotCounters[];
  engineState: Record<string, string>;
}

/** The segment's metadata, after checking it belongs to the segment's header and layout. */
export function frozenMetadata(segment: StateSegment): HandoffMetadata {
  const metadata = segment.readMetadata();
  const { config } = metadata;
  segment.verify({ extents: config.extents, precision: config.precision });
  if (metadata.stepCount !== segment.stepCount) {
    throw new MetadataError(
      `metadata stepCount = ${metadata.stepCount}: the segment header holds step ${segment.stepCount}; ` + 'the metadata was not written at the freeze point',
    );
  }
  for (const { slot } of [...metadata.slots, ...metadata.counters]) {
    if (!(SLOTS as readonly string[]).includes(slot)) throw new MetadataError(`metadata slot "${slot}" is not one of ${SLOTS.join(', ')}`);
  }
  return metadata;
}

/**
 * Makes the recorded modules of one slot live again in `core`: the live
 * module if its file is intact, else last-known-good, else the base kernel.
 * `load` loads a module (probe and self-test included) and returns its id.
 */
export async function restoreSlot(
  core: CoreLattice,
  recorded: HandoffMetadata['slots'][number],
  load: (ref: ModuleRef) => Promise<number>,
): Promise<ModuleRestore> {
  const slot = recorded.slot as Slot;
  const { chosen, lastKnownGood, fallback, reason } = chooseModules(recorded);
  const base = core.slots()[slot].live;
  // Swapping to last-known-good first, then to the chosen module, leaves both where they were.
  for (const ref of [lastKnownGood, chosen]) {
    if (!ref || ref.path === core.slots()[slot].live.path) continue;
    const id = ref.path === base.path ? base.id : await load(ref);
    await core.swap(slot, id);
  }
  return { slot, wanted: recorded.live, live: chosen, fallback, reason };
}

/** Adds the predecessor's profiler counters to `core`'s, so its profile goes on from them. */
export function restoreCounters(core: CoreLattice, counters: SlotCounters[]): void {
  for (const { slot, calls, steps, totalNs, maxNs, histogram } of counters) {
    core.addProfileCounters(slot as Slot, { calls, steps, totalNs, maxNs, histogram });
  }
}

export function handoffReport(state: FrozenState, metadata: HandoffMetadata, modules: ModuleRestore[], resumedAtStep: number): HandoffReport {
  return {
    mode: state.mode,
    resumedAtStep,
    generation: state.segment.generation,
    downtimeMs: state.freezeNs === null ? null : Number(process.hrtime.bigint() - state.freezeNs) / 1e6,
    modules,
    warnings: modules
      .filter((restore) => restore.fallback !== 'none')
      .map((restore) => `slot ${restore.slot}: ${restore.reason}; running ${restore.live?.path ?? 'the base kernel'} instead`),
    counters: metadata.counters,
    engineState: metadata.engineState,
  };
}
