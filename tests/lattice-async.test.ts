// The async pairs of the oracle's long calls: energyAsync and
// checkInvariantsAsync give what their synchronous forms give, bitwise, on
// state of their own taken when they are called.
import { describe, expect, it } from 'vitest';
import { Lattice } from '@ouroboros-engine/core';
import { oracleAddon } from '../dist/native/loader.js';

function lattice(precision: 'f64' | 'f32' = 'f64'): Lattice {
  const lat = new Lattice({ extents: [48, 40], dt: 0.5, precision });
  const wave = (phase: number) => {
    const values = Array.from({ length: lat.cells }, (_, i) => Math.sin(0.37 * i + phase));
    return precision === 'f64' ? Float64Array.from(values) : Float32Array.from(values);
  };
  lat.setState(wave(0), wave(0.05));
  lat.step(7);
  return lat;
}

describe('energyAsync', () => {
  it('equals energy() bitwise, in both precisions and while the lattice runs', async () => {
    for (const precision of ['f64', 'f32'] as const) {
      const lat = lattice(precision);
      try {
        expect(await lat.energyAsync()).toBe(lat.energy());
        // While it runs, two calls see two steps: the sum taken during the run is the conserved energy.
        const run = lat.run();
        const during = await lat.energyAsync();
        await lat.stop();
        await run;
        expect(Math.abs(during - lat.initialEnergy) / lat.initialEnergy).toBeLessThan(precision === 'f64' ? 1e-12 : 1e-5);
        expect(await lat.energyAsync()).toBe(lat.energy());
      } finally {
        lat.close();
      }
    }
  });

  it('sums the state of the moment it was called, not what the lattice does before it settles', async () => {
    const lat = lattice();
    try {
      const before = lat.energy();
      const pending = lat.energyAsync();
      // New state after the call, before its result: a sum over the live buffers would see it.
      lat.setState(new Float64Array(lat.cells).fill(0.25), new Float64Array(lat.cells).fill(0.5));
      expect(await pending).toBe(before);
      expect(lat.energy()).not.toBe(before);
    } finally {
      lat.close();
    }
  });

  it('refuses bad extents at once, naming them', () => {
    const field = new Float64Array(8);
    expect(() => oracleAddon().energyAsync(field, field, [2, 4], 1, 1, 0.5)).toThrow('extents[0] = 2: each extent must be an integer >= 3');
  });
});

describe('checkInvariantsAsync', () => {
  it('reports what checkInvariants reports', async () => {
    const lat = lattice();
    try {
      const sync = lat.checkInvariants();
      const async = await lat.checkInvariantsAsync();
      expect(async).toEqual(sync);
      expect(async.ok).toBe(true);
      expect(async.wrapExact).toBe(true);
    } finally {
      lat.close();
    }
  });

  it('validates its options before anything runs, naming them', () => {
    const lat = lattice();
    try {
      expect(() => lat.checkInvariantsAsync({ driftTolerance: -1 })).toThrow(/driftTolerance = -1/);
    } finally {
      lat.close();
    }
  });
});
