// The circuit breaker with an injected clock: it opens after K consecutive
// failures of one kind, backs off exponentially, and closes after a success.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../dist/ts/engine/circuit-breaker.js';

function breaker(failures = 3) {
  const clock = { ms: 0 };
  const b = new CircuitBreaker({ failures, backoffMs: 1000, maxBackoffMs: 5000, now: () => clock.ms });
  const events: string[] = [];
  b.on('circuit-open', (e) => events.push(`open ${e.kind} ${e.failures} ${e.backoffMs}`));
  b.on('circuit-closed', (e) => events.push(`closed ${e.kind}`));
  return { b, clock, events };
}

describe('CircuitBreaker', () => {
  it('opens on the K-th consecutive failure of one kind and not before', () => {
    const { b, events } = breaker(3);
    expect(b.recordFailure('generator:timeout')).toBeNull();
    expect(b.recordFailure('generator:timeout')).toBeNull();
    expect(b.isOpen()).toBe(false);
    expect(b.recordFailure('generator:timeout')).toEqual({ kind: 'generator:timeout', failures: 3, backoffMs: 1000 });
    expect(b.isOpen()).toBe(true);
    expect(b.openKind).toBe('generator:timeout');
    expect(events).toEqual(['open generator:timeout 3 1000']);
  });

  it('counts each kind apart, and a success resets every count', () => {
    const { b } = breaker(2);
    b.recordFailure('gate:compile');
    b.recordFailure('gate:sandbox');
    expect(b.isOpen()).toBe(false);
    expect(b.counts()).toEqual({ 'gate:compile': 1, 'gate:sandbox': 1 });
    b.recordSuccess();
    expect(b.counts()).toEqual({});
    b.recordFailure('gate:compile');
    expect(b.isOpen()).toBe(false);
  });

  it('waits out the backoff, then a failure reopens at once with twice the backoff, capped', () => {
    const { b, clock, events } = breaker(2);
    b.recordFailure('network');
    b.recordFailure('network');
    clock.ms = 400;
    expect(b.remainingMs()).toBe(600);
    // Failures that land while open (attempts already in flight) do not stack openings.
    expect(b.recordFailure('network')).toBeNull();
    clock.ms = 1000;
    expect(b.isOpen()).toBe(false); // half-open: the loop may try again
    expect(b.recordFailure('network')?.backoffMs).toBe(2000);
    clock.ms = 3000;
    expect(b.recordFailure('network')?.backoffMs).toBe(4000);
    clock.ms = 7000;
    expect(b.recordFailure('network')?.backoffMs).toBe(5000);
    expect(events).toEqual(['open network 2 1000', 'open network 4 2000', 'open network 5 4000', 'open network 6 5000']);
  });

  it('closes after a success and starts again from the first backoff', () => {
    const { b, clock, events } = breaker(1);
    b.recordFailure('engine');
    clock.ms = 1000;
    b.recordFailure('engine');
    clock.ms = 3000;
    b.recordSuccess();
    expect(b.openKind).toBeNull();
    expect(b.isOpen()).toBe(false);
    expect(b.recordFailure('engine')?.backoffMs).toBe(1000);
    expect(events).toEqual(['open engine 1 1000', 'open engine 2 2000', 'closed engine', 'open engine 1 1000']);
  });

  it('a success while closed emits nothing', () => {
    const { b, events } = breaker(2);
    b.recordSuccess();
    expect(events).toEqual([]);
  });

  it('rejects a bad limit, naming the key', () => {
    expect(() => new CircuitBreaker({ failures: 0, backoffMs: 1, maxBackoffMs: 1 })).toThrow(/breaker\.failures = 0/);
  });
});
