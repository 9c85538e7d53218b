/**
 * What every candidate generator receives and returns. A generator only
 * writes source: the engine runs whatever it proposes through the gauntlet,
 * so nothing a generator says about its candidate is trusted.
 */
import type { GateName, Slot } from '../gauntlet/types.js';

/** A kernel the child descends from: an archived attempt or the reference kernel. */
export interface ParentKernel {
  /** The archive id of the parent attempt (the reference kernel has one too). */
  attemptId: number;
  source: string;
  /** The variant genome the source was rendered from; null for hand-written or LLM sources. */
  genome: Record<string, unknown> | null;
  /** Live MLUPS measured for this kernel, when it ever ran live. */
  mlups: number | null;
}

/** A recent failed sibling: which gate stopped it and why, fed back to the generator. */
export interface FailedSibling {
  gate: GateName;
  reason: string;
}

/** The live profile of the slot being improved. */
export interface SlotProfileSummary {
  /** This slot's share of the time spent in all slots, in [0, 1]. */
  share: number;
  meanNs: number;
  p99Ns: number;
  /** Lattice updates per microsecond of the live kernel right now. */
  mlups: number;
  extents: readonly number[];
  precision: 'f64' | 'f32';
  threads: number;
}

export interface GenerationContext {
  slot: Slot;
  parent: ParentKernel;
  /** Other archived kernels a crossover may draw from (may be empty). */
  mates: ParentKernel[];
  profile: SlotProfileSummary;
  recentFailures: FailedSibling[];
  /** Operator weights learnt from the archive (strategy memory); missing operators weigh 1. */
  operatorWeights: Record<string, number>;
  /** The only source of randomness a generator may use, so runs replay from a seed. */
  random: () => number;
  signal?: AbortSignal;
}

export interface CandidateProposal {
  /** The generator's name ("variant", "random", "llm"). */
  generator: string;
  /** How the child was made, e.g. "mutate:tile", "crossover", "sample", "llm:prompt-v1". */
  operator: string;
  source: string;
  genome: Record<string, unknown> | null;
  /** The prompt sent, for the LLM generator; null otherwise. */
  prompt: string | null;
  /** The LLM's reply as it came, for the LLM generator; absent otherwise. */
  rawReply?: string;
  /** What producing it cost in the generator's currency (USD for an LLM; 0 offline). */
  costUsd: number;
}

export interface Generator {
  readonly name: string;
  /**
   * Proposals the engine asks for per attempt, all from the same parent: it
   * drops those already in the archive and lets the predictor send the most
   * promising one to the gauntlet. Absent or 1: the one proposal is judged
   * as it is (a random sample stays random; an LLM reply costs money).
   */
  readonly candidatesPerAttempt?: number;
  propose(context: GenerationContext): Promise<CandidateProposal>;
}

/** Why a generator could not produce a candidate; the engine's circuit breaker counts these by kind. */
export type GeneratorFailureKind = 'timeout' | 'malformed-reply' | 'rate-limited' | 'spend-limit' | 'network' | 'exhausted';

export class GeneratorError extends Error {
  constructor(
    readonly kind: GeneratorFailureKind,
    message: string,
    /** The prompt sent and the reply that came, when a reply came but no candidate could be read from it. */
    readonly exchange: { prompt: string; rawReply: string } | null = null,
  ) {
    super(message);
    this.name = 'GeneratorError';
  }
}
