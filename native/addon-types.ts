/**
 * Everything the three native addons export.
 *
 * The C++ core addon (`ouroboros_core.<target>.node`, cmake-js + node-addon-api)
 * owns the lattice state and runs kernels loaded from `.so` modules. It has
 * no type generator: its types are written here by hand, and
 * tests/addon-contract.test.ts checks them against the loaded addon.
 *
 * The Rust addons (napi-rs) are the oracle (`ouroboros_oracle.<target>.node`),
 * the independent reference that checks the core, and the state segment
 * (`ouroboros_segment.<target>.node`). Their types are the `.d.ts` napi-rs
 * generates from the crates (scripts/build-napi.mjs writes them to
 * ts/generated/), so the compiler checks every call against what they export.
 *
 * Every addon assumes well-formed input: the TypeScript layer validates every
 * argument before it crosses the boundary.
 */
import type * as Oracle from '../ts/generated/oracle-napi.js';
import type * as Segment from '../ts/generated/segment-napi.js';

export type Precision = 'f64' | 'f32';
export type FieldArray = Float64Array | Float32Array;

// ---------------------------------------------------------------- C++ core

export interface CoreLatticeConfig {
  /** 1..9 extents, each an integer >= 3, last axis fastest. */
  extents: number[];
  /** r^2 = (c dt / h)^2, already checked against 1 / dims. */
  courant2: number;
  precision: Precision;
  /** Absolute path of the kernel module `.so` loaded at start. */
  kernelPath: string;
  /** Worker threads of the host pool lent to kernels (>= 1). */
  threads: number;
  /** Longest one runner batch (one step-kernel call) should take, in ns (default 50 ms). */
  batchLatencyNs?: number;
  /** Most steps per step-kernel call, the runner's and step()'s (default 64). */
  maxBatchSteps?: number;
  /**
   * When set, the core steps this state segment's levels in place, in the
   * mapping the segment binding made (no second mapping), resuming at the
   * step count and current level in its header, which it updates at every
   * step boundary.
   */
  segment?: CoreSegmentRegion;
}

/** A state segment's mapping and where its levels sit (from `SegmentLayoutInfo`). */
export interface CoreSegmentRegion {
  /** From `SegmentHandle.mappingExternal()`: the core holds it until it is closed and its views are collected. */
  mapping: SegmentMappingExternal;
  segmentBytes: number;
  levelBytes: number;
  level0Offset: number;
  level1Offset: number;
  scratchOffset: number;
}

/** Zero-copy views over the live state; stale after the next step. */
export interface CoreStateViews {
  previous: FieldArray;
  current: FieldArray;
}

export type CoreReadout = { digits: Int8Array; badIndex: null } | { digits: null; badIndex: number };

/** A slot is one function of the kernel ABI, swappable on its own. */
export type CoreSlot = 'step' | 'readout';

/** A kernel module the core has loaded (process-wide; never unloaded). */
export interface CoreModuleInfo {
  id: number;
  name: string;
  path: string;
  /** Present only for a module that steps in a confined kernel host: the host's pid. */
  hostPid?: number;
}

/** Why the core refused a kernel module, as data: the caller throws it (ModuleRefusedError). */
export interface CoreLoadRefusal {
  refused: {
    /** The file the core was asked to load. */
    path: string;
    /** Why, without the path. */
    reason: string;
  };
}

/** What a swap or rollback did, reported once it has taken effect. */
export interface CoreSwapOutcome {
  slot: CoreSlot;
  fromId: number;
  fromName: string;
  toId: number;
  toName: string;
  /** stepCount at the boundary where the slot changed: the first step on the new code has this index. */
  appliedAtStep: number;
  /** Whether a step ran on the new code before the promise settled (false when not running). */
  firstStepRan: boolean;
  /** End of the last step on the old code to the start of the first on the new one, in ns. */
  gapNs: number;
}

