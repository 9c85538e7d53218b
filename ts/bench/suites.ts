/**
 * Every benchmark suite `ouroboros bench <suite>` can run. A suite measures in
 * native code where it can, returns one JSON-able report and formats it as a
 * table; the CLI writes the report to bench/results/<suite>.json under the
 * current directory (or --out), never into the installed package.
 */
import { type EvolveBenchReport, benchEvolve, formatEvolveReport } from './evolve.js';
import { type FleetBenchReport, benchFleet, formatFleetReport } from './fleet.js';
import { type HandoffBenchReport, benchHandoff, formatHandoffReport } from './handoff.js';
import { type KernelHostBenchReport, benchKernelHost, formatKernelHostReport } from './kernel-host.js';
import type { Precision } from '../../native/addon-types.js';
import { type KernelBenchReport, benchKernels, formatKernelReport } from './kernels.js';
import { type NetBenchReport, benchNet, formatNetReport } from './net.js';
import { type PeersBenchReport, benchPeers, formatPeersReport } from './peers.js';
import { type SandboxBenchReport, benchSandbox, formatSandboxReport } from './sandbox.js';
import { type SwapBenchReport, benchSwap, formatSwapReport } from './swap.js';
import { type WatchdogBenchReport, benchWatchdog, formatWatchdogReport } from './watchdog.js';

export interface BenchRunOptions {
  /** Small sizes and short runs: checks the harness, not the machine. */
  quick: boolean;
  /** How long a suite that runs the main job runs it (bench net); default the suite's own. */
  durationMs?: number;
  /** bench peers: one lattice and precision instead of its default cases; bench evolve: the searches' lattice; bench watchdog: its large lattice. */
  lattice?: number[];
  precision?: Precision;
  /** bench peers: a Python with numba and Devito for their rows. */
  python?: string;
  /** bench peers: the archive whose best applied step kernel is the evolved row, or that kernel's module file. */
  archive?: string;
  kernel?: string;
  /** bench evolve: Darwin and random searches per seed (default 1). */
  seeds?: number;
  onProgress: (message: string) => void;
}

export interface BenchSuite {
  description: string;
  run(options: BenchRunOptions): object | Promise<object>;
  format(report: object): string;
}

export const benchSuites: Record<string, BenchSuite> = {
  kernels: {
    description: 'STREAM roofline, reference kernel, TypeScript peer, N-API call cost, energy drift',
    run: (options) => benchKernels(options),
    format: (report) => formatKernelReport(report as KernelBenchReport),
  },
  swap: {
    description: 'hot swap under load: lost/duplicated steps, pause, slot overhead, module load cost',
    run: (options) => benchSwap(options),
    format: (report) => formatSwapReport(report as SwapBenchReport),
  },
  handoff: {
    description: 'core restart on the same state: exec and spawn downtime vs a file round trip, 1 MB to 1 GiB',
    run: (options) => benchHandoff(options),
    format: (report) => formatHandoffReport(report as HandoffBenchReport),
  },
  sandbox: {
    description: 'the candidate gauntlet: hostile corpus contained, correct candidates per minute, seconds per gate',
    run: (options) => benchSandbox(options),
    format: (report) => formatSandboxReport(report as SandboxBenchReport),
  },
  watchdog: {
    description: 'live checks: FP environment restore per kernel call, differential watchdog at 4096^2, each against its absence',
    run: (options) => benchWatchdog(options),
    format: (report) => formatWatchdogReport(report as WatchdogBenchReport),
  },
  'kernel-host': {
    description: 'confined kernel host: live throughput against the same kernel in-process, host crash to last-known-good',
    run: (options) => benchKernelHost(options),
    format: (report) => formatKernelHostReport(report as KernelHostBenchReport),
  },
  fleet: {
    description: "distributed evaluation on a private Redis: 1-3 worker processes, SIGKILL mid-job, the engine's evaluation CPU share, shared improvements",
    run: (options) => benchFleet(options),
    format: (report) => formatFleetReport(report as FleetBenchReport),
  },
  evolve: {
    description: 'the engine from the reference kernel: Darwin search vs random sampling of the same space, same evaluation budget',
    run: (options) => benchEvolve(options),
    format: (report) => formatEvolveReport(report as EvolveBenchReport),
  },
  peers: {
    description: 'the live best kernel against a shipped C/OpenMP sweep (and numba, Devito with --python), interleaved in one run',
    run: (options) => benchPeers(options),
    format: (report) => formatPeersReport(report as PeersBenchReport),
  },
  net: {
    description: 'the main job net of its search: two 3-minute runs (cold, then warm on its archive) against the final kernel alone',
    run: (options) => benchNet(options),
    format: (report) => formatNetReport(report as NetBenchReport),
  },
};
