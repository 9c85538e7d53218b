/**
 * The public handle on one simulated torus. The state lives in the C++ core;
 * this class validates every argument, forwards to the core, and asks the Rust
 * oracle for the energy and the invariant report over the core's live memory.
 *
 * A lattice can also run on its own native thread (run / pause / resume /
 * stop) while its kernel slots are hot-swapped (loadModule, swap, rollback,
 * canary), watched (the 'watchdog' event) and profiled (profile, bottleneck).
 */
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { closeSync } from 'node:fs';
import os from 'node:os';
import type {
  CoreLattice,
  CoreModuleInfo,
  CoreSegmentRegion,
  CoreSlot,
  CoreSlotProfile,
  CoreStateViews,
  CoreSwapOutcome,
  FieldArray,
  InvariantReport,
  Precision,
} from '../../native/addon-types.js';
import { coreAddon, kernelModulePath, oracleAddon } from '../../native/loader.js';
import {
  NonFiniteFieldError,
  describe,
  invalidRangeError,
  invalidTypeError,
  requireInteger,
  requirePositiveNumber,
} from '../errors.js';
import { readCheckpoint, writeCheckpoint } from '../handoff/checkpoint.js';
import { MetadataError } from '../handoff/errors.js';
import type { HandoffMetadata, ModuleRef, SlotCounters } from '../handoff/metadata.js';
import { attachSegment, createSegment, type StateSegment } from '../handoff/segment.js';
import { requireFd, requirePath } from '../handoff/validate.js';
import { type KernelModuleInfo, type LoadModuleOptions, loadKernelModule } from '../modules/module-manager.js';
import {
  FREEZE_NS_ENV,
  HANDOFF_MODE_ENV,
  type HandoffMode,
  type ModuleRestore,
  type ParentMessage,
  SEGMENT_FD_ENV,
  SPAWNED_SEGMENT_FD,
  type SuccessorMessage,
  chooseModules,
  moduleSha256,
  nextParentMessage,
  sendToPredecessor,
} from './handoff.js';
import { type LatticeConfig, type LatticeOptions, checkField, resolveLatticeOptions } from './options.js';
import { Watchdog, type WatchdogEvent, type WatchdogOptions } from './watchdog.js';

export type Slot = CoreSlot;
export const SLOTS: readonly Slot[] = ['step', 'readout'];

export interface RunOptions {
  /** Steps to take before the run ends by itself (default: run until stop()). */
  steps?: number;
  /** Oracle checks every K steps with automatic rollback (default: off). */
  watchdog?: WatchdogOptions;
}

/** How a run ended. */
export interface RunSummary {
  startStep: number;
  endStep: number;
  /** Steps the runner took, including any a watchdog rollback rewound. */
  stepsRun: number;
  runNs: number;
  /** Set when a kernel failed and ended the run. */
  error: string | null;
}

/** What a swap or rollback did; the promise settles after the first step on the new code. */
export type SwapResult = CoreSwapOutcome;

export interface CanaryOptions {
  /** Steps to run both modules on the copies (default 100). */
  steps?: number;
}

export interface CanaryReport {
  slot: Slot;
  /** stepCount of the live state the copies were taken from. */
  startStep: number;
  steps: number;
  incumbent: string;
  candidate: string;
  /** Largest |incumbent - candidate| over both levels (step) or the digits (readout). */
  maxAbsDifference: number;
  /** Oracle energies of the two copies after `steps` steps. */
  incumbentEnergy: number;
  candidateEnergy: number;
}

export interface SlotProfileReport extends CoreSlotProfile {
  meanNs: number;
  /** This slot's share of the time spent in all slots. */
  share: number;
}

export type ProfileReport = Record<Slot, SlotProfileReport>;

export interface Bottleneck {
  slot: Slot;
  share: number;
  totalNs: number;
}

/** Options of Lattice.resume() and Lattice.inherited(). */
export interface ResumeOptions {
  /** Threads of the core's pool (default: available parallelism). */
  threads?: number;
  /** Passed to loadModule() for every module reloaded. */
  probeTimeoutMs?: number;
  cacheDir?: string;
}

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
  /** The predecessor's profiler counters at the freeze. */
  counters: SlotCounters[];
  engineState: Record<string, string>;
}

export interface RestartOptions {
  mode: 'exec' | 'spawn';
  /**
   * spawn only: the arguments to node for the successor (a script and its
   * arguments), which must call Lattice.inherited(). Default: this process's
   * own execArgv and argv, as exec uses.
   */
  command?: string[];
}

