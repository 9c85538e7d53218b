import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type EvolveBenchReport, type EvolveSearchReport, searchConfig, searchFigures, searchPlan, seedSummary } from '../dist/ts/bench/evolve.js';
import { rooflineMlupsOf } from '../dist/ts/bench/kernels.js';
import { defaultConfig } from '../dist/ts/engine/config.js';
import { kernelName, validateGenome } from '../dist/ts/generators/variant/index.js';

const cli = path.resolve('bin/ouroboros.js');

function checkSearch(search: EvolveSearchReport, report: EvolveBenchReport): void {
  expect(search.baselineMlups).toBeGreaterThan(0);
  expect(search.finalMlups).toBeGreaterThan(0);
  // Each search's roofline is its own STREAM probe, taken after its final figure; the in-cache figure is the final
  // kernel again on a lattice that fits in L2. The ratios are searchFigures' (checked by hand below) of these.
  expect(search.streamTriadGBs).toBeGreaterThan(0);
  expect(search.inCacheMlups).toBeGreaterThan(0);
  const { baselineMlups, finalMlups, streamTriadGBs, inCacheMlups } = search;
  expect(search).toMatchObject(searchFigures({ baselineMlups, finalMlups, streamTriadGBs, inCacheMlups }, report.precision));
  expect(search.attempts).toBeGreaterThanOrEqual(1);
  expect(search.attempts).toBeLessThanOrEqual(report.evaluationBudget);
  const rejected = Object.values(search.rejectedByGate).reduce((sum, n) => sum + n, 0);
  expect(rejected).toBeLessThanOrEqual(search.attempts);
  expect(search.lostSteps).toBe(0);
  expect(search.duplicatedSteps).toBe(0);
  expect(search.maxEnergyDrift).toBeLessThanOrEqual(1e-12);
  expect(search.wallSeconds).toBeGreaterThan(0);
  // The genome reported is the live kernel's: it renders to the module that is live.
  if (search.liveModule === 'reference') {
    expect(search.liveGenome).toBeNull();
    expect(search.liveModulePath).toBeNull();
  } else {
    expect(kernelName(validateGenome(search.liveGenome))).toBe(search.liveModule);
    // Kept for bench peers --kernel after the search's directory is gone.
    expect(existsSync(search.liveModulePath!)).toBe(true);
  }
  if (search.evaluationsToNinetyPercent !== null) {
    expect(search.evaluationsToNinetyPercent).toBeGreaterThanOrEqual(1);
    expect(search.evaluationsToNinetyPercent).toBeLessThanOrEqual(search.attempts);
  }
}

/** Two searches of real compiles, analyses and sandbox runs on a shared 2-core machine: about 2.5 minutes. */
const SEARCHES_TIMEOUT_MS = 300_000;

