/**
 * Warm start: the best verified module of each slot, remembered with the
 * fingerprint of the machine it was verified on (which holds the compiler
 * and the hardened flags, so the build cache key too), goes live at once on
 * a machine with the same fingerprint when its source still hashes to what
 * was recorded and the build cache holds its module, byte for byte (a module
 * gone from the cache is rebuilt through the hardened compile first). It
 * goes live as any winner does, through LiveChanges (swap and watch,
 * confined unless trusted; the canary only where no watchdog checks the
 * step kernel differentially). Then the gauntlet re-verifies it in the
 * background, at the live lattice's size and first at idle priority, while
 * the improvement loop runs; a module that fails is rolled back and marked in the archive, and
 * no later run tries it again. A fingerprint mismatch is reported, never used.
 */
import path from 'node:path';
import { packageRoot } from '../../native/loader.js';
import type { Archive } from '../archive/archive.js';
import { sourceSha256 } from '../archive/canonical-hash.js';
import type { MachineFingerprint } from '../archive/types.js';
import { defaultCacheDir, hardenedCompile } from '../gauntlet/compile.js';
import { evaluateCandidate } from '../gauntlet/pipeline.js';
import type { SandboxPriority } from '../gauntlet/options.js';
import type { Slot } from '../gauntlet/types.js';
import type { EngineConfig } from './config.js';
import type { WarmStartReport } from './events.js';
import { benchmarkTarget, type GauntletResources, judgeCandidate } from './judge.js';
import { type Incumbent, type LiveChanges, fileSha256 } from './live-changes.js';
import type { ThroughputWindow } from './watch.js';
import { isTrustedSource } from './trust.js';

export interface WarmStartHost {
  config: EngineConfig;
  archive: Archive;
  fingerprint: MachineFingerprint;
  live: LiveChanges;
  gauntlet: GauntletResources;
  signal: AbortSignal;
  /** The live step kernel's throughput just measured (the engine's baseline): the swap then waits for no window of its own. */
  incumbentWindow?: ThroughputWindow | null;
  /** CPU seconds of this process's ended children so far. */
  childCpuSeconds: () => number;
  /** Told the CPU seconds of the re-verification's sandbox run, a cost of the run that no attempt caused (Economy.chargeReverification). */
  bookReverificationCpu: (cpuSeconds: number) => void;
  /** Told that a re-verification begins; the function it returns is called at its verdict (the run's account). */
  reverificationStarted?: () => () => void;
}

/**
 * Steps of a warm start's canary, when it runs: the module's bytes are
 * those that passed the gauntlet, the full canary and a watch window on
 * this machine before, and the gauntlet re-verifies them in the background;
 * the canary is only a check that it agrees with the live kernel on this
 * run's state, and at the reference kernel's speed the default ten steps
 * (twice, on copies) held the warm start back for seconds at 4096^2. A
 * step module skips it while the watchdog checks the step kernel
 * differentially (ChangeRequest.skipCanaryWhenWatched): even two steps
 * stepped the reference on a copy of the 4096^2 state and summed two
 * energies on the JS thread, about 4 s before the swap on a quiet machine,
 * where the watchdog checks the module at its first multiple of everySteps.
 */
const WARM_START_CANARY_STEPS = 2;

/** What the warm start did with a slot now, and the re-verification it left running. */
export interface WarmStart {
  report: WarmStartReport;
  /** Resolves with the re-verification's report (verified, rolled-back, or none when the stop cut it short); null when nothing went live. */
  reverified: Promise<WarmStartReport> | null;
}

const COMPILE_TIMEOUT_MS = 60_000;

function settled(report: WarmStartReport): WarmStart {
  return { report, reverified: null };
}

/** The remembered module in the build cache, rebuilt there if it is gone; null with why when it is not the remembered bytes. */
async function cachedModule(host: WarmStartHost, source: string, moduleSha256: string): Promise<{ modulePath: string } | { problem: string }> {
  const { gauntlet } = host.config;
  const built = await hardenedCompile(source, {
    includeDir: path.join(packageRoot, 'cpp', 'include'),
    cacheDir: gauntlet.cacheDir === '' ? defaultCacheDir() : gauntlet.cacheDir,
    cacheMaxBytes: gauntlet.cacheMiB * 2 ** 20,
    useCache: true,
    timeoutMs: COMPILE_TIMEOUT_MS,
    signal: host.signal,
  });
  if (!built.passed || built.details.modulePath === null) return { problem: `its rebuild failed: ${built.reason}` };
  const sha256 = fileSha256(built.details.modulePath);
  if (sha256 !== moduleSha256) return { problem: `the module built from its source (sha256 ${sha256}) is not the one remembered (${moduleSha256})` };
  return { modulePath: built.details.modulePath };
}

