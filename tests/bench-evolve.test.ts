import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type EvolveBenchReport, type EvolveSearchReport, seedSummary } from '../dist/ts/bench/evolve.js';
import { kernelName, validateGenome } from '../dist/ts/generators/variant/index.js';

const cli = path.resolve('bin/ouroboros.js');

function checkSearch(search: EvolveSearchReport, report: EvolveBenchReport): void {
  expect(search.baselineMlups).toBeGreaterThan(0);
  expect(search.finalMlups).toBeGreaterThan(0);
  expect(search.speedup).toBeCloseTo(search.finalMlups / search.baselineMlups, 12);
  // Each search's roofline is its own STREAM probe, taken after its final figure.
  expect(search.streamTriadGBs).toBeGreaterThan(0);
  expect(search.rooflineMlups).toBeCloseTo((search.streamTriadGBs * 1e3) / 24, 9);
  expect(search.rooflineFraction).toBeCloseTo(search.finalMlups / search.rooflineMlups, 12);
  // The final kernel again on a lattice that fits in L2.
  expect(search.inCacheMlups).toBeGreaterThan(0);
  expect(search.inCacheFraction).toBeCloseTo(search.finalMlups / search.inCacheMlups, 12);
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
      expect(report.rooflineMlups).toBeCloseTo((report.streamTriadGBs * 1e3) / 24, 9);
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
