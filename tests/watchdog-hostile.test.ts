// The hostile corpus entries whose gate is the live watchdog: kernels that
// keep the energy exact while stepping wrongly on live-sized lattices. Each
// is built as a module, loaded live (it passes the load-time self-test on a
// tiny lattice) and swapped into a running lattice; the watchdog's
// differential check must roll it back with the host unharmed and no file
// changed. The gauntlet's own suite (gauntlet-hostile.test.ts) tests the
// other entries of the same manifest.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, type WatchdogEvent } from '@ouroboros-engine/core';
import { gaussianPulse } from '../dist/ts/lattice/initial-conditions.js';
import { firstEventWithFullCheck } from './helpers/full-check.js';
import { type HostileEntry, hostileDir, hostileManifest } from '../dist/ts/bench/hostile-corpus.js';

const manifest = hostileManifest();
const watchdogEntries = Object.entries(manifest).filter(([, entry]) => entry.gate === 'watchdog');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-watchdog-hostile-'));

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

function fixtureHashes(): Map<string, string> {
  const hashes = new Map<string, string>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const file = path.join(at, name);
      if (statSync(file).isDirectory()) walk(file);
      else hashes.set(file, createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
  };
  walk(path.resolve('tests/fixtures'));
  return hashes;
}

/** Built as the kernel modules are (kernels are compiled without FMA contraction). */
function build(entry: HostileEntry): string {
  const output = path.join(scratch, entry.file.replace(/\.cpp$/, '.so'));
  execFileSync('g++', ['-std=c++17', '-O2', '-fPIC', '-shared', '-ffp-contract=off', '-I', 'cpp/include', path.join(hostileDir, entry.file), '-o', output]);
  return output;
}

describe('hostile kernels the live watchdog must stop', () => {
  it('has one entry per way of keeping the energy exact or cheating only live', () => {
    expect(watchdogEntries.map(([name]) => name).sort()).toEqual([
      'live-freeze-from-rest',
      'live-skip-odd-parity',
      'live-swap-levels',
      'live-wrong-cell',
      'live-wrong-when-batched',
    ]);
  });

  it.each(watchdogEntries)('%s is rolled back by the differential check', async (_name, entry) => {
    const before = fixtureHashes();
    // Live-sized for these kernels (they misbehave from 4096 cells), at rest as the main job starts.
    const lat = new Lattice({ extents: [96, 96], dt: 0.6, threads: 2 });
    lattices.push(lat);
    const start = gaussianPulse(lat);
    lat.setState(start.previous, start.current);
    const id = await lat.loadModule(build(entry));
    await lat.swap('step', id);
    const events: WatchdogEvent[] = [];
    lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
    // The default probe, seeded: a kernel wrong on one parity of current is
    // checked on that parity by each check with probability 1/2 (the coin
    // that delays the snapshot by a step), so 2000 steps, up to 80 checks,
    // leave it 2^-80 of a chance; with the seed which check finds it is fixed.
    const summary = await lat.run({ steps: 2000, watchdog: { everySteps: 25, differential: { seed: 14 } } });
    expect(summary.error).toBeNull();
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ reason: 'differential', slot: 'step', rolledBackTo: 'reference' });
    expect(events[0]!.energyDrift).toBeLessThanOrEqual(1e-9);
    expect(lat.kernelName).toBe('reference');
    // The host goes on: the reference kernel steps the restored lattice, and nothing was written.
    lat.step(10);
    expect(Number.isFinite(lat.energy())).toBe(true);
    expect(fixtureHashes()).toEqual(before);
  });

  it('live-wrong-cell, which the sampled probes of a large lattice miss, is rolled back by the full check', async () => {
    const module = build(manifest['live-wrong-cell']!);
    // 16 of 65,536 cells a check in one-step batches (every draw and batch fixed by the seed): 40 checks miss the cell.
    // No cone probes: they sample cells too, and one may find the cell before the full check.
    const start = (lat: Lattice) => {
      lattices.push(lat);
      const state = gaussianPulse(lat);
      lat.setState(state.previous, state.current);
    };
    const options = { extents: [256, 256], dt: 0.6, threads: 2, maxBatchSteps: 1, batchLatencyMs: 10_000 };
    const sampled = { everySteps: 25, differential: { cells: 16, seed: 4, fullCheckEveryMs: 0, coneEverySteps: 0 } };
    const unchecked = new Lattice(options);
    start(unchecked);
    await unchecked.swap('step', await unchecked.loadModule(module));
    const missed: WatchdogEvent[] = [];
    unchecked.on('watchdog', (event: WatchdogEvent) => missed.push(event));
    expect((await unchecked.run({ steps: 1000, watchdog: sampled })).error).toBeNull();
    expect(missed).toEqual([]);

    const lat = new Lattice(options);
    start(lat);
    await lat.swap('step', await lat.loadModule(module));
    // Step 0's sampled check (which misses, as above) plans a full check of the next snapshot.
    const { event, error } = await firstEventWithFullCheck(lat, 1000, sampled);
    expect(error).toBeNull();
    expect(event).toMatchObject({ reason: 'differential', slot: 'step', rolledBackTo: 'reference' });
    expect(event.detail).toMatch(/^differential check of the whole lattice: .* at \d+ of 65536 cells/);
    expect(lat.kernelName).toBe('reference');
  });
});
