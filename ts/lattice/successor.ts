/**
 * The successor's side of a restart: finds the inherited segment named in
 * the environment and, for a spawned successor, runs the hand-over protocol
 * (warm up while the predecessor still steps, then attach at its freeze).
 */
import { closeSync } from 'node:fs';
import { coreAddon, kernelModulePath } from '../../native/loader.js';
import { invalidTypeError, requireInteger } from '../errors.js';
import type { HandoffMetadata } from '../handoff/metadata.js';
import { attachSegment, type StateSegment } from '../handoff/segment.js';
import { requireFd, requirePath } from '../handoff/validate.js';
import type { KernelModuleInfo } from '../modules/module-manager.js';
import { FREEZE_NS_ENV, HANDOFF_MODE_ENV, SEGMENT_FD_ENV, chooseModules, nextParentMessage, sendToPredecessor } from './handoff.js';

/** Options of Lattice.resume() and Lattice.inherited(). */
export interface ResumeOptions {
  /** Threads of the core's pool (default: available parallelism). */
  threads?: number;
  /** Passed to loadModule() for every module reloaded. */
  probeTimeoutMs?: number;
  cacheDir?: string;
}

/** A frozen state to build a lattice on, and how it came. */
export interface FrozenState {
  segment: StateSegment;
  mode: 'checkpoint' | 'exec' | 'spawn';
  /** process.hrtime.bigint() at the predecessor's freeze; null for a checkpoint. */
  freezeNs: bigint | null;
  /** Modules a spawned successor loaded while warming up, by path. */
  preloaded: Map<string, KernelModuleInfo>;
}

export function checkResumeOptions(options: unknown): ResumeOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidTypeError('options', 'an object such as { threads: 2 }', options);
  }
  const resume = options as ResumeOptions;
  if (resume.threads !== undefined) requireInteger('options.threads', resume.threads, 1, 256);
  if (resume.probeTimeoutMs !== undefined) requireInteger('options.probeTimeoutMs', resume.probeTimeoutMs, 1, 600_000);
  if (resume.cacheDir !== undefined) requirePath('options.cacheDir', resume.cacheDir);
  return resume;
}

/**
 * In a successor process, attaches the inherited segment and lets `adopt`
 * build the lattice on it; null when this process is not a successor. A
 * spawned successor first loads the modules it will need (`warmUp`), says
 * it is ready, waits for the freeze, and reports back once resumed.
 */
export async function takeOver<T extends { stepCount: number }>(options: ResumeOptions, adopt: (state: FrozenState) => Promise<T>): Promise<T | null> {
  const fdText = process.env[SEGMENT_FD_ENV];
  if (fdText === undefined) return null;
  const mode = process.env[HANDOFF_MODE_ENV] === 'spawn' ? 'spawn' : 'exec';
  const freezeText = process.env[FREEZE_NS_ENV];
  // Not inherited further: a child of this process is not a successor.
  delete process.env[SEGMENT_FD_ENV];
  delete process.env[HANDOFF_MODE_ENV];
  delete process.env[FREEZE_NS_ENV];
  // The text as it was set, so that a bad value is named as the user wrote it (not as NaN).
  const fd = requireFd(SEGMENT_FD_ENV, /^\d+$/.test(fdText) ? Number(fdText) : fdText);
  const attach = (): StateSegment => {
    const segment = attachSegment(fd);
    closeSync(fd);
    return segment;
  };
  if (mode === 'exec') {
    const freezeNs = freezeText === undefined ? null : BigInt(freezeText);
    return adopt({ segment: attach(), mode, freezeNs, preloaded: new Map() });
  }
  try {
    const { metadata } = await nextParentMessage('warmup');
    const preloaded = await warmUp(metadata, options);
    await sendToPredecessor({ type: 'ready' });
    const { freezeNs } = await nextParentMessage('go');
    const lattice = await adopt({ segment: attach(), mode, freezeNs: BigInt(freezeNs), preloaded });
    await sendToPredecessor({ type: 'resumed', step: lattice.stepCount, resumedNs: String(process.hrtime.bigint()) });
    process.disconnect?.();
    return lattice;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await sendToPredecessor({ type: 'failed', error: message }).catch(() => {});
    process.disconnect?.();
    throw error;
  }
}

/**
 * Loads (probe and self-test included) every in-process module a successor
 * will need, before the freeze. A confined module is not loaded here: its
 * kernel host maps the segment, which the successor attaches only after the
 * freeze, and nothing of it may run in this process.
 */
async function warmUp(metadata: HandoffMetadata, options: ResumeOptions): Promise<Map<string, KernelModuleInfo>> {
  const reference = kernelModulePath('reference');
  coreAddon().loadKernelModule(reference);
  const { extents, c, h, dt, precision } = metadata.config;
  const shape = { dimensions: extents.length, precision, courant2: ((c * dt) / h) ** 2 };
  const preloaded = new Map<string, KernelModuleInfo>();
  const { loadKernelModule } = await import('../modules/module-manager.js');
  for (const slot of metadata.slots) {
    const { chosen, lastKnownGood } = chooseModules(slot);
    for (const ref of [chosen, lastKnownGood]) {
      if (!ref || ref.confined === true || ref.path === reference || preloaded.has(ref.path)) continue;
      preloaded.set(ref.path, await loadKernelModule(ref.path, shape, options));
    }
  }
  return preloaded;
}
