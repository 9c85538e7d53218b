/**
 * The figures of the end-of-run table, computed from the archive's records
 * of this run's attempts and the ledger entries this run wrote, so that the
 * table matches `ouroboros archive` and the ledger.
 */
import type { AttemptRecord, AttemptStatus, LedgerEntry } from '../archive/types.js';
import type { GateName, Slot } from '../gauntlet/types.js';
import type { EconomyReport } from './economy.js';
import type { EngineSample } from './events.js';
import type { Incumbent } from './live-changes.js';
import type { PredictorStats } from './predictor.js';
import type { RunAccountReport } from './run-account.js';
import { SKIPPED_BY_PREDICTOR } from './attempt-runner.js';
import type { ThroughputWindow } from './watch.js';
import { median } from '../util/median.js';

/** Where a run's baseline came from: measured in this run, or the archive's figure for this machine, lattice and module. */
export type BaselineSource = { kind: 'measured' } | { kind: 'remembered'; recordedAt: string };

export interface LiveModuleSummary {
  /** The name the module gives itself. */
  name: string;
  attemptId: number;
  moduleSha256: string;
  /** Speedup over the reference kernel, as the gauntlet estimated it. */
  speedup: number;
}

export interface EngineSummary {
  wallSeconds: number;
  /** The live lattice's step count now. */
  steps: number;
  /**
   * Step-kernel MLUPS (kernel time, from the profiler) over one trial window
   * at start, before any attempt ran: the machine as quiet as the engine
   * leaves it. 0 until there is one.
   */
  baselineMlups: number;
  /**
   * Where baselineMlups came from: measured in this run, or (a remembered
   * kernel went live before any window) the figure an earlier run measured
   * for the same module, machine, lattice, precision and threads; null until there is one.
   */
  baselineSource: BaselineSource | null;
  /** The same measurement at stop(), after the last attempt ended; null while running. */
  finalMlups: number | null;
  /** finalMlups / baselineMlups; null while running. */
  speedup: number | null;
  /** Median wall-clock MLUPS of the last three samples (what the progress display shows; the gauntlet's load counts). */
  currentMlups: number;
  /**
   * What the user got: cells x steps the lattice advanced since start(),
   * per wall-clock second, in millions. Holds, the search's CPU and every
   * pause count against it.
   */
  netMlups: number;
  /** Median wall-clock MLUPS of the samples whose interval had no hold: the live kernel as it ran beside the search. */
  liveKernelMlups: number;
  /**
   * netMlups over the final live kernels' free-running rate: the median
   * wall-clock MLUPS of the unheld samples taken after the run's last change
   * to the live kernels (all of them when there was none; the last one when
   * none came after it), as the report's final MLUPS. What the run delivered
   * against what its own final kernel does; null before any unheld sample.
   */
  netFraction: number | null;
  /** Seconds after start() of the run's first applied change; null if none. */
  firstApplyAtSeconds: number | null;
  /** Attempts this run started, and how they ended. */
  attempts: number;
  byStatus: Record<AttemptStatus, number>;
  /** Rejected attempts by the gate that stopped them. */
  byFailedGate: Partial<Record<GateName, number>>;
  skippedByPredictor: number;
  /** Ledger entries this run: changes applied (warm start included) and rolled back. */
  applied: number;
  rolledBack: number;
  maxEnergyDrift: number;
  liveModules: Record<Slot, LiveModuleSummary>;
  costUsd: number;
  circuitOpenings: number;
  predictor: PredictorStats;
  /** Seconds the live lattice was held at a step boundary for benchmarks (gauntlet.holdLive). */
  heldSeconds: number;
  /** What the search cost and how the economy paced it; null with economy.enabled false. */
  economy: EconomyReport | null;
  /** Where the run's time went, measured by the engine (run-account.ts). */
  account: RunAccountReport;
}

const STATUSES: readonly AttemptStatus[] = ['pending', 'rejected', 'failed', 'passed', 'applied', 'rolled-back', 'superseded', 'interrupted'];

