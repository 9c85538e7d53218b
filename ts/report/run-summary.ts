/**
 * The figures a run ends with, computed only from what the archive, the
 * ledger and the engine's samples recorded, so that the summary table, the
 * HTML report and `ouroboros archive` / `ledger verify` always agree.
 */
import { LIVE_CHANGING_ACTIONS, type AttemptRecord, type AttemptStatus, type LedgerEntry } from '../archive/types.js';
import type { EconomyReport } from '../engine/economy.js';
import type { EngineSample } from '../engine/events.js';
import type { RunAccountReport } from '../engine/run-account.js';
import type { GateName } from '../gauntlet/types.js';
import { median } from '../util/median.js';

export const ATTEMPT_STATUSES: readonly AttemptStatus[] = ['pending', 'rejected', 'failed', 'passed', 'applied', 'rolled-back', 'superseded', 'interrupted'];

export interface RunFacts {
  /** The attempts of the run (a root record of the reference kernel, parentId null, is not an attempt). */
  records: readonly AttemptRecord[];
  /** The ledger entries the run appended. */
  ledger: readonly LedgerEntry[];
  samples: readonly EngineSample[];
  /** MLUPS that memory bandwidth allows (STREAM triad), when it was measured. */
  rooflineMlups: number | null;
  /** Steps missing from the step sequence across every swap, when it was measured. */
  lostSteps: number | null;
  wallSeconds: number;
  /** From the engine's summary: what the user got over the whole run, the time held, the first apply. */
  netMlups: number | null;
  heldSeconds: number;
  firstApplyAtSeconds: number | null;
  /** The engine's economy: what the search cost the live job; absent or null without one. */
  economy?: EconomyReport | null;
  /** The engine's account of where the run's time went; absent or null without one. */
  account?: RunAccountReport | null;
}

export interface RunSummary {
  /** Cells x steps advanced per wall second over the whole run (millions): every hold and pause counts. */
  netMlups: number | null;
  /** Median MLUPS of the samples with no hold in their interval. */
  liveKernelMlups: number | null;
  heldSeconds: number;
  firstApplyAtSeconds: number | null;
  /** Median live MLUPS (samples above 0, none held) up to the run's first change to the live kernels. */
  baselineMlups: number | null;
  /** Median live MLUPS (samples above 0, none held) after the run's last change. */
  finalMlups: number | null;
  /** netMlups / finalMlups: what the run delivered against its final kernels' free-running rate. */
  netFraction: number | null;
  economy: EconomyReport | null;
  account: RunAccountReport | null;
  speedup: number | null;
  rooflineMlups: number | null;
  rooflineFraction: number | null;
  attempts: number;
  byStatus: Record<AttemptStatus, number>;
  /** Ledger entries that made a module live: apply and warm-start. */
  applied: number;
  /** Ledger rollback entries, automatic and requested. */
  rolledBack: number;
  rejectedByGate: Partial<Record<GateName, number>>;
  maxEnergyDrift: number | null;
  lostSteps: number | null;
  /** Steps the simulation took from the first sample to the last. */
  steps: number;
  wallSeconds: number;
  /** Attempts, in order, until the best speedup so far first reached 90% of the run's best; null with no speedup. */
  evaluationsToNinetyPercent: number | null;
}

/** Only attempts count: the reference kernel's root record has no parent. */
export function attemptsOf(records: readonly AttemptRecord[]): AttemptRecord[] {
  return records.filter((record) => record.parentId !== null);
}

/** Whether the entry changed what is live (approval decisions do not). */
export function changesLiveKernel(entry: LedgerEntry): boolean {
  return LIVE_CHANGING_ACTIONS.includes(entry.action);
}

/**
 * The samples that measured the live kernels: a sample of 0 MLUPS spans a
 * watchdog restore, and one whose interval was held measured the search,
 * not the kernel.
 */
function freeSamples(samples: readonly EngineSample[]): EngineSample[] {
  return samples.filter((sample) => sample.mlups > 0 && sample.heldMs === 0);
}

/**
 * Samples up to the first change measure the starting kernels and samples
 * after the last change measure the final ones; with no change both are the
 * whole run.
 */
