// The screen times the incumbent once per module and then re-checks it:
// the runner's --incumbent-samples, the store of known times and how a
// re-check decides whether they still count. No timing decides anything
// here: the runner test counts samples, the rest runs on given times.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IncumbentTimings, RECHECK_TOLERANCE, type TimingKey, recheckHolds, reuseKnownIncumbent } from '../dist/ts/gauntlet/incumbent-timings.js';
import { evaluateCandidate } from '../dist/ts/gauntlet/pipeline.js';
import { decodeReport } from '../dist/ts/gauntlet/report.js';
import type { BenchSamples } from '../dist/ts/gauntlet/report.js';
import { resolveOptions } from '../dist/ts/gauntlet/options.js';
import { runnerArguments, runSandbox } from '../dist/ts/gauntlet/sandbox-run.js';
import { compareTimes } from '../dist/ts/gauntlet/statistics.js';
import type { BenchmarkSummary } from '../dist/ts/gauntlet/types.js';
import { kernelModulePath, targetTriple } from '../dist/native/loader.js';

const key: TimingKey = { moduleSha256: 'ab', slot: 'step', precision: 'f64', extents: [4096, 4096], benchSteps: 2, stepsPerCall: 8, threads: 2 };

function samples(lattice: string, candidateNs: number[], incumbentNs: number[]): BenchSamples {
  return {
    lattice,
    extents: [4096, 4096],
    steps: 16,
    stepsPerCall: 8,
    courant2: 0.3,
    roundTripNs: 0,
    checkNsPerSample: 0,
    copyNsPerCommand: 0,
    candidateNs,
    incumbentNs,
  };
}

function summaryOf(...lattices: BenchSamples[]): BenchmarkSummary {
  const statistics = lattices.map((b) => compareTimes(b.lattice, b.extents, b.steps, b.candidateNs, b.incumbentNs));
  return { wins: false, lattices: statistics, overhead: [] };
}

const slowerCandidate = [150, 152, 149, 151, 150];

