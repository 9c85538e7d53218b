/**
 * `ouroboros bench evolve`: the improvement engine from the reference kernel
 * on the main job's lattice, twice with the same evaluation budget: the
 * Darwin search (VariantGenerator with the DGM parent selection) and its
 * peer, random sampling of the same genome space (RandomSearchGenerator).
 *
 * - baselineMlups / finalMlups: the reference kernel before the search and
 *   the kernel live after it, each measured by the engine on the running
 *   lattice with no attempt in flight, over one watch window of kernel time
 *   timed natively: the way the product runs a kernel (one step per call),
 *   so a kernel that is fast only when asked for several steps at once gets
 *   no credit here. The live figures sampled while the gauntlet competed
 *   for the cores are reported beside them.
 * - rooflineFraction: finalMlups over the STREAM triad roofline at 24 bytes
 *   per f64 update, measured on the search's own lattice right after its
 *   final figure (Lattice.memoryTriadAsync: its scratch level written from its
 *   two levels). On this project's VM the bandwidth depends on which host
 *   memory backs a process's pages: fresh STREAM arrays measured 31 to
 *   66 GB/s from one process to the next, steady within each, so only the
 *   lattice's own pages bound the lattice's kernel. The usual probe on
 *   fresh arrays, before the searches, is reported too.
 * - lostSteps: from the lattice's own run summary against its step counter
 *   (report/step-audit.ts), across every swap and rollback of the search.
 * - inCacheMlups: the search's final kernel on a lattice whose three levels
 *   fit in L2, stepped by the runner like finalMlups; inCacheFraction =
 *   finalMlups / inCacheMlups says how far memory, not the cores, holds the
 *   kernel back on the main lattice.
 * - evaluationsToNinetyPercent: attempts until the best speedup that held
 *   first reached 90% of the search's best.
 * - With `--seeds N`: N Darwin and N random searches, seeds 1..N (the seed
 *   reaches the generators only through the engine: config.seed seeds the
 *   `random` each attempt's generator is given). `darwin` and `random` are
 *   seed 1's; `seedRuns` has every seed's figures and `seeds` the medians
 *   and whether Darwin reached 90% of its final speed in at most half the
 *   evaluations random sampling needed.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Precision, StreamTriadResult } from '../../native/addon-types.js';
import { coreAddon, kernelModulePath } from '../../native/loader.js';
import { Archive } from '../archive/archive.js';
import type { GateName } from '../gauntlet/types.js';
import { type EngineConfig, defaultConfig } from '../engine/config.js';
import { Engine } from '../engine/engine.js';
import type { EngineSample } from '../engine/events.js';
import type { EngineSummary } from '../engine/summary.js';
import { createMainLattice, watchdogOptions } from '../engine/main-lattice.js';
import type { Lattice } from '../lattice/lattice.js';
import { summarizeRun } from '../report/run-summary.js';
import { type StepAuditReport, auditSteps } from '../report/step-audit.js';
import { privateTmpPath } from '../util/private-dir.js';
import { median } from '../util/median.js';
import { rooflineMlupsOf } from './kernels.js';
import { l2Bytes, runnerMlups } from './peers.js';
import { inCacheExtents } from './peers-report.js';
import type { BenchRunOptions } from './suites.js';

export interface EvolveSearchReport {
  generator: 'variant' | 'random';
  baselineMlups: number;
  finalMlups: number;
  speedup: number;
  /** STREAM triad on the search's lattice right after finalMlups, and the roofline it gives. */
  streamTriadGBs: number;
  rooflineMlups: number;
  /** finalMlups / rooflineMlups (this search's probe). */
  rooflineFraction: number;
  /** The final kernel on a lattice whose three levels fit in L2 (inCacheExtents), by the runner. */
  inCacheMlups: number;
  inCacheExtents: number[];
  /** finalMlups / inCacheMlups. */
  inCacheFraction: number;
  /** Live MLUPS sampled during the search, with the gauntlet competing for the cores. */
  liveBaselineMlups: number | null;
  liveFinalMlups: number | null;
  attempts: number;
  applied: number;
  rolledBack: number;
  rejectedByGate: Partial<Record<GateName, number>>;
  maxEnergyDrift: number;
  lostSteps: number;
  duplicatedSteps: number;
  wallSeconds: number;
  /** Seconds the live lattice was held for benchmarks (gauntlet.holdLive), within wallSeconds. */
  heldSeconds: number;
  /** Cells x steps the lattice advanced during the search per wall second (millions): what the user got. */
  netMlups: number;
  /** Median MLUPS of the samples with no hold: the live kernels as they ran beside the search. */
  liveKernelMlups: number;
  firstApplyAtSeconds: number | null;
  evaluationsToNinetyPercent: number | null;
  /** The best speedup over the reference the gauntlet estimated for an attempt that held. */
  bestEstimatedSpeedup: number | null;
  liveModule: string;
  /** The genome of the live step kernel at the end (null when the reference kernel is live): what the search found. */
  liveGenome: Record<string, unknown> | null;
  /**
   * A copy of the live step kernel's module, kept after the search's own
   * directory is removed (in the user's private cache), so that
   * `bench peers --kernel` can measure what the search found; null when the
   * reference kernel is live.
   */
  liveModulePath: string | null;
}

