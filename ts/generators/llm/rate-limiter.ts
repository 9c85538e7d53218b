/**
 * A token bucket for requests: `burst` tokens at most, refilled at
 * `perMinute` tokens a minute. A request that finds the bucket empty waits
 * for its token rather than failing: the engine has nothing better to do
 * with the generator meanwhile, and waiting keeps the endpoint's limit
 * without turning every burst into a generator failure that would trip the
 * circuit breaker. The wait ends early only when the caller aborts.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class RateLimiter {
  private tokens: number;
  private refilledAtMs: number;
  /** Callers queue in order: each awaits the one before it, so tokens go first come, first served. */
  private queue: Promise<void> = Promise.resolve();
  waits = 0;
  waitedMs = 0;

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.refilledAtMs = performance.now();
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAtMs) * this.perMinute) / 60_000);
    this.refilledAtMs = now;
  }

  /** Resolves when a request may start; rejects with the signal's reason if aborted while waiting. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.take(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async take(signal?: AbortSignal): Promise<void> {
    this.refill();
    if (this.tokens < 1) {
      const waitMs = ((1 - this.tokens) * 60_000) / this.perMinute;
      this.waits += 1;
      const start = performance.now();
      await sleep(Math.ceil(waitMs), undefined, signal ? { signal } : undefined);
      this.waitedMs += performance.now() - start;
      this.refill();
    }
    this.tokens = Math.max(0, this.tokens - 1);
  }
}
