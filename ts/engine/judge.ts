/**
 * One gauntlet run of a candidate against the live incumbent of its slot,
 * with the engine's settings, and the figures the engine keeps from it.
 */
import { evaluateCandidate, type GateProgressListener } from '../gauntlet/pipeline.js';
import type { CandidateOptions } from '../gauntlet/options.js';
import { SCREEN_INCUMBENT_SAMPLES, SCREEN_STOP_RATIO } from '../gauntlet/incumbent-timings.js';
import type { GauntletPool } from '../gauntlet/pool.js';
import type { SandboxScheduler } from '../gauntlet/serial-queue.js';
import type { BenchmarkSummary, GauntletVerdict, Slot } from '../gauntlet/types.js';
import { cellCount } from '../lattice/initial-conditions.js';
import type { EngineConfig } from './config.js';
import type { Incumbent } from './live-changes.js';

export interface Judgement {
  verdict: GauntletVerdict;
  /** The module the compile gate built, or null when it built none. */
  modulePath: string | null;
  /** Candidate over incumbent median time on the target lattice. */
  benchRatio: number | null;
  /** Speedup over the reference kernel: the incumbent's, divided by the ratio; null unless accepted. */
  speedup: number | null;
}

/** What the engine's gauntlet runs share: the worker pool and the scheduler of sandbox runs. */
export interface GauntletResources {
  pool: GauntletPool | undefined;
  sandboxQueue: SandboxScheduler;
  /**
   * The gauntlet itself (default evaluateCandidate): tests inject verdicts here instead of compiling and benchmarking.
   * A remote gauntlet (the fleet's) may not report its gates as they pass: it gives the verdict only.
   */
  evaluate?: (options: CandidateOptions, onGate?: GateProgressListener) => Promise<GauntletVerdict>;
}

/** Above this many cells the live lattice is not the benchmark lattice: three levels of it must fit the sandbox's memory. */
export const MAX_FOLLOWED_CELLS = 1 << 24;
const FALLBACK_TARGET = [4096, 4096];
/** The gauntlet's default wall-clock limit of a sandbox run, which the judge keeps for lattices up to about 2048^2. */
const MIN_SANDBOX_TIMEOUT_MS = 60_000;
/**
 * Wall-clock time a sandbox run may take per cell of the benchmark lattice,
 * in microseconds: 168 s at 4096^2. Its checks at the live size and its
 * samples grow with the lattice, and beside the live simulation on a loaded
 * 2-core machine (load 10-15) one run at 4096^2 took 60 to 100 s: at the
 * gauntlet's 60 s every attempt of a cold run was killed during its
 * benchmark, each after a minute of work. A kernel that hangs is still
 * stopped by the runner's per-command limit (its CPU budget in wall time).
 */
const SANDBOX_TIMEOUT_US_PER_CELL = 10;

/** The sandbox run's wall-clock limit for a benchmark lattice of `cells` cells. */
export function sandboxTimeoutMs(cells: number): number {
  return Math.max(MIN_SANDBOX_TIMEOUT_MS, Math.ceil((cells * SANDBOX_TIMEOUT_US_PER_CELL) / 1000));
}

/**
 * The gauntlet's benchmark lattice: gauntlet.targetExtents, or when that is
 * empty the live lattice's extents (a kernel is ranked on the size it will
 * run at), up to MAX_FOLLOWED_CELLS cells, and 4096x4096 beyond.
 */
export function benchmarkTarget(config: Pick<EngineConfig, 'gauntlet' | 'lattice'>): number[] {
  if (config.gauntlet.targetExtents.length > 0) return config.gauntlet.targetExtents;
  return cellCount(config.lattice.extents) <= MAX_FOLLOWED_CELLS ? config.lattice.extents : FALLBACK_TARGET;
}