describe('ouroboros bench evolve --quick', () => {
  it(
    'runs the Darwin search and the random peer with the same budget and writes every figure',
    () => {
      const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-evolve-')), 'evolve.json');
      const result = spawnSync(process.execPath, [cli, 'bench', 'evolve', '--quick', '--json', '--out', out], { encoding: 'utf8', timeout: 600_000 });
      expect(result.status).toBe(0);
      expect(result.stderr).toMatch(/bench evolve: variant: attempt #\d+/);
      expect(result.stderr).toMatch(/bench evolve: random: attempt #\d+/);
      const report = JSON.parse(result.stdout) as EvolveBenchReport;
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
      expect(report.benchmark).toBe('evolve');
      expect(report.extents).toEqual([128, 128]);
      expect(report.rooflineMlups).toBe(rooflineMlupsOf(report.streamTriadGBs, 'f64'));
      expect(report.darwin.generator).toBe('variant');
      expect(report.random.generator).toBe('random');
      checkSearch(report.darwin, report);
      checkSearch(report.random, report);
      expect(report.targets.speedupAtLeast6).toBe(report.darwin.speedup >= 6);
      expect(report.targets.rooflineFractionAtLeast075).toBe(report.darwin.rooflineFraction >= 0.75);
      expect(report.targets.noLostSteps).toBe(true);
      // One seed by default: its runs are the darwin and random reports.
      expect(report.seedRuns).toHaveLength(1);
      expect(report.seedRuns[0]!.darwin.evaluationsToNinetyPercent).toBe(report.darwin.evaluationsToNinetyPercent);
      expect(report.seedRuns[0]!.random.liveModule).toBe(report.random.liveModule);
      expect(report.seeds.seeds).toBe(1);
    },
    SEARCHES_TIMEOUT_MS,
  );
});

describe("a search's figures, worked by hand", () => {
  it('divides the final MLUPS by the baseline, the roofline of 24 bytes per f64 update and the in-cache MLUPS', () => {
    // 12 GB/s moves 12e9 / 24 = 5e8 updates a second: a 500 MLUPS roofline, of which 300 MLUPS is 3/5.
    expect(searchFigures({ baselineMlups: 50, finalMlups: 300, streamTriadGBs: 12, inCacheMlups: 400 }, 'f64')).toEqual({
      speedup: 6,
      rooflineMlups: 500,
      rooflineFraction: 0.6,
      inCacheFraction: 0.75,
    });
    // A search that never measured the kernel in cache reports no fraction of it.
    expect(searchFigures({ baselineMlups: 80, finalMlups: 20, streamTriadGBs: 4.8, inCacheMlups: 0 }, 'f64')).toEqual({
      speedup: 0.25,
      rooflineMlups: 200,
      rooflineFraction: 0.1,
      inCacheFraction: 0,
    });
  });

  it('takes 12 bytes per f32 update', () => {
    expect(rooflineMlupsOf(12, 'f32')).toBe(1000);
    expect(rooflineMlupsOf(12, 'f64')).toBe(500);
    // An f32 search's roofline is of f32 updates.
    expect(searchFigures({ baselineMlups: 50, finalMlups: 300, streamTriadGBs: 12, inCacheMlups: 400 }, 'f32')).toMatchObject({
      rooflineMlups: 1000,
      rooflineFraction: 0.3,
    });
  });
});

describe("a search's lattice", () => {
  it("is the main job's unless --lattice and --precision choose another, and it is what the engine runs on", () => {
    const main = searchPlan(false, undefined, undefined);
    expect(main.extents).toEqual(defaultConfig.lattice.extents);
    expect(main.precision).toBe(defaultConfig.lattice.precision);
    expect(searchPlan(true, undefined, undefined)).toMatchObject({ extents: [128, 128], precision: 'f64' });
    expect(searchPlan(true, [24, 24, 24], 'f32')).toMatchObject({ extents: [24, 24, 24], precision: 'f32' });

    const chosen = searchPlan(false, [256, 256, 256], 'f32');
    expect(chosen).toMatchObject({ extents: [256, 256, 256], precision: 'f32', evaluationBudget: main.evaluationBudget });
    const config = searchConfig(chosen, 'variant', '/tmp/archive.sqlite', 2);
    expect(config.lattice).toMatchObject({ extents: [256, 256, 256], precision: 'f32' });
    expect(config).toMatchObject({ seed: 2, generator: { kind: 'variant' }, archive: { path: '/tmp/archive.sqlite', warmStart: false } });
    // The main job's configuration is not touched.
    expect(defaultConfig.lattice.extents).toEqual(main.extents);
  });
});

describe('bench evolve --seeds: the aggregate over injected runs', () => {
  const run = (darwin: number | null, random: number | null) => ({
    darwin: { evaluationsToNinetyPercent: darwin },
    random: { evaluationsToNinetyPercent: random },
  });

  it("says Darwin needed at most half when its median is at most half random sampling's", () => {
    const summary = seedSummary([run(3, 10), run(5, 8), run(4, 12)]);
    expect(summary).toMatchObject({
      seeds: 3,
      darwinMedianEvaluationsToNinetyPercent: 4,
      randomMedianEvaluationsToNinetyPercent: 10,
      darwinWithinHalfOfRandom: true,
    });
    expect(summary.statement).toMatch(/^Darwin reached 90% of its final speed in at most half/);
    expect(seedSummary([run(5, 10)]).darwinWithinHalfOfRandom).toBe(true);
  });

  it('says plainly that it did not when the median is above half, and counts a search that never held as never', () => {
    const summary = seedSummary([run(6, 10), run(1, 1), run(9, 20)]);
    expect(summary.darwinMedianEvaluationsToNinetyPercent).toBe(6);
    expect(summary.darwinWithinHalfOfRandom).toBe(false);
    expect(summary.statement).toMatch(/^Darwin did NOT reach/);
    // Two of three Darwin searches never held an attempt: its median is never.
    const never = seedSummary([run(null, 10), run(null, 10), run(1, 10)]);
    expect(never.darwinMedianEvaluationsToNinetyPercent).toBeNull();
    expect(never.darwinWithinHalfOfRandom).toBe(false);
    expect(never.statement).toMatch(/Darwin never, random sampling 10/);
    // An even count takes the middle two.
    expect(seedSummary([run(2, 10), run(4, 20)]).darwinMedianEvaluationsToNinetyPercent).toBe(3);
  });
});
