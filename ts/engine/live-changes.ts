/**
 * Changes to the live lattice, one at a time: load a candidate, run the
 * canary on live state, then either
 *  - a live A/B trial (live-trial.ts): incumbent and candidate take turns
 *    on the live lattice until the sequential test has an answer; a winner
 *    stays live, a loser leaves the incumbent live; or
 *  - for a winner of the sandbox's benchmark: measure the incumbent, swap
 *    at a step boundary, then watch the new module for a window and roll
 *    back on a regression.
 * The ledger gets one entry per change that stays (apply, warm-start), and
 * a rollback entry, after an apply entry, for a candidate the watchdog or
 * an invariant threw out; each with the step it took effect at. A trial
 * lists in its entry the steps the candidate computed before it stayed (or
 * was thrown out); a trial that loses changes nothing live and writes no
 * entry: the attempt's record gives its figures and the steps the
 * candidate computed, all of which the incumbent would have computed
 * identically within the canary's tolerance. The incumbent of each slot is
 * tracked here and nowhere else.
 *
 * Invariant: `incumbents` always names the module live in each slot outside
 * a trial (during one the slot alternates, and the incumbent stays the
 * slot's last-known-good module: the candidate goes in by swap, which makes
 * the incumbent last-known-good, and out by rollback, which keeps it so, so
 * a watchdog rollback in any window lands on the incumbent); it changes
 * only inside the serialised section, and on a watchdog rollback.
 */
import type { Ledger } from '../archive/ledger.js';
import type { LedgerAction, LedgerEntry } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import type { Lattice, SwapResult } from '../lattice/lattice.js';
import type { WatchdogEvent } from '../lattice/watchdog.js';
import { withToolsHeld } from '../gauntlet/background.js';
import { fileSha256 } from '../util/sha256.js';
import { type SandboxScheduler, SerialQueue } from '../gauntlet/serial-queue.js';
import type { AbVerdict, PairedWindows } from './ab-test.js';
import type { AttemptPhase } from './events.js';
import { type StepSpan, type TrialResult, type TrialSlot, meanMlups, runTrial, spansText, trialLossSeconds } from './live-trial.js';
import type { TimedPart } from './run-account.js';
import { type ThroughputWindow, type WindowOptions, judgeThroughput, measureSlot } from './watch.js';

/** The module live in a slot and the archived attempt it came from. */
export interface Incumbent {
  slot: Slot;
  attemptId: number;
  moduleId: number;
  /** The live .so (the lattice's content-addressed copy): the gauntlet's incumbent. */
  modulePath: string;
  moduleSha256: string;
  /**
   * Speedup over the reference kernel (the reference: 1). For a module
   * applied here, the incumbent's speedup times the live throughput ratio of
   * its watch window over the incumbent's window just before the swap.
   */
  speedup: number;
}

export interface ChangeRequest {
  slot: Slot;
  attemptId: number;
  /** The module the gauntlet built and accepted. */
  modulePath: string;
  /** The gauntlet's estimate over the reference: the incumbent's speedup over its benchmark ratio. */
  speedup: number;
  action: Extract<LedgerAction, 'apply' | 'warm-start'>;
  /** Why it is applied, for the ledger (the sandbox's figures; a trial adds its own). */
  reason: string;
  /**
   * What decides its speed. `trial`: a live A/B trial against whatever is
   * live when its turn comes. `benchmark`: the sandbox's benchmark against
   * attempt `judgedAgainst`, which must still be live; if another went live
   * since, the outcome is 'stale', nothing changes, and the caller judges it again.
   */
  speedJudge: { by: 'trial' } | { by: 'benchmark'; judgedAgainst: number };
  /** Rendered by the variant generator from its own templates (trust.ts): loaded in-process; otherwise confined in a kernel host. */
  trusted: boolean;
  /**
   * The live module's throughput, measured by the caller just now with no
   * change in between (the engine's baseline window): a benchmark-judged
   * change then takes no window of its own before the swap.
   */
  incumbentWindow?: ThroughputWindow;
  /** Steps of the canary (default canarySteps from the settings). */
  canarySteps?: number;
  /**
   * No canary for a step module while the lattice's watchdog checks the step
   * kernel differentially (Lattice.stepKernelWatched): for a module whose
   * bytes already passed the gauntlet, a canary and a watch window on this
   * machine (a warm start). The watchdog checks it at the next multiple of
   * everySteps, a swap ending any deferral, and rolls it back with the
   * state restored on a mismatch. Without such a watchdog, or for the
   * readout slot (whose digits the watchdog does not check), the canary runs.
   */
  skipCanaryWhenWatched?: boolean;
}

