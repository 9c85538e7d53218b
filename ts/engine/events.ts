/**
 * The engine's events: one for every state change of an attempt and of the
 * loop, so the CLI, the logs and the report all see the same facts.
 */
import type { AttemptRecord, AttemptStatus, LedgerEntry, RunSample } from '../archive/types.js';
import type { GateProgress } from '../gauntlet/pipeline.js';
import type { GateName, Slot } from '../gauntlet/types.js';
import type { EconomyTransition } from './economy.js';

/**
 * The stages of one attempt, in order; an attempt may end at any of them.
 * After the canary a candidate goes either to a live A/B 'trial' or, when
 * the sandbox's benchmark decides, to 'swapping' and 'watching'. In
 * approval mode a candidate that passed every gate is 'awaiting-approval'
 * before any of those.
 */
export type AttemptPhase = 'selecting' | 'generating' | 'gauntlet' | 'awaiting-approval' | 'canary' | 'trial' | 'swapping' | 'watching' | 'done';

export interface AttemptStatusReport {
  /**
   * The archive id. While the attempt has no record yet (selecting,
   * generating) it is provisional and negative: minus the attempt's number in
   * this run; from the gauntlet on it is the archive id.
   */
  id: number;
  slot: Slot;
  phase: AttemptPhase;
  status: AttemptStatus;
  parentId: number | null;
  generator: string;
  failedGate: GateName | null;
  reason: string;
  startedAt: string;
  finishedAt: string | null;
}

/** A gate of an archived attempt began or ended in the gauntlet (a remote gauntlet reports none). */
export type GateProgressReport = GateProgress & { id: number; slot: Slot };

/** A sample of the live simulation, taken every sampling interval: the figures a run's archive keeps, and the modules live then. */
export interface EngineSample extends Omit<RunSample, 'inCacheMlups'> {
  liveModules: Record<Slot, string>;
}

/** What the warm start did with a slot's remembered module. */
export interface WarmStartReport {
  slot: Slot;
  /**
   * applied: swapped in at once (its re-verification follows as a second
   * report). verified: the background re-verification passed. rolled-back:
   * it failed, the module was rolled back and marked, not to be tried again.
   * rejected: refused before it went live (its source or module is not the
   * one remembered, or the canary or watch window refused it), and marked.
   * untrusted: remembered on another machine (fingerprint mismatch), not
   * used. none: nothing remembered for this slot, or the stop came first.
   */
  outcome: 'applied' | 'verified' | 'rolled-back' | 'rejected' | 'untrusted' | 'none';
  attemptId: number | null;
  reason: string;
}

/** Which budget ran out; the engine stops after the attempts in flight end. */
export interface BudgetReport {
  budget: 'maxWallSeconds' | 'maxAttempts' | 'spendLimitUsd';
  reason: string;
}

export interface EngineEvents {
  started: [];
  stopped: [];
  paused: [reason: string];
  resumed: [];
  sample: [EngineSample];
  'attempt-phase': [AttemptStatusReport];
  'gate-progress': [GateProgressReport];
  'attempt-finished': [AttemptRecord];
  applied: [LedgerEntry];
  'rolled-back': [LedgerEntry];
  'circuit-open': [{ kind: string; failures: number; backoffMs: number }];
  'circuit-closed': [{ kind: string }];
  'warm-start': [WarmStartReport];
  'budget-exhausted': [BudgetReport];
  /** The economy backed off (the next attempt no longer pays for what it costs) or resumed, and why. */
  economy: [EconomyTransition];
  error: [Error];
}
