/**
 * The options of `evaluateCandidate`, validated once with messages that
 * name the parameter, the value and the limit.
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { kernelModulePath, packageRoot } from '../../native/loader.js';
import { invalidRangeError, invalidTypeError, requireInteger, requireFiniteNumber } from '../errors.js';
import { DEFAULT_CACHE_MAX_BYTES, defaultCacheDir } from './compile.js';
import { DEFAULT_TARGET_PATH } from './patch-gate.js';
import type { GauntletPool } from './pool.js';
import { DEFAULT_SAFETY_THRESHOLD } from './static-firewall.js';
import type { SandboxScheduler } from './serial-queue.js';
import type { Precision, Slot } from './types.js';

export interface CandidateOptions {
  /** The C++ source of one kernel module implementing the ABI. */
  source: string;
  /**
   * The variant generator's genome the source says it was rendered from
   * (default: none). The gauntlet renders it again and, only when that gives
   * exactly the source, takes the analysers' findings from the template's
   * analysis instead of running them on the source; otherwise the genome
   * changes nothing.
   */
  genome?: Record<string, unknown> | null;
  /** Which kernel function the candidate competes on (default "step"). */
  slot?: Slot;
  /** The file the candidate would replace (default cpp/kernels/candidate.cpp). */
  targetPath?: string;
  /** The incumbent kernel module (.so) it must beat (default: the reference kernel). */
  incumbent?: string;
  /** Minimum safety score of the static firewall, in [0, 1] (default 0.8). */
  safetyThreshold?: number;
  /**
   * Seeds everything the runner draws: random states, r^2, lattice extents
   * and dojo waveforms (default: drawn at random for every evaluation, so a
   * kernel cannot be fitted to one seed; the verdict records it for replay).
   */
  seed?: number;
  /** The live lattice's precision, which the benchmark and its checks run in (default "f64"). */
  precision?: Precision;
  /** The benchmark lattice (default [128, 128]). */
  targetExtents?: number[];
  /**
   * The held-out benchmark lattice (default: drawn by the runner from the
   * seed for every evaluation, odd extents with the target's dimension
   * count and about `heldOutCells` cells, so that no kernel can learn it;
   * the verdict's benchmark records the extents drawn).
   */
  heldOutExtents?: number[];
  /** About how many cells a drawn held-out lattice has, in [27, 2^24] (default 8192). */
  heldOutCells?: number;
  /**
   * The live lattice, whose size, dimensions and precision the differential
   * checks (default: `targetExtents`, the benchmark runs on the live size).
   * A re-verification that benchmarks on a smaller target gives it.
   */
  liveExtents?: number[];
  /**
   * The live lattice's r^2 = (c dt / h)^2, in (0, 1 / dims): the
   * differential's live cases that start from states of the live kind (a
   * pulse at rest, a standing wave) step at it. A user's r^2 is a round value
   * that no draw gives, so a kernel that cheats only at such a value passes
   * every drawn one (default: drawn like the others).
   */
  liveCourant2?: number;
  /**
   * Steps per wave_step call, as the live runner calls its kernel (its
   * batch of k steps): the benchmark calls both kernels so, and the
   * differential checks k, k + 1 and counts beyond k. An integer in
   * [1, 1024] (default 1).
   */
  stepsPerCall?: number;
  /**
   * The longest batch the live runner may make (`lattice.maxBatchSteps`), an
   * integer in [1, 1024] (default 64): the differential steps the live
   * lattice in one call of 2k, of a count drawn beyond k + 1 or of this many
   * steps, one of the three drawn per evaluation.
   */
  maxBatchSteps?: number;
  /** Steps per benchmark sample (default 8) and samples per kernel (default 15). */
  benchSteps?: number;
  benchSamples?: number;
  /**
   * Timed incumbent samples per benchmark lattice, in [1, benchSamples]
   * (default benchSamples); the candidate is timed and checked in every
   * sample. A screen needs fewer: only a candidate clearly slower is stopped.
   */
  incumbentSamples?: number;
  /**
   * Stop timing the incumbent on a lattice, after its first sample, once
   * every candidate sample took at most this fraction of every incumbent
   * sample, in (0, 1] (default: never early). For a screen: a candidate clearly
   * faster cannot come out slower.
   */
  incumbentStopRatio?: number | null;
  /**
   * true: keep the incumbent's target-lattice times in this process's store
   * (incumbent-timings.ts) and, when they are known, time it on one fresh
   * sample that re-checks them instead (default false).
   */
  reuseIncumbentTimes?: boolean;
  /** Attack waveforms in the dojo, at least 100 (default 120). */
  dojoWaves?: number;
  compileTimeoutMs?: number;
  /** Wall-clock limit of the sandbox run (default 60 s). */
  sandboxTimeoutMs?: number;
  /**
   * How the sandbox runner and its workers are scheduled: "normal" (the
   * default: as this process), or "idle" (SCHED_IDLE: only CPU time no
   * other thread wants, for a check that must not slow the live job, such
   * as the warm start's re-verification of a module already live). An idle
   * run starved past sandboxTimeoutMs fails as any slow run does.
   */
  sandboxPriority?: SandboxPriority;
  /**
   * Threads the sandbox runner lends the candidate through parallel_for, the
   * calling thread included, as the live lattice lends its pool: an integer
   * in [1, 256] (default os.availableParallelism(), at most 256, the live
   * default). Not the gauntlet's own worker pool (`pool`).
   */
  threads?: number;
  /**
   * The runner's CPU-time limit, counted over all its threads (default 20 s
   * per thread of `threads`, at most 3600 s), and address space (default 1024 MiB).
   */
  cpuSeconds?: number;
  memoryMiB?: number;
  /** Where built modules are cached (default <tmpdir>/ouroboros-<uid>/gauntlet-cache, private to the user). */
  cacheDir?: string;
  /** false: compile even when the cache has the build (default true). */
  useCache?: boolean;
  /** The cache is evicted, least recently used first, down to this many bytes after each build (default 1 GiB). */
  cacheMaxBytes?: number;
  /** The worker pool (default: one shared pool of os.availableParallelism() threads). */
  pool?: GauntletPool;
  /** The sandbox runner binary (default: the staged native/sandbox/<target>/ouroboros-sandbox). */
  runnerPath?: string;
  /** When the sandbox run (and so the benchmark) may go, e.g. one at a time with every evaluation given the same SerialQueue (default: at once). */
  sandboxQueue?: SandboxScheduler;
  /** Aborting it kills the tool or runner at work and ends the evaluation at once with an interrupted verdict. */
  signal?: AbortSignal;
}