export async function judgeCandidate(
  config: EngineConfig,
  { pool, sandboxQueue, evaluate = evaluateCandidate }: GauntletResources,
  source: string,
  slot: Slot,
  incumbent: Incumbent,
  genome: Record<string, unknown> | null = null,
  /** Ends the run at once with an interrupted verdict (verdict.interrupted). */
  signal?: AbortSignal,
  /** Steps the live runner asks of each kernel call (its batch): the benchmark calls both kernels so. */
  liveStepsPerCall = 1,
  /** Told of each gate as it begins and ends, for the displays. */
  onGate?: GateProgressListener,
): Promise<Judgement> {
  const { gauntlet } = config;
  const target = benchmarkTarget(config);
  const screenOnly = gauntlet.speedJudge === 'live-ab';
  const options: CandidateOptions = {
    source,
    // The gauntlet renders the genome again itself: only a source it renders to exactly takes the template's analysis.
    genome,
    slot,
    incumbent: incumbent.modulePath,
    safetyThreshold: config.safetyThreshold,
    // No seed: every evaluation draws its own (r^2, extents, dojo waves), so a
    // kernel fitted to one draw fails the next; the verdict records it.
    precision: config.lattice.precision,
    targetExtents: target,
    sandboxTimeoutMs: sandboxTimeoutMs(cellCount(target)),
    // The configured held-out lattice gives the size only: the runner draws its extents for every evaluation.
    heldOutCells: Math.min(cellCount(gauntlet.heldOutExtents), MAX_FOLLOWED_CELLS),
    stepsPerCall: liveStepsPerCall,
    // The differential's long call on the live lattice may be as long as the live runner's longest batch.
    maxBatchSteps: config.lattice.maxBatchSteps,
    // The main lattice's r^2 (c = h = 1, createMainLattice), where the differential's live cases of the live kind step:
    // a kernel that cheats only at a user's round r^2 passes every drawn one. A target of other dimensions is not the
    // live lattice, and its cases keep drawn values.
    ...(target.length === config.lattice.extents.length ? { liveCourant2: config.lattice.dt * config.lattice.dt } : {}),
    benchSteps: gauntlet.benchSteps,
    // When a live trial decides, the benchmark only screens: fewer samples, the same checks. The incumbent is
    // timed on the fewest samples that can still call a candidate slower, stops early when the candidate is clearly
    // faster, and is timed once per module: later screens against it re-check its known times on one sample
    // (incumbent-timings.ts).
    ...(screenOnly
      ? {
          benchSamples: gauntlet.screenSamples,
          incumbentSamples: Math.min(SCREEN_INCUMBENT_SAMPLES, gauntlet.screenSamples),
          incumbentStopRatio: SCREEN_STOP_RATIO,
          reuseIncumbentTimes: true,
        }
      : { benchSamples: gauntlet.benchSamples }),
    // The candidate gets as many threads as the live lattice lends its kernels (0: the gauntlet's default, every CPU, as the core takes).
    ...(config.lattice.threads > 0 ? { threads: config.lattice.threads } : {}),
    ...(gauntlet.cacheDir === '' ? {} : { cacheDir: gauntlet.cacheDir }),
    cacheMaxBytes: gauntlet.cacheMiB * 2 ** 20,
    ...(pool ? { pool } : {}),
    sandboxQueue,
    ...(signal ? { signal } : {}),
  };
  const verdict = await evaluate(options, onGate);
  const compile = verdict.gates.find((gate) => gate.gate === 'compile');
  const modulePath = (compile?.details as { modulePath?: string | null } | undefined)?.modulePath ?? null;
  const benchRatio = verdict.benchmark?.lattices.find((lattice) => lattice.lattice === 'target')?.ratio ?? null;
  const speedup = verdict.accepted && benchRatio !== null && benchRatio > 0 ? incumbent.speedup / benchRatio : null;
  return { verdict, modulePath, benchRatio, speedup };
}

/** The gauntlet run of a candidate against an incumbent, as the attempt runner calls it. */
export type CandidateJudge = (source: string, slot: Slot, incumbent: Incumbent, genome: Record<string, unknown> | null) => Promise<Judgement>;

/**
 * Why the sandbox's benchmark keeps an accepted candidate from a live
 * trial, or null: only when it is clearly slower than the incumbent on the
 * target lattice (significant, and its whole interval 3% or more above
 * 1), since the sandbox shares the cores with the live lattice then, and
 * the trial measures where the kernel will run.
 */
export function screenedOut(verdict: GauntletVerdict): string | null {
  const target = verdict.benchmark?.lattices.find((lattice) => lattice.lattice === 'target');
  if (target === undefined) return `not tried live: the sandbox gave no benchmark on the target lattice`;
  return target.verdict === 'slower' ? `not tried live: clearly slower than the incumbent in the sandbox: ${benchmarkText(verdict.benchmark)}` : null;
}

/** Why the sandbox's benchmark, when it decides, does not apply an accepted candidate, or null for a win on both lattices. */
export function notABenchmarkWin(verdict: GauntletVerdict): string | null {
  return verdict.improves ? null : `not a significant win on both lattices: ${benchmarkText(verdict.benchmark)}`;
}

/** The benchmark in one line, for reasons and the ledger. */
export function benchmarkText(benchmark: BenchmarkSummary | null): string {
  if (benchmark === null) return 'no benchmark';
  return benchmark.lattices
    .map((l) => `${l.lattice} [${l.extents.join('x')}] ratio ${l.ratio.toFixed(3)} (${l.verdict}, p = ${l.pValue.toExponential(1)})`)
    .join(', ');
}
