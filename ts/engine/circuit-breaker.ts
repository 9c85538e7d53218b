/**
 * The improvement loop's circuit breaker. It counts consecutive failures per
 * kind ("generator:timeout", "gate:compile", "gate:sandbox", "engine", ...);
 * `failures` of one kind in a row open it, and the loop then waits out a
 * backoff that doubles with each opening (capped). When the backoff is over
 * the breaker is half-open: the loop tries again, a success closes it (and
 * resets every count and the backoff), another failure of a kind already at
 * the limit opens it again at once with the next backoff.
 *
 * A candidate a gate rejects on its merits (the firewall, the dojo, the
 * benchmark) is the search working, not a failure: the engine reports those
 * as successes here.
 */
import { EventEmitter } from 'node:events';
import { requireInteger } from '../errors.js';

export interface CircuitBreakerOptions {
  /** Consecutive failures of one kind that open the breaker. */
  failures: number;
  /** The first opening's pause; each further one doubles it. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Milliseconds on a monotonic clock (default performance.now); tests inject one. */
  now?: () => number;
}

export interface CircuitOpen {
  kind: string;
  failures: number;
  backoffMs: number;
}

export interface CircuitBreakerEvents {
  'circuit-open': [CircuitOpen];
  'circuit-closed': [{ kind: string }];
}

export class CircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  readonly failureLimit: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  private readonly now: () => number;
  private readonly consecutive = new Map<string, number>();
  private opened: { kind: string; untilMs: number } | null = null;
  private openings = 0;

  constructor(options: CircuitBreakerOptions) {
    super();
    this.failureLimit = requireInteger('breaker.failures', options.failures, 1);
    this.backoffMs = requireInteger('breaker.backoffMs', options.backoffMs, 0);
    this.maxBackoffMs = requireInteger('breaker.maxBackoffMs', options.maxBackoffMs, this.backoffMs);
    this.now = options.now ?? (() => performance.now());
  }

  /** Consecutive failures of each kind since the last success. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.consecutive);
  }

  /** The kind that opened the breaker, while open or half-open; null when closed. */
  get openKind(): string | null {
    return this.opened?.kind ?? null;
  }

  /** Milliseconds the loop must still wait before trying again (0 when closed or half-open). */
  remainingMs(): number {
    return this.opened === null ? 0 : Math.max(0, this.opened.untilMs - this.now());
  }

  /** Whether the loop must wait now. */
  isOpen(): boolean {
    return this.remainingMs() > 0;
  }

  /** One failure of `kind`; returns the opening it caused, if any. */
  recordFailure(kind: string): CircuitOpen | null {
    const failures = (this.consecutive.get(kind) ?? 0) + 1;
    this.consecutive.set(kind, failures);
    if (failures < this.failureLimit || this.isOpen()) return null;
    this.openings += 1;
    const backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (this.openings - 1));
    this.opened = { kind, untilMs: this.now() + backoffMs };
    const opening = { kind, failures, backoffMs };
    this.emit('circuit-open', opening);
    return opening;
  }

  /** An attempt that went through without a failure: resets every count and closes the breaker. */
  recordSuccess(): void {
    this.consecutive.clear();
    this.openings = 0;
    const opened = this.opened;
    this.opened = null;
    if (opened !== null) this.emit('circuit-closed', { kind: opened.kind });
  }
}