export const SANDBOX_PRIORITIES = ['normal', 'idle'] as const;
export type SandboxPriority = (typeof SANDBOX_PRIORITIES)[number];

export type ResolvedOptions = Required<
  Omit<
    CandidateOptions,
    'pool' | 'runnerPath' | 'incumbent' | 'sandboxQueue' | 'signal' | 'heldOutExtents' | 'liveExtents' | 'liveCourant2' | 'incumbentStopRatio'
  >
> & {
  incumbentStopRatio: number | null;
  /** null: the runner draws the held-out lattice. */
  heldOutExtents: number[] | null;
  /** null: the target is the live lattice. */
  liveExtents: number[] | null;
  /** null: the runner draws the live cases' r^2. */
  liveCourant2: number | null;
  pool: GauntletPool | undefined;
  signal: AbortSignal | undefined;
  sandboxQueue: SandboxScheduler | undefined;
  runnerPath: string | undefined;
  incumbent: string;
  includeDir: string;
};

export const MIN_DOJO_WAVES = 100;
/** Drawn seeds stay below 2^48 - 1 (crypto.randomInt's limit): exact in a double and in every report field. */
const MAX_DRAWN_SEED = 2 ** 48 - 1;
/** The most threads the runner lends a candidate (its --threads limit). */
export const MAX_THREADS = 256;
const MAX_CPU_SECONDS = 3600;
/** The runner's --steps-per-call limit. */
export const MAX_STEPS_PER_CALL = 1024;
/** The runner's --max-batch-steps default, the live runner's own (`lattice.maxBatchSteps`). */
const DEFAULT_MAX_BATCH_STEPS = 64;
const MIN_HELD_OUT_CELLS = 27;
const MAX_HELD_OUT_CELLS = 1 << 24;
const CPU_SECONDS_PER_THREAD = 20;

/**
 * RLIMIT_CPU counts the CPU time of every thread of the runner, so a kernel
 * that keeps N threads busy spends the budget N times as fast as the wall
 * clock: the default grows with the threads, to leave a serial run's room.
 * The wall-clock limit (sandboxTimeoutMs) still bounds the run as a whole.
 */
function defaultCpuSeconds(threads: number): number {
  return Math.min(MAX_CPU_SECONDS, CPU_SECONDS_PER_THREAD * threads);
}

function priorityOption(value: unknown): SandboxPriority {
  if (value === undefined) return 'normal';
  if (!SANDBOX_PRIORITIES.includes(value as SandboxPriority)) throw invalidRangeError('sandboxPriority', 'must be "normal" or "idle"', value);
  return value as SandboxPriority;
}

function extentsOption(name: string, value: unknown, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value)) throw invalidTypeError(name, 'an array of 1 to 9 integers >= 3', value);
  if (value.length < 1 || value.length > 9) throw invalidRangeError(name, 'must have 1 to 9 extents', value);
  value.forEach((extent, axis) => requireInteger(`${name}[${axis}]`, extent, 3, 1 << 24));
  return value as number[];
}

function precisionOption(value: unknown): Precision {
  if (value === undefined) return 'f64';
  if (value !== 'f64' && value !== 'f32') throw invalidRangeError('precision', 'must be "f64" or "f32"', value);
  return value;
}

/** r^2 on `dims` axes: the scheme is stable below 1 / dims. */
function courant2Option(value: unknown, dims: number): number | null {
  if (value === undefined || value === null) return null;
  const courant2 = requireFiniteNumber('liveCourant2', value);
  if (!(courant2 > 0 && courant2 < 1 / dims)) throw invalidRangeError('liveCourant2', `must be in (0, 1/${dims}) on the live lattice's ${dims} axes`, value);
  return courant2;
}

