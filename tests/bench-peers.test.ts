import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Precision } from '../dist/native/addon-types.js';
import { oracleAddon } from '../dist/native/loader.js';
import type { AttemptRecord } from '../dist/ts/archive/types.js';
import { buildSweepPeer, checkAgainstOracle, runSweepPeer } from '../dist/ts/bench/peer-processes.js';
import { bestAppliedStepKernel } from '../dist/ts/bench/peers.js';
import {
  type CaseMeasurement,
  type ContenderMeasurement,
  caseReport,
  checkCells,
  compareSamples,
  inCacheExtents,
  initialLevel,
  missingPeers,
  parseCacheSize,
  roundOrder,
} from '../dist/ts/bench/peers-report.js';

const cli = path.resolve('bin/ouroboros.js');

function contender(name: string, kind: ContenderMeasurement['kind'], roundMlups: number[], extra: Partial<ContenderMeasurement> = {}): ContenderMeasurement {
  return { name, kind, singleSweep: kind === 'peer', roundMlups, verified: kind === 'peer' ? true : null, ...extra };
}

function measurement(extents: number[], precision: Precision, contenders: ContenderMeasurement[]): CaseMeasurement {
  return { extents, precision, contenders, inCache: { extents: [192, 192], kernel: 'evolved', mlups: 4000 }, streamTriadGBs: 24, inPlaceGBs: 48 };
}

describe('bench peers: rows and ratios from injected measurements', () => {
  it('takes medians over the rounds, ratios to the fastest row, and evolved over the best single-sweep peer', () => {
    const report = caseReport(
      measurement([4096, 4096], 'f64', [
        contender('evolved', 'evolved', [3000, 3400, 3200]),
        contender('reference', 'reference', [80, 79, 81]),
        contender('C sweep', 'peer', [1700, 1900, 1800]),
        contender('numba', 'peer', [1500, 1600, 1550]),
      ]),
    );
    expect(report.rows.map((row) => row.mlups)).toEqual([3200, 80, 1800, 1550]);
    expect(report.rows.map((row) => row.ratioToBest)).toEqual([1, 80 / 3200, 1800 / 3200, 1550 / 3200]);
    expect(report.evolvedOverBestSweepPeer).toEqual({ value: 3200 / 1800, bestPeer: 'C sweep', atLeast: 1.6, met: true });
    // 24 and 48 GB/s at 24 bytes per f64 update.
    expect(report.streamTriadRooflineMlups).toBeCloseTo(1000, 9);
    expect(report.inPlaceRooflineMlups).toBeCloseTo(2000, 9);
    expect(report.inCacheMlups).toBe(4000);
  });

  it('misses the target below it, and holds each case to its own bar', () => {
    const f32 = caseReport(measurement([4096, 4096], 'f32', [contender('evolved', 'evolved', [3000]), contender('C sweep', 'peer', [1600])]));
    expect(f32.evolvedOverBestSweepPeer.atLeast).toBe(2.0);
    expect(f32.evolvedOverBestSweepPeer.met).toBe(false);
    const cube = caseReport(measurement([256, 256, 256], 'f64', [contender('evolved', 'evolved', [1300]), contender('C sweep', 'peer', [1000])]));
    expect(cube.evolvedOverBestSweepPeer).toMatchObject({ atLeast: 1.3, met: true });
    const other = caseReport(measurement([512, 512], 'f64', [contender('evolved', 'evolved', [10]), contender('C sweep', 'peer', [1])]));
    expect(other.evolvedOverBestSweepPeer).toMatchObject({ value: 10, atLeast: null, met: null });
  });

  it('never lets a peer that failed the oracle check, or one that is not a single sweep, set the bar', () => {
    const report = caseReport(
      measurement([4096, 4096], 'f64', [
        contender('evolved', 'evolved', [3000]),
        contender('wrong but fast', 'peer', [9000], { verified: false, note: 'differs from the oracle' }),
        contender('rows', 'reference', [5000]),
        contender('C sweep', 'peer', [1500]),
      ]),
    );
    expect(report.evolvedOverBestSweepPeer).toEqual({ value: 2, bestPeer: 'C sweep', atLeast: 1.6, met: true });
    // It is still reported, and still the fastest row.
    expect(report.rows[1]).toMatchObject({ name: 'wrong but fast', verified: false, ratioToBest: 1 });
  });

  it('has no ratio, and misses the target, without a verified peer', () => {
    const report = caseReport(measurement([4096, 4096], 'f64', [contender('evolved', 'evolved', [3000]), contender('C', 'peer', [1], { verified: false })]));
    expect(report.evolvedOverBestSweepPeer).toEqual({ value: null, bestPeer: null, atLeast: 1.6, met: false });
  });

  it('reports both Python peers missing without --python, and only those the Python lacks with it', () => {
    expect(missingPeers(null, new Map()).map((m) => m.name)).toEqual(['numba', 'devito']);
    expect(missingPeers(null, new Map())[0]!.reason).toMatch(/no --python/);
    expect(missingPeers('/usr/bin/python3', new Map([['devito', "ModuleNotFoundError: No module named 'devito'"]]))).toEqual([
      { name: 'devito', reason: "/usr/bin/python3: ModuleNotFoundError: No module named 'devito'" },
    ]);
    expect(missingPeers('/venv/bin/python', new Map())).toEqual([]);
  });

  it('rotates the order of the contenders each round', () => {
    expect([0, 1, 2, 3].map((round) => roundOrder(['a', 'b', 'c'], round).join(''))).toEqual(['abc', 'bca', 'cab', 'abc']);
  });

  it('picks in-cache extents whose three levels fit in L2', () => {
    expect(parseCacheSize('1024K\n')).toBe(1024 * 1024);
    expect(parseCacheSize('2M')).toBe(2 * 1024 * 1024);
    expect(parseCacheSize('big')).toBeNull();
    for (const [dims, precision] of [
      [1, 'f64'],
      [2, 'f64'],
      [2, 'f32'],
      [3, 'f64'],
    ] as [number, Precision][]) {
      const extents = inCacheExtents(dims, precision, 1024 * 1024);
      const bytes = 3 * extents.reduce((a, b) => a * b, 1) * (precision === 'f64' ? 8 : 4);
      expect(bytes).toBeLessThanOrEqual(1024 * 1024);
      expect(extents).toHaveLength(dims);
      // The next multiple of 8 would not fit.
      const larger = 3 * (extents[0]! + 8) ** dims * (precision === 'f64' ? 8 : 4);
      expect(larger).toBeGreaterThan(1024 * 1024);
    }
  });

  it('picks best applied step kernel of an archive by speedup, skipping other slots, statuses and missing modules', () => {
    const record = (id: number, fields: Partial<AttemptRecord>): AttemptRecord =>
      ({ id, slot: 'step', status: 'applied', modulePath: `/m/${id}.so`, speedup: 1, genome: null, ...fields }) as AttemptRecord;
    const records = [
      record(1, { speedup: 2 }),
      record(2, { status: 'superseded', speedup: 9 }),
      record(3, { status: 'rolled-back', speedup: 20 }),
      record(4, { slot: 'readout', speedup: 30 }),
      record(5, { modulePath: null, speedup: 40 }),
    ];
    expect(bestAppliedStepKernel(records)?.id).toBe(2);
    expect(bestAppliedStepKernel([record(6, { status: 'passed' })])).toBeNull();
  });
});