export interface CoreRunSummary {
  startStep: number;
  endStep: number;
  /** Steps the runner took, rewound ones included. */
  stepsRun: number;
  runNs: number;
  /** Set when a kernel failed and ended the run. */
  error: string | null;
}

export interface CoreSlotProfile {
  calls: number;
  /** Time steps taken through the slot (a step call may take several); 0 for readout. */
  steps: number;
  totalNs: number;
  maxNs: number;
  /** Per call, to within a quarter octave (log-bucket histogram midpoints). */
  p50Ns: number;
  p99Ns: number;
}

/** One non-empty bucket of a slot's per-call latency histogram. */
export interface CoreHistogramBucket {
  /** The bucket's low edge in ns: it names the bucket. */
  lowNs: number;
  calls: number;
}

/** Everything a slot's profiler recorded, the histogram included: what a restarted core goes on from. */
export interface CoreSlotCounters {
  calls: number;
  steps: number;
  totalNs: number;
  maxNs: number;
  histogram: CoreHistogramBucket[];
}

/** The runner's record of each batch (one kernel call), parallel arrays; times on the native steady clock. */
export interface CoreStepTrace {
  /** Index of the batch's first step. */
  step: Float64Array;
  /** Steps in the batch. */
  steps: Float64Array;
  moduleId: Uint32Array;
  startNs: Float64Array;
  endNs: Float64Array;
  /** Cone values the runner gathered from both levels at the boundary before each batch. */
  coneValues: Float64Array;
  /** 1 where the batch was handed to the watchdog as (part of) a cone probe. */
  coneProbed: Uint8Array;
}

export interface CoreRecovery {
  /** The step the state was restored to, or null when no snapshot had been verified. */
  restoredStep: number | null;
  failedStep: number;
  rollback: CoreSwapOutcome;
}

/** A watchdog snapshot as copySnapshot() reports it. */
export interface CoreSnapshot {
  /** u^{n-1} and u^n are of this step n. */
  step: number;
  /** The probed cells (empty when the snapshot was not probed)... */
  probeCells: Float64Array;
  /** ...and the kernel's u^{n+probeSteps} there, widened exactly from an f32 lattice... */
  probeValues: Float64Array;
  /** ...after the probed batch(es) of this many steps (0 when not probed). */
  probeSteps: number;
  /**
   * A whole-level probe's (setProbeWholeLevel) u^{n+probeSteps} at every cell, widened exactly from an f32
   * lattice; null for any other snapshot. An f64 level is the core's own copy, handed over without another.
   */
  probeLevel: Float64Array | null;
  /** What copying both levels at `step` cost the runner, which stepped nothing meanwhile. */
  captureNs: number;
}

/** A cone probe as takeConeProbe() reports it; its cones are in the arrays the caller lent. */
export interface CoreConeProbe {
  /** Both levels' cones are of this step n... */
  step: number;
  /** ...and `values` of u^{n+steps}, after the probed batch(es). */
  steps: number;
  /** Each cone is the box of side 2 radius + 1 around its cell (radius >= steps): (2 radius + 1)^dims values. */
  radius: number;
  /** The probed cells (an evenly spaced subset of those armed when their cones exceed the budget)... */
  cells: Float64Array;
  /** ...and the kernel's u^{n+steps} there, widened exactly from an f32 lattice. */
  values: Float64Array;
  /** What gathering the cones and the values cost the runner. */
  gatherNs: number;
  /** Handed over at the take rate (setConeTakeRate), not as the armed plan's probe. */
  extra: boolean;
}

