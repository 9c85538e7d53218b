// The differential watchdog: kernels the energy check cannot see (a frozen
// field from rest, swapped levels, one wrong cell) are rolled back by the
// oracle's step at cells drawn afresh for every check; correct kernels never are.
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, type WatchdogEvent } from 'ouroboros';
import { kernelModulePath } from '../dist/native/loader.js';
import { gaussianPulse, randomState } from '../dist/ts/lattice/initial-conditions.js';
import { compareProbe, drawProbeCells } from '../dist/ts/lattice/differential-check.js';
import { seededRandom } from '../dist/ts/util/random.js';

const testKernel = (name: string) => `build/test-kernels/misbehaving_${name}.so`;
const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

type Start = 'rest' | 'random';

function lattice(extents: number[], start: Start, precision: 'f64' | 'f32' = 'f64'): Lattice {
  const lat = new Lattice({ extents, dt: extents.length > 2 ? 0.5 : 0.6, threads: 2, precision });
  lattices.push(lat);
  const state = start === 'rest' ? gaussianPulse(lat) : randomState(lat, 3);
  lat.setState(state.previous, state.current);
  return lat;
}

async function watch(lat: Lattice, steps: number, watchdog: Parameters<Lattice['run']>[0] extends infer O ? O extends { watchdog?: infer W } ? W : never : never) {
  const events: WatchdogEvent[] = [];
  lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
  const summary = await lat.run({ steps, watchdog });
  expect(summary.error).toBeNull();
  return events;
}

describe('kernels the energy cannot see', () => {
  it.each([
    ['FreezeField', 'rest', 'f64'],
    ['SwapLevels', 'random', 'f64'],
    ['SwapLevels', 'random', 'f32'],
  ] as const)('%s from a %s state (%s) passes the energy check but is rolled back by the differential check', async (kernel, start, precision) => {
    const unwatched = lattice([32, 30], start, precision);
    await unwatched.swap('step', await unwatched.loadModule(testKernel(kernel)));
    expect(await watch(unwatched, 600, { everySteps: 20, differential: false })).toEqual([]);
    expect(unwatched.kernelName).toBe('misbehaving');
    expect(unwatched.checkInvariants({ driftTolerance: 1e-12, wrapProbe: false }).energyDrift).toBeLessThanOrEqual(1e-12);

    const lat = lattice([32, 30], start, precision);
    await lat.swap('step', await lat.loadModule(testKernel(kernel)));
    const events = await watch(lat, 600, { everySteps: 20, differential: { cells: 64, seed: 1 } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'differential', slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    // The first snapshot, at step 0 or, when the coin delays it, at step 1.
    const checked = events[0]!.checkedStep;
    expect(checked).toBeLessThanOrEqual(1);
    expect(events[0]!.detail).toMatch(new RegExp(`^differential check: the kernel's step to ${checked + 1} differs from the oracle's at \\d+ of 64 sampled cells`));
    expect(lat.kernelName).toBe('reference');
  });

  it('finds a kernel wrong at one cell within a bounded number of checks when the cells are drawn afresh', async () => {
    // 256 of 4096 cells per check: each check finds the cell with probability
    // 1/16, so the chance that 200 checks all miss it is (15/16)^200 < 3e-6.
    // The draws are seeded, so which check finds it is fixed; the step budget
    // allows 400 checks at 25 steps each, and only a check the runner skips
    // (the previous one still being checked) is lost.
    const extents = [64, 64];
    const badCell = 4096 - 1 - Math.floor(4096 / 3);
    const lat = lattice(extents, 'random');
    await lat.swap('step', await lat.loadModule(testKernel('WrongAtOneCell')));
    const events = await watch(lat, 10_000, { everySteps: 25, differential: { cells: 256, seed: 9 } });
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ reason: 'differential', rolledBackTo: 'reference' });
    expect(events[0]!.detail).toContain(`first cell ${badCell}:`);
    expect(events[0]!.energyDrift).toBeLessThan(1e-9);
  });

  it('rolls back a kernel wrong at one cell at the first check when the whole lattice is compared', async () => {
    const lat = lattice([64, 64], 'random');
    await lat.swap('step', await lat.loadModule(testKernel('WrongAtOneCell')));
    const events = await watch(lat, 200, { everySteps: 25, differential: { cells: 'all' } });
    expect(events[0]!.checkedStep).toBeLessThanOrEqual(1);
    expect(events[0]).toMatchObject({ reason: 'differential' });
    expect(events[0]!.detail).toMatch(/differs from the oracle's at 1 of 4096 sampled cells, first cell 2730:/);
  });
});

describe('correct kernels', () => {
  it.each([
    ['reference', 'f64'],
    ['rows', 'f64'],
    ['reference', 'f32'],
    ['rows', 'f32'],
  ] as const)('%s (%s) passes every differential check over the whole lattice, 3-D included', async (kernel, precision) => {
    for (const extents of [[40, 36], [9, 8, 7]]) {
      const lat = lattice(extents, 'random', precision);
      await lat.swap('step', await lat.loadModule(kernelModulePath(kernel)));
      expect(await watch(lat, 400, { everySteps: 7, differential: { cells: 'all', seed: 2 } })).toEqual([]);
    }
  });
});

describe('the comparison and the draw', () => {
  it('draws distinct cells in order, afresh each time, and every cell when asked for as many', () => {
    const random = seededRandom(4);
    const first = drawProbeCells(1000, 50, random);
    const second = drawProbeCells(1000, 50, random);
    expect(new Set(first).size).toBe(50);
    expect([...first]).toEqual([...first].sort((a, b) => a - b));
    expect([...first]).not.toEqual([...second]);
    expect([...drawProbeCells(5, 9, random)]).toEqual([0, 1, 2, 3, 4]);
  });

  it('allows 4 ulps of the largest magnitude, matches NaN with NaN and infinities exactly', () => {
    const cells = Float64Array.of(3, 8);
    const ulp = Number.EPSILON * 2;
    expect(compareProbe(cells, [2 + 4 * ulp, 1], [2, 1], [2, 1], 'f64')).toBeNull();
    expect(compareProbe(cells, [2 + 6 * ulp, 1], [2, 1], [2, 1], 'f64')).toMatchObject({ cells: 1, firstCell: 3 });
    expect(compareProbe(cells, [NaN, Infinity], [NaN, Infinity], [0, 0], 'f64')).toBeNull();
    expect(compareProbe(cells, [1, -Infinity], [1, Infinity], [0, 0], 'f64')).toMatchObject({ firstCell: 8 });
    expect(compareProbe(cells, [0, 1], [NaN, 1], [0, 0], 'f64')).toMatchObject({ firstCell: 3 });
  });

  it('refuses malformed differential options, naming the parameter', () => {
    const lat = lattice([8, 8], 'random');
    expect(() => lat.run({ watchdog: { everySteps: 5, differential: { cells: 0 } } })).toThrow(/watchdog\.differential\.cells = 0/);
    expect(() => lat.run({ watchdog: { everySteps: 5, differential: { everySnapshots: 1.5 } } })).toThrow(/watchdog\.differential\.everySnapshots/);
  });
});