/** What a live A/B trial found, for the attempt's record. */
export interface TrialReport {
  /** The attempt live as the incumbent during the trial. */
  incumbentAttemptId: number;
  verdict: AbVerdict;
  /** Each pair's MLUPS, incumbent and candidate, in the order they ran. */
  pairs: PairedWindows[];
  end: TrialResult['end'] | 'watchdog';
  /** Steps the candidate computed; the last open (toStep null) when it stayed live. */
  candidateSpans: StepSpan[];
  candidateLiveMs: number;
  /** From the trial's first swap to its end. */
  durationMs: number;
  /** Over the reference: the incumbent's speedup times the trial's ratio (NaN when no pair measured both). */
  candidateSpeedup: number;
}

/** A trial in one phrase, for reasons and the ledger. */
export function trialText(report: TrialReport): string {
  return (
    `A/B trial against attempt ${report.incumbentAttemptId} (${(report.durationMs / 1000).toFixed(1)} s, ` +
    `candidate live ${(report.candidateLiveMs / 1000).toFixed(1)} s): ${report.verdict.reason}`
  );
}

export type ChangeOutcome =
  /** `speedup`: over the reference, as measured live (Incumbent.speedup). */
  | { status: 'applied'; reason: ''; liveMlups: number; incumbentMlups: number; speedup: number; entry: LedgerEntry; trial: TrialReport | null }
  | { status: 'rolled-back'; reason: string; liveMlups: number; incumbentMlups: number; entry: LedgerEntry; rollback: LedgerEntry; trial: TrialReport | null }
  | { status: 'failed'; reason: string; failure: 'load' | 'canary' | 'swap' }
  /** Not applied: a trial it lost (its figures in `trial`), or the engine stopped first. */
  | { status: 'passed'; reason: string; trial: TrialReport | null; liveMlups: number | null }
  /** Another module went live after the sandbox's benchmark judged it: that compared it with the wrong incumbent. */
  | { status: 'stale'; reason: string; incumbent: Incumbent };

export interface LiveChangeSettings {
  /** Load every winner in-process, whatever ChangeRequest.trusted says (EngineDeps.trustGeneratedSources). */
  trustGeneratedSources?: boolean;
  canarySteps: number;
  canaryTolerance: number;
  watchWindowMs: number;
  watchMinSteps: number;
  maxDegradation: number;
  driftTolerance: number;
  /** One window of a trial, and its least steps. */
  trialWindowMs: number;
  trialMinSteps: number;
  trialMaxPairs: number;
  trialMinGain: number;
  trialMaxSlowerLiveMs: number;
  /**
   * Trials take turns with the sandbox runs (the engine's queue of them):
   * a benchmark that starts or ends within a trial would load the windows
   * of one kernel and not the other's. Default: no other runs to wait for.
   */
  sandboxQueue?: SandboxScheduler;
  /** The clock canaries and watch windows are timed on, in ms (default performance.now). */
  now?: () => number;
}

/** Measures a slot's live throughput over a window (default measureSlot on the lattice). */
export type WindowMeasure = (slot: Slot, options: WindowOptions) => Promise<ThroughputWindow>;

export type LedgerWriter = Pick<Ledger, 'append'>;

export interface LiveChangeHooks {
  phase(attemptId: number, phase: AttemptPhase): void;
  applied(entry: LedgerEntry): void;
  rolledBack(entry: LedgerEntry): void;
  /** A watchdog rollback outside any watch window undid an incumbent. */
  incumbentLost(attemptId: number, reason: string, entry: LedgerEntry): void;
  /** A live trial ended; `lossSeconds` is the throughput it cost the simulation (trialLossSeconds). */
  trialEnded?(lossSeconds: number): void;
  /** A canary, a watch window or a live trial ran for `ms` on the settings' clock (the run's account). */
  spent?(part: TimedPart, ms: number): void;
}

/** Why a winner that passed everything did not go live: the stop came first. */
export const STOPPED_FIRST_REASON = 'not applied: the engine stopped first';

export { fileSha256 };

/**
 * The new module's speedup over the reference, measured live: the
 * incumbent's times the ratio of the two windows around the swap. Both were
 * measured on the running lattice within seconds of each other and with the
 * same holds, where the gauntlet's estimate multiplies benchmark ratios from
 * a sandbox whose memory and load vary from run to run; those errors
 * compound along a lineage. Null when either window has no throughput.
 */