/** What the runner has spent on the watchdog since the lattice was made, by its own monotonic clock. */
export interface CoreWatchdogCounters {
  snapshots: number;
  /** Copying both levels at each snapshot. */
  captureNs: number;
  /** Gathering snapshot probes' cells or whole levels. */
  snapshotProbeNs: number;
  coneProbes: number;
  /** Cone probes due while the last was still being checked, skipped. */
  coneSkips: number;
  /** Every boundary's cone gather, handed over or not. */
  coneGatherNs: number;
  /** Boundaries where the runner gathered cones, and the values it gathered from both levels. */
  coneBoundaries: number;
  coneGatheredValues: number;
  /** Boundaries' gathers handed over at the take rate, those chosen but dropped for want of a slot, and every handed probe's cells. */
  coneExtras: number;
  coneExtraDrops: number;
  coneCellsHanded: number;
  /** What the dropped extras' gathers cost the runner: spent on cells nobody checked. */
  coneExtraDropNs: number;
  /** Most steps in one batch while cone probes are on (one cone of that radius fits the budget); null: no cap. */
  coneBatchCap: number | null;
}

interface CoreCanaryCommon {
  slot: CoreSlot;
  startStep: number;
  steps: number;
  /** Steps both copies took: `steps` unless cancelled. */
  stepsDone: number;
  incumbent: CoreModuleInfo;
  candidate: CoreModuleInfo;
}

/** A canary cancelCanaries() ended before its next kernel call: nothing was compared. */
export interface CoreCanaryCancelled extends CoreCanaryCommon {
  cancelled: true;
  incumbentLevels: null;
  candidateLevels: null;
}

export type CoreCanaryResult = CoreCanaryCompared | CoreCanaryCancelled;

export interface CoreCanaryCompared extends CoreCanaryCommon {
  cancelled: false;
  incumbentLevels: CoreStateViews;
  candidateLevels: CoreStateViews;
  /** Largest |difference| over both levels (step slot) or over the digits (readout slot). */
  maxAbsDifference: number;
  /** Candidate calls after which the FP environment had to be restored. */
  candidateFpRestores: number;
}

/**
 * A kernel host that failed under the runner, and the recovery the runner
 * made before its next step (as recover('step') does): the host is dead, the
 * slot back on last-known-good, the state restored from the last verified snapshot.
 */
export interface CoreHostFailure {
  /** What the core saw (hung, closed the channel, garbage), naming the host's pid. */
  reason: string;
  /** stepCount when it failed: that step was not counted. */
  failedStep: number;
  /** Null when no snapshot had been verified: the state was not restored. */
  restoredStep: number | null;
  rollback: CoreSwapOutcome;
  /** CLOCK_MONOTONIC in ns once recovered: the next step, on last-known-good, starts right after. */
  recoveredNs: number;
}

/**
 * One lattice in the core. While a run is active (run() until its promise
 * settles) the state is stepped on a native runner thread; every method that
 * reads or writes the state then waits for a step boundary.
 */
export interface CoreLattice {
  /** Copies both time levels in and resets the step counter to 0. */
  setState(previous: FieldArray, current: FieldArray): void;
  /** Advances n steps with the live kernel, in calls of at most maxBatchSteps; returns the kernel's time in ns. Throws while running. */
  step(n: number): number;
  /** n single steps calling the live step function directly (no slot, profile or boundary check); ns. */
  directSteps(n: number): number;
  readonly stepCount: number;
  /** Steps per call the runner uses next for the live step module (1 until it has been measured). */
  readonly batchSteps: number;
  readonly kernelName: string;
  field(): FieldArray;
  previousField(): FieldArray;
  /** Copies of both levels taken at one boundary. */
  levels(): CoreStateViews;
  /**
   * levels() without the JS thread waiting: the runner copies both levels at
   * its next boundary (copied at once when no run is active).
   */
  levelsAsync(): Promise<CoreStateViews>;
  /** Zero-copy views; throws while running. */
  views(): CoreStateViews;
  /**
   * Both levels widened to f64 in arrays of their own, copied by the runner
   * at its next boundary without the JS thread waiting for it (copied at
   * once when no run is active).
   */
  widenedLevelsAsync(): Promise<{ previous: Float64Array; current: Float64Array }>;
  /**
   * The readout slot's readout of the current level; with a module id, that
   * module's readout of `field` instead (a self-test's call, through no slot).
   */
  readout(moduleId?: number, field?: FieldArray): CoreReadout;
  /**
   * Runs the live step kernel (or the module `moduleId`, through no slot) n
   * steps on a private copy of the given levels and returns the result; the
   * live state is untouched.
   */
  stepCopy(previous: FieldArray, current: FieldArray, n: number, moduleId?: number): CoreStateViews;
  /**
   * stepCopy() of the module `moduleId` off the JS thread (an AsyncWorker;
   * the inputs are copied first): a confined module's self-test steps the
   * whole live-sized lattice through its host.
   */
  stepCopyAsync(previous: FieldArray, current: FieldArray, n: number, moduleId: number): Promise<CoreStateViews>;
  /**
   * The live step module goes on in batches of `steps` (clamped to
   * maxBatchSteps), as a predecessor had sized them, instead of ramping up
   * from one step. At a boundary.
   */
  resumeBatchSteps(steps: number): void;
  /** readout(moduleId, field) off the JS thread, as stepCopyAsync(). */
  readoutAsync(moduleId: number, field: FieldArray): Promise<CoreReadout>;
  /** Stops any run, frees the state; any further call throws. */
  close(): void;