/** One seed's searches, as --seeds reports them. */
export interface SeedRun {
  seed: number;
  darwin: Pick<EvolveSearchReport, 'evaluationsToNinetyPercent' | 'finalMlups' | 'speedup' | 'attempts' | 'liveModule' | 'liveGenome'>;
  random: Pick<EvolveSearchReport, 'evaluationsToNinetyPercent' | 'finalMlups' | 'speedup' | 'attempts' | 'liveModule' | 'liveGenome'>;
}

export interface SeedSummary {
  seeds: number;
  /** Medians over the seeds; a search no attempt of which held counts as never (null when the median is never). */
  darwinMedianEvaluationsToNinetyPercent: number | null;
  randomMedianEvaluationsToNinetyPercent: number | null;
  /** Darwin's median is at most half random sampling's (the issue's test of the search). */
  darwinWithinHalfOfRandom: boolean;
  statement: string;
}

export interface EvolveBenchReport {
  benchmark: 'evolve';
  date: string;
  machine: { cpu: string; cores: number; node: string };
  extents: number[];
  precision: 'f64' | 'f32';
  /** STREAM triad on fresh arrays before the searches (each search has its own, on its lattice). */
  streamTriadGBs: number;
  rooflineMlups: number;
  /** Attempts each search may start; both get the same. */
  evaluationBudget: number;
  wallLimitSeconds: number;
  /** Seed 1's searches. */
  darwin: EvolveSearchReport;
  random: EvolveSearchReport;
  seedRuns: SeedRun[];
  seeds: SeedSummary;
  targets: {
    wallSecondsAtMost600: boolean;
    speedupAtLeast6: boolean;
    rooflineFractionAtLeast075: boolean;
    /** f64 only (null for f32, whose rounding alone drifts the energy far more). */
    maxEnergyDriftAtMost1e12: boolean | null;
    noLostSteps: boolean;
    darwinReachesNinetyPercentFirst: boolean;
    darwinWithinHalfOfRandomOverSeeds: boolean;
  };
}

/** What a bench evolve run searches on, and with what budget. */
export interface Plan {
  extents: number[];
  precision: Precision;
  evaluationBudget: number;
  wallLimitSeconds: number;
  streamBytesPerArray: number;
  streamRepetitions: number;
  gauntlet: Partial<EngineConfig['gauntlet']>;
  watch: Partial<EngineConfig['watch']>;
}

const MiB = 1024 * 1024;
/** How long the final kernel runs on the in-cache lattice: thousands of steps there. */
const IN_CACHE_SECONDS = 1;

/**
 * The searches' plan: the main job's lattice, or `lattice` and `precision`
 * (--lattice, --precision) where given, so that a kernel is evolved for the
 * lattice it will run on; --quick's small lattice keeps the given dimensions
 * when --lattice is not given.
 */
