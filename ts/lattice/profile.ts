/**
 * The profiler's report: the core's per-slot figures (calls, steps, total
 * and per-call p50/p99 time, measured in native code) with each slot's mean
 * call and its share of the time spent in all slots.
 */
import type { CoreSlotProfile } from '../../native/addon-types.js';
import { SLOTS, type Slot } from './slots.js';

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

/** Every slot's figures with its mean call and its share of the total. */
export function profileReport(raw: Record<Slot, CoreSlotProfile>): ProfileReport {
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
export function bottleneckOf(report: ProfileReport): Bottleneck | null {
  const slot = SLOTS.reduce((best, candidate) => (report[candidate].totalNs > report[best].totalNs ? candidate : best));
  if (report[slot].totalNs === 0) return null;
  return { slot, share: report[slot].share, totalNs: report[slot].totalNs };
}
