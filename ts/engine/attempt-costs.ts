/**
 * What attempts cost the live job, carried from one run to the next. The
 * economy (economy.ts) charges each attempt that ends the cost measured
 * since the previous one ended; this keeps that charge in the archive under
 * what makes costs comparable (the machine's fingerprint, the live
 * lattice's extents, precision and threads, the attempt's slot), and gives
 * a new run's economy the median of the last CARRIED_ATTEMPTS of its key to
 * start from. An attempt the stop cut short cost only part of what it
 * would have, and is not kept.
 */
import type { AttemptCostStore } from '../archive/attempt-costs.js';
import type { AttemptCostKey, AttemptCostRecord, AttemptRecord, MachineFingerprint } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import type { Precision } from '../../native/addon-types.js';
import { median } from '../util/median.js';
import type { AttemptCharge, CarriedAttemptCost } from './economy.js';

/**
 * Earlier attempts a new run's cost figure is the median of: enough that
 * one attempt cut short by a crash or slowed by a load spike does not set
 * it, few enough that it follows the search as it changes (attempts that
 * reach the sandbox cost far more than those the predictor skips).
 */
export const CARRIED_ATTEMPTS = 5;

/** The key of attempts beside a lattice of these settings on this machine. */
export function attemptCostKey(
  lattice: { extents: readonly number[]; precision: Precision },
  threads: number,
  fingerprint: MachineFingerprint,
): AttemptCostKey {
  return { machine: fingerprint.hash, extents: [...lattice.extents], precision: lattice.precision, threads };
}

/** The medians of `costs`; null when there are none. */
export function carriedAttemptCost(costs: readonly Pick<AttemptCostRecord, 'costSeconds' | 'wallSeconds'>[]): CarriedAttemptCost | null {
  if (costs.length === 0) return null;
  return {
    costSeconds: median(costs.map((cost) => cost.costSeconds)),
    wallSeconds: median(costs.map((cost) => cost.wallSeconds)),
    attempts: costs.length,
  };
}

export class AttemptCostLog {
  constructor(
    private readonly store: AttemptCostStore,
    readonly key: AttemptCostKey,
  ) {}

  /** What the last CARRIED_ATTEMPTS attempts of `slots` under this key cost; null when none was kept. */
  carried(slots: readonly Slot[]): CarriedAttemptCost | null {
    return carriedAttemptCost(this.store.recent(this.key, slots, CARRIED_ATTEMPTS));
  }

  /** Keeps what `record`'s attempt was charged, unless it was interrupted (or `cutShort`: it ended because the run stopped). */
  record(record: AttemptRecord, charge: AttemptCharge, cutShort: boolean): void {
    if (cutShort || record.status === 'interrupted') return;
    this.store.record({ ...this.key, attemptId: record.id, slot: record.slot, costSeconds: charge.costSeconds, wallSeconds: charge.wallSeconds });
  }
}
