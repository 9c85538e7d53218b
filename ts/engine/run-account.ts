/**
 * Where a run's time went, measured as it goes on the engine's injected
 * clock, so that a warm run's net rate can be taken apart: when the
 * remembered kernel first stepped live, how long canaries and watch windows
 * ran beside the live runner, what the background re-verification took in
 * wall and CPU time, and, read at the end, the held time, the attempts'
 * child CPU and the watchdog's checks. Parts overlap (a re-verification
 * runs while attempts run and the watchdog checks): each is its own
 * measure, not a share of one total.
 */

/** The parts timed on the engine's clock as they run. */
export type TimedPart = 'canary' | 'watch' | 'trial';

export interface RunAccountReport {
  /** Seconds from start() to the swap that put the warm start's remembered kernel live (its first live step); null when none went live. */
  warmLiveAtSeconds: number | null;
  /** Seconds the live lattice was held at a step boundary. */
  heldSeconds: number;
  /** Wall seconds canaries ran (candidate and incumbent stepping copies of the live state beside the live runner), and how many ran. */
  canarySeconds: number;
  canaries: number;
  /** Wall seconds of watch windows after swaps (the new kernel live, measured). */
  watchSeconds: number;
  /** Wall seconds of live A/B trials (candidate and incumbent taking turns on the live lattice). */
  trialSeconds: number;
  /** The warm start's background re-verification: wall seconds from its start to its verdict, and the CPU seconds of its sandbox runs; null when none ran. */
  reverification: { wallSeconds: number; cpuSeconds: number } | null;
  /** Attempts this run started. */
  attempts: number;
  /**
   * CPU seconds of this run's ended child processes not booked to the
   * re-verification: the attempts' compiles, analysers and sandbox runs
   * (with the re-verification's compile, a cache hit, and screens, which
   * overlap them and are not told apart).
   */
  attemptCpuSeconds: number;
  /** Seconds the watchdog's checks cost the run, as it measured each (Lattice.watchdogCheckMs). */
  watchdogSeconds: number;
}

/** What the account reads at the end: cumulative figures since the run began. */
export interface AccountReadings {
  heldSeconds: number;
  childCpuSeconds: number;
  attempts: number;
  watchdogSeconds: number;
}

export class RunAccount {
  private readonly timedMs: Record<TimedPart, number> = { canary: 0, watch: 0, trial: 0 };
  private canaryCount = 0;
  private warmLiveAtMs: number | null = null;
  private reverificationWallMs = 0;
  private reverificationCpuSeconds = 0;
  private reverifications = 0;
  private openReverifications = 0;

  /** `now`: the engine's clock in ms; `startedMs`: when the run began on it. */
  constructor(
    private readonly now: () => number,
    private readonly startedMs: number,
  ) {}

  /** Adds `ms` of wall time to `part` (a canary counts one more). */
  spent(part: TimedPart, ms: number): void {
    if (!(ms >= 0)) return;
    this.timedMs[part] += ms;
    if (part === 'canary') this.canaryCount += 1;
  }

  /** The warm start's remembered kernel went live now; only the first time counts. */
  warmLive(): void {
    this.warmLiveAtMs ??= this.now();
  }

  /** A re-verification begins now; the returned function ends it (once). */
  reverificationStarted(): () => void {
    const startedMs = this.now();
    this.reverifications += 1;
    this.openReverifications += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.openReverifications -= 1;
      this.reverificationWallMs += this.now() - startedMs;
    };
  }

  /** Whether a re-verification is running now. */
  get reverifying(): boolean {
    return this.openReverifications > 0;
  }

  /** CPU seconds of a re-verification's sandbox run. */
  bookReverificationCpu(cpuSeconds: number): void {
    if (Number.isFinite(cpuSeconds) && cpuSeconds > 0) this.reverificationCpuSeconds += cpuSeconds;
  }

  report(readings: AccountReadings): RunAccountReport {
    return {
      warmLiveAtSeconds: this.warmLiveAtMs === null ? null : (this.warmLiveAtMs - this.startedMs) / 1000,
      heldSeconds: readings.heldSeconds,
      canarySeconds: this.timedMs.canary / 1000,
      canaries: this.canaryCount,
      watchSeconds: this.timedMs.watch / 1000,
      trialSeconds: this.timedMs.trial / 1000,
      reverification: this.reverifications === 0 ? null : { wallSeconds: this.reverificationWallMs / 1000, cpuSeconds: this.reverificationCpuSeconds },
      attempts: readings.attempts,
      attemptCpuSeconds: Math.max(0, readings.childCpuSeconds - this.reverificationCpuSeconds),
      watchdogSeconds: readings.watchdogSeconds,
    };
  }
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The account in one line, for the run's summary. */
export function accountText(account: RunAccountReport): string {
  const live = account.warmLiveAtSeconds === null ? 'no warm start live' : `warm start live at ${account.warmLiveAtSeconds.toFixed(1)} s`;
  const reverification =
    account.reverification === null
      ? 'no re-verification'
      : `re-verification ${account.reverification.wallSeconds.toFixed(1)} s wall, ${account.reverification.cpuSeconds.toFixed(1)} s CPU`;
  return (
    `${live}; held ${account.heldSeconds.toFixed(1)} s; ${count(account.canaries, 'canary', 'canaries')} ${account.canarySeconds.toFixed(1)} s; ` +
    `watch windows ${account.watchSeconds.toFixed(1)} s; trials ${account.trialSeconds.toFixed(1)} s; ${reverification}; ${count(account.attempts, 'attempt', 'attempts')}, ${account.attemptCpuSeconds.toFixed(1)} s child CPU; ` +
    `watchdog ${account.watchdogSeconds.toFixed(2)} s`
  );
}