export function searchPlan(quick: boolean, lattice: number[] | undefined, precision: Precision | undefined): Plan {
  const chosen = { precision: precision ?? defaultConfig.lattice.precision };
  if (quick) {
    return {
      ...chosen,
      extents: lattice ?? [128, 128],
      evaluationBudget: 3,
      wallLimitSeconds: 300,
      streamBytesPerArray: 16 * MiB,
      streamRepetitions: 3,
      gauntlet: { targetExtents: [256, 256], heldOutExtents: [131, 127] },
      // A 128x128 lattice runs thousands of steps a second; the analysers wait while the live kernel is measured.
      watch: { windowMs: 1000 },
    };
  }
  return {
    ...chosen,
    extents: lattice ?? defaultConfig.lattice.extents,
    // Random samples cost more to screen than mutants (21.6 s each against 12.4 s in a 2-core run of 40): 25 fit both searches in 10 minutes.
    evaluationBudget: 25,
    // The budget stops starting attempts; those in flight (up to a minute under load) still end inside 600 s:
    // at 540 s a search with the 4096^2 benchmark lattice ended at 597 s.
    wallLimitSeconds: 520,
    streamBytesPerArray: 256 * MiB,
    streamRepetitions: 10,
    gauntlet: {},
    watch: {},
  };
}

function relativeDrift(lattice: Lattice): number {
  const initial = lattice.initialEnergy;
  return initial === 0 ? Math.abs(lattice.energy()) : Math.abs(lattice.energy() - initial) / Math.abs(initial);
}

/** The engine's configuration for one search of `p` with `generator`, its archive in `archiveFile`, seeded with `seed`. */
export function searchConfig(p: Plan, generator: 'variant' | 'random', archiveFile: string, seed: number): EngineConfig {
  const config = structuredClone(defaultConfig);
  // The only randomness of a search: the engine seeds each attempt's generator and parent draw from it.
  config.seed = seed;
  config.lattice.extents = p.extents;
  config.lattice.precision = p.precision;
  config.generator.kind = generator;
  config.archive = { ...config.archive, path: archiveFile, warmStart: false };
  config.budget = { ...config.budget, maxAttempts: p.evaluationBudget, maxWallSeconds: p.wallLimitSeconds };
  // This bench measures the search per evaluation: both searches spend their whole budget, not what the economy would.
  config.economy = { ...config.economy, enabled: false };
  config.gauntlet = { ...config.gauntlet, ...p.gauntlet };
  config.watch = { ...config.watch, ...p.watch };
  config.log = { ...config.log, file: '' };
  return config;
}

/** What a search's ratios are made of: its live throughput at the start and the end, its STREAM probe and its final kernel in cache. */
export interface SearchMeasurements {
  baselineMlups: number;
  finalMlups: number;
  streamTriadGBs: number;
  inCacheMlups: number;
}

/** A search's speedup and the fractions of its two ceilings it reached (an in-cache figure of 0, unmeasured, gives 0). */
export function searchFigures(
  measured: SearchMeasurements,
  precision: Precision,
): Pick<EvolveSearchReport, 'speedup' | 'rooflineMlups' | 'rooflineFraction' | 'inCacheFraction'> {
  const { baselineMlups, finalMlups, streamTriadGBs, inCacheMlups } = measured;
  const rooflineMlups = rooflineMlupsOf(streamTriadGBs, precision);
  return {
    speedup: finalMlups / baselineMlups,
    rooflineMlups,
    rooflineFraction: finalMlups / rooflineMlups,
    inCacheFraction: inCacheMlups > 0 ? finalMlups / inCacheMlups : 0,
  };
}

function roofline(triad: StreamTriadResult, precision: Precision): { gbPerSecond: number; rooflineMlups: number } {
  return { gbPerSecond: triad.gbPerSecond, rooflineMlups: rooflineMlupsOf(triad.gbPerSecond, precision) };
}

/** The final kernel's MLUPS on a lattice of the search's dimensions and precision that fits in L2, stepped by the runner. */
async function inCache(file: string, p: Plan, log: (message: string) => void): Promise<{ extents: number[]; mlups: number }> {
  const extents = inCacheExtents(p.extents.length, p.precision, l2Bytes());
  log(`the final kernel in cache (${extents.join('x')} ${p.precision})`);
  const lattice = createMainLattice({ ...defaultConfig.lattice, extents, precision: p.precision });
  try {
    return { extents, mlups: await runnerMlups(lattice, await lattice.loadModule(file), IN_CACHE_SECONDS) };
  } finally {
    lattice.close();
  }
}