/** What restart({ mode: 'spawn' }) did; exec never returns. */
export interface RestartReport {
  mode: 'spawn';
  successorPid: number;
  /** The step count at the freeze: the successor's first step has this index. */
  frozenAtStep: number;
  generation: number;
  downtimeMs: number;
}

/** Lets the constructor adopt a segment; only this module makes one. */
class SegmentGrant {
  constructor(readonly segment: StateSegment) {}
}

const ENGINE_THREADS = 'lattice.threads';
const ENGINE_INITIAL_ENERGY = 'lattice.initialEnergy';

function regionOf(segment: StateSegment): CoreSegmentRegion {
  const { segmentBytes, levelBytes, level0Offset, level1Offset, scratchOffset } = segment.layout;
  return { fd: segment.fd, segmentBytes, levelBytes, level0Offset, level1Offset, scratchOffset };
}

function checkResumeOptions(options: unknown): ResumeOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidTypeError('options', 'an object such as { threads: 2 }', options);
  }
  const resume = options as ResumeOptions;
  if (resume.threads !== undefined) requireInteger('options.threads', resume.threads, 1, 256);
  if (resume.probeTimeoutMs !== undefined) requireInteger('options.probeTimeoutMs', resume.probeTimeoutMs, 1, 600_000);
  if (resume.cacheDir !== undefined) requirePath('options.cacheDir', resume.cacheDir);
  return resume;
}

function elapsedMs(sinceNs: bigint): number {
  return Number(process.hrtime.bigint() - sinceNs) / 1e6;
}

const DEFAULT_WATCHDOG_TOLERANCE: Record<Precision, number> = { f64: 1e-9, f32: 1e-4 };
const DEFAULT_CANARY_STEPS = 100;
/** A bound on steps any one call may ask for, well inside exact JS integers. */
const MAX_STEPS = 2 ** 48;

export interface InvariantOptions {
  /** Largest allowed |E - E0| / E0; default 1e-12 for f64 and 1e-5 for f32. */
  driftTolerance?: number;
  /** Also step copies of the state shifted along every axis to check the kernel's wrap (default true). */
  wrapProbe?: boolean;
}

const DEFAULT_DRIFT_TOLERANCE: Record<Precision, number> = { f64: 1e-12, f32: 1e-5 };

function checkSlot(slot: unknown): asserts slot is Slot {
  if (typeof slot !== 'string') throw invalidTypeError('slot', '"step" or "readout"', slot);
  if (!(SLOTS as readonly string[]).includes(slot)) throw invalidRangeError('slot', 'must be "step" or "readout"', slot);
}

/** Exact widening: every f32 value is representable in f64. */
function toFloat64(field: FieldArray): Float64Array {
  return field instanceof Float64Array ? field : Float64Array.from(field);
}

export class Lattice extends EventEmitter {
  readonly extents: readonly number[];
  readonly c: number;
  readonly h: number;
  readonly dt: number;
  readonly precision: Precision;
  /** Number of cells, the product of the extents. */
  readonly cells: number;
  /** r = c dt / h, strictly below 1 / sqrt(dimensions). */
  readonly courantNumber: number;
  readonly #config: LatticeConfig;
  readonly #core: CoreLattice;
  #initialEnergy = 0;
  #lastStepNs = 0;
  #run: Promise<RunSummary> | null = null;
  readonly #modules = new Map<number, KernelModuleInfo>();
  readonly #segment: StateSegment | null;
  #handoff: HandoffReport | null = null;
  #successor: RestartReport | null = null;