export function liveSpeedup(incumbentSpeedup: number, before: ThroughputWindow, after: ThroughputWindow): number | null {
  return before.mlups > 0 && after.mlups > 0 ? (incumbentSpeedup * after.mlups) / before.mlups : null;
}

/**
 * The outcome of a benchmark-judged request whose judge, the incumbent it
 * was measured against, is no longer live; null when it still is (or the
 * request goes to a trial, which takes whatever is live).
 */
function staleOutcome(request: ChangeRequest, incumbent: Incumbent): ChangeOutcome | null {
  const { speedJudge } = request;
  if (speedJudge.by !== 'benchmark' || incumbent.attemptId === speedJudge.judgedAgainst) return null;
  return {
    status: 'stale',
    reason: `attempt ${incumbent.attemptId} went live while it was judged against attempt ${speedJudge.judgedAgainst}`,
    incumbent,
  };
}

/** The outcome of a change the engine's stop came before. */
function stoppedFirst(): ChangeOutcome {
  return { status: 'passed', reason: STOPPED_FIRST_REASON, trial: null, liveMlups: null };
}

/** A candidate swapped in and recorded: the incumbent it now is, its ledger entry and the step it went live at. */
interface SwappedIn {
  candidate: Incumbent;
  entry: LedgerEntry;
  appliedAtStep: number;
}

export class LiveChanges {
  readonly incumbents = new Map<Slot, Incumbent>();
  /** Which attempt each module loaded into the lattice came from. */
  private readonly moduleAttempts = new Map<number, Incumbent>();
  /** Modules loaded to stand in for a lattice's first kernel, which swap() cannot take by its own id. */
  private readonly standIns = new Map<number, number>();
  /** Changes, rollbacks on request and watchdog bookkeeping run one at a time, in the order they came. */
  private readonly queue = new SerialQueue();
  private queued = 0;
  private watching: { slot: Slot; event: WatchdogEvent | null; controller: AbortController } | null = null;
  /** The latest watchdog event of each slot, watched or not (rolledBackBeforeWatch). */
  private readonly lastWatchdog = new Map<Slot, WatchdogEvent>();

  constructor(
    private readonly lat: Lattice,
    private readonly ledger: LedgerWriter,
    private readonly settings: LiveChangeSettings,
    private readonly hooks: LiveChangeHooks,
    private readonly measure: WindowMeasure = (slot, options) => measureSlot(lat, slot, options),
  ) {
    lat.on('watchdog', this.onWatchdog);
  }

  private readonly onWatchdog = (event: WatchdogEvent): void => {
    this.lastWatchdog.set(event.slot, event);
    if (this.watching !== null && this.watching.slot === event.slot) {
      this.watching.event = event;
      this.watching.controller.abort();
      return;
    }
    void this.serialised(() => Promise.resolve(this.incumbentRolledBack(event)));
  };

  /** Stops following the lattice's watchdog. */
  dispose(): void {
    this.lat.off('watchdog', this.onWatchdog);
  }

  /** Records what is live in `slot` now (at start, before any change). */
  adopt(incumbent: Incumbent): void {
    this.incumbents.set(incumbent.slot, incumbent);
    this.moduleAttempts.set(incumbent.moduleId, incumbent);
  }