/** Copies a found module out of the search's directory, which is removed, into the user's private cache. */
function keepModule(modulePath: string, label: string): string {
  const dir = privateTmpPath('bench-evolve');
  mkdirSync(dir, { recursive: true });
  const kept = path.join(dir, `${label}-${path.basename(modulePath)}`);
  copyFileSync(modulePath, kept);
  return kept;
}

/** What one engine run of a search left: the engine's summary and samples, the audited steps and the wall time. */
interface SearchRun {
  engineSummary: EngineSummary;
  samples: readonly EngineSample[];
  steps: StepAuditReport;
  wallSeconds: number;
}

/** Runs the engine on `lattice`, its steps audited, until the search's budget is spent. */
async function runSearch(lattice: Lattice, config: EngineConfig, archive: Archive, label: string, log: (message: string) => void): Promise<SearchRun> {
  const engine = new Engine(lattice, config, { archive });
  engine.on('attempt-finished', (record) => log(`${label}: attempt #${record.id} ${record.status}${record.failedGate ? ` at ${record.failedGate}` : ''}`));
  engine.on('error', (error) => log(`${label}: engine error: ${error.message}`));
  const startedMs = performance.now();
  const audit = auditSteps(lattice);
  const run = lattice.run({ watchdog: watchdogOptions(config) });
  await engine.start();
  await engine.whenStopped();
  const engineSummary = await engine.stop();
  await lattice.stop();
  const steps = audit.finish(await run);
  const wallSeconds = (performance.now() - startedMs) / 1e3;
  return { engineSummary, samples: engine.samples(), steps, wallSeconds };
}