  /**
   * Starts the runner: maxSteps steps (0: until stop), a watchdog snapshot
   * every snapshotEvery steps and at the start (0: none), announced by
   * onSnapshot(step). `onHostFailure` hears, on the JS thread, that the live
   * step module's kernel host failed (the slot is back on last-known-good).
   * Resolves when the run ends, after every onSnapshot and onConeProbe call
   * of the run (one queue carries them and the end, in the runner's order).
   */
  run(
    maxSteps: number,
    snapshotEvery: number,
    onSnapshot: ((step: number) => void) | null,
    onHostFailure?: ((failure: CoreHostFailure) => void) | null,
    onConeProbe?: ((step: number) => void) | null,
  ): Promise<CoreRunSummary>;
  pause(): void;
  resume(): void;
  /** Ends the run at the next boundary and waits for the runner to exit. */
  stop(): void;
  readonly running: boolean;
  readonly paused: boolean;

  swap(slot: CoreSlot, moduleId: number): Promise<CoreSwapOutcome>;
  rollback(slot: CoreSlot): Promise<CoreSwapOutcome>;
  slots(): Record<CoreSlot, { live: CoreModuleInfo; lastKnownGood: CoreModuleInfo }>;
  /** Returns once no step is in flight: at once when not running, else at the runner's next step boundary. */
  waitForBoundary(): void;
  profile(): Record<CoreSlot, CoreSlotProfile>;
  resetProfile(): void;
  /**
   * Per slot, kernel calls after which MXCSR or the x87 control word had to
   * be restored (on the calling thread or a pool worker); never reset.
   */
  fpRestores(): Record<CoreSlot, number>;
  /** Whether kernel calls restore the FP environment (default true); off only to measure what that costs. */
  setFpRestore(enabled: boolean): void;
  profileCounters(): Record<CoreSlot, CoreSlotCounters>;
  /** Adds a predecessor's counters to the slot's (a restart goes on from them). */
  addProfileCounters(slot: CoreSlot, counters: CoreSlotCounters): void;
  /** Records the next `capacity` runner batches (0 stops). */
  traceSteps(capacity: number): void;
  takeTrace(): CoreStepTrace;

