import { describe, expect, it } from 'vitest';
import { HeldClock } from '../dist/ts/engine/held-clock.js';
import { LiveSampler } from '../dist/ts/engine/sampler.js';
import type { EngineSample } from '../dist/ts/engine/events.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';

/** A clock the test moves by hand. */
function manualClock(startMs = 0) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
}

describe('HeldClock', () => {
  it('counts held time once while holds overlap, and the open hold up to now', () => {
    const clock = manualClock();
    const held = new HeldClock(clock.now);
    const first = held.hold();
    clock.advance(100);
    const second = held.hold();
    clock.advance(50);
    first();
    first();
    expect(held.held).toBe(true);
    expect(held.totalMs()).toBe(150);
    clock.advance(25);
    second();
    clock.advance(1000);
    expect(held.held).toBe(false);
    expect(held.totalMs()).toBe(175);
  });
});

/** Just what the sampler reads from a lattice. */
function fakeLattice(cells: number) {
  const state = { stepCount: 0, energy: 2, energySums: 0, checked: null as { step: number; energyDrift: number } | null };
  const lattice = {
    get stepCount() {
      return state.stepCount;
    },
    get checkedEnergyDrift() {
      return state.checked;
    },
    cells,
    initialEnergy: 2,
    energyAsync: async () => {
      state.energySums += 1;
      return state.energy;
    },
    slots: () => ({ step: { live: { name: 'reference' } }, readout: { live: { name: 'reference' } } }),
  } as unknown as Lattice;
  return { lattice, state };
}

/** A sampler that sums the energy every second and is never held. */
function energySampler(lattice: Lattice, now: () => number): LiveSampler {
  return new LiveSampler(lattice, {
    sampleIntervalMs: 1000,
    energyIntervalMs: 1000,
    now,
    heldMs: () => 0,
    onSample: () => undefined,
    onError: (error) => {
      throw error;
    },
  });
}

describe('LiveSampler', () => {
  it('counts the energy it sums off the event loop in the drift, once that sum has settled', async () => {
    const clock = manualClock(0);
    const { lattice, state } = fakeLattice(100);
    const sampler = energySampler(lattice, clock.now);
    state.energy = 2.002;
    // The sample taken as the sum starts carries the drift known before it.
    expect(sampler.take().energyDrift).toBe(0);
    await sampler.settled();
    expect(sampler.maxEnergyDrift).toBeCloseTo(0.001, 12);
    clock.advance(1000);
    state.energy = 2;
    expect(sampler.take().energyDrift).toBeCloseTo(0.001, 12);
    await sampler.settled();
    expect(sampler.take().energyDrift).toBe(0);
    expect(sampler.maxEnergyDrift).toBeCloseTo(0.001, 12);
  });

  it("takes the running watchdog's drift instead of summing the energy again, and sums it itself without one", async () => {
    const clock = manualClock(0);
    const { lattice, state } = fakeLattice(100);
    const sampler = energySampler(lattice, clock.now);
    state.checked = { step: 50, energyDrift: 3e-15 };
    expect(sampler.take().energyDrift).toBe(3e-15);
    clock.advance(1000);
    state.checked = { step: 100, energyDrift: 1e-15 };
    expect(sampler.take().energyDrift).toBe(1e-15);
    expect(sampler.maxEnergyDrift).toBe(3e-15);
    expect(state.energySums).toBe(0);
    // The run ended (no watchdog now): the sampler sums the energy itself again.
    clock.advance(1000);
    state.checked = null;
    state.energy = 2.002;
    sampler.take();
    await sampler.settled();
    expect(state.energySums).toBe(1);
    expect(sampler.maxEnergyDrift).toBeCloseTo(0.001, 12);
  });

  it('reports how much of each interval the lattice was held, next to its rate', () => {
    const clock = manualClock(5000);
    const held = new HeldClock(clock.now);
    const { lattice, state } = fakeLattice(1_000_000);
    const samples: EngineSample[] = [];
    const sampler = new LiveSampler(lattice, {
      sampleIntervalMs: 1000,
      energyIntervalMs: 1e9,
      now: clock.now,
      heldMs: () => held.totalMs(),
      onSample: (sample) => samples.push(sample),
      onError: (error) => {
        throw error;
      },
    });
    sampler.start();
    sampler.stop();
    clock.advance(1000);
    state.stepCount = 100;
    const free = sampler.take();
    const release = held.hold();
    clock.advance(600);
    release();
    clock.advance(400);
    state.stepCount = 140;
    const partlyHeld = sampler.take();
    expect(free).toMatchObject({ atMs: 1000, step: 100, mlups: 100, intervalMs: 1000, heldMs: 0 });
    expect(partlyHeld).toMatchObject({ atMs: 2000, step: 140, mlups: 40, intervalMs: 1000, heldMs: 600 });
  });
});
