/**
 * `ouroboros bench sandbox`: the hostile corpus and the correct variants
 * through the whole gauntlet on a pool as wide as the machine. Reports how
 * many were contained and rejected (by gate), candidates per minute with
 * uncached compiles (the target figure) and with cached ones, and the
 * seconds each gate took in total.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kernelModulePath, packageRoot } from '../../native/loader.js';
import type { Confinement } from '../gauntlet/gatekeeper.js';
import { evaluateCandidate } from '../gauntlet/pipeline.js';
import { GauntletPool } from '../gauntlet/pool.js';
import { median } from '../util/median.js';
import type { GateName, GauntletVerdict } from '../gauntlet/types.js';
import { Lattice } from '../lattice/lattice.js';
import type { ConfinedModuleInfo, KernelHostLayer } from '../modules/kernel-host.js';
import { type CorpusCandidate, gauntletHostileCorpus } from './hostile-corpus.js';
import type { BenchRunOptions } from './suites.js';

export interface GateSeconds {
  static: number;
  compile: number;
  sandbox: number;
  dojo: number;
  bench: number;
}

export interface CorpusReport {
  corpus: number;
  /** Candidates the host survived with a verdict (every one, or the host would not be reporting). */
  contained: number;
  rejected: number;
  /** Rejected by the gate the manifest expects (hostile corpus only). */
  rejectedAsExpected: number | null;
  byGate: Partial<Record<GateName, number>>;
  candidatesPerMinute: number;
  wallSeconds: number;
  gateSeconds: GateSeconds;
}

/** Medians over the variants' benchmarks of what the split and the per-sample checks cost. */
export interface CheckCost {
  lattice: string;
  /** One empty command's round trip to a worker: what the channel adds to each timed command (two per sample). */
  roundTripUs: number;
  /** The oracle probe ending each candidate sample, outside the timing. */
  checkUsPerSample: number;
  /**
   * Copying the lattice buffers into and out of the candidate's stopped
   * worker, per command (all three levels each way for a step), outside the
   * timing but inside the gauntlet's wall time.
   */
  copyUsPerCommand: number;
  /** The candidate's median sample, for scale. */
  sampleUs: number;
}

export interface SandboxBenchReport {
  threads: number;
  hostile: CorpusReport;
  variants: CorpusReport & { cachedCandidatesPerMinute: number; improves: string[] };
  /** The supervisor/worker split and every layer of the candidate's worker, from a variant's run. */
  isolation: GauntletVerdict['isolation'];
  /** How g++ ran (the gatekeeper's rlimits, namespaces, no_new_privs and Landlock), from a variant's compile. */
  toolIsolation: Confinement | null;
  /** Every layer of a kernel host, the process an untrusted module steps the live lattice from. */
  liveIsolation: KernelHostLayer[];
  checks: CheckCost[];
}

function variants(copies: number): CorpusCandidate[] {
  const dir = path.join(packageRoot, 'tests', 'fixtures', 'variants');
  const names = ['reference-copy', 'slow', 'rows-fast'];
  // Each copy differs by a comment, so every compile is a real (uncached) one.
  return Array.from({ length: copies }, (_, i) => {
    const name = names[i % names.length]!;
    return { name: `${name}#${i}`, source: `// copy ${i}\n${readFileSync(path.join(dir, `${name}.cpp`), 'utf8')}`, settings: {} };
  });
}

/**
 * The hostile corpus runs under a 2 s CPU cap, so that the kernels that spin
 * end fast; the correct variants under the gauntlet's own cap (undefined),
 * since a correct but slow kernel must be judged as the engine judges it:
 * under 2 s, `slow` died of SIGKILL in the bench on a host where its timed
 * samples took longer than that.
 */
const HOSTILE_CPU_SECONDS = 2;

async function runCorpus(candidates: CorpusCandidate[], pool: GauntletPool, cacheDir: string, cpuSeconds: number | undefined, onProgress: (m: string) => void) {
  const verdicts: Array<{ candidate: CorpusCandidate; verdict: GauntletVerdict }> = [];
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < candidates.length) {
      const candidate = candidates[next++]!;
      const verdict = await evaluateCandidate({
        source: candidate.source,
        ...candidate.settings,
        pool,
        cacheDir,
        cpuSeconds,
        sandboxTimeoutMs: 20_000,
      });
      verdicts.push({ candidate, verdict });
      if (verdicts.length % 10 === 0) onProgress(`${verdicts.length}/${candidates.length} candidates`);
    }
  };
  // Two pipelines per thread: while one waits on a child process the other works.
  await Promise.all(Array.from({ length: pool.threads * 2 }, worker));
  return { verdicts, wallSeconds: (performance.now() - started) / 1000 };
}

function summarise(verdicts: Array<{ candidate: CorpusCandidate; verdict: GauntletVerdict }>, wallSeconds: number): CorpusReport {
  const gateSeconds: GateSeconds = { static: 0, compile: 0, sandbox: 0, dojo: 0, bench: 0 };
  const byGate: Partial<Record<GateName, number>> = {};
  let rejectedAsExpected = 0;
  for (const { candidate, verdict } of verdicts) {
    for (const gate of verdict.gates) {
      if (gate.gate in gateSeconds) gateSeconds[gate.gate as keyof GateSeconds] += gate.seconds;
    }
    if (verdict.failedGate) byGate[verdict.failedGate] = (byGate[verdict.failedGate] ?? 0) + 1;
    if (candidate.expectedGate && verdict.failedGate === candidate.expectedGate) rejectedAsExpected += 1;
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    corpus: verdicts.length,
    contained: verdicts.length,
    rejected: verdicts.filter(({ verdict }) => !verdict.accepted).length,
    rejectedAsExpected: verdicts.some(({ candidate }) => candidate.expectedGate) ? rejectedAsExpected : null,
    byGate,
    candidatesPerMinute: round((verdicts.length / wallSeconds) * 60),
    wallSeconds: round(wallSeconds),
    gateSeconds: Object.fromEntries(Object.entries(gateSeconds).map(([k, v]) => [k, round(v)])) as unknown as GateSeconds,
  };
}