describe('bench peers: the oracle check', () => {
  it('chooses interior cells clear of every face, and wrapping cells only for periodic peers', () => {
    const extents = [40, 50];
    const steps = 9;
    const interior = checkCells(extents, steps, false);
    expect(interior.length).toBeGreaterThan(0);
    for (const cell of interior) {
      const coords = [Math.floor(cell / 50), cell % 50];
      coords.forEach((coord, axis) => {
        expect(coord).toBeGreaterThan(steps);
        expect(coord).toBeLessThan(extents[axis]! - 1 - steps);
      });
    }
    const periodic = checkCells(extents, steps, true);
    expect(periodic).toContain(0);
    expect(periodic).toContain(40 * 50 - 1);
    expect(periodic.length).toBeGreaterThan(interior.length);
  });

  it('accepts a peer within a few ulps per step and names the cell of one that is not', () => {
    const expected = [0.5, -1.25, 2];
    const exact = compareSamples(
      [
        { cell: 3, value: 0.5 },
        { cell: 7, value: -1.25 },
        { cell: 9, value: 2 + 4 * Number.EPSILON },
      ],
      [3, 7, 9],
      expected,
      'f64',
      10,
    );
    expect(exact.ok).toBe(true);
    const wrong = compareSamples(
      [
        { cell: 3, value: 0.5 },
        { cell: 7, value: -1.25 + 1e-9 },
        { cell: 9, value: 2 },
      ],
      [3, 7, 9],
      expected,
      'f64',
      10,
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.reason).toMatch(/^cell 7 /);
    const missing = compareSamples([{ cell: 3, value: 0.5 }], [3, 7], expected, 'f64', 10);
    expect(missing).toMatchObject({ ok: false, reason: 'no value for cell 7' });
    // f32 allows f32's rounding, not f64's.
    expect(compareSamples([{ cell: 0, value: 1 + 2 ** -20 }], [0], [1], 'f32', 4).ok).toBe(true);
    expect(compareSamples([{ cell: 0, value: 1 + 2 ** -20 }], [0], [1], 'f64', 4).ok).toBe(false);
  });

  it('builds the initial state the peers build: exact in f32 and f64, in [-1, 1)', () => {
    const f64 = initialLevel(1000, 1, 1, 'f64');
    const f32 = initialLevel(1000, 1, 1, 'f32');
    expect(Array.from(f32)).toEqual(Array.from(f64));
    expect(Math.min(...f64)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...f64)).toBeLessThan(1);
    expect(Array.from(initialLevel(8, 0, 1, 'f64'))).not.toEqual(Array.from(initialLevel(8, 1, 1, 'f64')));
  });
});

