import { describe, expect, it } from 'vitest';
import { Lattice } from '@ouroboros-engine/core';

function expectError(fn: () => unknown, type: new (...args: never[]) => Error, message: string | RegExp) {
  expect(fn).toThrow(type);
  expect(fn).toThrow(message);
}

describe('Lattice construction rejects bad options with a named parameter and its limit', () => {
  it('options must be an object', () => {
    expectError(() => new Lattice(undefined as never), TypeError, /^options = undefined: must be an object/);
  });

  it('wrong dimension count', () => {
    expectError(() => new Lattice({ extents: [], dt: 0.1 }), RangeError, 'extents = []: has 0 dimensions: a lattice has 1 to 9 dimensions');
    expectError(() => new Lattice({ extents: new Array(10).fill(3), dt: 0.1 }), RangeError, 'has 10 dimensions: a lattice has 1 to 9');
    expectError(() => new Lattice({ extents: 16 as never, dt: 0.1 }), TypeError, 'extents = 16: must be an array of 1 to 9 integers >= 3');
  });

  it('extents below 3, non-integer or not numbers', () => {
    expectError(() => new Lattice({ extents: [8, 2], dt: 0.1 }), RangeError, 'extents[1] = 2: each extent must be an integer >= 3');
    expectError(() => new Lattice({ extents: [8.5], dt: 0.1 }), RangeError, 'extents[0] = 8.5: each extent must be an integer >= 3');
    expectError(() => new Lattice({ extents: [8, '8' as never], dt: 0.1 }), TypeError, 'extents[1] = "8": must be an integer >= 3');
    expectError(() => new Lattice({ extents: [NaN], dt: 0.1 }), RangeError, 'extents[0] = NaN');
  });

  it('a lattice too large for memory', () => {
    expectError(() => new Lattice({ extents: [100_000, 100_000, 100], dt: 0.1 }), RangeError, /^extents = \[100000, 100000, 100\]: one time level/);
    expectError(() => new Lattice({ extents: [1024, 1024, 1024], dt: 0.1 }), RangeError, /needs 8\.0 GiB, more than the 4\.0 GiB a typed array can hold/);
  });

  it('the Courant number must stay below 1/sqrt(N), strictly', () => {
    expectError(
      () => new Lattice({ extents: [16, 16], dt: 1 / Math.SQRT2 }),
      RangeError,
      /Courant number c\*dt\/h = 0.7071067811865\d* must be < 1\/sqrt\(2\) = 0.707107/,
    );
    expectError(() => new Lattice({ extents: [16], dt: 1 }), RangeError, 'must be < 1/sqrt(1) = 1.00000');
    expectError(() => new Lattice({ extents: [4, 4, 4], c: 2, h: 0.5, dt: 0.2 }), RangeError, 'use dt < 0.144338');
    expect(() => new Lattice({ extents: [16, 16], dt: 0.7071 }).close()).not.toThrow();
  });

  it('c, h and dt must be finite and positive', () => {
    expectError(() => new Lattice({ extents: [8], dt: 0 }), RangeError, 'dt = 0: must be a finite number > 0');
    expectError(() => new Lattice({ extents: [8], dt: -0.1 }), RangeError, 'dt = -0.1');
    expectError(() => new Lattice({ extents: [8], dt: Infinity }), RangeError, 'dt = Infinity: must be a finite number');
    expectError(() => new Lattice({ extents: [8] } as never), TypeError, 'dt = undefined: must be a finite number');
    expectError(() => new Lattice({ extents: [8], dt: 0.1, c: NaN }), RangeError, 'c = NaN');
    expectError(() => new Lattice({ extents: [8], dt: 0.1, h: '1' as never }), TypeError, 'h = "1": must be a finite number');
  });

  it('an unknown precision', () => {
    expectError(() => new Lattice({ extents: [8], dt: 0.1, precision: 'f16' as never }), RangeError, 'precision = "f16": must be "f64" or "f32"');
    expectError(() => new Lattice({ extents: [8], dt: 0.1, precision: 64 as never }), TypeError, 'precision = 64: must be "f64" or "f32"');
  });

  it('threads and kernel', () => {
    expectError(() => new Lattice({ extents: [8], dt: 0.1, threads: 0 }), RangeError, 'threads = 0: must be an integer in [1, 256]');
    expectError(() => new Lattice({ extents: [8], dt: 0.1, kernel: 5 as never }), TypeError, 'kernel = 5: must be the path of a kernel module');
    expectError(() => new Lattice({ extents: [8], dt: 0.1, kernel: '/nonexistent/k.so' }), Error, '/nonexistent/k.so');
  });
});

