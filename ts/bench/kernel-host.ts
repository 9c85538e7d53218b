/**
 * `ouroboros bench kernel-host`: what confinement costs live. One lattice
 * (4096x4096 f64 in a shared-memory segment), one kernel (rows, the
 * threaded row kernel) loaded twice from the same bytes: in-process
 * (loadModule) and confined in a kernel host (loadConfinedModule). Then, in
 * the same run:
 *
 * - throughputRatio: runner throughput of the confined kernel over the
 *   in-process one, in interleaved rounds (the order alternates each round,
 *   each round steps the same state `roundSteps` steps with one command per
 *   step, as the runner always calls); the median of the per-round ratios,
 *   every round's figure beside it, since a shared machine moves single
 *   rounds by tens of percent;
 * - recoveryMs: from the moment the host is killed (SIGKILL from here, the
 *   clock read just before) to the runner's recovery, after which its next
 *   step runs on the last-known-good kernel (the time the core records in
 *   the failure; both clocks are CLOCK_MONOTONIC); it includes noticing the
 *   dead host, waiting for it to be gone, rolling the slot back and
 *   restoring both levels from the watchdog's last verified snapshot;
 * - confinedLoadMs: loadConfinedModule of new bytes, start to end: the host
 *   starting and confining itself, and the self-test through its workspace
 *   on the lattice's own size against the oracle;
 * - canaryMs: a canary of the confined module against the in-process one,
 *   CANARY_STEPS steps each on copies of the live state (the confined one
 *   through its host's workspace).
 */
import { once } from 'node:events';
import os from 'node:os';
import { kernelModulePath } from '../../native/loader.js';
import { randomState } from '../lattice/initial-conditions.js';
import { Lattice } from '../lattice/lattice.js';
import type { WatchdogEvent } from '../lattice/watchdog.js';
import type { ConfinedModuleInfo } from '../modules/kernel-host.js';
import type { BenchRunOptions } from './suites.js';
import { median } from '../util/median.js';

interface KernelHostPlan {
  extents: number[];
  rounds: number;
  roundSteps: number;
  crashes: number;
}

export interface KernelHostBenchReport {
  benchmark: 'kernel-host';
  date: string;
  machine: { cpu: string; cores: number; node: string };
  extents: number[];
  precision: 'f64';
  threads: number;
  kernel: string;
  roundSteps: number;
  inProcessMlups: number[];
  confinedMlups: number[];
  /** Confined over in-process MLUPS, per round. */
  roundRatios: number[];
  throughputRatio: number;
  /** Host killed to the first step on last-known-good, per crash. */
  recoveryMs: number[];
  /** Steps the restore went back by, per crash (to the last verified snapshot). */
  stepsRewound: number[];
  layers: { name: string; active: boolean; detail: string }[];
  confinedLoadMs: number;
  canaryMs: number;
}

const DT = 0.6;
/** The watchdog's cadence during the crash runs: a snapshot to restore from. */
const CRASH_WATCHDOG_EVERY_STEPS = 10;
/** The canary's steps, as a warm start's canary takes. */
const CANARY_STEPS = 2;

function plan(quick: boolean): KernelHostPlan {
  return quick ? { extents: [256, 256], rounds: 2, roundSteps: 20, crashes: 1 } : { extents: [4096, 4096], rounds: 7, roundSteps: 20, crashes: 3 };
}

async function runnerMlups(lat: Lattice, steps: number): Promise<number> {
  const summary = await lat.run({ steps });
  if (summary.error !== null) throw new Error(`bench kernel-host: the run failed: ${summary.error}`);
  return (lat.cells * summary.stepsRun) / (summary.runNs / 1e3);
}

async function crash(lat: Lattice, confinedId: number, lastKnownGood: number): Promise<{ recoveryMs: number; rewound: number }> {
  await lat.swap('step', lastKnownGood);
  const failed = once(lat, 'watchdog');
  const run = lat.run({ watchdog: { everySteps: CRASH_WATCHDOG_EVERY_STEPS } });
  while (lat.stepCount % CRASH_WATCHDOG_EVERY_STEPS < CRASH_WATCHDOG_EVERY_STEPS - 1) await new Promise((resolve) => setTimeout(resolve, 1));
  await lat.swap('step', confinedId);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const pid = (lat.moduleInfo(confinedId) as ConfinedModuleInfo).hostPid;
  const killedNs = process.hrtime.bigint();
  process.kill(pid, 'SIGKILL');
  const [event] = (await failed) as [WatchdogEvent];
  await lat.stop();
  const summary = await run;
  if (summary.error !== null || !event.kernelHost) throw new Error(`bench kernel-host: the crash run failed: ${summary.error ?? event.detail}`);
  return {
    recoveryMs: Number(BigInt(event.kernelHost.recoveredNs) - killedNs) / 1e6,
    rewound: event.failedStep - (event.restoredStep ?? event.failedStep),
  };
}