/** Compiling sweep.cpp with -O3 -fopenmp on a shared 2-core machine. */
const BUILD_TIMEOUT_MS = 120_000;

describe('bench peers: the shipped C baseline against the oracle', () => {
  let executable = '';
  beforeAll(() => {
    executable = buildSweepPeer(mkdtempSync(path.join(os.tmpdir(), 'ouro-peers-test-')));
  }, BUILD_TIMEOUT_MS);

  const cases: { extents: number[]; precision: Precision }[] = [];
  for (const precision of ['f64', 'f32'] as Precision[]) {
    cases.push({ extents: [37], precision }, { extents: [13, 17], precision }, { extents: [7, 9, 11], precision });
  }

  it.each(cases)(
    'steps $extents $precision periodically and in place, every cell as the oracle does, after odd and even step counts',
    async ({ extents, precision }) => {
      const courant2 = 0.2 / extents.length;
      const cells = extents.reduce((a, b) => a * b, 1);
      const all = Array.from({ length: cells }, (_, i) => i);
      for (const steps of [1, 2, 7]) {
        const output = await runSweepPeer(executable, { extents, precision, courant2, seed: 5, steps, cells: all }, 2);
        expect(output).toMatchObject({ extents, precision, steps, timedSteps: steps - 1 });
        const check = checkAgainstOracle(output, all, courant2, 5);
        expect(check.reason).toBeNull();
        expect(check.ok).toBe(true);
      }
    },
  );

  it('agrees with the oracle stepping the whole lattice, not only at the cells it samples', async () => {
    const extents = [11, 12];
    const all = Array.from({ length: 132 }, (_, i) => i);
    const output = await runSweepPeer(executable, { extents, precision: 'f64', courant2: 0.1, seed: 3, steps: 5, cells: all }, 2);
    const oracle = oracleAddon().stepF64(initialLevel(132, 0, 3, 'f64') as Float64Array, initialLevel(132, 1, 3, 'f64') as Float64Array, extents, 0.1, 5);
    const worst = Math.max(...output.samples.map((sample) => Math.abs(sample.value - oracle.current[sample.cell]!)));
    expect(worst).toBeLessThan(1e-13);
  });

  it('reports a run of --seconds with the steps it took', async () => {
    const output = await runSweepPeer(executable, { extents: [64, 64], precision: 'f64', courant2: 0.1, seed: 1, seconds: 0.05 }, 2);
    expect(output.steps).toBe(output.timedSteps + 1);
    expect(output.timedSteps).toBeGreaterThan(0);
    expect(output.mlups).toBeCloseTo((4096 * output.timedSteps) / output.seconds / 1e6, 3);
  });
});

describe('ouroboros bench options', () => {
  it('refuses a precision and a seed count out of range with exit status 2, naming the value', () => {
    const precision = spawnSync(process.execPath, [cli, 'bench', 'peers', '--precision', 'f16'], { encoding: 'utf8' });
    expect(precision.status).toBe(2);
    expect(precision.stderr).toMatch(/"f16" is not a precision: use f64 or f32/);
    const seeds = spawnSync(process.execPath, [cli, 'bench', 'evolve', '--seeds', '0'], { encoding: 'utf8' });
    expect(seeds.status).toBe(2);
    expect(seeds.stderr).toMatch(/0 is out of range: must be from 1 to 9/);
  });
});
