// The watchdog's cost-bounded cadence: after each check the next snapshot is
// deferred by a random whole number of K-step intervals whose mean makes the
// check's measured cost the allowed share of the run, drawn from a seeded
// generator a kernel cannot read. Clocks and costs are injected: nothing here
// is timed.
import { describe, expect, it } from 'vitest';
import { SnapshotCadence, meanIntervals } from '../dist/ts/lattice/watchdog-cadence.js';
import { resolveCadence, resolveDifferential } from '../dist/ts/lattice/watchdog.js';
import { seededRandom } from '../dist/ts/util/random.js';
import { watchedCore } from './helpers/watched-lattice.js';

const K = 50;

describe('SnapshotCadence', () => {
  it('defers nothing until it has a rate, nor for a check cheaper than its share of one interval', () => {
    const cadence = new SnapshotCadence(K, 0.01, () => 0.99);
    expect(cadence.next(0, 0, 5000)).toBe(1);
    // 50 steps in 1500 ms; a check of 10 ms is below 1% of that.
    expect(cadence.next(50, 1500, 10)).toBe(51);
    expect(meanIntervals(10, 1500, 0.01)).toBe(1);
    expect(meanIntervals(150, 1500, 0.01)).toBe(10);
  });

  it('draws the deferral uniformly over whole intervals, its mean making the cost the share', () => {
    // 30 ms a step, a check of 150 ms: 10 intervals on average, drawn from 1..19.
    const random = seededRandom(7);
    const cadence = new SnapshotCadence(K, 0.01, random);
    let step = 0;
    let atMs = 0;
    cadence.next(step, atMs, 150);
    const drawn = new Map<number, number>();
    let intervalsSum = 0;
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      atMs += 30 * K;
      step += K;
      const first = cadence.next(step, atMs, 150);
      expect((first - 1 - step) % K).toBe(0);
      const intervals = (first - 1 - step) / K + 1;
      drawn.set(intervals, (drawn.get(intervals) ?? 0) + 1);
      intervalsSum += intervals;
    }
    expect([...drawn.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect(intervalsSum / draws).toBeGreaterThan(9.8);
    expect(intervalsSum / draws).toBeLessThan(10.2);
  });

  it('keeps the share of time spent checking at the limit over a long run', () => {
    const cadence = new SnapshotCadence(K, 0.01, seededRandom(3));
    const msPerStep = 30;
    const checkMs = 200;
    let step = 0;
    let atMs = 0;
    let checkingMs = 0;
    for (let i = 0; i < 5000; i++) {
      const first = cadence.next(step, atMs, checkMs);
      checkingMs += checkMs;
      const next = Math.ceil(first / K) * K;
      atMs += checkMs + (next - step) * msPerStep;
      step = next;
    }
    expect(checkingMs / atMs).toBeGreaterThan(0.009);
    expect(checkingMs / atMs).toBeLessThan(0.011);
  });

  it("goes by the lower median of the latest checks' costs, so one slow check does not leave minutes unchecked", () => {
    // 30 ms a step and checks of 150 ms: 10 intervals on average, at most 19. One check of 5 s among them (the JS
    // thread held up by something else) would, taken alone, make the mean 333 intervals: 500 s of this kernel.
    const cadence = new SnapshotCadence(K, 0.01, () => 0.999);
    let step = 0;
    const next = (costMs: number) => {
      const first = cadence.next(step, step * 30, costMs);
      const intervals = (first - 1 - step) / K + 1;
      step += K;
      return intervals;
    };
    for (let i = 0; i < 3; i++) next(150);
    expect(next(5000)).toBe(19);
    expect(next(150)).toBe(19);
    // Costs that stay high are the machine's, not an outlier's: the deferral follows them.
    expect(next(5000)).toBe(19);
    expect(next(5000)).toBeGreaterThan(600);
  });

  it('defers nothing after a rollback moved the step back', () => {
    const cadence = new SnapshotCadence(K, 0.01, () => 0.99);
    cadence.next(0, 0, 500);
    expect(cadence.next(100, 3000, 500)).toBeGreaterThan(101);
    expect(cadence.next(50, 6000, 500)).toBe(51);
  });
});

describe('watchdog.maxCostShare', () => {
  it('is absent by default (a snapshot every K steps) and must be in (0, 1]', () => {
    expect(resolveCadence({ everySteps: K }, K, 1)).toBeNull();
    expect(resolveCadence({ everySteps: K, maxCostShare: 0.01 }, K, 1)).not.toBeNull();
    expect(() => resolveCadence({ everySteps: K, maxCostShare: 0 }, K, 1)).toThrow(/^watchdog\.maxCostShare = 0: must be a number in \(0, 1\]/);
    expect(() => resolveCadence({ everySteps: K, maxCostShare: 1.5 }, K, 1)).toThrow(/^watchdog\.maxCostShare = 1\.5: must be a number in \(0, 1\]/);
    expect(() => resolveCadence({ everySteps: K, maxCostShare: Number.NaN }, K, 1)).toThrow(/^watchdog\.maxCostShare = NaN/);
    expect(() => resolveCadence({ everySteps: K, maxCostShare: '1%' as unknown as number }, K, 1)).toThrow(
      /^watchdog\.maxCostShare = "1%": must be a finite number/,
    );
  });

  it("defers the core's snapshots by what its checks cost, and the core takes none before", async () => {
    const every = 10;
    const fixture = watchedCore();
    const core = fixture.core;
    try {
      // A clock on which a step takes 10 ms and a check 250 ms: 25 times 1% of even one K-step interval.
      let checkingMs = 0;
      const now = () => core.stepCount * 10 + (checkingMs += 125);
      const cadence = resolveCadence({ everySteps: every, maxCostShare: 0.01, now }, every, 5);
      const differential = resolveDifferential({ cells: 64, seed: 5, fullCheckEveryMs: 0 }, 64 * 64);
      const deferrals: number[] = [];
      fixture.spy('deferSnapshots', ([firstStep]) => deferrals.push(firstStep));
      const rollbacks = fixture.rollbacks;
      const watchdog = fixture.watchdog(differential, cadence);
      watchdog.prime();
      const checked: number[] = [];
      const run = core.run(20_000, every, (step) => {
        checked.push(step);
        watchdog.check(step);
      });
      const summary = await run;
      expect(summary.error).toBeNull();
      expect(rollbacks).toEqual([]);
      expect(checked[0]).toBe(0);
      expect(deferrals[0]).toBe(1);
      for (let i = 1; i < checked.length; i++) {
        expect(checked[i]! % every).toBe(0);
        // Each snapshot comes at or after the step the check before it deferred the next to.
        expect(checked[i]!).toBeGreaterThanOrEqual(deferrals[i - 1]!);
      }
      // From the second check on, each defers by a whole number of intervals: the mean is 25 or more, so some wait several.
      const intervals = deferrals.slice(1).map((first, i) => (first - 1 - checked[i + 1]!) / every + 1);
      expect(intervals.length).toBeGreaterThan(1);
      for (const n of intervals) {
        expect(Number.isInteger(n)).toBe(true);
        expect(n).toBeGreaterThanOrEqual(1);
      }
      expect(Math.max(...intervals)).toBeGreaterThan(1);
      expect(checked.length).toBeLessThan(20_000 / every / 5);
    } finally {
      core.close();
    }
  });
});
