// bench net's figures and targets from injected run results (the suite
// itself runs two 3-minute runs: not a test), and its place in the CLI.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AloneWindow,
  type NetBenchReport,
  type NetRunFigures,
  type RunOutput,
  MIN_ALONE_WINDOWS,
  aloneWindowsAfterWarm,
  formatNetReport,
  netRunFigures,
  netTargets,
} from '../dist/ts/bench/net.js';
import type { RunAccountReport } from '../dist/ts/engine/run-account.js';
import { benchSuites } from '../dist/ts/bench/suites.js';

const cli = path.resolve('bin/ouroboros.js');

function output(fields: {
  netMlups: number;
  firstApplyAtSeconds: number | null;
  lostSteps: number | null;
  attempts?: number;
  applied?: number;
  economy?: RunOutput['engine']['economy'];
  baselineSource?: RunOutput['engine']['baselineSource'];
  account?: RunAccountReport;
}): RunOutput {
  return {
    engine: {
      netMlups: fields.netMlups,
      liveKernelMlups: 700,
      heldSeconds: 12.5,
      firstApplyAtSeconds: fields.firstApplyAtSeconds,
      liveModules: {
        step: { name: 'variant_abc', attemptId: 3, moduleSha256: 'a'.repeat(64), speedup: 9 },
        readout: { name: 'reference', attemptId: 2, moduleSha256: 'b'.repeat(64), speedup: 1 },
      },
      economy: fields.economy ?? null,
      baselineSource: fields.baselineSource ?? { kind: 'measured' },
      ...(fields.account ? { account: fields.account } : {}),
    },
    summary: { attempts: fields.attempts ?? 6, applied: fields.applied ?? 1, maxEnergyDrift: 3e-15 } as RunOutput['summary'],
    steps: { lostSteps: fields.lostSteps } as RunOutput['steps'],
  };
}

/** The report of two runs, as benchNet builds it, for a run length of `runSeconds`. */
function netReport(cold: NetRunFigures, warm: NetRunFigures, runSeconds = 180, aloneWindows: AloneWindow[] = []): NetBenchReport {
  return {
    cold,
    warm,
    targets: netTargets(cold, warm, runSeconds),
    runSeconds,
    kernelAloneSeconds: 20,
    aloneWindows,
    extents: [4096, 4096],
    liveKernels: { cold: 'variant_abc', warm: 'variant_abc' },
    machine: { cpu: 'test', cores: 2, loadAverage: [0, 0, 0], node: 'v22' },
    date: '2026-12-06T00:00:00.000Z',
  };
}

describe('bench net figures', () => {
  it('takes the run figures from its --json, the wall time as measured, and netFraction against the kernel alone', () => {
    const figures = netRunFigures(output({ netMlups: 600, firstApplyAtSeconds: 41.5, lostSteps: 0 }), 183.2, [800]);
    expect(figures).toEqual({
      netMlups: 600,
      liveKernelMlups: 700,
      kernelAloneMlups: 800,
      kernelAloneWindows: [800],
      netFraction: 0.75,
      firstApplyAtSeconds: 41.5,
      heldSeconds: 12.5,
      attempts: 6,
      applied: 1,
      wallSeconds: 183.2,
      lostSteps: 0,
      maxEnergyDrift: 3e-15,
      attemptCost: null,
      baselineSource: { kind: 'measured' },
      account: null,
    });
  });

  it('takes the kernel alone as the median of its windows, reports each, and refuses a run with none', () => {
    // One window a quarter off (as 386.5 against 479.6 on this machine) moves the median not at all.
    const figures = netRunFigures(output({ netMlups: 600, firstApplyAtSeconds: 41.5, lostSteps: 0 }), 183.2, [800, 600, 810]);
    expect(figures.kernelAloneMlups).toBe(800);
    expect(figures.kernelAloneWindows).toEqual([800, 600, 810]);
    expect(figures.netFraction).toBe(0.75);
    const windows: AloneWindow[] = [
      { kernel: 'variant_abc', afterRun: 'cold', mlups: 800 },
      { kernel: 'variant_abc', afterRun: 'warm', mlups: 600 },
      { kernel: 'variant_abc', afterRun: 'warm', mlups: 810 },
    ];
    const table = formatNetReport(netReport(figures, figures, 180, windows));
    expect(table).toMatch(/^cold {2}net 600\.0 MLUPS = 75\.0% of the final kernel alone \(800\.0, the median of 800\.0, 600\.0, 810\.0\)/m);
    expect(table).toContain('alone windows in order: variant_abc 800.0 (after cold), variant_abc 600.0 (after warm), variant_abc 810.0 (after warm)');
    expect(() => netRunFigures(output({ netMlups: 600, firstApplyAtSeconds: 41.5, lostSteps: 0 }), 183.2, [])).toThrow(/kernelAloneWindows/);
  });

  it("says what an attempt was judged to cost and where the figure came from (a warm run's is carried from the cold one)", () => {
    const economy = { judgedAttemptCostSeconds: 45.25, attemptCostSource: { kind: 'carried', attempts: 1 } } as NonNullable<RunOutput['engine']['economy']>;
    const baselineSource = { kind: 'remembered', recordedAt: '2026-12-06T20:06:24.874Z' } as const;
    const warm = netRunFigures(output({ netMlups: 750, firstApplyAtSeconds: 5.9, lostSteps: 0, attempts: 0, economy, baselineSource }), 181.2, [800]);
    expect(warm.baselineSource).toEqual(baselineSource);
    expect(warm.attemptCost).toEqual({ seconds: 45.25, source: { kind: 'carried', attempts: 1 } });
    const cold = netRunFigures(output({ netMlups: 600, firstApplyAtSeconds: 41.5, lostSteps: 0 }), 183.2, [800]);
    const table = formatNetReport(netReport(cold, warm));
    expect(table).toContain('an attempt judged to cost 45.3 s (carried from 1 attempt of earlier runs on this machine and lattice)');
    expect(table).toContain('first apply 5.9 s (baseline remembered)');
    expect(table).toContain('first apply 41.5 s (baseline measured)');
  });

  it('checks each target of the issue and says which were met', () => {
    const cold = netRunFigures(output({ netMlups: 600, firstApplyAtSeconds: 41.5, lostSteps: 0 }), 183.2, [800]);
    const warm = netRunFigures(output({ netMlups: 750, firstApplyAtSeconds: 2, lostSteps: 0 }), 186, [800]);
    const targets = netTargets(cold, warm, 180);
    expect(targets.coldNetFractionAtLeast07).toEqual({ value: 0.75, limit: 0.7, met: true });
    expect(targets.coldFirstApplyWithin60s).toEqual({ value: 41.5, limit: 60, met: true });
    expect(targets.warmNetFractionAtLeast095).toEqual({ value: 0.9375, limit: 0.95, met: false });
    expect(targets.coldWallWithinRunPlus5s).toEqual({ value: 183.2, limit: 185, met: true });
    expect(targets.warmWallWithinRunPlus5s).toEqual({ value: 186, limit: 185, met: false });
    expect(targets.noLostSteps).toEqual({ value: 0, limit: 0, met: true });
  });

  it('counts a run with nothing applied as missing the first-apply target, and a lost step as lost', () => {
    const cold = netRunFigures(output({ netMlups: 90, firstApplyAtSeconds: null, lostSteps: 2, applied: 0 }), 60, [90]);
    const warm = netRunFigures(output({ netMlups: 90, firstApplyAtSeconds: null, lostSteps: 0, applied: 0 }), 60, [90]);
    const targets = netTargets(cold, warm, 60);
    expect(targets.coldFirstApplyWithin60s.met).toBe(false);
    expect(targets.noLostSteps).toEqual({ value: 2, limit: 0, met: false });
    expect(targets.coldNetFractionAtLeast07).toEqual({ value: 1, limit: 0.7, met: true });
    const table = formatNetReport(netReport(cold, warm, 60));
    expect(table).toMatch(/^missed coldFirstApplyWithin60s \(n\/a, limit 60\)$/m);
    expect(table).toMatch(/^missed noLostSteps \(2, limit 0\)$/m);
    expect(table).toMatch(/^cold {2}net 90\.0 MLUPS = 100\.0% of the final kernel alone \(90\.0\)/m);
  });
});

