/**
 * A live A/B trial: the incumbent (A) and the candidate (B) step the live
 * lattice in turn, A B B A A B ..., one measured window each, until the
 * sequential test (ab-test.ts) has an answer, the pairs run out, or a
 * candidate measuring slower would pass its cap of live time. Each turn is
 * a hot swap at a step boundary (microseconds, no step lost), so the
 * simulation keeps advancing with real work throughout.
 *
 * The swapping and the measuring are given (TrialSlot), so the loop is
 * tested with synthetic windows; LiveChanges gives the lattice's.
 */
import { type AbSettings, type AbVerdict, type PairedWindows, abVerdict } from './ab-test.js';
import type { ThroughputWindow } from './watch.js';

/** The live slot as a trial drives it. */
export interface TrialSlot {
  /** Makes the candidate live at the next step boundary; resolves with the step it applied at. */
  toCandidate(): Promise<number>;
  /** Makes the incumbent live again; resolves with the step it applied at. */
  toIncumbent(): Promise<number>;
  /** Measures whichever is live for one window, ending early when `signal` aborts or after `timeoutMs` when given. */
  measure(signal: AbortSignal, timeoutMs?: number): Promise<ThroughputWindow>;
}

export interface TrialSettings extends AbSettings {
  /** The planned length of a window: the slower candidate's cap is checked with it before each of its windows. */
  windowMs: number;
  /** Live time a candidate not measured faster than the incumbent may not pass (up to the measurement's polling, 25 ms). */
  maxSlowerLiveMs: number;
}

/** Steps [fromStep, toStep) that the candidate computed; toStep null while it is still live. */
export interface StepSpan {
  fromStep: number;
  toStep: number | null;
}

export interface TrialResult {
  verdict: AbVerdict;
  /**
   * decided: the test's answer (win, lose or undecided at maxPairs).
   * slower-cap: stopped as a loss before a window would take a slower candidate past maxSlowerLiveMs.
   * interrupted: `signal` aborted mid-trial (the watchdog, or the engine stopping).
   */
  end: 'decided' | 'slower-cap' | 'interrupted';
  pairs: PairedWindows[];
  candidateSpans: StepSpan[];
  /** Wall time of the candidate's windows. */
  candidateLiveMs: number;
  /** Whether the candidate is live as the trial returns (the caller then keeps it or swaps back). */
  candidateLive: boolean;
}

/** The mean of the candidate's and the incumbent's windows, for the record. */
export function meanMlups(pairs: readonly PairedWindows[]): { candidateMlups: number; incumbentMlups: number } {
  const mean = (values: number[]) => (values.length > 0 ? values.reduce((sum, v) => sum + v, 0) / values.length : 0);
  return { candidateMlups: mean(pairs.map((p) => p.candidateMlups)), incumbentMlups: mean(pairs.map((p) => p.incumbentMlups)) };
}

/**
 * What the trial cost the simulation, in lattice-seconds: the candidate's
 * live time times the share of the incumbent's throughput it fell short by
 * (mean windows; nothing when it was as fast or faster).
 */
export function trialLossSeconds(result: Pick<TrialResult, 'pairs' | 'candidateLiveMs'>): number {
  const { candidateMlups, incumbentMlups } = meanMlups(result.pairs);
  if (!(incumbentMlups > 0) || candidateMlups >= incumbentMlups) return 0;
  return (result.candidateLiveMs / 1000) * (1 - candidateMlups / incumbentMlups);
}

/** The spans as the ledger and the record give them: "[1200, 1240) [1290, ...)". */
export function spansText(spans: readonly StepSpan[]): string {
  return spans.map((span) => `[${span.fromStep}, ${span.toStep ?? '...'})`).join(' ');
}

/**
 * Runs the windows until an answer. Pair k runs A then B for even k, B then
 * A for odd k, so two consecutive pairs cancel a linear drift of the load.
 */
export async function runTrial(slot: TrialSlot, settings: TrialSettings, signal: AbortSignal): Promise<TrialResult> {
  const pairs: PairedWindows[] = [];
  const candidateSpans: StepSpan[] = [];
  let candidateLive = false;
  let candidateLiveMs = 0;
  let verdict = abVerdict(pairs, settings);
  const result = (end: TrialResult['end']): TrialResult => ({ verdict, end, pairs, candidateSpans, candidateLiveMs, candidateLive });

  const turn = async (candidate: boolean): Promise<ThroughputWindow | null> => {
    if (candidate && !candidateLive) {
      candidateSpans.push({ fromStep: await slot.toCandidate(), toStep: null });
      candidateLive = true;
    } else if (!candidate && candidateLive) {
      candidateSpans.at(-1)!.toStep = await slot.toIncumbent();
      candidateLive = false;
    }
    if (signal.aborted) return null;
    // A window lasts at least its steps, and a slow kernel's few steps can outlast the cap: a candidate
    // not known to be faster is measured no longer than the live time it has left.
    const unproven = !(verdict.ratio >= 1);
    const window = await (candidate && unproven ? slot.measure(signal, Math.max(0, settings.maxSlowerLiveMs - candidateLiveMs)) : slot.measure(signal));
    if (candidate) candidateLiveMs += window.wallMs;
    return signal.aborted ? null : window;
  };

  for (let pair = 0; ; pair += 1) {
    if (pairs.length > 0 && !(verdict.ratio >= 1) && candidateLiveMs + settings.windowMs > settings.maxSlowerLiveMs) {
      verdict = {
        ...verdict,
        decision: 'lose',
        reason: `${verdict.reason}; stopped before its live time would pass ${settings.maxSlowerLiveMs} ms (trial.maxSlowerLive)`,
      };
      return result('slower-cap');
    }
    const candidateFirst = pair % 2 === 1;
    const first = await turn(candidateFirst);
    const second = first === null ? null : await turn(!candidateFirst);
    if (first === null || second === null) return result('interrupted');
    const [incumbent, candidate] = candidateFirst ? [second, first] : [first, second];
    pairs.push({ incumbentMlups: incumbent.mlups, candidateMlups: candidate.mlups });
    verdict = abVerdict(pairs, settings);
    if (verdict.decision !== 'continue') return result('decided');
  }
}
