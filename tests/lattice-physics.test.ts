import { describe, expect, it } from 'vitest';
import { Lattice, NonFiniteFieldError, type Precision } from '@ouroboros-engine/core';
import { kernelModulePath, oracleAddon } from '../dist/native/loader.js';
import { discreteOmegaDt, randomState, sineMode } from '../dist/ts/lattice/initial-conditions.js';

// Lattices large enough that rounding errors decorrelate: on a few dozen cells
// the dynamics is nearly periodic and rounding drifts the energy coherently
// (about 2e-12 after 10^4 f64 steps on 64 cells; see bench/results/kernels.json).
const DRIFT_CASES: Record<Precision, Record<number, number[]>> = {
  f64: { 1: [4096], 2: [64, 64], 3: [16, 16, 16], 9: new Array(9).fill(3) },
  f32: { 1: [65536], 2: [256, 256], 3: [32, 32, 32], 9: new Array(9).fill(3) },
};

function randomLattice(extents: number[], precision: Precision, seed: number, courantShare = 0.95) {
  const lat = new Lattice({ extents, dt: courantShare / Math.sqrt(extents.length), precision });
  const state = randomState(lat, seed);
  lat.setState(state.previous, state.current);
  return { lat, state };
}

describe('energy conservation', () => {
  for (const [precision, tolerance] of [
    ['f64', 1e-12],
    ['f32', 1e-5],
  ] as const) {
    for (const [dims, extents] of Object.entries(DRIFT_CASES[precision])) {
      it(`drift <= ${tolerance} over 10^4 steps, ${dims}-D ${precision}, random data`, () => {
        const { lat } = randomLattice(extents, precision, 100 + Number(dims));
        const initial = lat.energy();
        expect(initial).toBeGreaterThan(0);
        expect(lat.initialEnergy).toBe(initial);
        lat.step(10_000);
        expect(lat.stepCount).toBe(10_000);
        const drift = Math.abs(lat.energy() - initial) / initial;
        expect(drift).toBeLessThanOrEqual(tolerance);
        lat.close();
      });
    }
  }
});

describe('dispersion relation of the discrete scheme', () => {
  const modeCases: [number[], number[]][] = [
    [[40], [3]],
    [
      [32, 24],
      [1, 2],
    ],
    [
      [12, 10, 8],
      [1, 2, 1],
    ],
    [new Array(9).fill(3), new Array(9).fill(1)],
  ];
  for (const [extents, modes] of modeCases) {
    it(`a standing wave on ${extents.join('x')} follows sin(w dt/2) = r sqrt(sum sin^2(k h/2)) to 1e-10 after 1000 steps`, () => {
      const dt = 0.9 / Math.sqrt(extents.length);
      const lat = new Lattice({ extents, dt });
      const mode = sineMode(extents, modes, 4);
      const omegaDt = discreteOmegaDt(extents, modes, lat.courantNumber);
      lat.setState(
        mode.map((v) => v * Math.cos(omegaDt)),
        mode,
      );
      lat.step(1000);
      const field = lat.field();
      const expected = Math.cos(1000 * omegaDt);
      let maxError = 0;
      for (let i = 0; i < field.length; i++) maxError = Math.max(maxError, Math.abs(field[i]! - expected * mode[i]!));
      expect(maxError).toBeLessThanOrEqual(1e-10);
      // The relation is not vacuous: a continuum frequency would be far off by now.
      const continuum = lat.courantNumber * Math.sqrt(modes.reduce((s, m, i) => s + ((2 * Math.PI * m) / extents[i]!) ** 2, 0));
      expect(Math.abs(Math.cos(1000 * continuum) - expected)).toBeGreaterThan(1e-3);
      lat.close();
    });
  }
});

describe('the C++ reference kernel agrees with the Rust oracle', () => {
  // Odd, prime and minimal extents, different on every axis where the size allows.
  const extentsFor = (dims: number) => Array.from({ length: dims }, (_, a) => (dims <= 3 ? [7, 5, 11][a]! : a < 2 ? 4 : 3));
  const ulpsPerStep = 4;
  const steps = 7;

  for (const precision of ['f64', 'f32'] as const) {
    for (let dims = 1; dims <= 9; dims++) {
      it(`${dims}-D ${precision}: within ${ulpsPerStep} ulps per step after ${steps} steps`, () => {
        const extents = extentsFor(dims);
        const { lat, state } = randomLattice(extents, precision, 40 + dims);
        lat.step(steps);
        const courant2 = lat.courantNumber ** 2;
        const oracle = oracleAddon();
        const expected =
          precision === 'f64'
            ? oracle.stepF64(state.previous as Float64Array, state.current as Float64Array, extents, courant2, steps)
            : oracle.stepF32(state.previous as Float32Array, state.current as Float32Array, extents, courant2, steps);
        const epsilon = precision === 'f64' ? Number.EPSILON : 2 ** -23;
        for (const [actual, reference] of [
          [lat.field(), expected.current],
          [lat.previousField(), expected.previous],
        ] as const) {
          let scale = 0;
          for (const v of reference) scale = Math.max(scale, Math.abs(v));
          for (let i = 0; i < reference.length; i++) {
            expect(Math.abs(actual[i]! - reference[i]!)).toBeLessThanOrEqual(ulpsPerStep * steps * epsilon * scale);
          }
        }
        lat.close();
      });
    }
  }
});