export async function warmStartSlot(host: WarmStartHost, slot: Slot): Promise<WarmStart> {
  const candidate = host.archive.warmStart.warmStartCandidate(slot, host.fingerprint);
  if (candidate.kind === 'none') return settled({ slot, outcome: 'none', attemptId: null, reason: 'no module remembered for this slot' });
  if (candidate.kind === 'mismatch') return settled({ slot, outcome: 'untrusted', attemptId: candidate.attemptId, reason: candidate.reason });
  const record = host.archive.get(candidate.attemptId)!;
  const incumbent = host.live.incumbents.get(slot)!;
  if (incumbent.attemptId === record.id) return settled({ slot, outcome: 'applied', attemptId: record.id, reason: 'already live' });
  const reject = (reason: string) => {
    host.archive.warmStart.markFailed(slot, record.id, `warm start: ${reason}`);
    return settled({ slot, outcome: 'rejected', attemptId: record.id, reason });
  };
  if (sourceSha256(candidate.source) !== candidate.sourceSha256) return reject('its source does not hash to the recorded sha256 (the archive was edited)');

  const module = await cachedModule(host, candidate.source, candidate.moduleSha256);
  if (host.signal.aborted) return settled({ slot, outcome: 'none', attemptId: record.id, reason: 'the engine stopped first' });
  if ('problem' in module) return reject(module.problem);

  const outcome = await host.live.change(
    {
      slot,
      attemptId: record.id,
      modulePath: module.modulePath,
      speedup: record.speedup ?? 1,
      action: 'warm-start',
      reason: `warm start: remembered on this machine (fingerprint ${host.fingerprint.hash.slice(0, 12)}), re-verified in the background`,
      // It goes live at once on what it did before (swap and watch), not after a trial.
      speedJudge: { by: 'benchmark', judgedAgainst: incumbent.attemptId },
      trusted: isTrustedSource(record.source, record.genome),
      canarySteps: WARM_START_CANARY_STEPS,
      skipCanaryWhenWatched: true,
      ...(slot === 'step' && host.incumbentWindow ? { incumbentWindow: host.incumbentWindow } : {}),
    },
    host.signal,
  );
  if (outcome.status === 'passed' || outcome.status === 'stale') return settled({ slot, outcome: 'none', attemptId: record.id, reason: outcome.reason });
  if (outcome.status !== 'applied') return reject(outcome.reason);
  host.archive.updateAttempt(record.id, { status: 'applied', speedup: outcome.speedup, liveMlups: outcome.liveMlups });
  return {
    report: {
      slot,
      outcome: 'applied',
      attemptId: record.id,
      reason: `live at once, ${outcome.speedup.toFixed(2)}x the reference; re-verifying in the background`,
    },
    reverified: reverify(host, slot, record.id, { ...incumbent, modulePath: module.modulePath }),
  };
}

/**
 * Wall-clock limit of the re-verification's first sandbox run, the one at
 * idle priority: on a quiet 2-core machine the live job leaves it enough
 * CPU to finish in well under this; on a machine too busy to leave it any,
 * it is cut here and the check runs again at the engine's priority.
 */
export const IDLE_REVERIFICATION_TIMEOUT_MS = 30_000;

/**
 * The gauntlet's gates on the live warm-started module: only its
 * correctness matters here (the benchmark gate passes whether or not it
 * wins), so the benchmark, which only screens, times it against its own
 * build (`timedAgainst`), and on a target lattice of the held-out lattice's
 * size instead of the live one (`reverificationConfig`). Timed against the
 * module it replaced, the reference at 4096^2, the benchmark's samples
 * stepped the reference for seconds on the cores the live job was using.
 * The differential still checks the module at the live size (`liveExtents`:
 * a few calls of 1, 2-5, k and k + 1 steps, each compared with the oracle at
 * drawn cells), which a module wrong only there, after a canary too short to
 * show it, would otherwise leave to the live watchdogs.
 *
 * The sandbox runs first at idle priority (SCHED_IDLE), on the CPU the live
 * job leaves: at the engine's priority its 4 CPU-seconds took both cores
 * from the live kernel's threads for 10 s and more. A pass there is the
 * whole gauntlet passed. Any other verdict (a failure, or a run starved past
 * IDLE_REVERIFICATION_TIMEOUT_MS) is not trusted either way: the same
 * gauntlet runs again at the engine's priority and its verdict decides. A
 * failure rolls the module back if it is still live and marks it.
 */