export interface SummaryInputs {
  wallSeconds: number;
  steps: number;
  samples: readonly EngineSample[];
  baseline: ThroughputWindow | null;
  baselineSource: BaselineSource | null;
  final: ThroughputWindow | null;
  records: readonly AttemptRecord[];
  ledger: readonly LedgerEntry[];
  maxEnergyDrift: number;
  incumbents: ReadonlyMap<Slot, Incumbent>;
  liveNames: Record<Slot, string>;
  costUsd: number;
  circuitOpenings: number;
  predictor: PredictorStats;
  heldSeconds: number;
  /** The step count when the run started, and the lattice's cell count: for netMlups. */
  startStep: number;
  cells: number;
  firstApplyAtSeconds: number | null;
  economy: EconomyReport | null;
  account: RunAccountReport;
}

/**
 * The unheld samples after the last ledger change of the run: the final
 * kernels running freely; the last unheld sample when none came after it
 * (as the report's final MLUPS).
 */
function finalKernelSamples(free: readonly EngineSample[], ledger: readonly LedgerEntry[]): EngineSample[] {
  const lastChangeStep = ledger.filter((entry) => entry.action !== 'trial').reduce((last, entry) => Math.max(last, entry.atStep), -Infinity);
  const after = free.filter((sample) => sample.step > lastChangeStep);
  return after.length > 0 ? after : free.slice(-1);
}

export function summarise(inputs: SummaryInputs): EngineSummary {
  const moving = inputs.samples.filter((sample) => sample.mlups > 0);
  const free = moving.filter((sample) => sample.heldMs === 0);
  const advanced = Math.max(inputs.steps - inputs.startStep, 0);
  const netMlups = inputs.wallSeconds > 0 ? (advanced * inputs.cells) / (inputs.wallSeconds * 1e6) : 0;
  const finalKernelMlups = median(
    finalKernelSamples(free, inputs.ledger).map((sample) => sample.mlups),
    0,
  );
  const baselineMlups = inputs.baseline?.mlups ?? 0;
  const finalMlups = inputs.final?.mlups ?? null;
  const byStatus = Object.fromEntries(STATUSES.map((status) => [status, 0])) as Record<AttemptStatus, number>;
  const byFailedGate: Partial<Record<GateName, number>> = {};
  let skippedByPredictor = 0;
  for (const record of inputs.records) {
    byStatus[record.status] += 1;
    if (record.failedGate !== null) byFailedGate[record.failedGate] = (byFailedGate[record.failedGate] ?? 0) + 1;
    if (record.reason.startsWith(SKIPPED_BY_PREDICTOR)) skippedByPredictor += 1;
  }
  const liveModules = {} as Record<Slot, LiveModuleSummary>;
  for (const [slot, incumbent] of inputs.incumbents) {
    liveModules[slot] = { name: inputs.liveNames[slot], attemptId: incumbent.attemptId, moduleSha256: incumbent.moduleSha256, speedup: incumbent.speedup };
  }
  return {
    wallSeconds: inputs.wallSeconds,
    steps: inputs.steps,
    baselineMlups,
    baselineSource: inputs.baselineSource,
    finalMlups,
    speedup: finalMlups !== null && baselineMlups > 0 ? finalMlups / baselineMlups : null,
    currentMlups: median(
      moving.slice(-3).map((sample) => sample.mlups),
      0,
    ),
    netMlups,
    liveKernelMlups: median(
      free.map((sample) => sample.mlups),
      0,
    ),
    netFraction: finalKernelMlups > 0 ? netMlups / finalKernelMlups : null,
    firstApplyAtSeconds: inputs.firstApplyAtSeconds,
    attempts: inputs.records.length,
    byStatus,
    byFailedGate,
    skippedByPredictor,
    applied: inputs.ledger.filter((entry) => entry.action === 'apply' || entry.action === 'warm-start').length,
    rolledBack: inputs.ledger.filter((entry) => entry.action === 'rollback').length,
    maxEnergyDrift: inputs.maxEnergyDrift,
    liveModules,
    costUsd: inputs.costUsd,
    circuitOpenings: inputs.circuitOpenings,
    predictor: inputs.predictor,
    heldSeconds: inputs.heldSeconds,
    economy: inputs.economy,
    account: inputs.account,
  };
}
