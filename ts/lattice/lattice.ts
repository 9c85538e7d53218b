/**
 * The public handle on one simulated torus. The state lives in the C++ core;
 * this class validates every argument, forwards to the core, and asks the Rust
 * oracle for the energy and the invariant report over the core's live memory.
 *
 * A lattice can also run on its own native thread (run / pause / resume /
 * stop) while its kernel slots are hot-swapped (loadModule, swap, rollback,
 * canary), watched (the 'watchdog' event) and profiled (profile, bottleneck).
 *
 * With `sharedState: true` the state lives in a shared-memory segment that
 * can be checkpointed and handed to a restarted core; the protocols for that
 * are in freeze.ts, restart.ts, successor.ts and restore.ts, and this class
 * only lends them its private parts.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import type {
  CoreHostFailure,
  CoreLattice,
  CoreSegmentRegion,
  CoreSwapOutcome,
  FieldArray,
  InvariantReport,
  Precision,
  StreamTriadResult,
} from '../../native/addon-types.js';
import { coreAddon, kernelModulePath, oracleAddon } from '../../native/loader.js';
import { describe, invalidRangeError, invalidTypeError, requireInteger } from '../errors.js';
import { readCheckpoint, writeCheckpoint } from '../handoff/checkpoint.js';
import type { HandoffMetadata, ModuleRef } from '../handoff/metadata.js';
import { createSegment, type StateSegment } from '../handoff/segment.js';
import { requirePath } from '../handoff/validate.js';
import type { ConfinedLoadOptions } from '../modules/kernel-host.js';
import type { KernelModuleInfo, LoadModuleOptions } from '../modules/module-manager.js';
import { ENGINE_INITIAL_ENERGY, ENGINE_THREADS, atFreezePoint, captureMetadata } from './freeze.js';
import { type CanaryOptions, type CanaryReport, runCanary } from './canary.js';
import { type InvariantOptions, energyOf, invariantInput, liveLevels, nonFiniteError } from './oracle-input.js';
import { type HostedModule, loadConfined, loadInProcess } from './module-loading.js';
import { type LatticeConfig, type LatticeOptions, MAX_STEPS, checkField, resolveLatticeOptions } from './options.js';
import { type Bottleneck, type ProfileReport, bottleneckOf, profileReport } from './profile.js';
import { type HandoffReport, frozenMetadata, handoffReport, restoreCounters, restoreSlot } from './restore.js';
import { type RestartOptions, type RestartReport, checkRestartOptions } from './restart-options.js';
import { type Slot, checkSlot } from './slots.js';
import { type FrozenState, type ResumeOptions, checkResumeOptions, takeOver } from './successor.js';
import type { WatchdogEvent, WatchdogOptions } from './watchdog.js';
import { type ConeProbeCounts, WatchdogRun } from './watchdog-run.js';

export { SLOTS, type Slot } from './slots.js';
export type { HandoffReport } from './restore.js';
export type { RestartOptions, RestartReport } from './restart-options.js';
export type { ResumeOptions } from './successor.js';
export type { CanaryOptions, CanaryReport } from './canary.js';
export type { InvariantOptions } from './oracle-input.js';
export type { Bottleneck, ProfileReport, SlotProfileReport } from './profile.js';

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
  /** Set when a kernel failed and ended the run, or the watchdog stopped it (a check its kernel fails every time from the same state). */
  error: string | null;
}

/** What a swap or rollback did; the promise settles after the first step on the new code. */
export type SwapResult = CoreSwapOutcome;

/** Lets the constructor adopt a segment; only this module makes one. */
class SegmentGrant {
  constructor(readonly segment: StateSegment) {}
}