async function reverify(host: WarmStartHost, slot: Slot, attemptId: number, timedAgainst: Incumbent): Promise<WarmStartReport> {
  const ended = host.reverificationStarted?.() ?? (() => {});
  try {
    return await reverifyOnce(host, slot, attemptId, timedAgainst);
  } finally {
    ended();
  }
}

async function reverifyOnce(host: WarmStartHost, slot: Slot, attemptId: number, timedAgainst: Incumbent): Promise<WarmStartReport> {
  const record = host.archive.get(attemptId)!;
  const judge = async (priority: SandboxPriority) => {
    const gauntlet = bookedApart(atLiveSize(host.gauntlet, benchmarkTarget(host.config), priority), host);
    const { verdict } = await judgeCandidate(reverificationConfig(host.config), gauntlet, record.source, slot, timedAgainst, record.genome, host.signal);
    return verdict;
  };
  let verdict = await judge('idle');
  if (!verdict.accepted && !verdict.interrupted) verdict = await judge('normal');
  if (verdict.interrupted) return { slot, outcome: 'none', attemptId, reason: 'the re-verification was interrupted by the stop; the next run tries again' };
  if (verdict.accepted) return { slot, outcome: 'verified', attemptId, reason: 'the gauntlet re-verified it on this machine' };
  const failed = verdict.gates.find((gate) => !gate.passed);
  const reason = `warm start: re-verification failed: ${failed ? `${failed.gate}: ${failed.reason}` : 'not accepted'}`;
  if (host.live.incumbents.get(slot)?.attemptId === attemptId) await host.live.rollBackOnRequest(slot, reason);
  host.archive.warmStart.markFailed(slot, attemptId, reason);
  return { slot, outcome: 'rolled-back', attemptId, reason };
}

/**
 * The engine's gauntlet with the live lattice's extents given to every run,
 * for the differential's checks at that size, and its sandbox run at
 * `priority`; an idle run has IDLE_REVERIFICATION_TIMEOUT_MS.
 */
function atLiveSize(gauntlet: GauntletResources, liveExtents: number[], priority: SandboxPriority): GauntletResources {
  const evaluate = gauntlet.evaluate ?? evaluateCandidate;
  const idle = priority === 'idle' ? { sandboxTimeoutMs: IDLE_REVERIFICATION_TIMEOUT_MS } : {};
  return { ...gauntlet, evaluate: (options, onGate) => evaluate({ ...options, liveExtents, sandboxPriority: priority, ...idle }, onGate) };
}

/**
 * The engine's gauntlet with the CPU of each sandbox run booked to the
 * re-verification. The sandbox queue runs one sandbox at a time and the
 * run stops the tools (withToolsHeld) while it goes, so the children that
 * end inside its turn are the runner and its workers: what the change of
 * this process's ended children's CPU over the turn measures.
 */
function bookedApart(gauntlet: GauntletResources, host: Pick<WarmStartHost, 'childCpuSeconds' | 'bookReverificationCpu'>): GauntletResources {
  const { sandboxQueue } = gauntlet;
  const run = <T>(work: () => Promise<T>): Promise<T> =>
    sandboxQueue.run(async () => {
      const before = host.childCpuSeconds();
      try {
        return await work();
      } finally {
        host.bookReverificationCpu(Math.max(0, host.childCpuSeconds() - before));
      }
    });
  return { ...gauntlet, sandboxQueue: { run } };
}

/**
 * The configuration a re-verification judges with: the sandbox's target
 * lattice takes the held-out lattice's extents. Every check of the sandbox
 * (the oracle after each sample, the dojo, the held-out lattice of its own
 * draw, the differential at the live size, which `reverify` asks for) still
 * runs; what is left out is the benchmark at the live size, the speed
 * screening a remembered module needs no more, which at 4096^2 stepped a
 * sandbox over 48 MiB levels for seconds on the cores the live job uses. A
 * target no larger than the held-out lattice is kept.
 */
export function reverificationConfig(config: EngineConfig): EngineConfig {
  const target = benchmarkTarget(config);
  const heldOut = config.gauntlet.heldOutExtents;
  if (cellsOf(target) <= cellsOf(heldOut)) return config;
  // The held-out size has the dimension count the configuration gave it; the target keeps the lattice's.
  const side = Math.round(cellsOf(heldOut) ** (1 / target.length));
  const targetExtents = target.length === heldOut.length ? heldOut : target.map(() => side);
  return { ...config, gauntlet: { ...config.gauntlet, targetExtents } };
}

function cellsOf(extents: readonly number[]): number {
  return extents.reduce((cells, extent) => cells * extent, 1);
}