function toolConfinement(verdicts: Array<{ verdict: GauntletVerdict }>): Confinement | null {
  for (const { verdict } of verdicts) {
    const compile = verdict.gates.find((gate) => gate.gate === 'compile');
    const confinement = (compile?.details as { confinement?: Confinement | null } | undefined)?.confinement;
    if (confinement) return confinement;
  }
  return null;
}

function checkCosts(verdicts: Array<{ verdict: GauntletVerdict }>): CheckCost[] {
  const overheads = verdicts.flatMap(({ verdict }) => verdict.benchmark?.overhead ?? []);
  const lattices = [...new Set(overheads.map((o) => o.lattice))];
  const round = (x: number) => Math.round(x * 10) / 10;
  return lattices.map((lattice) => {
    const of = overheads.filter((o) => o.lattice === lattice);
    return {
      lattice,
      roundTripUs: round(median(of.map((o) => o.roundTripUs))),
      checkUsPerSample: round(median(of.map((o) => o.checkUsPerSample))),
      copyUsPerCommand: round(median(of.map((o) => o.copyUsPerCommand))),
      sampleUs: round(median(of.map((o) => o.sampleUs))),
    };
  });
}

/** The layers a kernel host reports once it has confined itself, from a host serving the reference kernel. */
async function kernelHostLayers(): Promise<KernelHostLayer[]> {
  const lat = new Lattice({ extents: [64, 64], dt: 0.5, sharedState: true });
  try {
    const id = await lat.loadConfinedModule(kernelModulePath('reference'));
    return (lat.moduleInfo(id) as ConfinedModuleInfo).layers;
  } finally {
    lat.close();
  }
}

export async function benchSandbox(options: BenchRunOptions): Promise<SandboxBenchReport> {
  const pool = new GauntletPool();
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-bench-sandbox-'));
  try {
    options.onProgress('hostile corpus');
    const hostile = await runCorpus(gauntletHostileCorpus(), pool, cacheDir, HOSTILE_CPU_SECONDS, options.onProgress);
    const copies = options.quick ? 6 : 30;
    options.onProgress(`${copies} correct variants, uncached compiles`);
    const fresh = await runCorpus(variants(copies), pool, cacheDir, undefined, options.onProgress);
    options.onProgress(`${copies} correct variants, cached compiles`);
    const cached = await runCorpus(variants(copies), pool, cacheDir, undefined, options.onProgress);
    const summary = summarise(fresh.verdicts, fresh.wallSeconds);
    return {
      threads: pool.threads,
      hostile: summarise(hostile.verdicts, hostile.wallSeconds),
      variants: {
        ...summary,
        cachedCandidatesPerMinute: summarise(cached.verdicts, cached.wallSeconds).candidatesPerMinute,
        improves: [...new Set(fresh.verdicts.filter(({ verdict }) => verdict.improves).map(({ candidate }) => candidate.name.split('#')[0]!))],
      },
      isolation: fresh.verdicts.find(({ verdict }) => verdict.isolation.length > 0)?.verdict.isolation ?? [],
      toolIsolation: toolConfinement(fresh.verdicts),
      liveIsolation: await kernelHostLayers(),
      checks: checkCosts(fresh.verdicts),
    };
  } finally {
    await pool.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

export function formatSandboxReport(report: SandboxBenchReport): string {
  const line = (name: string, r: CorpusReport) =>
    `${name.padEnd(9)} corpus ${r.corpus}, contained ${r.contained}, rejected ${r.rejected}` +
    `${r.rejectedAsExpected === null ? '' : ` (${r.rejectedAsExpected} by the expected gate)`}, ` +
    `${r.candidatesPerMinute} candidates/min; by gate ${JSON.stringify(r.byGate)}; gate seconds ${JSON.stringify(r.gateSeconds)}`;
  return [
    `gauntlet on ${report.threads} threads`,
    line('hostile', report.hostile),
    line('variants', report.variants),
    `variants with cached compiles: ${report.variants.cachedCandidatesPerMinute} candidates/min; faster than the incumbent: ${report.variants.improves.join(', ') || 'none'}`,
    `isolation: ${report.isolation.map((l) => `${l.name}${l.active ? '' : ' (off)'}`).join(', ')}`,
    // Whether the benchmark timed the kernels on the huge pages the live lattice uses, with the figures.
    ...report.isolation.filter((l) => l.name === 'pages').map((l) => `pages: ${l.detail}`),
    `tools: ${report.toolIsolation === null ? 'no compile ran' : `landlock ${report.toolIsolation.landlock} (ABI ${report.toolIsolation.landlockAbi ?? 'none'}), namespaces ${report.toolIsolation.namespaces.join('/') || 'none'}, no_new_privs ${report.toolIsolation.noNewPrivs ? 'on' : 'off'}, ${report.toolIsolation.memoryMiB} MiB`}`,
    `live kernel host: ${report.liveIsolation.map((l) => `${l.name}${l.active ? '' : ' (off)'}`).join(', ')}`,
    ...report.checks.map(
      (c) =>
        `${c.lattice}: channel round trip ${c.roundTripUs} us, buffer copies ${c.copyUsPerCommand} us per command, probe ${c.checkUsPerSample} us per sample of ${c.sampleUs} us`,
    ),
  ].join('\n');
}
