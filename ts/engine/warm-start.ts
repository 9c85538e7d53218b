/**
 * Warm start: the best verified module of each slot, remembered with the
 * fingerprint of the machine it was verified on, is trusted only on a
 * machine with the same fingerprint, and even then goes through the
 * gauntlet again (against the live kernel) and the canary and watch window
 * before it stays live. A mismatch is reported, never used.
 */
import type { Archive } from '../archive/archive.js';
import type { MachineFingerprint } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import type { EngineConfig } from './config.js';
import type { WarmStartReport } from './events.js';
import { type GauntletResources, judgeCandidate } from './judge.js';
import type { LiveChanges } from './live-changes.js';
import { isTrustedSource } from './trust.js';

export interface WarmStartHost {
  config: EngineConfig;
  archive: Archive;
  fingerprint: MachineFingerprint;
  live: LiveChanges;
  gauntlet: GauntletResources;
  signal: AbortSignal;
}

export async function warmStartSlot(host: WarmStartHost, slot: Slot): Promise<WarmStartReport> {
  const candidate = host.archive.warmStart.warmStartCandidate(slot, host.fingerprint);
  if (candidate.kind === 'none') return { slot, outcome: 'none', attemptId: null, reason: 'no module remembered for this slot' };
  if (candidate.kind === 'mismatch') return { slot, outcome: 'untrusted', attemptId: candidate.attemptId, reason: candidate.reason };
  const record = host.archive.get(candidate.attemptId)!;
  const incumbent = host.live.incumbents.get(slot)!;
  if (incumbent.attemptId === record.id) return { slot, outcome: 'applied', attemptId: record.id, reason: 'already live' };
  const { verdict, modulePath, benchRatio, speedup } = await judgeCandidate(host.config, host.gauntlet, record.source, slot, incumbent);
  if (!verdict.improves || modulePath === null || speedup === null) {
    const failed = verdict.gates.find((gate) => !gate.passed);
    const why = failed ? `${failed.gate}: ${failed.reason}` : 'it no longer beats the live kernel on both benchmark lattices';
    return { slot, outcome: 'rejected', attemptId: record.id, reason: `re-verification failed: ${why}` };
  }
  const ratio = benchRatio ?? 1;
  const outcome = await host.live.change(
    {
      slot,
      attemptId: record.id,
      modulePath,
      speedup,
      action: 'warm-start',
      reason: `warm start: re-verified on this machine, target ratio ${ratio.toFixed(3)} against attempt ${incumbent.attemptId}`,
      speedJudge: host.config.gauntlet.speedJudge === 'live-ab' ? { by: 'trial' } : { by: 'benchmark', judgedAgainst: incumbent.attemptId },
      trusted: isTrustedSource(record.source, record.genome),
    },
    host.signal,
  );
  if (outcome.status !== 'applied') return { slot, outcome: 'rejected', attemptId: record.id, reason: outcome.reason };
  host.archive.updateAttempt(record.id, { status: 'applied', speedup: outcome.speedup, liveMlups: outcome.liveMlups });
  return { slot, outcome: 'applied', attemptId: record.id, reason: `re-verified and live, ${outcome.speedup.toFixed(2)}x the reference` };
}