  /** `grant` is internal: how resume() and inherited() hand a restored segment in. */
  constructor(options: LatticeOptions, grant?: SegmentGrant) {
    super();
    const config = resolveLatticeOptions(options, os.availableParallelism());
    this.#config = config;
    this.extents = Object.freeze([...config.extents]);
    this.c = config.c;
    this.h = config.h;
    this.dt = config.dt;
    this.precision = config.precision;
    this.cells = config.cells;
    this.courantNumber = config.courantNumber;
    const segment =
      grant instanceof SegmentGrant
        ? grant.segment
        : config.sharedState
          ? createSegment({ extents: config.extents, precision: config.precision })
          : null;
    try {
      this.#core = new (coreAddon().LatticeCore)({
        extents: config.extents,
        courant2: config.courantNumber * config.courantNumber,
        precision: config.precision,
        kernelPath: config.kernel ?? kernelModulePath('reference'),
        threads: config.threads,
        segment: segment ? regionOf(segment) : undefined,
      });
    } catch (error) {
      if (!(grant instanceof SegmentGrant)) segment?.close();
      throw error;
    }
    this.#segment = segment;
  }

  // ------------------------------------------------------------ checkpoints and restarts

  /** The shared-memory state segment the core steps in place, or null for a private lattice. */
  get segment(): StateSegment | null {
    return this.#segment;
  }

  /** How this lattice came back from a checkpoint or a restart; null for a new one. */
  get handoff(): HandoffReport | null {
    return this.#handoff;
  }

  /** Set once restart({ mode: 'spawn' }) handed this lattice's state over; the lattice is closed then. */
  get handedOverTo(): RestartReport | null {
    return this.#successor;
  }

  /**
   * Writes the state and its metadata (config, step count, every slot's live
   * and last-known-good module with its sha256, profiler counters) to `file`
   * atomically, at a step boundary: while running, the run holds at a
   * boundary meanwhile and goes on afterwards. Needs `sharedState: true`.
   * Returns the step count written.
   */
  checkpoint(file: string): number {
    const target = requirePath('file', file);
    const segment = this.#requireSegment('checkpoint()');
    return this.#atFreezePoint(() => {
      segment.writeMetadata(this.#metadata());
      writeCheckpoint(segment, target);
      return segment.stepCount;
    });
  }

  /**
   * Restores the checkpoint at `file` (every check of readCheckpoint, plus
   * the metadata against the layout) and reloads each slot's modules after
   * checking their sha256: a module whose file is missing or differs is not
   * loaded, the slot falls back to last-known-good or the base kernel, and
   * `lat.handoff.warnings` says so. The lattice goes on at exactly the next step.
   */
  static async resume(file: string, options: ResumeOptions = {}): Promise<Lattice> {
    const source = requirePath('file', file);
    const checked = checkResumeOptions(options);
    const segment = readCheckpoint(source);
    return Lattice.#adopt(segment, 'checkpoint', checked, null, new Map());
  }

  /**
   * In a successor process (started by restart()), attaches the inherited
   * segment named by $OUROBOROS_SEGMENT_FD, verifies it, reloads the modules
   * and returns the lattice at exactly the next step; null when this process
   * is not a successor.
   */
  static async inherited(options: ResumeOptions = {}): Promise<Lattice | null> {
    const fdText = process.env[SEGMENT_FD_ENV];
    if (fdText === undefined) return null;
    const mode = process.env[HANDOFF_MODE_ENV] === 'spawn' ? 'spawn' : 'exec';
    const freezeText = process.env[FREEZE_NS_ENV];
    // Not inherited further: a child of this process is not a successor.
    delete process.env[SEGMENT_FD_ENV];
    delete process.env[HANDOFF_MODE_ENV];
    delete process.env[FREEZE_NS_ENV];
    const fd = requireFd(SEGMENT_FD_ENV, Number(fdText));
    const checked = checkResumeOptions(options);
    if (mode === 'exec') {
      const segment = attachSegment(fd);
      closeSync(fd);
      return Lattice.#adopt(segment, 'exec', checked, freezeText === undefined ? null : BigInt(freezeText), new Map());
    }
    try {
      const { metadata } = await nextParentMessage('warmup');
      const preloaded = await Lattice.#warmUp(metadata, checked);
      await sendToPredecessor({ type: 'ready' });
      const { freezeNs } = await nextParentMessage('go');
      const segment = attachSegment(fd);
      closeSync(fd);
      const lattice = await Lattice.#adopt(segment, 'spawn', checked, BigInt(freezeNs), preloaded);
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
   * Restarts the core on the same state with no lost step. `exec`: stops at
   * a step boundary, commits, and replaces this process (execve of the same
   * node and argv, same PID) with the segment kept open; the program must
   * call Lattice.inherited() at start. Never returns unless exec fails.
   * `spawn`: starts a successor with the segment as its fd 3, lets it load
   * its modules while this lattice keeps running, then stops at a boundary,
   * commits and hands over; this lattice is closed afterwards and the report
   * gives the successor's pid and the freeze-to-resume downtime.
   */
  async restart(options: RestartOptions): Promise<RestartReport> {
    if (options === null || typeof options !== 'object') {
      throw invalidTypeError('options', "an object such as { mode: 'spawn' }", options);
    }
    if (options.mode !== 'exec' && options.mode !== 'spawn') {
      throw invalidRangeError('options.mode', 'must be "exec" or "spawn"', options.mode);
    }
    if (options.command !== undefined) {
      if (options.mode !== 'spawn') throw invalidRangeError('options.command', 'is only used with mode "spawn"', options.command);
      if (!Array.isArray(options.command) || options.command.length === 0 || options.command.some((arg) => typeof arg !== 'string')) {
        throw invalidTypeError('options.command', 'a non-empty array of strings (a script and its arguments)', options.command);
      }
    }
    const segment = this.#requireSegment('restart()');
    const command = options.command ?? [...process.execArgv, ...process.argv.slice(1)];
    return options.mode === 'exec' ? this.#restartExec(segment) : this.#restartSpawn(segment, command);
  }

  async #restartExec(segment: StateSegment): Promise<never> {
    await this.stop();
    const freezeNs = process.hrtime.bigint();
    this.#freeze(segment);
    segment.keepOpenAcrossExec(true);
    const environment = Object.entries({
      ...process.env,
      [SEGMENT_FD_ENV]: String(segment.fd),
      [HANDOFF_MODE_ENV]: 'exec',
      [FREEZE_NS_ENV]: String(freezeNs),
    }).map(([name, value]) => `${name}=${value}`);
    const argv = [process.argv0, ...process.execArgv, ...process.argv.slice(1)];
    const failure = coreAddon().execImage(process.execPath, argv, environment);
    segment.keepOpenAcrossExec(false);
    throw new Error(`restart({ mode: 'exec' }): ${failure.error}; the lattice is intact at step ${this.stepCount}`);
  }

  async #restartSpawn(segment: StateSegment, command: string[]): Promise<RestartReport> {
    const child = spawn(process.execPath, command, {
      stdio: ['inherit', 'inherit', 'inherit', segment.fd, 'ipc'],
      env: { ...process.env, [SEGMENT_FD_ENV]: String(SPAWNED_SEGMENT_FD), [HANDOFF_MODE_ENV]: 'spawn' },
    });
    const messages: SuccessorMessage[] = [];
    const waiters: (() => void)[] = [];
    child.on('message', (message: SuccessorMessage) => {
      messages.push(message);
      waiters.splice(0).forEach((wake) => wake());
    });
    const exited = once(child, 'exit');
    const next = async (type: SuccessorMessage['type']): Promise<SuccessorMessage> => {
      for (;;) {
        const message = messages.shift();
        if (message?.type === 'failed') throw new Error(`restart({ mode: 'spawn' }): the successor failed: ${message.error}`);
        if (message?.type === type) return message;
        if (message) continue;
        const woken = new Promise<void>((wake) => waiters.push(wake));
        const [code, signal] = (await Promise.race([woken.then(() => null), exited])) ?? [];
        if (code !== undefined || signal !== undefined) {
          if (messages.length > 0) continue;
          throw new Error(`restart({ mode: 'spawn' }): the successor exited (${signal ?? `code ${code}`}) before "${type}"`);
        }
      }
    };
    const send = (message: ParentMessage) => child.send(message);
    try {
      send({ type: 'warmup', metadata: this.#metadata() });
      await next('ready');
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    await this.stop();
    const freezeNs = process.hrtime.bigint();
    const generation = this.#freeze(segment);
    const frozenAtStep = segment.stepCount;
    send({ type: 'go', freezeNs: String(freezeNs) });
    // Closed only after the hand-over: unmapping a large segment takes tens of
    // milliseconds that need not be part of the downtime. Nothing steps here
    // any more (the run stopped before the freeze), so the successor owns the state.
    let resumed: Extract<SuccessorMessage, { type: 'resumed' }>;
    try {
      resumed = (await next('resumed')) as Extract<SuccessorMessage, { type: 'resumed' }>;
    } finally {
      this.close();
    }
    this.#successor = {
      mode: 'spawn',
      successorPid: child.pid!,
      frozenAtStep,
      generation,
      downtimeMs: Number(BigInt(resumed.resumedNs) - freezeNs) / 1e6,
    };
    child.disconnect();
    // The successor lives on by itself: this process may exit before it.
    child.unref();
    return this.#successor;
  }

  /** Writes the metadata, bumps the generation and commits: the state a successor resumes. */
  #freeze(segment: StateSegment): number {
    segment.writeMetadata(this.#metadata());
    const generation = segment.bumpGeneration();
    segment.commit();
    return generation;
  }

  /** Runs `work` while no step is in flight: at once when stopped, else with the run held at a boundary. */
  #atFreezePoint<T>(work: () => T): T {
    if (!this.#core.running) return work();
    const wasPaused = this.#core.paused;
    this.#core.pause();
    // A boundary task returns only once the runner holds at a boundary; paused, it stays there.
    this.#core.slots();
    try {
      return work();
    } finally {
      if (!wasPaused) this.#core.resume();
    }
  }

  #metadata(): HandoffMetadata {
    const slots = this.#core.slots();
    const profile = this.#core.profile();
    const ref = (info: CoreModuleInfo): ModuleRef | null => {
      const sha256 = this.#modules.get(info.id)?.sha256 ?? moduleSha256(info.path);
      return sha256 ? { path: info.path, sha256 } : null;
    };
    const { extents, c, h, dt, precision, threads } = this.#config;
    return {
      config: { extents, c, h, dt, precision },
      stepCount: this.#core.stepCount,
      slots: SLOTS.map((slot) => ({ slot, live: ref(slots[slot].live), lastKnownGood: ref(slots[slot].lastKnownGood) })),
      counters: SLOTS.map((slot) => {
        const { calls, totalNs, p50Ns, p99Ns } = profile[slot];
        return { slot, calls, totalNs, p50Ns, p99Ns };
      }),
      engineState: { [ENGINE_THREADS]: String(threads), [ENGINE_INITIAL_ENERGY]: String(this.#initialEnergy) },
    };
  }

  #requireSegment(operation: string): StateSegment {
    if (!this.#segment) {
      throw new Error(`${operation} needs the state in a shared-memory segment: create the lattice with { sharedState: true }`);
    }
    return this.#segment;
  }

  /** Loads (probe and self-test included) every module a successor will need, before the freeze. */
  static async #warmUp(metadata: HandoffMetadata, options: ResumeOptions): Promise<Map<string, KernelModuleInfo>> {
    const reference = kernelModulePath('reference');
    coreAddon().loadKernelModule(reference);
    const { extents, c, h, dt, precision } = metadata.config;
    const shape = { dimensions: extents.length, precision, courant2: ((c * dt) / h) ** 2 };
    const preloaded = new Map<string, KernelModuleInfo>();
    for (const slot of metadata.slots) {
      const { chosen, lastKnownGood } = chooseModules(slot);
      for (const ref of [chosen, lastKnownGood]) {
        if (!ref || ref.path === reference || preloaded.has(ref.path)) continue;
        preloaded.set(ref.path, await loadKernelModule(ref.path, shape, options));
      }
    }
    return preloaded;
  }

  static async #adopt(
    segment: StateSegment,
    mode: HandoffMode,
    options: ResumeOptions,
    freezeNs: bigint | null,
    preloaded: Map<string, KernelModuleInfo>,
  ): Promise<Lattice> {
    let lattice: Lattice | null = null;
    try {
      const metadata = segment.readMetadata();
      const { config } = metadata;
      segment.verify({ extents: config.extents, precision: config.precision });
      if (metadata.stepCount !== segment.stepCount) {
        throw new MetadataError(
          `metadata stepCount = ${metadata.stepCount}: the segment header holds step ${segment.stepCount}; ` +
            'the metadata was not written at the freeze point',
        );
      }
      const threads = options.threads ?? Number(metadata.engineState[ENGINE_THREADS] ?? os.availableParallelism());
      lattice = new Lattice({ ...config, threads, sharedState: true }, new SegmentGrant(segment));
      lattice.#initialEnergy = Number(metadata.engineState[ENGINE_INITIAL_ENERGY] ?? 0);
      const modules = [];
      for (const slot of metadata.slots) modules.push(await lattice.#restoreSlot(slot, options, preloaded));
      lattice.#handoff = {
        mode,
        resumedAtStep: lattice.stepCount,
        generation: segment.generation,
        downtimeMs: freezeNs === null ? null : elapsedMs(freezeNs),
        modules,
        warnings: modules
          .filter((restore) => restore.fallback !== 'none')
          .map((restore) => `slot ${restore.slot}: ${restore.reason}; running ${restore.live?.path ?? 'the base kernel'} instead`),
        counters: metadata.counters,
        engineState: metadata.engineState,
      };
      return lattice;
    } catch (error) {
      if (lattice) lattice.close();
      else segment.close();
      throw error;
    }
  }

  async #restoreSlot(
    recorded: HandoffMetadata['slots'][number],
    options: ResumeOptions,
    preloaded: Map<string, KernelModuleInfo>,
  ): Promise<ModuleRestore> {
    const slot = recorded.slot as Slot;
    if (!SLOTS.includes(slot)) throw new MetadataError(`metadata slot "${recorded.slot}" is not one of ${SLOTS.join(', ')}`);
    const { chosen, lastKnownGood, fallback, reason } = chooseModules(recorded);
    const base = this.#core.slots()[slot].live;
    // Swapping to last-known-good first, then to the chosen module, leaves both where they were.
    for (const ref of [lastKnownGood, chosen]) {
      if (!ref || ref.path === this.#core.slots()[slot].live.path) continue;
      const id = ref.path === base.path ? base.id : await this.#loadForRestore(ref, options, preloaded);
      await this.#core.swap(slot, id);
    }
    return { slot, wanted: recorded.live, live: chosen, fallback, reason };
  }

  async #loadForRestore(ref: ModuleRef, options: ResumeOptions, preloaded: Map<string, KernelModuleInfo>): Promise<number> {
    const known = preloaded.get(ref.path);
    if (known) {
      this.#modules.set(known.id, known);
      return known.id;
    }
    return this.loadModule(ref.path, { probeTimeoutMs: options.probeTimeoutMs, cacheDir: options.cacheDir });
  }

  /** Sets u^{n-1} and u^n (copied in) and resets the step counter. */
  setState(previous: FieldArray, current: FieldArray): void {
    checkField('previous', previous, this.#config);
    checkField('current', current, this.#config);
    this.#core.setState(previous, current);
    this.#initialEnergy = this.energy();
  }

  /** Advances n leapfrog steps in native code; not while running. */
  step(n = 1): void {
    requireInteger('n', n, 0);
    this.#requireStopped('step()');
    this.#lastStepNs = this.#core.step(n);
  }

  /** Steps taken since the last setState; exact while running too. */
  get stepCount(): number {
    return this.#core.stepCount;
  }

  /** Name the live kernel module gives itself. */
  get kernelName(): string {
    return this.#core.kernelName;
  }

  /** Nanoseconds the kernel spent in the last step() call, timed in native code. */
  get lastStepNs(): number {
    return this.#lastStepNs;
  }

  /** Energy when setState was last called (0 for the initial all-zero state). */
  get initialEnergy(): number {
    return this.#initialEnergy;
  }

  /** Copy of the current time level u^n. */
  field(): FieldArray {
    return this.#core.field();
  }

  /** Copy of the previous time level u^{n-1}. */
  previousField(): FieldArray {
    return this.#core.previousField();
  }

  /** The discrete energy leapfrog conserves, computed by the Rust oracle over the live state. */
  energy(): number {
    const { previous, current } = this.#liveLevels();
    const { extents, c, h, dt } = this.#config;
    return oracleAddon().energy(toFloat64(previous), toFloat64(current), extents, c, h, dt);
  }

  /** Balanced-nonary digits of the current level, computed by the live kernel. */
  readout(): Int8Array {
    const result = this.#core.readout();
    if (result.digits) return result.digits;
    throw this.#nonFiniteError('readout', result.badIndex);
  }

  /** The oracle's report on the live state: energy drift, finiteness, readout and wrap. */
  checkInvariants(options: InvariantOptions = {}): InvariantReport {
    if (options === null || typeof options !== 'object') {
      throw invalidTypeError('options', 'an object such as { driftTolerance: 1e-12 }', options);
    }
    const driftTolerance = requirePositiveNumber(
      'driftTolerance',
      options.driftTolerance ?? DEFAULT_DRIFT_TOLERANCE[this.precision],
    );
    const { previous, current } = this.#liveLevels();
    const previous64 = Float64Array.from(previous);
    const current64 = Float64Array.from(current);
    const readout = this.#core.readout().digits;
    const wrap = options.wrapProbe === false ? null : this.#wrapProbe(previous64, current64);
    const { extents, c, h, dt } = this.#config;
    return oracleAddon().checkInvariants({
      extents,
      c,
      h,
      dt,
      previous: previous64,
      current: current64,
      initialEnergy: this.#initialEnergy,
      driftTolerance,
      readout,
      stepped: wrap?.stepped ?? null,
      shiftedStepped: wrap?.shiftedStepped ?? null,
    });
  }

  /** Stops any run and frees the native state; the lattice cannot be used afterwards. */
  close(): void {
    this.#core.close();
    this.#segment?.close();
  }

  // ------------------------------------------------------------ running

  /**
   * Starts stepping on a native thread owned by the core; the event loop
   * stays free. Resolves when the run ends (its step budget spent, stop(), or
   * a kernel failure, reported in `error`).
   */
  run(options: RunOptions = {}): Promise<RunSummary> {
    if (options === null || typeof options !== 'object') {
      throw invalidTypeError('options', 'an object such as { steps: 1000, watchdog: { everySteps: 100 } }', options);
    }
    if (this.running) throw new Error('run(): the lattice is already running; await stop() first');
    const steps = requireInteger('steps', options.steps ?? 0, 0, MAX_STEPS);
    const watchdog = options.watchdog === undefined ? null : this.#watchdog(options.watchdog);
    const run = this.#core
      .run(steps, watchdog?.everySteps ?? 0, watchdog ? (step) => watchdog.watchdog.check(step) : null)
      .finally(() => {
        if (this.#run === run) this.#run = null;
      });
    this.#run = run;
    return run;
  }

  /** Whether a run is active (a paused run is). */
  get running(): boolean {
    return this.#core.running;
  }

  get paused(): boolean {
    return this.#core.paused;
  }

  /** Holds the run at the next step boundary. */
  pause(): void {
    this.#core.pause();
  }

  resume(): void {
    this.#core.resume();
  }

  /** Ends the run at the next step boundary; resolves with its summary (null if none was active). */
  async stop(): Promise<RunSummary | null> {
    const run = this.#run;
    this.#core.stop();
    return run ? await run : null;
  }

  // ------------------------------------------------------------ hot swap

  /**
   * Validates and loads a kernel module (ELF header, child-process probe,
   * self-test against the oracle on a tiny lattice of this one's shape, core
   * validation) and returns its id for swap() and canary(). Throws
   * ModuleRefusedError naming the file and the reason; the live kernel is untouched.
   */
  async loadModule(file: string, options: LoadModuleOptions = {}): Promise<number> {
    if (typeof file !== 'string' || file === '') throw invalidTypeError('path', 'the path of a kernel module (.so)', file);
    if (options.probeTimeoutMs !== undefined) requireInteger('probeTimeoutMs', options.probeTimeoutMs, 1, 600_000);
    const info = await loadKernelModule(
      file,
      { dimensions: this.extents.length, precision: this.precision, courant2: this.courantNumber ** 2 },
      options,
    );
    this.#modules.set(info.id, info);
    return info.id;
  }

  /** What loadModule() found out about a module. */
  moduleInfo(moduleId: number): KernelModuleInfo {
    return this.#module(moduleId);
  }

  /**
   * Makes the module live in `slot` at the next step boundary (at once when
   * not running); resolves after the first step on the new code.
   */
  swap(slot: Slot, moduleId: number): Promise<SwapResult> {
    checkSlot(slot);
    this.#module(moduleId);
    return this.#core.swap(slot, moduleId);
  }

  /** Returns `slot` to its last-known-good module at the next step boundary. */
  rollback(slot: Slot): Promise<SwapResult> {
    checkSlot(slot);
    return this.#core.rollback(slot);
  }

  /** The live and last-known-good module of every slot. */
  slots() {
    return this.#core.slots();
  }

  /**
   * Runs the candidate and the incumbent of `slot` on copies of the live
   * state (taken at a step boundary), off the JS thread, and compares them;
   * the live state is untouched.
   */
  async canary(slot: Slot, moduleId: number, options: CanaryOptions = {}): Promise<CanaryReport> {
    checkSlot(slot);
    this.#module(moduleId);
    const steps = requireInteger('steps', options.steps ?? DEFAULT_CANARY_STEPS, 0, MAX_STEPS);
    const result = await this.#core.canary(slot, moduleId, steps);
    return {
      slot,
      startStep: result.startStep,
      steps,
      incumbent: result.incumbent.name,
      candidate: result.candidate.name,
      maxAbsDifference: result.maxAbsDifference,
      incumbentEnergy: this.#energyOf(result.incumbentLevels),
      candidateEnergy: this.#energyOf(result.candidateLevels),
    };
  }

  // ------------------------------------------------------------ profiler

  /** Calls, steps, total and per-call p50/p99 time of every slot, measured in native code. */
  profile(): ProfileReport {
    const raw = this.#core.profile();
    const totalNs = SLOTS.reduce((sum, slot) => sum + raw[slot].totalNs, 0);
    const report = {} as ProfileReport;
    for (const slot of SLOTS) {
      const figures = raw[slot];
      report[slot] = {
        ...figures,
        meanNs: figures.calls > 0 ? figures.totalNs / figures.calls : 0,
        share: totalNs > 0 ? figures.totalNs / totalNs : 0,
      };
    }
    return report;
  }

  /** The slot with the largest share of total time (not of mean time), or null before any call. */
  bottleneck(): Bottleneck | null {
    const report = this.profile();
    const slot = SLOTS.reduce((best, candidate) => (report[candidate].totalNs > report[best].totalNs ? candidate : best));
    if (report[slot].totalNs === 0) return null;
    return { slot, share: report[slot].share, totalNs: report[slot].totalNs };
  }

  resetProfile(): void {
    this.#core.resetProfile();
  }

  #watchdog(options: WatchdogOptions) {
    if (options === null || typeof options !== 'object') {
      throw invalidTypeError('watchdog', 'an object such as { everySteps: 100, driftTolerance: 1e-9 }', options);
    }
    const everySteps = requireInteger('watchdog.everySteps', options.everySteps, 1, MAX_STEPS);
    const tolerance = requirePositiveNumber(
      'watchdog.driftTolerance',
      options.driftTolerance ?? DEFAULT_WATCHDOG_TOLERANCE[this.precision],
    );
    const { extents, c, h, dt } = this.#config;
    const watchdog = new Watchdog(this.#core, { extents, c, h, dt }, this.#initialEnergy, tolerance, (event) =>
      this.emit('watchdog', event satisfies WatchdogEvent),
    );
    return { everySteps, watchdog };
  }

  #module(moduleId: number): KernelModuleInfo {
    const info = typeof moduleId === 'number' ? this.#modules.get(moduleId) : undefined;
    if (!info) {
      const known = [...this.#modules.keys()];
      throw invalidRangeError(
        'moduleId',
        `is not a module loaded by this lattice's loadModule() (loaded: ${known.length ? describe(known) : 'none'})`,
        moduleId,
      );
    }
    return info;
  }

  #energyOf(levels: CoreStateViews): number {
    const { extents, c, h, dt } = this.#config;
    return oracleAddon().energy(toFloat64(levels.previous), toFloat64(levels.current), extents, c, h, dt);
  }

  /** Zero-copy views when stopped; copies taken at one step boundary while running. */
  #liveLevels(): CoreStateViews {
    return this.#core.running ? this.#core.levels() : this.#core.views();
  }

  #requireStopped(operation: string): void {
    if (this.#core.running) {
      throw new Error(
        `${operation} cannot run while the lattice is running on its own thread: await lat.stop() first ` +
          '(lat.stepCount, field() and energy() work while running)',
      );
    }
  }

  /**
   * One kernel step from the live state and from the state shifted by one cell
   * along each axis, all on copies: the oracle checks the results line up.
   */
  #wrapProbe(previous: Float64Array, current: Float64Array) {
    const oracle = oracleAddon();
    const narrow = (field: Float64Array): FieldArray =>
      this.precision === 'f64' ? field : Float32Array.from(field);
    const stepOnce = (p: Float64Array, u: Float64Array) =>
      toFloat64(this.#core.stepCopy(narrow(p), narrow(u), 1).current);
    const stepped = stepOnce(previous, current);
    const shiftedStepped = this.extents.map((_, axis) =>
      stepOnce(
        oracle.shift(previous, this.#config.extents, axis, 1),
        oracle.shift(current, this.#config.extents, axis, 1),
      ),
    );
    return { stepped, shiftedStepped };
  }

  #nonFiniteError(operation: string, index: number): NonFiniteFieldError {
    const coordinates: number[] = [];
    let rest = index;
    for (let axis = this.extents.length - 1; axis >= 0; axis--) {
      const extent = this.extents[axis]!;
      coordinates.unshift(rest % extent);
      rest = Math.floor(rest / extent);
    }
    const value = this.#liveLevels().current[index];
    return new NonFiniteFieldError(
      `${operation}: cell ${index} (coordinates [${coordinates.join(', ')}]) is ${value}: ` +
        'a non-finite value has no nonary digit',
      index,
    );
  }
}