export async function benchKernelHost(options: BenchRunOptions): Promise<KernelHostBenchReport> {
  const p = plan(options.quick);
  const threads = os.availableParallelism();
  const lat = new Lattice({ extents: p.extents, dt: DT, threads, sharedState: true });
  try {
    const state = randomState(lat, 5);
    lat.setState(state.previous, state.current);
    const rows = kernelModulePath('rows');
    const inProcess = await lat.loadModule(rows);
    const confined = await lat.loadConfinedModule(rows);
    const confinedLoadMs = lat.moduleInfo(confined).loadMs;
    await lat.swap('step', inProcess);
    const canaryStarted = performance.now();
    const canary = await lat.canary('step', confined, { steps: CANARY_STEPS });
    const canaryMs = performance.now() - canaryStarted;
    if (canary.maxAbsDifference !== 0) throw new Error(`bench kernel-host: the canary differs by ${canary.maxAbsDifference}`);
    const inProcessMlups: number[] = [];
    const confinedMlups: number[] = [];
    for (let round = 0; round < p.rounds; round += 1) {
      const order = round % 2 === 0 ? [inProcess, confined] : [confined, inProcess];
      for (const id of order) {
        await lat.swap('step', id);
        const mlups = await runnerMlups(lat, p.roundSteps);
        (id === confined ? confinedMlups : inProcessMlups).push(mlups);
      }
      options.onProgress(
        `round ${round + 1}/${p.rounds}: in-process ${inProcessMlups.at(-1)!.toFixed(1)} MLUPS, confined ${confinedMlups.at(-1)!.toFixed(1)} MLUPS`,
      );
    }
    const roundRatios = confinedMlups.map((mlups, round) => mlups / inProcessMlups[round]!);
    const layers = (lat.moduleInfo(confined) as ConfinedModuleInfo).layers;
    const recoveryMs: number[] = [];
    const stepsRewound: number[] = [];
    for (let attempt = 0; attempt < p.crashes; attempt += 1) {
      const victim = await lat.loadConfinedModule(rows);
      const { recoveryMs: ms, rewound } = await crash(lat, victim, inProcess);
      recoveryMs.push(ms);
      stepsRewound.push(rewound);
      options.onProgress(`crash ${attempt + 1}/${p.crashes}: last-known-good stepping again ${ms.toFixed(1)} ms after the kill`);
    }
    const cpus = os.cpus();
    return {
      benchmark: 'kernel-host',
      date: new Date().toISOString(),
      machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version },
      extents: p.extents,
      precision: 'f64',
      threads,
      kernel: 'rows',
      roundSteps: p.roundSteps,
      inProcessMlups,
      confinedMlups,
      roundRatios,
      throughputRatio: median(roundRatios),
      recoveryMs,
      stepsRewound,
      layers,
      confinedLoadMs,
      canaryMs,
    };
  } finally {
    lat.close();
  }
}

export function formatKernelHostReport(report: KernelHostBenchReport): string {
  const rounds = report.roundRatios.map((ratio) => ratio.toFixed(3)).join(', ');
  return [
    `kernel host: ${report.kernel} at ${report.extents.join('x')} ${report.precision}, ${report.threads} threads`,
    `  in-process ${median(report.inProcessMlups).toFixed(1)} MLUPS, confined ${median(report.confinedMlups).toFixed(1)} MLUPS (medians)`,
    `  confined / in-process throughput: ${report.throughputRatio.toFixed(3)} (rounds: ${rounds})`,
    `  host killed -> last-known-good stepping: ${report.recoveryMs.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    `  confined load (host start and self-test) ${report.confinedLoadMs.toFixed(0)} ms, canary of ${CANARY_STEPS} steps ${report.canaryMs.toFixed(0)} ms`,
    `  layers: ${report.layers.map((layer) => `${layer.name}${layer.active ? '' : ' (inactive)'}`).join(', ')}`,
  ].join('\n');
}
