/**
 * The engine's events: one for every state change of an attempt and of the
 * loop, so the CLI, the logs and the report all see the same facts.
 */
import type { AttemptRecord, AttemptStatus, LedgerEntry } from '../archive/types.js';
import type { GateName, Slot } from '../gauntlet/types.js';

/** The stages of one attempt, in order; an attempt may end at any of them. */
export type AttemptPhase = 'selecting' | 'generating' | 'gauntlet' | 'canary' | 'swapping' | 'watching' | 'done';

export interface AttemptStatusReport {
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

/** A sample of the live simulation, taken every sampling interval. */
export interface EngineSample {
  atMs: number;
  step: number;
  mlups: number;
  energyDrift: number;
  liveModules: Record<Slot, string>;
}

export interface EngineEvents {
  started: [];
  stopped: [];
  paused: [reason: string];
  resumed: [];
  sample: [EngineSample];
  'attempt-phase': [AttemptStatusReport];
  'attempt-finished': [AttemptRecord];
  applied: [LedgerEntry];
  'rolled-back': [LedgerEntry];
  'circuit-open': [{ kind: string; failures: number; backoffMs: number }];
  'circuit-closed': [{ kind: string }];
  error: [Error];
}