function throughputWindows(allSamples: readonly EngineSample[], ledger: readonly LedgerEntry[]) {
  const samples = freeSamples(allSamples);
  const changes = ledger.filter(changesLiveKernel).map((entry) => entry.atStep);
  if (samples.length === 0) return { baseline: null, final: null };
  const all = samples.map((sample) => sample.mlups);
  if (changes.length === 0) return { baseline: median(all, null), final: median(all, null) };
  const firstChange = changes.reduce((a, b) => Math.min(a, b));
  const lastChange = changes.reduce((a, b) => Math.max(a, b));
  const before = samples.filter((sample) => sample.step <= firstChange).map((sample) => sample.mlups);
  const after = samples.filter((sample) => sample.step > lastChange).map((sample) => sample.mlups);
  return {
    baseline: median(before.length > 0 ? before : [samples[0]!.mlups], null),
    final: median(after.length > 0 ? after : [samples[samples.length - 1]!.mlups], null),
  };
}

/** Outcomes whose speedup held: a rolled-back attempt's estimate did not survive the live watch window. */
const SPEEDUP_HELD: ReadonlySet<AttemptStatus> = new Set(['passed', 'applied', 'superseded']);

/**
 * 1-based count of attempts, in id order, until the best speedup so far first
 * reached 90% of the best of all; null when no attempt's speedup held.
 */
export function evaluationsToNinetyPercent(attempts: readonly AttemptRecord[]): number | null {
  const ordered = [...attempts].sort((a, b) => a.id - b.id);
  const speedups = ordered.map((record) => (SPEEDUP_HELD.has(record.status) ? record.speedup : null));
  const best = speedups.reduce<number>((a, b) => Math.max(a, b ?? -Infinity), -Infinity);
  if (!Number.isFinite(best)) return null;
  const index = speedups.findIndex((speedup) => speedup !== null && speedup >= 0.9 * best);
  return index + 1;
}

export function summarizeRun(facts: RunFacts): RunSummary {
  const attempts = attemptsOf(facts.records);
  const byStatus = Object.fromEntries(ATTEMPT_STATUSES.map((status) => [status, 0])) as Record<AttemptStatus, number>;
  const rejectedByGate: Partial<Record<GateName, number>> = {};
  for (const record of attempts) {
    byStatus[record.status]++;
    if (record.status === 'rejected' && record.failedGate !== null) {
      rejectedByGate[record.failedGate] = (rejectedByGate[record.failedGate] ?? 0) + 1;
    }
  }
  const { baseline, final } = throughputWindows(facts.samples, facts.ledger);
  const speedup = baseline !== null && final !== null && baseline > 0 ? final / baseline : null;
  const drifts = facts.samples.map((sample) => sample.energyDrift);
  const first = facts.samples[0];
  const last = facts.samples[facts.samples.length - 1];
  return {
    netMlups: facts.netMlups,
    liveKernelMlups: median(
      freeSamples(facts.samples).map((sample) => sample.mlups),
      null,
    ),
    heldSeconds: facts.heldSeconds,
    firstApplyAtSeconds: facts.firstApplyAtSeconds,
    baselineMlups: baseline,
    finalMlups: final,
    netFraction: facts.netMlups !== null && final !== null && final > 0 ? facts.netMlups / final : null,
    economy: facts.economy ?? null,
    account: facts.account ?? null,
    speedup,
    rooflineMlups: facts.rooflineMlups,
    rooflineFraction: final !== null && facts.rooflineMlups !== null ? final / facts.rooflineMlups : null,
    attempts: attempts.length,
    byStatus,
    applied: facts.ledger.filter((entry) => entry.action === 'apply' || entry.action === 'warm-start').length,
    rolledBack: facts.ledger.filter((entry) => entry.action === 'rollback').length,
    rejectedByGate,
    maxEnergyDrift: drifts.length > 0 ? drifts.reduce((a, b) => Math.max(a, b)) : null,
    lostSteps: facts.lostSteps,
    steps: first && last ? last.step - first.step : 0,
    wallSeconds: facts.wallSeconds,
    evaluationsToNinetyPercent: evaluationsToNinetyPercent(attempts),
  };
}