describe('Lattice methods reject bad arguments and keep the state', () => {
  const make = (precision: 'f64' | 'f32' = 'f64') => new Lattice({ extents: [4, 5], dt: 0.5, precision });

  it("memoryTriad: measures the lattice's own memory, leaves both levels as they were, refuses bad repetitions", async () => {
    for (const precision of ['f64', 'f32'] as const) {
      const lat = new Lattice({ extents: [96, 101], dt: 0.5, precision });
      const field = (value: (i: number) => number) => {
        const cells = precision === 'f64' ? new Float64Array(96 * 101) : new Float32Array(96 * 101);
        return cells.map((_, i) => value(i));
      };
      const previous = field(Math.sin);
      const current = field(Math.cos);
      lat.setState(previous, current);
      const triad = lat.memoryTriad(3);
      expect(triad.gbPerSecond).toBeGreaterThan(0);
      expect(triad.bytesPerArray).toBe(Math.floor((96 * 101 * previous.BYTES_PER_ELEMENT) / 8) * 8);
      expect(lat.previousField()).toEqual(previous);
      expect(lat.field()).toEqual(current);
      // While running it waits for a step boundary.
      const run = lat.run();
      expect(lat.memoryTriad().gbPerSecond).toBeGreaterThan(0);
      await lat.stop();
      await run;
      expectError(() => lat.memoryTriad(0), RangeError, 'repetitions = 0: must be an integer in [1, 1000]');
      expectError(() => lat.memoryTriad(2.5), RangeError, 'repetitions = 2.5');
      lat.close();
    }
  });

  it('setState: wrong type, wrong length, non-finite values', () => {
    const lat = make();
    const good = new Float64Array(20).fill(1);
    lat.setState(good, good);
    lat.step(3);
    const before = lat.field();
    expectError(() => lat.setState(new Float32Array(20), good), TypeError, 'previous = Float32Array(20): must be a Float64Array for a f64 lattice');
    expectError(() => lat.setState(good, [1, 2] as never), TypeError, 'current = [1, 2]: must be a Float64Array');
    expectError(
      () => lat.setState(good, new Float64Array(19)),
      RangeError,
      'current.length = 19: must equal the number of cells, 20 (the product of extents [4, 5])',
    );
    const bad = good.slice();
    bad[7] = NaN;
    expectError(() => lat.setState(bad, good), RangeError, 'previous[7] = NaN: every value must be finite');
    bad[7] = -Infinity;
    expectError(() => lat.setState(good, bad), RangeError, 'current[7] = -Infinity');
    expect(lat.stepCount).toBe(3);
    expect(lat.field()).toEqual(before);
    lat.close();
  });

  it('setState on an f32 lattice wants Float32Array', () => {
    const lat = make('f32');
    expectError(() => lat.setState(new Float64Array(20), new Float64Array(20)), TypeError, 'must be a Float32Array for a f32 lattice');
    lat.close();
  });

  it('step: n negative, fractional, not a number', () => {
    const lat = make();
    expectError(() => lat.step(-1), RangeError, 'n = -1: must be an integer in [0, 9007199254740991]');
    expectError(() => lat.step(1.5), RangeError, 'n = 1.5');
    expectError(() => lat.step(NaN), RangeError, 'n = NaN');
    expectError(() => lat.step('3' as never), TypeError, 'n = "3": must be an integer');
    expect(lat.stepCount).toBe(0);
    lat.step(0);
    expect(lat.stepCount).toBe(0);
    lat.close();
  });

  it('checkInvariants: bad options', () => {
    const lat = make();
    expectError(() => lat.checkInvariants({ driftTolerance: -1 }), RangeError, 'driftTolerance = -1: must be a finite number > 0');
    expectError(() => lat.checkInvariants(null as never), TypeError, 'options = null');
    lat.close();
  });

  it('a closed lattice throws a clear error instead of crashing', () => {
    const lat = make();
    lat.close();
    expect(() => lat.step(1)).toThrow(/closed/);
    expect(() => lat.field()).toThrow(/closed/);
  });
});
