/**
 * Strategy memory (after seed 003's ReasoningBank): which ways of making a
 * child pay off on which slot. Per slot and per operator ("mutate:tile",
 * "crossover", "sample", "llm", ...) it keeps tries, passes, wins and the
 * summed log speedup of the wins, turns them into operator weights for the
 * generators, and remembers the winning changes themselves so the LLM prompt
 * can quote them. Everything is rebuilt from the archive on start, so the
 * memory is never a second source of truth.
 *
 * The weight rule. Each try is worth
 *   value = PASS_CREDIT * passed + ln(speedup) * won
 * (a pass that does not win is worth as much as a 1% win: it says the
 * operator produces valid kernels). An operator's value per try is shrunk
 * toward the slot's mean value per try with PRIOR_TRIES pseudo-tries, so a
 * single lucky try does not dominate and an untried operator sits at the
 * mean. Its weight is that shrunk value over the slot's mean, clamped to
 * [WEIGHT_FLOOR, WEIGHT_CEILING]: 1 is average, as GenerationContext's
 * "missing operators weigh 1" expects. The clamp is the anti-starvation
 * floor: among k operators, each keeps a share of at least
 * WEIGHT_FLOOR / (WEIGHT_FLOOR + (k - 1) * WEIGHT_CEILING) of the draws,
 * 1% for two operators. While nothing in the slot has any value yet, every
 * weight is 1.
 */
import type { AttemptRecord } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';

/** How an evaluated candidate ended. */
export interface AttemptOutcome {
  /** It passed every gate of the gauntlet. */
  passed: boolean;
  /** It beat the incumbent and went live. */
  won: boolean;
  /** Times faster than the incumbent it was benchmarked against (1 / benchmark ratio); null if not benchmarked. */
  speedup: number | null;
}

/** A change that produced a winner, as the LLM prompt quotes it. */
export interface WinningStrategy {
  operator: string;
  /** What the change was: the genome's settings, or the kernel's own opening comment. */
  description: string;
  speedup: number;
}

export interface OperatorStats {
  tries: number;
  passes: number;
  wins: number;
  /** Sum of ln(speedup) over the wins. */
  logSpeedupOfWins: number;
}

export const PASS_CREDIT = Math.log(1.01);
export const PRIOR_TRIES = 4;
export const WEIGHT_FLOOR = 0.1;
export const WEIGHT_CEILING = 10;
/** Winners kept per slot, the fastest first: the prompt quotes only a few. */
export const MAX_REMEMBERED_WINNERS = 32;
const MAX_DESCRIPTION_CHARS = 160;

interface SlotMemory {
  operators: Map<string, OperatorStats>;
  winners: WinningStrategy[];
}

function valueOf(stats: OperatorStats): number {
  return PASS_CREDIT * stats.passes + stats.logSpeedupOfWins;
}

export class StrategyMemory {
  private readonly slots = new Map<Slot, SlotMemory>();

  /** Rebuilds the memory from archived attempts, oldest first; attempts still pending are not outcomes yet. */
  static fromRecords(records: readonly AttemptRecord[]): StrategyMemory {
    const memory = new StrategyMemory();
    for (const record of [...records].sort((a, b) => a.id - b.id)) {
      const outcome = outcomeOfRecord(record);
      if (outcome !== null) memory.record(record.slot, record.operator, { ...outcome, description: describeRecord(record) });
    }
    return memory;
  }

  private slot(slot: Slot): SlotMemory {
    let memory = this.slots.get(slot);
    if (memory === undefined) {
      memory = { operators: new Map(), winners: [] };
      this.slots.set(slot, memory);
    }
    return memory;
  }

  /**
   * One evaluated candidate. A win needs a speedup above 1 to count toward
   * the operator's value; `description` is what the prompt will quote.
   */
  record(slot: Slot, operator: string, outcome: AttemptOutcome & { description?: string }): void {
    const memory = this.slot(slot);
    const stats = memory.operators.get(operator) ?? { tries: 0, passes: 0, wins: 0, logSpeedupOfWins: 0 };
    stats.tries += 1;
    if (outcome.passed) stats.passes += 1;
    const gain = outcome.won && outcome.speedup !== null && outcome.speedup > 1 ? Math.log(outcome.speedup) : 0;
    if (outcome.won) {
      stats.wins += 1;
      stats.logSpeedupOfWins += gain;
    }
    memory.operators.set(operator, stats);
    if (gain > 0) {
      const description = (outcome.description ?? operator).slice(0, MAX_DESCRIPTION_CHARS);
      memory.winners.push({ operator, description, speedup: outcome.speedup! });
      memory.winners.sort((a, b) => b.speedup - a.speedup);
      memory.winners.length = Math.min(memory.winners.length, MAX_REMEMBERED_WINNERS);
    }
  }

  /** The counts behind the weights, per operator. */
  stats(slot: Slot): Record<string, OperatorStats> {
    const operators = this.slots.get(slot)?.operators ?? new Map<string, OperatorStats>();
    return Object.fromEntries([...operators].map(([operator, stats]) => [operator, { ...stats }]));
  }

  /** Operator weights for a generator; operators never tried are absent and weigh 1 (see the rule above). */
  weights(slot: Slot): Record<string, number> {
    const operators = [...(this.slots.get(slot)?.operators ?? new Map<string, OperatorStats>())];
    const tries = operators.reduce((sum, [, stats]) => sum + stats.tries, 0);
    const meanValue = operators.reduce((sum, [, stats]) => sum + valueOf(stats), 0) / Math.max(1, tries);
    return Object.fromEntries(
      operators.map(([operator, stats]) => {
        if (meanValue <= 0) return [operator, 1];
        const shrunk = (valueOf(stats) + PRIOR_TRIES * meanValue) / (stats.tries + PRIOR_TRIES);
        return [operator, Math.min(WEIGHT_CEILING, Math.max(WEIGHT_FLOOR, shrunk / meanValue))];
      }),
    );
  }

  /** The `count` fastest remembered winners of the slot, fastest first. */
  winners(slot: Slot, count: number): WinningStrategy[] {
    return (this.slots.get(slot)?.winners ?? []).slice(0, Math.max(0, count)).map((winner) => ({ ...winner }));
  }
}

/**
 * What an archived attempt says about its operator, or null while it is
 * pending. A generator failure (no gates) counts as a try that did not
 * pass; applied and superseded kernels won; a rolled-back one won the
 * benchmark but not the live watch, so it counts as a pass, not a win.
 */
export function outcomeOfRecord(record: AttemptRecord): AttemptOutcome | null {
  if (record.status === 'pending') return null;
  const passed = record.gates.length > 0 && record.failedGate === null && record.gates.every((gate) => gate.passed);
  const won = passed && (record.status === 'applied' || record.status === 'superseded');
  const speedup = record.benchRatio !== null && record.benchRatio > 0 ? 1 / record.benchRatio : null;
  return { passed, won, speedup };
}

/** A short account of the change: the genome's settings, else the kernel's opening comment, else the operator. */
export function describeRecord(record: Pick<AttemptRecord, 'operator' | 'genome' | 'source'>): string {
  if (record.genome !== null && Object.keys(record.genome).length > 0) {
    return Object.entries(record.genome)
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(' ');
  }
  const comment = /^\s*(?:\/\/([^\n]*)|\/\*([\s\S]*?)\*\/)/.exec(record.source);
  const text = (comment?.[1] ?? comment?.[2] ?? '').replace(/\s*\*?\s*\n\s*\*?\s*/g, ' ').trim();
  return text === '' ? record.operator : text;
}