  /** Runs `work` after every change already queued has finished. */
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    this.queued += 1;
    return this.queue.run(work).finally(() => {
      this.queued -= 1;
    });
  }

  /** Whether a change is queued or under way (measurements of the live kernel are being taken). */
  get busy(): boolean {
    return this.queued > 0;
  }

  /** Loads and canaries one candidate, then trials it live or swaps and watches it; changes are applied one at a time. */
  change(request: ChangeRequest, signal?: AbortSignal): Promise<ChangeOutcome> {
    return this.serialised(() => this.applyOne(request, signal));
  }

  /** One change: refused when stale, loaded and canaried, then trialled live, or swapped in and watched. */
  private async applyOne(request: ChangeRequest, signal?: AbortSignal): Promise<ChangeOutcome> {
    const incumbent = this.incumbents.get(request.slot)!;
    const stale = staleOutcome(request, incumbent);
    if (stale !== null) return stale;
    if (signal?.aborted) return stoppedFirst();
    const moduleId = await this.loadAndCanary(request, signal);
    if (typeof moduleId !== 'number') return moduleId;
    if (request.speedJudge.by === 'trial') {
      return this.sandboxQueue.run(() => this.timed('trial', () => this.trialOne(request, moduleId, incumbent, signal)));
    }
    const window = { windowMs: this.settings.watchWindowMs, minSteps: this.settings.watchMinSteps };
    const before = request.incumbentWindow ?? (await this.measure(request.slot, { ...window, ...(signal ? { signal } : {}) }));
    if (signal?.aborted) return stoppedFirst();
    const swapped = await this.swapIn(request, moduleId, incumbent);
    if ('status' in swapped) return swapped;
    return this.watchSwapped(request, swapped, incumbent, before, signal);
  }

  /**
   * Loads the candidate (in-process when trusted, else confined in a kernel
   * host) and runs its canary; the module's id, or the outcome that ends the
   * change.
   */
  private async loadAndCanary(request: ChangeRequest, signal?: AbortSignal): Promise<number | ChangeOutcome> {
    const { slot, attemptId } = request;
    const trusted = request.trusted || this.settings.trustGeneratedSources === true;
    this.hooks.phase(attemptId, 'canary');
    let moduleId: number;
    try {
      moduleId = trusted ? await this.lat.loadModule(request.modulePath) : await this.lat.loadConfinedModule(request.modulePath);
    } catch (error) {
      return { status: 'failed', reason: `the lattice refused the module: ${(error as Error).message}`, failure: 'load' };
    }
    // Confined or not, candidate and incumbent run on copies of the live state (a kernel host steps and reads
    // them out through its workspace) and the core compares what they computed.
    const watched = request.skipCanaryWhenWatched === true && slot === 'step' && this.lat.stepKernelWatched;
    const canaryProblem = watched
      ? null
      : await this.timed('canary', () => this.canary(slot, moduleId, request.canarySteps ?? this.settings.canarySteps, signal));
    // The stop cancels the canary between two kernel calls: a canary cut short found nothing either way.
    if (signal?.aborted) return stoppedFirst();
    if (canaryProblem !== null) return { status: 'failed', reason: canaryProblem, failure: 'canary' };
    return moduleId;
  }

  /** Swaps a benchmark-judged candidate in at a step boundary, makes it the incumbent and writes its ledger entry. */
  private async swapIn(request: ChangeRequest, moduleId: number, incumbent: Incumbent): Promise<SwappedIn | ChangeOutcome> {
    const { slot, attemptId } = request;
    this.hooks.phase(attemptId, 'swapping');
    let swap;
    try {
      swap = await this.lat.swap(slot, moduleId);
    } catch (error) {
      return { status: 'failed', reason: `the swap failed: ${(error as Error).message}`, failure: 'swap' };
    }
    const info = this.lat.moduleInfo(moduleId);
    const candidate: Incumbent = { slot, attemptId, moduleId, modulePath: info.path, moduleSha256: info.sha256, speedup: request.speedup };
    this.incumbents.set(slot, candidate);
    this.moduleAttempts.set(moduleId, candidate);
    const entry = this.recordChange(request.action, candidate, incumbent, swap.appliedAtStep, request.reason);
    this.hooks.applied(entry);
    return { candidate, entry, appliedAtStep: swap.appliedAtStep };
  }

  /**
   * Watches a swapped-in candidate for a window against the incumbent's
   * window `before`: it stays (its speedup measured live), or the incumbent
   * goes back and the ledger records the rollback.
   */
  private async watchSwapped(
    request: ChangeRequest,
    { candidate, entry, appliedAtStep }: SwappedIn,
    incumbent: Incumbent,
    before: ThroughputWindow,
    signal?: AbortSignal,
  ): Promise<ChangeOutcome> {
    const { slot } = request;
    this.hooks.phase(request.attemptId, 'watching');
    const watchedWindow = await this.timed('watch', () => this.watch(slot, before, signal));
    const early = watchedWindow.watchdog === null ? this.rolledBackBeforeWatch(slot, candidate.moduleId, appliedAtStep) : null;
    const verdict =
      early === null ? watchedWindow : { ...watchedWindow, watchdog: early, slower: false, problem: `the watchdog rolled it back: ${early.detail}` };
    if (signal?.aborted && verdict.watchdog === null) {
      // The stop cut the window short: with no verdict on it the candidate does not stay, the incumbent goes back.
      const rolledBack = await this.lat.rollback(slot);
      this.incumbents.set(slot, incumbent);
      this.recordRollback(slot, incumbent, candidate, 'the engine stopped during its watch window', rolledBack.appliedAtStep);
      return { status: 'passed', reason: `${STOPPED_FIRST_REASON}: it was rolled back when the stop cut its watch window short`, trial: null, liveMlups: null };
    }
    if (verdict.problem === null) {
      candidate.speedup = liveSpeedup(incumbent.speedup, before, verdict.live) ?? request.speedup;
      return { status: 'applied', reason: '', liveMlups: verdict.live.mlups, incumbentMlups: before.mlups, speedup: candidate.speedup, entry, trial: null };
    }
    // The watchdog has already put last-known-good (the previous incumbent) back; otherwise do it now.
    const atStep = verdict.watchdog !== null ? verdict.watchdog.failedStep : (await this.lat.rollback(slot)).appliedAtStep;
    this.incumbents.set(slot, incumbent);
    const reason = verdict.slower ? await this.confirmSlower(slot, verdict.problem, verdict.live) : verdict.problem;
    const rollback = this.recordRollback(slot, incumbent, candidate, reason, atStep);
    return { status: 'rolled-back', reason, liveMlups: verdict.live.mlups, incumbentMlups: before.mlups, entry, rollback, trial: null };
  }

  /**
   * The watchdog event that rolled `moduleId` back in `slot` after its swap
   * at `swappedAtStep` but before its watch window began listening (the
   * lattice's events and the swap's reply come through separate queues, and
   * a warm start with no canary can fail its first differential check at
   * once); null when the module is still live. Left to incumbentRolledBack,
   * which waits for this change to end, the window would judge the module
   * that replaced it and could keep as applied what the watchdog threw out.
   */
  private rolledBackBeforeWatch(slot: Slot, moduleId: number, swappedAtStep: number): WatchdogEvent | null {
    if (this.lat.slots()[slot].live.id === moduleId) return null;
    const event = this.lastWatchdog.get(slot);
    return event !== undefined && event.failedStep >= swappedAtStep ? event : null;
  }

  /** Runs `work` and tells the hooks how long it took. */
  private async timed<T>(part: TimedPart, work: () => Promise<T>): Promise<T> {
    const now = this.settings.now ?? (() => performance.now());
    const startedMs = now();
    try {
      return await work();
    } finally {
      this.hooks.spent?.(part, now() - startedMs);
    }
  }

  private get sandboxQueue(): SandboxScheduler {
    return this.settings.sandboxQueue ?? { run: (work) => work() };
  }

  /**
   * The live A/B trial of a loaded, canaried candidate against the slot's
   * incumbent. The gauntlet's tools are held for the whole trial, not only
   * within each window, so both kernels' windows see the same machine.
   */
  private async trialOne(request: ChangeRequest, moduleId: number, incumbent: Incumbent, signal?: AbortSignal): Promise<ChangeOutcome> {
    const { slot, attemptId } = request;
    const info = this.lat.moduleInfo(moduleId);
    const candidate: Incumbent = { slot, attemptId, moduleId, modulePath: info.path, moduleSha256: info.sha256, speedup: request.speedup };
    this.moduleAttempts.set(moduleId, candidate);
    this.hooks.phase(attemptId, 'trial');
    const controller = new AbortController();
    const stop = () => controller.abort();
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) controller.abort();
    const watching = { slot, event: null as WatchdogEvent | null, controller };
    this.watching = watching;
    const lastKnownGood = this.lat.slots()[slot].lastKnownGood;
    const startedMs = performance.now();
    const windows = { windowMs: this.settings.trialWindowMs, minSteps: this.settings.trialMinSteps };
    const trialSlot: TrialSlot = {
      toCandidate: async () => (await this.lat.swap(slot, moduleId)).appliedAtStep,
      toIncumbent: async () => (await this.lat.rollback(slot)).appliedAtStep,
      measure: (windowSignal, timeoutMs) => this.measure(slot, { ...windows, signal: windowSignal, ...(timeoutMs === undefined ? {} : { timeoutMs }) }),
    };
    const settings = {
      windowMs: this.settings.trialWindowMs,
      maxPairs: this.settings.trialMaxPairs,
      minGain: this.settings.trialMinGain,
      maxSlowerLiveMs: this.settings.trialMaxSlowerLiveMs,
    };
    let result: TrialResult;
    try {
      result = await withToolsHeld(() => runTrial(trialSlot, settings, controller.signal));
    } catch (error) {
      if (this.lat.slots()[slot].live.id === moduleId) await this.lat.rollback(slot);
      return { status: 'failed', reason: `the swap failed: ${(error as Error).message}`, failure: 'swap' };
    } finally {
      this.watching = null;
      signal?.removeEventListener('abort', stop);
    }
    this.hooks.trialEnded?.(trialLossSeconds(result));
    const report: TrialReport = {
      incumbentAttemptId: incumbent.attemptId,
      verdict: result.verdict,
      pairs: result.pairs,
      end: watching.event !== null ? 'watchdog' : result.end,
      candidateSpans: result.candidateSpans,
      candidateLiveMs: result.candidateLiveMs,
      durationMs: performance.now() - startedMs,
      candidateSpeedup: incumbent.speedup * result.verdict.ratio,
    };
    const outcome = await this.settleTrial(request, candidate, incumbent, report, watching.event);
    if (outcome.status !== 'applied') await this.restoreLastKnownGood(slot, lastKnownGood, incumbent.moduleId);
    return outcome;
  }

  /**
   * The trial made the incumbent last-known-good (every swap does); a trial
   * that leaves it live puts back the module that was last-known-good before,
   * so a later rollback, on request or by the watchdog, still goes there.
   * Both swaps are queued together, so the core applies them at one step
   * boundary and the restored module steps nothing.
   */
  private async restoreLastKnownGood(slot: Slot, before: { id: number; path: string }, incumbentId: number): Promise<void> {
    const { live, lastKnownGood } = this.lat.slots()[slot];
    if (live.id !== incumbentId || lastKnownGood.id === before.id) return;
    const restoredId = await this.swappable(before);
    await Promise.all([this.lat.swap(slot, restoredId), this.lat.swap(slot, incumbentId)]);
  }

  /**
   * An id swap() takes for the module: the lattice's first kernel was never
   * loaded through loadModule(), so the same file is loaded once (the same
   * bytes, the same attempt) to stand in for it.
   */
  private async swappable(module: { id: number; path: string }): Promise<number> {
    const moduleId = module.id;
    const known = this.standIns.get(moduleId);
    if (known !== undefined) return known;
    try {
      this.lat.moduleInfo(moduleId);
      return moduleId;
    } catch {
      const standIn = await this.lat.loadModule(module.path);
      const attempt = this.moduleAttempts.get(moduleId);
      if (attempt !== undefined) this.moduleAttempts.set(standIn, { ...attempt, moduleId: standIn });
      this.standIns.set(moduleId, standIn);
      return standIn;
    }
  }

  /** Keeps the trial's winner live, or puts the incumbent back; the ledger and the outcome say which and why. */
  private async settleTrial(
    request: ChangeRequest,
    candidate: Incumbent,
    incumbent: Incumbent,
    report: TrialReport,
    watchdog: WatchdogEvent | null,
  ): Promise<ChangeOutcome> {
    const { slot } = request;
    const spans = report.candidateSpans;
    const { candidateMlups, incumbentMlups } = meanMlups(report.pairs);
    const figures = trialText(report);
    const candidateLive = () => this.lat.slots()[slot].live.id === candidate.moduleId;
    if (watchdog !== null) {
      // The core has put last-known-good, the incumbent, back and restored the state from a verified snapshot.
      const open = spans.at(-1);
      if (open !== undefined && open.toStep === null) open.toStep = watchdog.failedStep;
      const reason = `the watchdog rolled it back during its A/B trial: ${watchdog.detail}; it had stepped ${spansText(spans)}`;
      return this.trialRolledBack(request, candidate, incumbent, report, reason, watchdog.failedStep, { candidateMlups, incumbentMlups });
    }
    if (report.end === 'interrupted' || report.verdict.decision !== 'win') {
      if (candidateLive()) spans.at(-1)!.toStep = (await this.lat.rollback(slot)).appliedAtStep;
      const stepped = spans.length > 0 ? `; it stepped ${spansText(spans)}` : ', before it stepped live';
      const reason =
        report.end === 'interrupted' ? `${STOPPED_FIRST_REASON}: the stop cut its A/B trial short${stepped}` : `not applied: it lost its ${figures}${stepped}`;
      if (spans.length > 0) this.recordTrial(request, candidate, incumbent, spans, reason);
      return { status: 'passed', reason, trial: report, liveMlups: candidateMlups > 0 ? candidateMlups : null };
    }
    if (!candidateLive()) spans.push({ fromStep: (await this.lat.swap(slot, candidate.moduleId)).appliedAtStep, toStep: null });
    const invariantProblem = await this.invariantProblem();
    if (invariantProblem !== null) {
      const atStep = (await this.lat.rollback(slot)).appliedAtStep;
      spans.at(-1)!.toStep = atStep;
      const reason = `${invariantProblem}; it had stepped ${spansText(spans)}`;
      return this.trialRolledBack(request, candidate, incumbent, report, reason, atStep, { candidateMlups, incumbentMlups });
    }
    candidate.speedup = report.candidateSpeedup;
    this.incumbents.set(slot, candidate);
    const earlier = spans.slice(0, -1);
    const alsoStepped = earlier.length > 0 ? `; it also stepped ${spansText(earlier)} in the trial` : '';
    const entry = this.recordChange(request.action, candidate, incumbent, spans.at(-1)!.fromStep, `${request.reason}; won its ${figures}${alsoStepped}`);
    this.hooks.applied(entry);
    return { status: 'applied', reason: '', liveMlups: candidateMlups, incumbentMlups, speedup: candidate.speedup, entry, trial: report };
  }

  /**
   * A trial that was not kept still swapped its module into the live
   * lattice: a `trial` entry from its first window names the steps it
   * computed, and the incumbent it gave the lattice back to.
   */
  private recordTrial(request: ChangeRequest, candidate: Incumbent, incumbent: Incumbent, spans: readonly StepSpan[], reason: string): void {
    const trialReason = `${request.reason}; live in an A/B trial against attempt ${incumbent.attemptId}, then the incumbent again: ${reason}`;
    this.recordChange('trial', candidate, incumbent, spans[0]!.fromStep, trialReason);
  }

  /**
   * A candidate thrown out during or right after its trial: an apply entry
   * from its first trial window (the steps it computed are in the reason)
   * and the rollback, so the chain of modules in the ledger stays unbroken.
   */
  private trialRolledBack(
    request: ChangeRequest,
    candidate: Incumbent,
    incumbent: Incumbent,
    report: TrialReport,
    reason: string,
    atStep: number,
    mlups: { candidateMlups: number; incumbentMlups: number },
  ): ChangeOutcome {
    const { slot } = request;
    this.incumbents.set(slot, incumbent);
    const liveIn = `${request.reason}; in an A/B trial against attempt ${incumbent.attemptId}, live in steps ${spansText(report.candidateSpans)}`;
    const entry = this.recordChange(request.action, candidate, incumbent, report.candidateSpans[0]?.fromStep ?? atStep, liveIn);
    this.hooks.applied(entry);
    const rollback = this.recordRollback(slot, incumbent, candidate, reason, atStep);
    return { status: 'rolled-back', reason, liveMlups: mlups.candidateMlups, incumbentMlups: mlups.incumbentMlups, entry, rollback, trial: report };
  }

  /**
   * The incumbent measured again right after the rollback: the gauntlet's
   * runs share the machine with the live lattice, and a load that changed
   * between the two windows can look like a regression. The reason then
   * says whether the incumbent, back live, is faster than the candidate was.
   */
  private async confirmSlower(slot: Slot, problem: string, candidate: ThroughputWindow): Promise<string> {
    const after = await this.measure(slot, { windowMs: this.settings.watchWindowMs, minSteps: this.settings.watchMinSteps });
    const confirmed = !judgeThroughput(after, candidate, this.settings.maxDegradation).ok;
    return (
      `${problem}; back live after the rollback the incumbent measured ${after.mlups.toFixed(1)} MLUPS` +
      (confirmed ? ', confirming the regression' : ': not a confirmed regression, the load on the machine changed between the windows')
    );
  }

  /** Null when the candidate agrees with the incumbent on copies of the live state; else why not. */
  private async canary(slot: Slot, moduleId: number, steps: number, signal?: AbortSignal): Promise<string | null> {
    let report;
    try {
      report = await this.lat.canary(slot, moduleId, { steps, ...(signal ? { signal } : {}) });
    } catch (error) {
      return `the canary failed to run: ${(error as Error).message}`;
    }
    // The core restored the FP environment after each such call, so the difference below may look fine;
    // a kernel that changes the host's arithmetic is refused all the same.
    if (report.candidateFpRestores > 0) {
      return `canary: ${report.candidateFpRestores} of the candidate's calls left the FP environment (MXCSR or the x87 control word) changed`;
    }
    const tolerance = slot === 'readout' ? 0 : this.settings.canaryTolerance;
    if (!(report.maxAbsDifference <= tolerance)) {
      return `canary: after ${report.steps} steps on the live state the largest difference from the incumbent is ${report.maxAbsDifference.toExponential(3)} (tolerance ${tolerance})`;
    }
    const energyGap = Math.abs(report.candidateEnergy - report.incumbentEnergy);
    const energyLimit = this.settings.canaryTolerance * Math.max(Math.abs(report.incumbentEnergy), Number.MIN_VALUE);
    if (!(energyGap <= energyLimit)) {
      return `canary: energies disagree, candidate ${report.candidateEnergy} vs incumbent ${report.incumbentEnergy} (relative tolerance ${this.settings.canaryTolerance})`;
    }
    return null;
  }

  private async watch(slot: Slot, before: ThroughputWindow, stop?: AbortSignal) {
    const controller = new AbortController();
    this.watching = { slot, event: null, controller };
    const abort = () => controller.abort();
    stop?.addEventListener('abort', abort, { once: true });
    try {
      const live = await this.measure(slot, {
        windowMs: this.settings.watchWindowMs,
        minSteps: this.settings.watchMinSteps,
        signal: controller.signal,
      });
      const watchdog = this.watching.event;
      if (watchdog !== null) {
        return { live, watchdog, slower: false, problem: `the watchdog rolled it back: ${watchdog.detail}` };
      }
      const throughput = judgeThroughput(before, live, this.settings.maxDegradation);
      if (!throughput.ok) return { live, watchdog: null, slower: true, problem: throughput.reason };
      const invariantProblem = await this.invariantProblem();
      if (invariantProblem !== null) return { live, watchdog: null, slower: false, problem: invariantProblem };
      return { live, watchdog: null, slower: false, problem: null };
    } finally {
      stop?.removeEventListener('abort', abort);
      this.watching = null;
    }
  }

  /**
   * The oracle's invariants on the live state at the end of the window: the
   * energy drift within the watchdog's tolerance, every value finite, and
   * the live readout equal to the oracle's, all of one step.
   */
  private async invariantProblem(): Promise<string | null> {
    // The state is read at one step now; the oracle's sums run off the event loop.
    const report = await this.lat.checkInvariantsAsync({ driftTolerance: this.settings.driftTolerance, wrapProbe: false });
    if (report.ok) return null;
    return `an invariant failed after the swap: ${report.violations.join('; ')}`;
  }

  /** The ledger entry of `candidate` going live in place of `incumbent` (`action`: an apply, a warm start, a trial). */
  private recordChange(action: LedgerAction, candidate: Incumbent, incumbent: Incumbent, atStep: number, reason: string): LedgerEntry {
    return this.ledger.append({
      action,
      slot: candidate.slot,
      attemptId: candidate.attemptId,
      moduleSha256: candidate.moduleSha256,
      previousModuleSha256: incumbent.moduleSha256,
      atStep,
      reason,
    });
  }

  /** The rollback entry of `candidate`'s attempt, `previous` live again in `slot`; the hooks hear of it. */
  private recordRollback(slot: Slot, previous: Incumbent, candidate: Incumbent, reason: string, atStep: number): LedgerEntry {
    const entry = this.ledger.append({
      action: 'rollback',
      slot,
      attemptId: candidate.attemptId,
      moduleSha256: previous.moduleSha256,
      previousModuleSha256: candidate.moduleSha256,
      atStep,
      reason,
    });
    this.hooks.rolledBack(entry);
    return entry;
  }

  /** The watchdog rolled a slot back outside any watch window: the incumbent it undid is recorded as rolled back. */
  private incumbentRolledBack(event: WatchdogEvent): void {
    const lost = this.incumbents.get(event.slot);
    const live = this.lat.slots()[event.slot].live;
    const restored = this.moduleAttempts.get(live.id);
    if (lost === undefined || restored === undefined || restored.moduleId === lost.moduleId) return;
    this.incumbents.set(event.slot, restored);
    const reason = `the watchdog rolled it back: ${event.detail}`;
    const entry = this.recordRollback(event.slot, restored, lost, reason, event.failedStep);
    this.hooks.incumbentLost(lost.attemptId, reason, entry);
  }

  /**
   * Returns `slot` to its last-known-good module on request (after any
   * change in progress), records the rollback in the ledger and returns the
   * swap's outcome, the entry and the attempt it undid.
   */
  rollBackOnRequest(slot: Slot, reason: string): Promise<{ outcome: SwapResult; entry: LedgerEntry; undone: Incumbent }> {
    return this.serialised(async () => {
      const { live, lastKnownGood } = this.lat.slots()[slot];
      const restored = this.moduleAttempts.get(lastKnownGood.id);
      const undone = this.incumbents.get(slot)!;
      if (live.id === lastKnownGood.id || restored === undefined) {
        throw new Error(`rollback(${JSON.stringify(slot)}): nothing to roll back, ${live.name} is live and is the last-known-good module`);
      }
      const outcome = await this.lat.rollback(slot);
      this.incumbents.set(slot, restored);
      const entry = this.recordRollback(slot, restored, undone, reason, outcome.appliedAtStep);
      return { outcome, entry, undone };
    });
  }

  /** Resolves once every queued change has finished. */
  async idle(): Promise<void> {
    await this.serialised(() => Promise.resolve());
  }
}
