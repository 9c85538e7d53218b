/**
 * Changes to the live lattice, one at a time: load a winning module, run the
 * canary on live state, measure the incumbent, swap at a step boundary, then
 * watch the new module for a window and roll back on a regression. Every
 * apply and rollback goes to the ledger with the step it took effect at, and
 * the incumbent of each slot is tracked here and nowhere else.
 *
 * Invariant: `incumbents` always names the module live in each slot; it
 * changes only inside the serialised section, and on a watchdog rollback.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Ledger } from '../archive/ledger.js';
import type { LedgerAction, LedgerEntry } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import type { Lattice, SwapResult } from '../lattice/lattice.js';
import type { WatchdogEvent } from '../lattice/watchdog.js';
import type { AttemptPhase } from './events.js';
import { type ThroughputWindow, judgeThroughput, measureSlot } from './watch.js';

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
  /** Why it is applied, for the ledger (the benchmark figures). */
  reason: string;
  /** The incumbent it was judged against: if another went live since, the verdict is stale and nothing changes. */
  judgedAgainst: number;
  /** Rendered by the variant generator from its own templates (trust.ts): loaded in-process; otherwise confined in a kernel host. */
  trusted: boolean;
}

export type ChangeOutcome =
  /** `speedup`: over the reference, as measured live (Incumbent.speedup). */
  | { status: 'applied'; reason: ''; liveMlups: number; incumbentMlups: number; speedup: number; entry: LedgerEntry }
  | { status: 'rolled-back'; reason: string; liveMlups: number; incumbentMlups: number; entry: LedgerEntry; rollback: LedgerEntry }
  | { status: 'failed'; reason: string; failure: 'load' | 'canary' | 'swap' }
  | { status: 'passed'; reason: string }
  /** Another module went live after the candidate was judged: its benchmark compared it with the wrong incumbent. */
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
}

export type LedgerWriter = Pick<Ledger, 'append'>;

export interface LiveChangeHooks {
  phase(attemptId: number, phase: AttemptPhase): void;
  applied(entry: LedgerEntry): void;
  rolledBack(entry: LedgerEntry): void;
  /** A watchdog rollback outside any watch window undid an incumbent. */
  incumbentLost(attemptId: number, reason: string, entry: LedgerEntry): void;
}

/** Why a winner that passed everything did not go live: the stop came first. */
export const STOPPED_FIRST_REASON = 'not applied: the engine stopped first';

export function fileSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

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

export class LiveChanges {
  readonly incumbents = new Map<Slot, Incumbent>();
  /** Which attempt each module loaded into the lattice came from. */
  private readonly moduleAttempts = new Map<number, Incumbent>();
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private watching: { slot: Slot; event: WatchdogEvent | null; controller: AbortController } | null = null;

  constructor(
    private readonly lat: Lattice,
    private readonly ledger: LedgerWriter,
    private readonly settings: LiveChangeSettings,
    private readonly hooks: LiveChangeHooks,
  ) {
    lat.on('watchdog', this.onWatchdog);
  }