  /**
   * Copies the snapshot handed to the watchdog into `previous` and `current`
   * (Float64Arrays of `cells` elements, widened exactly from an f32 lattice);
   * null, with the arrays untouched, when none is pending.
   */
  copySnapshot(previous: Float64Array, current: Float64Array): CoreSnapshot | null;
  /**
   * How the next snapshot is probed: `cells` (flat indices, integers below
   * `cells`) of the newest level after the next live batch are copied, and
   * it is announced then; `delayed` probes a one-step batch and the live
   * batch after it. When the cells' light cones ((2 probeSteps + 1)^dims
   * values each) would hold more than `maxConeValues` values (0: no limit),
   * an evenly spaced subset is probed. `remainder`: before the live batch
   * (and after the delayed one-step batch) a batch of snapshot-interval mod
   * k steps is probed too, the size of the batch that ends each interval.
   * Empty cells: no probe.
   */
  setProbe(cells: Float64Array, delayed: boolean, maxConeValues: number, remainder: boolean): void;
  /**
   * The next snapshot is probed at every cell, as setProbe with every index and no cone budget, without an
   * index list: the runner copies the whole newest level after the probed batch(es) into `probeLevel`.
   */
  setProbeWholeLevel(delayed: boolean, remainder: boolean): void;
  /**
   * No snapshot before `firstStep` in the active run (its start clears it): the runner skips the snapshot steps
   * below it, copying nothing and cutting no batch there.
   */
  deferSnapshots(firstStep: number): void;
  /** The watchdog's verdict; a verified snapshot becomes the restore point. */
  settleSnapshot(step: number, verified: boolean): void;
  /**
   * The next cone probe. While cone probes are on (a run given onConeProbe,
   * once armed), the runner gathers before every batch, probed or not, the
   * light cones at the batch's length of a few cells drawn afresh (at most
   * `cells`, from a generator seeded with `seed`) from both levels, and
   * after the batch the cells' newest values; it calls the run's
   * onConeProbe only when this plan was due at that boundary (the first at
   * or after `atStep`), which the kernel cannot see. A plan `delayed` or
   * `remainder` instead shapes its batches as a snapshot's probe would
   * (none longer than the cones' radius). `maxConeValues` bounds the cones
   * and caps every batch's length (watchdogCounters().coneBatchCap). Then a
   * follow-on probe at cells drawn afresh (coins `followDelayed`,
   * `followRemainder`), due `followOffsetSteps` after the first one's
   * batches end, unless armed again before it begins: two may be out at
   * once. Due while two are out, a probe is skipped (counted) and put off by
   * `everySteps`.
   */
  armConeProbe(
    cells: number,
    seed: number,
    delayed: boolean,
    remainder: boolean,
    atStep: number,
    everySteps: number,
    maxConeValues: number,
    followOffsetSteps: number,
    followDelayed: boolean,
    followRemainder: boolean,
  ): void;
  /**
   * The oldest announced cone probe not yet taken, its cones of u^{n-1} and u^n copied into
   * `older` and `newer` (Float64Arrays of at least cells x (2 radius + 1)^dims
   * elements; max(maxConeValues, 3^dims) always suffices); null when none is waiting.
   */
  takeConeProbe(older: Float64Array, newer: Float64Array): CoreConeProbe | null;
  /** The watchdog is done with the cone probe of `step`: the runner may take the next. */
  settleConeProbe(step: number): void;
  /**
   * Cells a step the watchdog can check beyond its plans (finite, >= 0; 0: the plans' only): every
   * boundary gathers at least floor(rate x steps) cells (within the plan's cells and cone budget),
   * and a gather no plan took is handed over, after its batch, with probability min(1, rate x steps / cells).
   */
  setConeTakeRate(cellsPerStep: number): void;
  watchdogCounters(): CoreWatchdogCounters;
  /** Rolls the slot back and restores the last verified snapshot, at a boundary. */
  recover(slot: CoreSlot): CoreRecovery;
  /** Runs candidate and incumbent on copies of the live state, off the JS thread. */
  canary(slot: CoreSlot, moduleId: number, steps: number): Promise<CoreCanaryResult>;
  /** Ends every canary in flight on this lattice before its next kernel call (each resolves as cancelled); close() does too. */
  cancelCanaries(): void;
  /**
   * A new workspace memfd (close-on-exec, sealed) sized for this lattice: a
   * kernel host's fd 5, where it steps copies (the canary's) and writes
   * readout digits. connectKernelHost maps and closes it.
   */
  openKernelHostWorkspace(): number;
  /**
   * Takes `channelFd` (the core's end of openKernelHostChannel) and
   * `workspaceFd` (mapped, then closed whatever the outcome) and registers
   * the kernel host `pid`, which mapped this lattice's segment and that
   * workspace, as a module once its hello arrives within `readyTimeoutMs`;
   * each step then waits at most `stepTimeoutMs` per step for its reply. A
   * refusal is data.
   */
  connectKernelHost(
    channelFd: number,
    workspaceFd: number,
    pid: number,
    path: string,
    readyTimeoutMs: number,
    stepTimeoutMs: number,
  ): CoreModuleInfo | CoreLoadRefusal;
  /** STREAM triad over the lattice's own memory at a boundary: scratch written from the two levels (read only). */
  memoryTriad(repetitions: number): StreamTriadResult;
  /** memoryTriad on the runner thread (at its next boundary, or in a run of no steps it starts): resolves with its result. */
  memoryTriadAsync(repetitions: number): Promise<StreamTriadResult>;
}