describe('known incumbent times', () => {
  it('are confirmed by a fresh sample within the known range widened by the tolerance, and refuted outside it', () => {
    const known = [100, 104, 98];
    expect(recheckHolds(known, [101])).toBe(true);
    expect(recheckHolds(known, [104 * (1 + RECHECK_TOLERANCE) - 1])).toBe(true);
    expect(recheckHolds(known, [104 * (1 + RECHECK_TOLERANCE) + 1])).toBe(false);
    expect(recheckHolds(known, [98 / (1 + RECHECK_TOLERANCE) - 1])).toBe(false);
    expect(recheckHolds([], [100])).toBe(false);
  });

  it('let a screen with one fresh incumbent sample still call a slower candidate slower', () => {
    const timings = new IncumbentTimings();
    const first = samples('target', slowerCandidate, [100, 102, 98]);
    const measured = reuseKnownIncumbent(summaryOf(first), first, key, timings);
    expect(measured.reuse).toEqual({ reused: 0, fresh: 3, recheck: 'none' });
    expect(timings.get(key)).toEqual([100, 102, 98]);
    expect(timings.get({ ...key, extents: [2048, 2048] })).toBeNull();
    expect(timings.get({ ...key, moduleSha256: 'cd' })).toBeNull();

    // One fresh sample alone can never be significant: the known ones make the screen's answer.
    const rechecked = samples('target', slowerCandidate, [101]);
    expect(summaryOf(rechecked).lattices[0]!.verdict).toBe('indistinguishable');
    const reused = reuseKnownIncumbent(summaryOf(rechecked), rechecked, key, timings);
    expect(reused.reuse).toEqual({ reused: 3, fresh: 1, recheck: 'held' });
    expect(reused.benchmark.lattices[0]).toMatchObject({ verdict: 'slower', incumbentMedianNs: 100.5 });
    expect(timings.get(key)).toEqual([100, 102, 98, 101]);
  });

  it('are forgotten when the re-check refutes them, and the comparison rests on the fresh sample alone', () => {
    const timings = new IncumbentTimings();
    timings.record(key, [100, 102, 98]);
    const loaded = samples('target', slowerCandidate, [160]);
    const held = samples('held-out', [10, 10, 10, 10, 10], [20]);
    const outcome = reuseKnownIncumbent(summaryOf(loaded, held), loaded, key, timings);
    expect(outcome.reuse).toEqual({ reused: 0, fresh: 1, recheck: 'failed' });
    expect(outcome.benchmark.lattices.map((l) => l.verdict)).toEqual(['indistinguishable', 'indistinguishable']);
    expect(timings.get(key)).toBeNull();
  });

  it('keep only the newest samples', () => {
    const timings = new IncumbentTimings();
    timings.record(
      key,
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(timings.get(key)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });
});

describe("the runner's --incumbent-samples", () => {
  it('and --incumbent-stop-ratio are validated and passed to the runner', () => {
    const reference = 'extern "C" {}';
    expect(resolveOptions({ source: reference, benchSamples: 5 }).incumbentSamples).toBe(5);
    expect(() => resolveOptions({ source: reference, benchSamples: 5, incumbentSamples: 6 })).toThrow('incumbentSamples = 6: must be an integer in [1, 5]');
    const args = runnerArguments({
      ...resolveOptions({ source: reference, benchSamples: 5, incumbentSamples: 2 }),
      runnerPath: '',
      candidatePath: 'c.so',
      incumbentPath: 'i.so',
      timeoutMs: 1000,
    });
    expect(args.slice(args.indexOf('--incumbent-samples'), args.indexOf('--incumbent-samples') + 2)).toEqual(['--incumbent-samples', '2']);
    expect(args).not.toContain('--incumbent-stop-ratio');
    const stopping = runnerArguments({
      ...resolveOptions({ source: reference, incumbentStopRatio: 0.5 }),
      runnerPath: '',
      candidatePath: 'c.so',
      incumbentPath: 'i.so',
      timeoutMs: 1000,
    });
    expect(stopping.slice(stopping.indexOf('--incumbent-stop-ratio'), stopping.indexOf('--incumbent-stop-ratio') + 2)).toEqual([
      '--incumbent-stop-ratio',
      '0.5',
    ]);
    expect(() => resolveOptions({ source: reference, incumbentStopRatio: 1.5 })).toThrow('incumbentStopRatio = 1.5: must be in (0, 1]');
  });

  it('times the incumbent on that many samples per lattice and the candidate, checked, on all of them', async () => {
    const run = await runSandbox({
      runnerPath: path.resolve('native/sandbox', targetTriple(), 'ouroboros-sandbox'),
      candidatePath: kernelModulePath('reference'),
      incumbentPath: kernelModulePath('reference'),
      slot: 'step',
      seed: 7,
      precision: 'f64',
      targetExtents: [24, 24],
      heldOutExtents: [17, 15],
      heldOutCells: 255,
      stepsPerCall: 2,
      benchSteps: 2,
      benchSamples: 5,
      incumbentSamples: 1,
      dojoWaves: 100,
      threads: 1,
      cpuSeconds: 20,
      memoryMiB: 512,
      timeoutMs: 60_000,
    });
    expect(run.code, run.stderr).toBe(0);
    const report = decodeReport(run.stdout);
    const bench = report.phases.find((phase) => phase.name === 'bench')!;
    expect(bench.passed, bench.reason).toBe(true);
    expect(report.bench.map((b) => [b.lattice, b.candidateNs.length, b.incumbentNs.length])).toEqual([
      ['target', 5, 1],
      ['held-out', 5, 1],
    ]);
  }, 60_000);
});

describe('evaluateCandidate with reuseIncumbentTimes', () => {
  it('times an incumbent in full once, then re-checks its known times on one sample per lattice', async () => {
    const options = {
      source: readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8'),
      targetExtents: [20, 20],
      heldOutExtents: [13, 11],
      benchSamples: 5,
      incumbentSamples: 3,
      reuseIncumbentTimes: true,
      threads: 1,
      cacheDir: mkdtempSync(path.join(os.tmpdir(), 'ouroboros-incumbent-times-')),
    };
    const timesOf = async () => {
      const verdict = await evaluateCandidate(options);
      expect(verdict.accepted, verdict.gates.at(-1)?.reason).toBe(true);
      const bench = verdict.gates.find((gate) => gate.gate === 'bench')!;
      return bench.details as { incumbentTimes: { reused: number; fresh: number; recheck: string } };
    };
    expect((await timesOf()).incumbentTimes).toEqual({ reused: 0, fresh: 3, recheck: 'none' });
    // Whether the fresh sample confirms the known three depends on the machine; how many were taken does not.
    const second = (await timesOf()).incumbentTimes;
    expect(second.fresh).toBe(1);
    expect([
      { reused: 3, recheck: 'held' },
      { reused: 0, recheck: 'failed' },
    ]).toContainEqual({ reused: second.reused, recheck: second.recheck });
  }, 240_000);
});
