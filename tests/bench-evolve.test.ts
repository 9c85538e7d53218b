import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EvolveBenchReport, EvolveSearchReport } from '../dist/ts/bench/evolve.js';
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
  expect(search.attempts).toBeGreaterThanOrEqual(1);
  expect(search.attempts).toBeLessThanOrEqual(report.evaluationBudget);
  const rejected = Object.values(search.rejectedByGate).reduce((sum, n) => sum + n, 0);
  expect(rejected).toBeLessThanOrEqual(search.attempts);
  expect(search.lostSteps).toBe(0);
  expect(search.duplicatedSteps).toBe(0);
  expect(search.maxEnergyDrift).toBeLessThanOrEqual(1e-12);
  expect(search.wallSeconds).toBeGreaterThan(0);
  // The genome reported is the live kernel's: it renders to the module that is live.
  if (search.liveModule === 'reference') expect(search.liveGenome).toBeNull();
  else expect(kernelName(validateGenome(search.liveGenome))).toBe(search.liveModule);
  if (search.evaluationsToNinetyPercent !== null) {
    expect(search.evaluationsToNinetyPercent).toBeGreaterThanOrEqual(1);
    expect(search.evaluationsToNinetyPercent).toBeLessThanOrEqual(search.attempts);
  }
}

/** Two searches of real compiles, analyses and sandbox runs on a shared 2-core machine: about 2.5 minutes. */
const SEARCHES_TIMEOUT_MS = 300_000;

describe('ouroboros bench evolve --quick', () => {
  it('runs the Darwin search and the random peer with the same budget and writes every figure', () => {
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
  }, SEARCHES_TIMEOUT_MS);
});