function stopRatioOption(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const ratio = requireFiniteNumber('incumbentStopRatio', value);
  if (!(ratio > 0 && ratio <= 1)) throw invalidRangeError('incumbentStopRatio', 'must be in (0, 1]', value);
  return ratio;
}

function fileOption(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidTypeError(name, 'a path to a file', value);
  if (!existsSync(value)) throw invalidRangeError(name, 'no such file', value);
  return path.resolve(value);
}

export function resolveOptions(options: CandidateOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalidTypeError('options', 'an object', options);
  if (typeof options.source !== 'string') throw invalidTypeError('source', 'a string of C++ source', options.source);
  const genome = options.genome ?? null;
  if (genome !== null && (typeof genome !== 'object' || Array.isArray(genome))) throw invalidTypeError('genome', 'a genome object or null', genome);
  const slot = options.slot ?? 'step';
  if (slot !== 'step' && slot !== 'readout') throw invalidRangeError('slot', 'must be "step" or "readout"', slot);
  const targetPath = options.targetPath ?? DEFAULT_TARGET_PATH;
  if (typeof targetPath !== 'string') throw invalidTypeError('targetPath', 'a path string', targetPath);
  const threads = requireInteger('threads', options.threads ?? Math.min(os.availableParallelism(), MAX_THREADS), 1, MAX_THREADS);
  const benchSamples = requireInteger('benchSamples', options.benchSamples ?? 15, 3, 10_000);
  const safetyThreshold = requireFiniteNumber('safetyThreshold', options.safetyThreshold ?? DEFAULT_SAFETY_THRESHOLD);
  if (safetyThreshold < 0 || safetyThreshold > 1) throw invalidRangeError('safetyThreshold', 'must be in [0, 1]', safetyThreshold);
  const targetExtents = extentsOption('targetExtents', options.targetExtents, [128, 128]);
  const liveExtents = options.liveExtents === undefined ? null : extentsOption('liveExtents', options.liveExtents, []);
  return {
    source: options.source,
    genome,
    slot,
    targetPath,
    incumbent: options.incumbent === undefined ? kernelModulePath('reference') : fileOption('incumbent', options.incumbent),
    safetyThreshold,
    seed: requireInteger('seed', options.seed ?? randomInt(MAX_DRAWN_SEED), 0, Number.MAX_SAFE_INTEGER),
    precision: precisionOption(options.precision),
    targetExtents,
    heldOutExtents: options.heldOutExtents === undefined ? null : extentsOption('heldOutExtents', options.heldOutExtents, []),
    heldOutCells: requireInteger('heldOutCells', options.heldOutCells ?? 8192, MIN_HELD_OUT_CELLS, MAX_HELD_OUT_CELLS),
    liveExtents,
    liveCourant2: courant2Option(options.liveCourant2, (liveExtents ?? targetExtents).length),
    stepsPerCall: requireInteger('stepsPerCall', options.stepsPerCall ?? 1, 1, MAX_STEPS_PER_CALL),
    maxBatchSteps: requireInteger('maxBatchSteps', options.maxBatchSteps ?? DEFAULT_MAX_BATCH_STEPS, 1, MAX_STEPS_PER_CALL),
    benchSteps: requireInteger('benchSteps', options.benchSteps ?? 8, 1, 100_000),
    benchSamples,
    incumbentSamples: requireInteger('incumbentSamples', options.incumbentSamples ?? benchSamples, 1, benchSamples),
    incumbentStopRatio: stopRatioOption(options.incumbentStopRatio),
    reuseIncumbentTimes: options.reuseIncumbentTimes ?? false,
    dojoWaves: requireInteger('dojoWaves', options.dojoWaves ?? 120, MIN_DOJO_WAVES, 100_000),
    compileTimeoutMs: requireInteger('compileTimeoutMs', options.compileTimeoutMs ?? 60_000, 100, 3_600_000),
    sandboxTimeoutMs: requireInteger('sandboxTimeoutMs', options.sandboxTimeoutMs ?? 60_000, 100, 3_600_000),
    sandboxPriority: priorityOption(options.sandboxPriority),
    threads,
    cpuSeconds: requireInteger('cpuSeconds', options.cpuSeconds ?? defaultCpuSeconds(threads), 1, MAX_CPU_SECONDS),
    memoryMiB: requireInteger('memoryMiB', options.memoryMiB ?? 1024, 64, 1 << 20),
    cacheDir: options.cacheDir === undefined ? defaultCacheDir() : path.resolve(String(options.cacheDir)),
    useCache: options.useCache ?? true,
    cacheMaxBytes: requireInteger('cacheMaxBytes', options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES, 1 << 20, Number.MAX_SAFE_INTEGER),
    pool: options.pool,
    sandboxQueue: options.sandboxQueue,
    signal: options.signal,
    runnerPath: options.runnerPath === undefined ? undefined : fileOption('runnerPath', options.runnerPath),
    includeDir: path.join(packageRoot, 'cpp', 'include'),
  };
}