function regionOf(segment: StateSegment): CoreSegmentRegion {
  const { segmentBytes, levelBytes, level0Offset, level1Offset, scratchOffset } = segment.layout;
  return { mapping: segment.coreMapping(), segmentBytes, levelBytes, level0Offset, level1Offset, scratchOffset };
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
  /** memoryTriadAsync() calls not yet settled: with no run of the caller's, the runner is busy measuring. */
  #triadsPending = 0;
  readonly #modules = new Map<number, KernelModuleInfo>();
  /** The kernel host of each confined module (loadConfinedModule), by module id. */
  readonly #hosts = new Map<number, HostedModule>();
  /** The watchdog of this lattice's runs: a confined module goes live only while one runs (its snapshots restore a host's crash). */
  readonly #watchdog: WatchdogRun;
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
      grant instanceof SegmentGrant ? grant.segment : config.sharedState ? createSegment({ extents: config.extents, precision: config.precision }) : null;
    try {
      this.#core = new (coreAddon().LatticeCore)({
        extents: config.extents,
        courant2: config.courantNumber * config.courantNumber,
        precision: config.precision,
        kernelPath: config.kernel ?? kernelModulePath('reference'),
        threads: config.threads,
        // At least 1 ns: a sub-nanosecond latency is one step per call, as any latency below a step is.
        batchLatencyNs: Math.max(1, Math.round(config.batchLatencyMs * 1e6)),
        maxBatchSteps: config.maxBatchSteps,
        segment: segment ? regionOf(segment) : undefined,
      });
    } catch (error) {
      if (!(grant instanceof SegmentGrant)) segment?.close();
      throw error;
    }
    this.#segment = segment;
    this.#watchdog = new WatchdogRun(this.#core, config, config.cells, (event) => this.emit('watchdog', event satisfies WatchdogEvent));
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
    return atFreezePoint(this.#core, () => {
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
   * `lat.handoff.warnings` says so. The lattice goes on at exactly the next
   * step, its profile from the checkpoint's counters.
   */
  static async resume(file: string, options: ResumeOptions = {}): Promise<Lattice> {
    const source = requirePath('file', file);
    const checked = checkResumeOptions(options);
    const segment = readCheckpoint(source);
    return Lattice.#adopt({ segment, mode: 'checkpoint', freezeNs: null, preloaded: new Map() }, checked);
  }

  /**
   * In a successor process (started by restart()), attaches the inherited
   * segment named by $OUROBOROS_SEGMENT_FD, verifies it, reloads the modules
   * and returns the lattice at exactly the next step, its profile going on
   * from the predecessor's; null when this process is not a successor.
   */
  static async inherited(options: ResumeOptions = {}): Promise<Lattice | null> {
    const checked = checkResumeOptions(options);
    return takeOver(checked, (state) => Lattice.#adopt(state, checked));
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
    const { mode, command } = checkRestartOptions(options);
    const segment = this.#requireSegment('restart()');
    // Loaded here, not with this module: a successor's start-up is part of the downtime.
    const { restartByExec, restartBySpawn } = await import('./restart.js');
    const target = { segment, stop: () => this.stop(), metadata: () => this.#metadata(), close: () => this.close() };
    if (mode === 'exec') return restartByExec(target);
    this.#successor = await restartBySpawn(target, command ?? [...process.execArgv, ...process.argv.slice(1)]);
    return this.#successor;
  }

  #metadata(): HandoffMetadata {
    return captureMetadata({ core: this.#core, config: this.#config, modules: this.#modules, initialEnergy: this.#initialEnergy });
  }

  #requireSegment(operation: string): StateSegment {
    if (!this.#segment) {
      throw new Error(`${operation} needs the state in a shared-memory segment: create the lattice with { sharedState: true }`);
    }
    return this.#segment;
  }

  /** A lattice on a frozen state: its config, modules, profile and bookkeeping as the metadata records them. */
  static async #adopt(state: FrozenState, options: ResumeOptions): Promise<Lattice> {
    let lattice: Lattice | null = null;
    try {
      const metadata = frozenMetadata(state.segment);
      const threads = options.threads ?? Number(metadata.engineState[ENGINE_THREADS] ?? os.availableParallelism());
      lattice = new Lattice({ ...metadata.config, threads, sharedState: true }, new SegmentGrant(state.segment));
      lattice.#initialEnergy = Number(metadata.engineState[ENGINE_INITIAL_ENERGY] ?? 0);
      const core = lattice.#core;
      const load = (ref: ModuleRef) => lattice!.#loadForRestore(ref, options, state.preloaded);
      const modules = [];
      for (const slot of metadata.slots) modules.push(await restoreSlot(core, slot, load));
      restoreCounters(core, metadata.counters);
      lattice.#handoff = handoffReport(state, metadata, modules, lattice.stepCount);
      // The batch size belongs to the live step module: only when every module came back as recorded.
      if (metadata.batchSteps !== undefined && lattice.#handoff.warnings.length === 0) core.resumeBatchSteps(metadata.batchSteps);
      return lattice;
    } catch (error) {
      if (lattice) lattice.close();
      else state.segment.close();
      throw error;
    }
  }

  async #loadForRestore(ref: ModuleRef, options: ResumeOptions, preloaded: Map<string, KernelModuleInfo>): Promise<number> {
    // A module that ran confined comes back only confined: its constructors never run in this process.
    if (ref.confined === true) return this.loadConfinedModule(ref.path, { cacheDir: options.cacheDir });
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

  /**
   * Advances n leapfrog steps in native code, in kernel calls of at most
   * maxBatchSteps steps each; not while running.
   */
  step(n = 1): void {
    requireInteger('n', n, 0);
    this.#requireStopped('step()');
    this.#lastStepNs = this.#core.step(n);
  }

  /** Steps taken since the last setState; exact while running too. */
  get stepCount(): number {
    return this.#core.stepCount;
  }

  /**
   * Steps per kernel call the runner uses next for the live step module: 1
   * for a module not yet measured, then as many as fit batchLatencyMs at its
   * measured time per step (at most maxBatchSteps, at most doubling from one
   * batch to the next). Checks of a kernel call it so too.
   */
  get batchSteps(): number {
    return this.#core.batchSteps;
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

  /**
   * Copies of both time levels taken at one step boundary, in the lattice's
   * precision, without the event loop waiting: the runner copies them at its
   * next boundary on its own thread (at 4096^2 f64, 256 MiB that held the JS
   * thread in field() and previousField() for the length of a step and the
   * copy). With no run active they are copied at once, as the synchronous
   * calls do: the caller then owns the state, and no other thread may read it.
   */
  levelsAsync(): Promise<{ previous: FieldArray; current: FieldArray }> {
    return this.#core.levelsAsync();
  }

  /** The discrete energy leapfrog conserves, computed by the Rust oracle over the live state. */
  energy(): number {
    return energyOf(this.#config, liveLevels(this.#core));
  }

  /**
   * `energy()` off the event loop: the runner copies both levels at its next
   * step boundary on its own thread (256 MiB at 4096^2 f64, which on the JS
   * thread held the event loop 0.4-3.3 s under load), and the oracle sums
   * them on a libuv thread (about 100 ms at 4096^2).
   */
  async energyAsync(): Promise<number> {
    const { previous, current } = await this.#core.widenedLevelsAsync();
    const { extents, c, h, dt } = this.#config;
    return oracleAddon().energyAsync(previous, current, extents, c, h, dt);
  }

  /**
   * The energy drift the running watchdog found in the last snapshot it
   * checked, with that snapshot's step; null without a watchdog or before
   * its first check. It costs nothing: the watchdog has summed the energy
   * anyway, where `energyAsync()` copies both levels and sums them again.
   */
  get checkedEnergyDrift(): { step: number; energyDrift: number } | null {
    return this.#watchdog.lastChecked;
  }

  /**
   * The running watchdog's cone probes: how many it has checked in this run
   * (extras among them) and their cells, and how many the runner skipped or
   * dropped because probes were still being checked (since the lattice was
   * made); null without a watchdog.
   */
  get coneProbes(): ConeProbeCounts | null {
    return this.#watchdog.coneProbes;
  }

  /** Balanced-nonary digits of the current level, computed by the live kernel. */
  readout(): Int8Array {
    const result = this.#core.readout();
    if (result.digits) return result.digits;
    throw nonFiniteError(this.#core, this.extents, 'readout', result.badIndex);
  }

  /** The oracle's report on the live state: energy drift, finiteness, readout and wrap. */
  checkInvariants(options: InvariantOptions = {}): InvariantReport {
    return oracleAddon().checkInvariants(invariantInput(this.#core, this.#config, this.#initialEnergy, options));
  }

  /**
   * `checkInvariants()` with the oracle's part (most of its time: the energy
   * sum, the readout and the wrap comparison) on a libuv thread. The state,
   * the readout and the wrap probe's steps are taken now, at one step.
   */
  checkInvariantsAsync(options: InvariantOptions = {}): Promise<InvariantReport> {
    return oracleAddon().checkInvariantsAsync(invariantInput(this.#core, this.#config, this.#initialEnergy, options));
  }

  /** Stops any run and frees the native state; the lattice cannot be used afterwards. */
  close(): void {
    this.#watchdog.close();
    this.#core.close();
    for (const { host } of this.#hosts.values()) void host.kill();
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
    if (this.#measuringAlone()) throw new Error(this.#measuringMessage('run()'));
    if (this.running) throw new Error('run(): the lattice is already running; await stop() first');
    const steps = requireInteger('steps', options.steps ?? 0, 0, MAX_STEPS);
    const { everySteps, onSnapshot, onConeProbe } = this.#watchdog.start(options.watchdog, this.#initialEnergy);
    const run = this.#core
      .run(steps, everySteps, onSnapshot, (failure) => this.#hostFailed(failure), onConeProbe)
      .then((summary) => this.#watchdog.summarize(summary))
      .finally(() => {
        if (this.#run === run) this.#run = null;
        this.#watchdog.end();
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

  /**
   * Defers the watchdog's oracle checks until the returned function is
   * called (holds nest; releasing twice is harmless). The runner goes on
   * stepping, and the snapshot it took at the first K-th step of the hold is
   * checked on the last release: at a large lattice a check takes a core
   * and a share of the memory bandwidth for a tenth of a second, which a
   * kernel measured beside it would be charged for. A check the hold
   * deferred can still roll back, to the last snapshot before the hold.
   */
  holdWatchdogChecks(): () => void {
    return this.#watchdog.hold();
  }

  /**
   * Milliseconds the watchdog's checks have cost this lattice's runs so far
   * (every run's, as the watchdog measured each: the runner's copy of the
   * levels or a cone probe's gather, and the JS thread's work; a full
   * check's steps and a cone's off the JS thread are not in it).
   */
  get watchdogCheckMs(): number {
    return this.#watchdog.checkMs;
  }

  /**
   * Whether the active run has a watchdog whose differential check compares
   * the step kernel's batches with the oracle's: a step module that went
   * live is then checked at the next multiple of everySteps (a swap ends any
   * deferral), and rolled back with the state restored if it disagrees.
   */
  get stepKernelWatched(): boolean {
    return this.#watchdog.differentialRunning;
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
    const shape = { dimensions: this.extents.length, precision: this.precision, courant2: this.courantNumber ** 2 };
    const info = await loadInProcess(file, options, shape);
    this.#modules.set(info.id, info);
    return info.id;
  }

  /**
   * Loads a module from an untrusted source to run confined: a kernel host
   * (ts/modules/kernel-host.ts) maps this lattice's state segment, confines
   * itself, loads the module there and steps the live state in place when
   * the core asks, or reads a level out. Nothing of the module runs in this
   * process. Needs `sharedState: true`. Either slot takes a confined module,
   * while running only under a watchdog (see swap()). The same bytes share
   * one host while it lives, as loadModule() shares one mapping. Throws
   * ModuleRefusedError naming the file and the reason.
   */
  async loadConfinedModule(file: string, options: ConfinedLoadOptions = {}): Promise<number> {
    const lattice = () => ({
      core: this.#core,
      segmentFd: this.#requireSegment('loadConfinedModule()').fd,
      extents: this.extents,
      precision: this.precision,
      courant2: this.courantNumber ** 2,
      threads: this.#config.threads,
    });
    const hosted = await loadConfined(file, options, lattice, this.#hosts);
    this.#modules.set(hosted.info.id, hosted.info);
    this.#hosts.set(hosted.info.id, hosted);
    return hosted.info.id;
  }

  /** Whether the module runs confined in a kernel host (loaded by loadConfinedModule). */
  isConfined(moduleId: number): boolean {
    return this.#hosts.has(moduleId);
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
    if (this.#hosts.has(moduleId)) this.#checkConfinedSwap(moduleId);
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
    return runCanary(this.#core, slot, moduleId, options, (levels) => energyOf(this.#config, levels));
  }

  // ------------------------------------------------------------ profiler

  /** Calls, steps, total and per-call p50/p99 time of every slot, measured in native code. */
  profile(): ProfileReport {
    return profileReport(this.#core.profile());
  }

  /** The slot with the largest share of total time (not of mean time), or null before any call. */
  bottleneck(): Bottleneck | null {
    return bottleneckOf(this.profile());
  }

  /**
   * The STREAM triad over this lattice's own memory, at a step boundary (the
   * run waits for it, about 0.2 s at 4096^2 f64 with 10 repetitions): its
   * scratch level written from its two time levels, which are only read, on
   * the core's thread pool; the best of `repetitions` passes, counting 24
   * bytes per 8-byte element. The memory roof of the very pages its kernels
   * stream: on a VM, fresh arrays in another process can be backed by host
   * memory twice or half as fast.
   */
  memoryTriad(repetitions = 10): StreamTriadResult {
    requireInteger('repetitions', repetitions, 1, 1000);
    return this.#core.memoryTriad(repetitions);
  }

  /**
   * memoryTriad() without holding the event loop: the core's runner thread
   * measures, at the active run's next boundary (the run waits for it, as
   * for memoryTriad()), or, with no run active, in a run of no steps that
   * ends when it has measured. Until the promise settles the measurement
   * owns the state: calls that use it at a boundary (field(), setState(),
   * swap()) wait for it, and run() and step() refuse until it settles.
   * `running` is true while the runner measures.
   */
  memoryTriadAsync(repetitions = 10): Promise<StreamTriadResult> {
    requireInteger('repetitions', repetitions, 1, 1000);
    const measuring = this.#core.memoryTriadAsync(repetitions);
    this.#triadsPending += 1;
    return measuring.finally(() => (this.#triadsPending -= 1));
  }

  resetProfile(): void {
    this.#core.resetProfile();
  }

  /**
   * Per slot, the kernel calls after which the core had to restore the FP
   * environment (MXCSR, x87 control word) a kernel left changed; never
   * reset. The watchdog rolls a slot back when its count rises.
   */
  fpRestores(): Record<Slot, number> {
    return this.#core.fpRestores();
  }

  /**
   * A confined module's host maps the live levels writable and can crash
   * mid-step with one level half written: only a verified snapshot restores
   * that, so a running lattice takes one, in either slot, only under a
   * watchdog. (Its last-known-good may be confined too: when that host has
   * failed as well, the core falls back to the lattice's own first kernel.)
   */
  #checkConfinedSwap(moduleId: number): void {
    if (this.running && !this.#watchdog.running) {
      throw new Error(`swap(): module ${moduleId} runs confined, and this run has no watchdog to restore the state if its host crashes: run with { watchdog }`);
    }
  }

  /**
   * The runner met a failed kernel host and has recovered (the host is dead,
   * the slot back on last-known-good, the state restored from the last
   * verified snapshot); reported as a watchdog event once the host's exit is known.
   */
  #hostFailed(failure: CoreHostFailure): void {
    const hosted = this.#hosts.get(failure.rollback.fromId);
    const event = (host: WatchdogEvent['kernelHost'], how = ''): WatchdogEvent => ({
      reason: 'kernel-host',
      // The ledger and the archive take the rollback's reason from here: the seccomp kill is named in it.
      detail: how === '' ? failure.reason : `${failure.reason}; the host ${how}`,
      slot: 'step',
      checkedStep: failure.failedStep,
      failedStep: failure.failedStep,
      restoredStep: failure.restoredStep,
      rolledBackFrom: failure.rollback.fromName,
      rolledBackTo: failure.rollback.toName,
      energyDrift: Number.NaN,
      ...(host ? { kernelHost: host } : {}),
    });
    if (!hosted) {
      this.emit('watchdog', event(undefined));
      return;
    }
    void Promise.all([hosted.host.exited, import('../modules/kernel-host.js')]).then(([exit, { describeExit }]) =>
      this.emit('watchdog', event({ pid: hosted.host.pid, exit, layers: hosted.info.layers, recoveredNs: failure.recoveredNs }, describeExit(exit))),
    );
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

  /** Whether the runner is busy only with memoryTriadAsync() (no run of the caller's). */
  #measuringAlone(): boolean {
    return this.#triadsPending > 0 && this.#run === null;
  }

  #measuringMessage(operation: string): string {
    return `${operation} cannot run while memoryTriadAsync() measures the lattice's memory on its thread: await it first`;
  }

  #requireStopped(operation: string): void {
    if (this.#measuringAlone()) throw new Error(this.#measuringMessage(operation));
    if (this.#core.running) {
      throw new Error(
        `${operation} cannot run while the lattice is running on its own thread: await lat.stop() first ` +
          '(lat.stepCount, field() and energy() work while running)',
      );
    }
  }
}