async function search(p: Plan, generator: 'variant' | 'random', seed: number, log: (message: string) => void): Promise<EvolveSearchReport> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ouroboros-evolve-${generator}-`));
  const config = searchConfig(p, generator, path.join(dir, 'archive.sqlite'), seed);
  // Seed 1's lines read as they did before --seeds.
  const label = seed === 1 ? generator : `${generator} seed ${seed}`;
  const archive = Archive.open(config.archive.path);
  const lattice = createMainLattice(config.lattice, config.seed);
  try {
    log(`${label}: the reference kernel on ${p.extents.join('x')} ${p.precision}`);
    const ran = await runSearch(lattice, config, archive, label, log);
    return await searchReport(p, generator, seed, lattice, archive, ran, await lattice.memoryTriadAsync(p.streamRepetitions), log);
  } finally {
    lattice.close();
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report of a finished search: the engine's figures, the archive's attempts, the roofline and the final kernel in cache. */
async function searchReport(
  p: Plan,
  generator: 'variant' | 'random',
  seed: number,
  lattice: Lattice,
  archive: Archive,
  { engineSummary, samples, steps, wallSeconds }: SearchRun,
  triad: StreamTriadResult,
  log: (message: string) => void,
): Promise<EvolveSearchReport> {
  const attempts = archive.list().filter((record) => record.parentId !== null);
  // Applying a kernel supersedes the one it replaced, so the live one is the only step attempt still "applied".
  const live = attempts.find((record) => record.slot === 'step' && record.status === 'applied');
  const baselineMlups = engineSummary.baselineMlups;
  const finalMlups = engineSummary.finalMlups ?? 0;
  const cached = await inCache(live?.modulePath ?? kernelModulePath('reference'), p, log);
  const figures = searchFigures({ baselineMlups, finalMlups, streamTriadGBs: triad.gbPerSecond, inCacheMlups: cached.mlups }, p.precision);
  const summary = summarizeRun({
    records: archive.list(),
    ledger: archive.ledger.entries(),
    samples,
    rooflineMlups: figures.rooflineMlups,
    lostSteps: steps.lostSteps,
    wallSeconds,
    netMlups: engineSummary.netMlups,
    heldSeconds: engineSummary.heldSeconds,
    firstApplyAtSeconds: engineSummary.firstApplyAtSeconds,
  });
  const held = attempts.filter((record) => ['passed', 'applied', 'superseded'].includes(record.status) && record.speedup !== null);
  return {
    generator,
    baselineMlups,
    finalMlups,
    ...figures,
    streamTriadGBs: triad.gbPerSecond,
    inCacheMlups: cached.mlups,
    inCacheExtents: cached.extents,
    liveBaselineMlups: summary.baselineMlups,
    liveFinalMlups: summary.finalMlups,
    attempts: summary.attempts,
    applied: summary.applied,
    rolledBack: summary.rolledBack,
    rejectedByGate: summary.rejectedByGate,
    maxEnergyDrift: Math.max(summary.maxEnergyDrift ?? 0, relativeDrift(lattice)),
    lostSteps: steps.lostSteps,
    duplicatedSteps: steps.duplicatedSteps,
    wallSeconds,
    heldSeconds: engineSummary.heldSeconds,
    netMlups: engineSummary.netMlups,
    liveKernelMlups: engineSummary.liveKernelMlups,
    firstApplyAtSeconds: engineSummary.firstApplyAtSeconds,
    evaluationsToNinetyPercent: summary.evaluationsToNinetyPercent,
    bestEstimatedSpeedup: held.length > 0 ? Math.max(...held.map((record) => record.speedup!)) : null,
    liveModule: engineSummary.liveModules.step?.name ?? lattice.slots().step.live.name,
    liveGenome: live?.genome ?? null,
    liveModulePath: live?.modulePath ? keepModule(live.modulePath, `${generator}-seed${seed}`) : null,
  };
}

/** What seedSummary reads of a seed's two searches. */
export interface SeedEvaluations {
  darwin: { evaluationsToNinetyPercent: number | null };
  random: { evaluationsToNinetyPercent: number | null };
}

/** Medians over the seeds; null (never reached) counts as slower than any number. */
function medianEvaluations(values: (number | null)[]): number | null {
  const evaluations = values.map((v) => v ?? Infinity);
  const value = median(evaluations, Infinity);
  return Number.isFinite(value) ? value : null;
}

/** Whether Darwin reached 90% of its final speed in at most half the evaluations random sampling needed, median over the seeds. */
export function seedSummary(runs: readonly SeedEvaluations[]): SeedSummary {
  const darwin = medianEvaluations(runs.map((run) => run.darwin.evaluationsToNinetyPercent));
  const random = medianEvaluations(runs.map((run) => run.random.evaluationsToNinetyPercent));
  const within = darwin !== null && random !== null && darwin <= random / 2;
  const seeds = `${runs.length} seed${runs.length === 1 ? '' : 's'}`;
  const figures = `median evaluations to 90% of the final speed over ${seeds}: Darwin ${darwin ?? 'never'}, random sampling ${random ?? 'never'}`;
  return {
    seeds: runs.length,
    darwinMedianEvaluationsToNinetyPercent: darwin,
    randomMedianEvaluationsToNinetyPercent: random,
    darwinWithinHalfOfRandom: within,
    statement: within
      ? `Darwin reached 90% of its final speed in at most half the evaluations random sampling needed (${figures}).`
      : `Darwin did NOT reach 90% of its final speed in at most half the evaluations random sampling needed (${figures}).`,
  };
}

function seedFigures(report: EvolveSearchReport): SeedRun['darwin'] {
  const { evaluationsToNinetyPercent, finalMlups, speedup, attempts, liveModule, liveGenome } = report;
  return { evaluationsToNinetyPercent, finalMlups, speedup, attempts, liveModule, liveGenome };
}

export async function benchEvolve(options: BenchRunOptions): Promise<EvolveBenchReport> {
  const p = searchPlan(options.quick, options.lattice, options.precision);
  const log = options.onProgress;
  log(`STREAM triad, 3 x ${p.streamBytesPerArray / MiB} MiB, ${os.availableParallelism()} threads`);
  const triad = roofline(await coreAddon().streamTriadAsync(p.streamBytesPerArray, p.streamRepetitions, os.availableParallelism()), p.precision);
  const searches: { seed: number; darwin: EvolveSearchReport; random: EvolveSearchReport }[] = [];
  for (let seed = 1; seed <= (options.seeds ?? 1); seed++) {
    const darwin = await search(p, 'variant', seed, log);
    const random = await search(p, 'random', seed, log);
    searches.push({ seed, darwin, random });
  }
  const { darwin, random } = searches[0]!;
  const seedRuns = searches.map((run) => ({ seed: run.seed, darwin: seedFigures(run.darwin), random: seedFigures(run.random) }));
  const seeds = seedSummary(seedRuns);
  const cpus = os.cpus();
  const firstToNinety = (report: EvolveSearchReport) => report.evaluationsToNinetyPercent ?? Infinity;
  return {
    benchmark: 'evolve',
    date: new Date().toISOString(),
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version },
    extents: p.extents,
    precision: p.precision,
    streamTriadGBs: triad.gbPerSecond,
    rooflineMlups: triad.rooflineMlups,
    evaluationBudget: p.evaluationBudget,
    wallLimitSeconds: p.wallLimitSeconds,
    darwin,
    random,
    seedRuns,
    seeds,
    targets: {
      wallSecondsAtMost600: searches.every((run) => run.darwin.wallSeconds <= 600 && run.random.wallSeconds <= 600),
      speedupAtLeast6: darwin.speedup >= 6,
      rooflineFractionAtLeast075: darwin.rooflineFraction >= 0.75,
      maxEnergyDriftAtMost1e12: p.precision === 'f64' ? searches.every((run) => run.darwin.maxEnergyDrift <= 1e-12) : null,
      noLostSteps: searches.every((run) => run.darwin.lostSteps === 0 && run.random.lostSteps === 0),
      darwinReachesNinetyPercentFirst: firstToNinety(darwin) < firstToNinety(random),
      darwinWithinHalfOfRandomOverSeeds: seeds.darwinWithinHalfOfRandom,
    },
  };
}

function searchLine(report: EvolveSearchReport): string {
  const gates =
    Object.entries(report.rejectedByGate)
      .map(([gate, n]) => `${gate} ${n}`)
      .join(', ') || 'none';
  return [
    `${report.generator.padEnd(8)} ${report.baselineMlups.toFixed(1)} -> ${report.finalMlups.toFixed(1)} MLUPS (${report.speedup.toFixed(2)}x), ` +
      `${(100 * report.rooflineFraction).toFixed(1)}% of the roofline of its lattice's memory (${report.rooflineMlups.toFixed(0)} MLUPS), ` +
      `${(100 * report.inCacheFraction).toFixed(1)}% of itself in cache (${report.inCacheMlups.toFixed(0)} MLUPS at ${report.inCacheExtents.join('x')}), live ${report.liveModule}`,
    `         ${report.attempts} attempts in ${report.wallSeconds.toFixed(0)} s (live lattice held ${report.heldSeconds.toFixed(0)} s for benchmarks; net ${report.netMlups.toFixed(0)} MLUPS, live kernel ${report.liveKernelMlups.toFixed(0)}): applied ${report.applied}, rolled back ${report.rolledBack}, rejected by gate: ${gates}`,
    `         90% of best after ${report.evaluationsToNinetyPercent ?? 'n/a'} evaluations (best estimated ${report.bestEstimatedSpeedup?.toFixed(2) ?? 'n/a'}x); ` +
      `max energy drift ${report.maxEnergyDrift.toExponential(2)}; lost steps ${report.lostSteps}, duplicated ${report.duplicatedSteps}`,
  ].join('\n');
}

export function formatEvolveReport(report: EvolveBenchReport): string {
  const targets = Object.entries(report.targets).map(([name, met]) => `${met ? 'met   ' : 'missed'} ${name}`);
  return [
    `${report.extents.join('x')} ${report.precision}; STREAM triad on fresh arrays ${report.streamTriadGBs.toFixed(2)} GB/s, roofline ${report.rooflineMlups.toFixed(0)} MLUPS; ` +
      `budget ${report.evaluationBudget} attempts or ${report.wallLimitSeconds} s per search`,
    '',
    searchLine(report.darwin),
    searchLine(report.random),
    '',
    ...report.seedRuns.map(
      (run) =>
        `seed ${run.seed}: 90% of final speed after ${run.darwin.evaluationsToNinetyPercent ?? 'never'} evaluations (Darwin, ${run.darwin.liveModule}) ` +
        `and ${run.random.evaluationsToNinetyPercent ?? 'never'} (random, ${run.random.liveModule})`,
    ),
    report.seeds.statement,
    '',
    ...targets,
  ].join('\n');
}
