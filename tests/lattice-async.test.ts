// The async pairs of the long calls: energyAsync and checkInvariantsAsync
// give what their synchronous forms give, bitwise, on state of their own
// taken when they are called; levelsAsync copies at one boundary;
// memoryTriadAsync measures on the runner thread while the event loop goes on.
import { describe, expect, it } from 'vitest';
import { Lattice } from '@ouroboros-engine/core';
import { oracleAddon } from '../dist/native/loader.js';
import { until } from './helpers/until.js';

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

describe('levelsAsync', () => {
  it('equals previousField() and field() bitwise, in the lattice precision, stopped and while running', async () => {
    for (const precision of ['f64', 'f32'] as const) {
      const lat = lattice(precision);
      try {
        const stopped = await lat.levelsAsync();
        expect(stopped.current).toBeInstanceOf(precision === 'f64' ? Float64Array : Float32Array);
        expect(stopped).toEqual({ previous: lat.previousField(), current: lat.field() });
        // While it runs, both levels are of one boundary: the pair's energy is the conserved one (levels of two
        // different steps would not be), and the copies are the promise's own, unchanged as the run goes on.
        const run = lat.run();
        const during = await lat.levelsAsync();
        const kept = Float64Array.from(during.current);
        await until(() => lat.stepCount > 20);
        await lat.stop();
        await run;
        // The suite's lattice: 48 x 40, dt = 0.5, c = h = 1.
        const energy = oracleAddon().energy(Float64Array.from(during.previous), kept, [48, 40], 1, 1, 0.5);
        expect(Math.abs(energy - lat.initialEnergy) / lat.initialEnergy).toBeLessThan(precision === 'f64' ? 1e-12 : 1e-5);
        expect(Float64Array.from(during.current)).toEqual(kept);
        expect(await lat.levelsAsync()).toEqual({ previous: lat.previousField(), current: lat.field() });
      } finally {
        lat.close();
      }
    }
  });

  it('copies the state of the moment it was called', async () => {
    const lat = lattice();
    try {
      const before = lat.field();
      const pending = lat.levelsAsync();
      lat.setState(new Float64Array(lat.cells).fill(0.25), new Float64Array(lat.cells).fill(0.5));
      expect((await pending).current).toEqual(before);
    } finally {
      lat.close();
    }
  });
});

describe('memoryTriadAsync', () => {
  /** setImmediate callbacks run until stop() is called: each is a turn of the event loop. */
  function turns(): { count: () => number; stop: () => void } {
    let count = 0;
    let timer: NodeJS.Immediate;
    const tick = () => {
      count += 1;
      timer = setImmediate(tick);
    };
    timer = setImmediate(tick);
    return { count: () => count, stop: () => clearImmediate(timer) };
  }

  it('reports what memoryTriad reports, in its units, while the event loop turns, stopped and while running', async () => {
    for (const precision of ['f64', 'f32'] as const) {
      // 256 x 256: 1.5 MiB a pass (f64), 1000 passes: the measurement spans many turns of the loop, which the sync form holds.
      const lat = new Lattice({ extents: [256, 256], dt: 0.5, precision });
      try {
        const previous = lat.previousField();
        const current = lat.field();
        const sync = lat.memoryTriad(3);
        const held = turns();
        lat.memoryTriad(1000);
        const heldTurns = held.count();
        held.stop();
        expect(heldTurns).toBe(0);

        const loop = turns();
        const pending = lat.memoryTriadAsync(1000);
        // Until it settles the measurement owns the state: no run, no step.
        expect(() => lat.run()).toThrow("run() cannot run while memoryTriadAsync() measures the lattice's memory on its thread: await it first");
        expect(() => lat.step(1)).toThrow('step() cannot run while memoryTriadAsync()');
        const triad = await pending;
        // Settled, its run of no steps has ended: a run can start at once (ouroboros run measures its roofline, then runs).
        expect(lat.running).toBe(false);
        loop.stop();
        expect(loop.count()).toBeGreaterThan(0);
        expect(Object.keys(triad).sort()).toEqual(Object.keys(sync).sort());
        expect(triad.bytesPerArray).toBe(sync.bytesPerArray);
        expect(triad.bytesPerArray).toBe(Math.floor((lat.cells * previous.BYTES_PER_ELEMENT) / 8) * 8);
        expect(triad.threads).toBe(sync.threads);
        expect(Number.isFinite(triad.gbPerSecond) && triad.gbPerSecond > 0).toBe(true);
        // Only the scratch level was written; the lattice steps and runs again.
        expect(lat.previousField()).toEqual(previous);
        expect(lat.field()).toEqual(current);
        lat.step(1);
        expect(lat.stepCount).toBe(1);

        // During a run the runner measures at its next boundary, and the run goes on.
        const run = lat.run();
        const during = await lat.memoryTriadAsync(3);
        expect(during.bytesPerArray).toBe(sync.bytesPerArray);
        expect(lat.running).toBe(true);
        const measuredAt = lat.stepCount;
        await until(() => lat.stepCount > measuredAt);
        await lat.stop();
        expect((await run).error).toBeNull();
      } finally {
        lat.close();
      }
    }
  });

  it('settles when the lattice is closed while it measures: its result, or why it never ran', async () => {
    const lat = new Lattice({ extents: [256, 256], dt: 0.5 });
    const pending = lat.memoryTriadAsync(1000);
    lat.close();
    const outcome = await pending.then(
      (triad) => `measured ${triad.bytesPerArray} bytes`,
      (error: Error) => error.message,
    );
    expect(outcome).toMatch(/^(measured 524288 bytes|the memory triad failed: the lattice was stopped \(stop\(\) or close\(\)\) before it measured)$/);
  });

  it('refuses bad repetitions before anything runs, naming them', () => {
    const lat = lattice();
    try {
      expect(() => lat.memoryTriadAsync(0)).toThrow('repetitions = 0: must be an integer in [1, 1000]');
      expect(() => lat.memoryTriadAsync(2.5)).toThrow('repetitions = 2.5');
      lat.step(1);
    } finally {
      lat.close();
    }
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