export interface StreamTriadResult {
  /** Best sustained triad bandwidth, counting 24 bytes per element (f64). */
  gbPerSecond: number;
  bytesPerArray: number;
  threads: number;
}

export interface CoreAddon {
  LatticeCore: new (config: CoreLatticeConfig) => CoreLattice;
  /** STREAM triad a[i] = b[i] + s * c[i] over three f64 arrays. */
  streamTriad(bytesPerArray: number, repetitions: number, threads: number): StreamTriadResult;
  /** streamTriad on a libuv worker thread (an AsyncWorker on arrays of its own): the event loop goes on while it measures. */
  streamTriadAsync(bytesPerArray: number, repetitions: number, threads: number): Promise<StreamTriadResult>;
  /** The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID): the JS thread's own work, its waits for a core aside. */
  threadCpuNs(): number;
  readonly kernelAbiVersion: number;
  /**
   * dlopens and validates a kernel module (ELF header, entry symbol, ABI
   * version, table). Loading a path again returns the same module: new code
   * needs a new path. Only for files a child process has probe-loaded.
   */
  loadKernelModule(path: string): CoreModuleInfo | CoreLoadRefusal;
  /** Both ends of a new kernel host channel (close-on-exec): `hostFd` goes to the host's spawn and is then closed here. */
  openKernelHostChannel(): { coreFd: number; hostFd: number };
  /** Why the file cannot be a shared object for this process (from its ELF header alone), or null. */
  elfDefect(path: string): string | null;
  /**
   * execve(path, argv, environment) natively: replaces this process's image
   * (same PID). Returns only on failure, with the reason.
   */
  execImage(path: string, argv: string[], environment: string[]): { error: string };
  /** SO_PEERCRED of a connected Unix socket's descriptor: who is at the other end. Throws for any other descriptor. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /**
   * A listening Unix stream socket bound at `path` with mode 0600 from its
   * creation (close-on-exec); the caller hands the descriptor to
   * `net.Server.listen({ fd })` and removes the file itself.
   */
  listenPrivateSocket(path: string, backlog: number): number;
}

// ------------------------------------------------------- Rust addons (napi-rs)

/** The oracle addon's exports, as napi-rs declares them from crates/oracle-napi's #[napi] items. */
export type OracleAddon = typeof Oracle;
export type { InvariantInput, InvariantReport, OracleReadout, StepResultF32, StepResultF64 } from '../ts/generated/oracle-napi.js';

/** The state segment addon's exports, as napi-rs declares them from crates/segment-napi's #[napi] items. */
export type SegmentAddon = typeof Segment;
export type { SegmentFault, SegmentHandle, SegmentLayoutInfo, SegmentLimits } from '../ts/generated/segment-napi.js';
export type SegmentLayoutInput = Segment.LayoutInput;
/** The configuration an attached or read segment must hold. */
export type SegmentExpected = Segment.ExpectedInput;
/**
 * An opaque napi external whose data pointer is the first byte of a state
 * segment's mapping in this process; it holds the mapping alive.
 */
export type SegmentMappingExternal = ReturnType<Segment.SegmentHandle['mappingExternal']>;