  private readonly onWatchdog = (event: WatchdogEvent): void => {
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
    const result = this.tail.then(work).finally(() => {
      this.queued -= 1;
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Whether a change is queued or under way (measurements of the live kernel are being taken). */
  get busy(): boolean {
    return this.queued > 0;
  }

  /** Loads, canaries, swaps and watches one winner; changes are applied one at a time. */
  change(request: ChangeRequest, signal?: AbortSignal): Promise<ChangeOutcome> {
    return this.serialised(() => this.applyOne(request, signal));
  }

  private async applyOne(request: ChangeRequest, signal?: AbortSignal): Promise<ChangeOutcome> {
    const { slot, attemptId } = request;
    const trusted = request.trusted || this.settings.trustGeneratedSources === true;
    const incumbent = this.incumbents.get(slot)!;
    if (incumbent.attemptId !== request.judgedAgainst) {
      return {
        status: 'stale',
        reason: `not applied: attempt ${incumbent.attemptId} went live while it was judged against attempt ${request.judgedAgainst}, so its benchmark is stale`,
        incumbent,
      };
    }
    if (signal?.aborted) return { status: 'passed', reason: STOPPED_FIRST_REASON };

    this.hooks.phase(attemptId, 'canary');
    let moduleId: number;
    try {
      moduleId = trusted ? await this.lat.loadModule(request.modulePath) : await this.loadConfined(slot, request.modulePath);
    } catch (error) {
      return { status: 'failed', reason: `the lattice refused the module: ${(error as Error).message}`, failure: 'load' };
    }
    // A confined module steps only the live segment, in its host, so it cannot step the canary's copies, as
    // candidate or as incumbent: the gauntlet's checks, the watch window and the watchdog (whose snapshots
    // restore a host's crash) stand in.
    const canaryRuns = trusted && !this.lat.isConfined(incumbent.moduleId);
    const canaryProblem = canaryRuns ? await this.canary(slot, moduleId) : null;
    if (canaryProblem !== null) return { status: 'failed', reason: canaryProblem, failure: 'canary' };
    if (signal?.aborted) return { status: 'passed', reason: STOPPED_FIRST_REASON };

    const window = { windowMs: this.settings.watchWindowMs, minSteps: this.settings.watchMinSteps };
    const before = await measureSlot(this.lat, slot, { ...window, ...(signal ? { signal } : {}) });
    if (signal?.aborted) return { status: 'passed', reason: STOPPED_FIRST_REASON };

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
    const entry = this.ledger.append({
      action: request.action,
      slot,
      attemptId,
      moduleSha256: info.sha256,
      previousModuleSha256: incumbent.moduleSha256,
      atStep: swap.appliedAtStep,
      reason: request.reason,
    });
    this.hooks.applied(entry);

    this.hooks.phase(attemptId, 'watching');
    const verdict = await this.watch(slot, before, signal);
    if (signal?.aborted && verdict.watchdog === null) {
      // The stop cut the window short: with no verdict on it the candidate does not stay, the incumbent goes back.
      const { appliedAtStep } = await this.lat.rollback(slot);
      this.incumbents.set(slot, incumbent);
      this.recordRollback(slot, incumbent, candidate, 'the engine stopped during its watch window', appliedAtStep);
      return { status: 'passed', reason: `${STOPPED_FIRST_REASON}: it was rolled back when the stop cut its watch window short` };
    }
    if (verdict.problem === null) {
      candidate.speedup = liveSpeedup(incumbent.speedup, before, verdict.live) ?? request.speedup;
      return { status: 'applied', reason: '', liveMlups: verdict.live.mlups, incumbentMlups: before.mlups, speedup: candidate.speedup, entry };
    }
    // The watchdog has already put last-known-good (the previous incumbent) back; otherwise do it now.
    const atStep = verdict.watchdog !== null ? verdict.watchdog.failedStep : (await this.lat.rollback(slot)).appliedAtStep;
    this.incumbents.set(slot, incumbent);
    const reason = verdict.slower ? await this.confirmSlower(slot, verdict.problem, verdict.live) : verdict.problem;
    const rollback = this.recordRollback(slot, incumbent, candidate, reason, atStep);
    return { status: 'rolled-back', reason, liveMlups: verdict.live.mlups, incumbentMlups: before.mlups, entry, rollback };
  }

  /** An untrusted module, in a kernel host; only the step slot of a lattice with a shared-memory state takes one. */
  private async loadConfined(slot: Slot, modulePath: string): Promise<number> {
    if (slot !== 'step') {
      throw new Error(`an untrusted ${slot} kernel would run confined, and a kernel host serves only the step slot`);
    }
    return this.lat.loadConfinedModule(modulePath);
  }

  /**
   * The incumbent measured again right after the rollback: the gauntlet's
   * runs share the machine with the live lattice, and a load that changed
   * between the two windows can look like a regression. The reason then
   * says whether the incumbent, back live, is faster than the candidate was.
   */
  private async confirmSlower(slot: Slot, problem: string, candidate: ThroughputWindow): Promise<string> {
    const after = await measureSlot(this.lat, slot, { windowMs: this.settings.watchWindowMs, minSteps: this.settings.watchMinSteps });
    const confirmed = !judgeThroughput(after, candidate, this.settings.maxDegradation).ok;
    return (
      `${problem}; back live after the rollback the incumbent measured ${after.mlups.toFixed(1)} MLUPS` +
      (confirmed ? ', confirming the regression' : ': not a confirmed regression, the load on the machine changed between the windows')
    );
  }

  /** Null when the candidate agrees with the incumbent on copies of the live state; else why not. */
  private async canary(slot: Slot, moduleId: number): Promise<string | null> {
    let report;
    try {
      report = await this.lat.canary(slot, moduleId, { steps: this.settings.canarySteps });
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
      const live = await measureSlot(this.lat, slot, {
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
      const invariantProblem = this.invariantProblem();
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
  private invariantProblem(): string | null {
    const report = this.lat.checkInvariants({ driftTolerance: this.settings.driftTolerance, wrapProbe: false });
    if (report.ok) return null;
    return `an invariant failed after the swap: ${report.violations.join('; ')}`;
  }

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
    const entry = this.ledger.append({
      action: 'rollback',
      slot: event.slot,
      attemptId: lost.attemptId,
      moduleSha256: restored.moduleSha256,
      previousModuleSha256: lost.moduleSha256,
      atStep: event.failedStep,
      reason,
    });
    this.hooks.rolledBack(entry);
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
      const entry = this.ledger.append({
        action: 'rollback',
        slot,
        attemptId: undone.attemptId,
        moduleSha256: restored.moduleSha256,
        previousModuleSha256: undone.moduleSha256,
        atStep: outcome.appliedAtStep,
        reason,
      });
      this.hooks.rolledBack(entry);
      return { outcome, entry, undone };
    });
  }

  /** Resolves once every queued change has finished. */
  async idle(): Promise<void> {
    await this.serialised(() => Promise.resolve());
  }
}