describe('state access', () => {
  it('field() and previousField() are copies; setState resets the step counter', () => {
    const { lat } = randomLattice([6, 5], 'f64', 9);
    lat.step(4);
    const field = lat.field();
    field.fill(123);
    expect(lat.field()[0]).not.toBe(123);
    expect(lat.stepCount).toBe(4);
    lat.setState(lat.previousField(), lat.field());
    expect(lat.stepCount).toBe(0);
    lat.close();
  });

  it('energy() is the oracle energy of the two live levels, with the cell volume', () => {
    const lat = new Lattice({ extents: [5, 4], dt: 0.2, h: 0.5, c: 1.5 });
    const state = randomState(lat, 3);
    lat.setState(state.previous, state.current);
    lat.step(3);
    const expected = oracleAddon().energy(lat.previousField() as Float64Array, lat.field() as Float64Array, [5, 4], 1.5, 0.5, 0.2);
    expect(lat.energy()).toBe(expected);
    lat.close();
  });

  it('loads an explicitly named kernel module', () => {
    const lat = new Lattice({ extents: [8], dt: 0.5, kernel: kernelModulePath('reference') });
    expect(lat.kernelName).toMatch(/reference/);
    lat.close();
  });
});

describe('readout', () => {
  it('rounds to nearest (ties away from zero) and clamps to [-4, 4], matching the oracle', () => {
    const values = [0.4, 0.5, -0.5, 1.49, 1.5, -2.5, 3.5, 4.6, -17, 1e6, -0.2, 2.51];
    const lat = new Lattice({ extents: [values.length], dt: 0.5 });
    const current = Float64Array.from(values);
    lat.setState(current, current);
    expect([...lat.readout()]).toEqual([0, 1, -1, 1, 2, -3, 4, 4, -4, 4, 0, 3]);
    expect([...lat.readout()]).toEqual([...oracleAddon().readout(current).digits!]);
    lat.close();
  });

  it('a non-finite cell is an error naming the cell, never a silent digit', () => {
    const lat = new Lattice({ extents: [4, 6], dt: 0.5 });
    const current = new Float64Array(24);
    current[14] = 1e308;
    lat.setState(new Float64Array(24), current);
    lat.step(1); // 2 * 1e308 overflows to Infinity, and Infinity - Infinity is NaN
    expect(() => lat.readout()).toThrow(NonFiniteFieldError);
    expect(() => lat.readout()).toThrow('readout: cell 14 (coordinates [2, 2]) is NaN: a non-finite value has no nonary digit');
    try {
      lat.readout();
    } catch (error) {
      expect((error as NonFiniteFieldError).cellIndex).toBe(14);
    }
    const report = lat.checkInvariants();
    expect(report.ok).toBe(false);
    expect(report.allFinite).toBe(false);
    expect(report.firstNonFinite).toBe(14);
    lat.close();
  });
});

describe('checkInvariants', () => {
  for (const precision of ['f64', 'f32'] as const) {
    it(`reports a healthy ${precision} run as ok, with exact wrap on every axis`, () => {
      const { lat } = randomLattice([6, 5, 4], precision, 77);
      lat.step(50);
      const report = lat.checkInvariants();
      expect(report.violations).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.allFinite).toBe(true);
      expect(report.wrapExact).toBe(true);
      expect(report.wrapFailedAxes).toEqual([]);
      expect(report.readoutInRange).toBe(true);
      expect(report.readoutMatchesOracle).toBe(true);
      expect(report.energy).toBe(lat.energy());
      expect(report.initialEnergy).toBe(lat.initialEnergy);
      lat.close();
    });
  }

  it('reports drift beyond the tolerance as a violation', () => {
    const { lat } = randomLattice([16, 16], 'f32', 78);
    lat.step(100);
    const report = lat.checkInvariants({ driftTolerance: 1e-300, wrapProbe: false });
    expect(report.ok).toBe(false);
    expect(report.energyDrift).toBeGreaterThan(1e-300);
    expect(report.violations.join(' ')).toMatch(/drift/);
    expect(report.wrapExact).toBeNull();
    lat.close();
  });
});