describe('bench net kernel-alone windows', () => {
  it('times each final kernel after the warm run until it has three windows, round-robin, counting the one after the cold run', () => {
    expect(MIN_ALONE_WINDOWS).toBe(3);
    // The warm run kept the cold run's kernel: two more, after the warm run, so it is timed before and after it.
    expect(aloneWindowsAfterWarm(['a.so'], new Map([['a.so', 1]]))).toEqual(['a.so', 'a.so']);
    // The warm run ended with another kernel: the two alternate, the new one to three windows.
    expect(aloneWindowsAfterWarm(['a.so', 'b.so'], new Map([['a.so', 1]]))).toEqual(['a.so', 'b.so', 'a.so', 'b.so', 'b.so']);
    expect(aloneWindowsAfterWarm(['a.so'], new Map([['a.so', 3]]))).toEqual([]);
  });
});

describe("bench net's account of each run", () => {
  it("reports where the run's time went as the engine measured it, and null from a run that gives none", () => {
    const account: RunAccountReport = {
      warmLiveAtSeconds: 2.25,
      heldSeconds: 0,
      canarySeconds: 0,
      canaries: 0,
      watchSeconds: 4,
      trialSeconds: 0,
      reverification: { wallSeconds: 21.5, cpuSeconds: 4.5 },
      attempts: 0,
      attemptCpuSeconds: 0,
      watchdogSeconds: 0.63,
    };
    const warm = netRunFigures(output({ netMlups: 760, firstApplyAtSeconds: 2.25, lostSteps: 0, attempts: 0, account }), 180.3, [800]);
    expect(warm.account).toEqual(account);
    const cold = netRunFigures(output({ netMlups: 600, firstApplyAtSeconds: 41.5, lostSteps: 0 }), 183.2, [800]);
    expect(cold.account).toBeNull();
    const table = formatNetReport(netReport(cold, warm));
    expect(table).toContain(
      'where the time went: warm start live at 2.3 s; held 0.0 s; 0 canaries 0.0 s; watch windows 4.0 s; trials 0.0 s; ' +
        're-verification 21.5 s wall, 4.5 s CPU; 0 attempts, 0.0 s child CPU; watchdog 0.63 s',
    );
  });
});

describe('ouroboros bench net', () => {
  it('is a bench suite with a --duration to shorten its runs', () => {
    expect(benchSuites.net).toBeDefined();
    const help = spawnSync(process.execPath, [cli, 'bench', 'net', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/which benchmark: [a-z-]+(, [a-z-]+)*, net\b/);
    expect(help.stdout).toMatch(/--duration <duration>/);
  });

  it('refuses a run length too short to measure, naming the limit', () => {
    const result = spawnSync(process.execPath, [cli, 'bench', 'net', '--duration', '1s'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/1s is out of range: must be from 5s to/);
  });
});
