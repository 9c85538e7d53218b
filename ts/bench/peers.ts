/**
 * `ouroboros bench peers`: the live best kernel against the tools a user
 * would pick instead, measured side by side, interleaved, in one run.
 *
 * Per case (default 4096^2 f64, 4096^2 f32, 256^3 f64), `rounds` rounds, the
 * contenders in an order rotated each round; a row's MLUPS is its median:
 * - evolved: the best applied step kernel of `--archive` (or `--kernel`, or
 *   without either the fastest shipped kernel, rows), run as the product
 *   runs it: swapped into a Lattice and stepped by its runner (lat.run), so
 *   it gets whatever steps per call the runner hands kernels;
 * - reference: the shipped rows and reference kernels, the same way;
 * - peer: the shipped C baseline (bench/peers/sweep.cpp, one OpenMP sweep
 *   per step, built here with -O3 -march=native), and with `--python` numba
 *   and Devito (interior update only: Devito has no periodic boundaries).
 *   Each peer first runs a check run whose values at chosen cells must match
 *   the Rust oracle; one that does not is reported and never sets the bar.
 * Per case also: inCacheMlups (the fastest of the evolved kernel and the C
 * baseline on a lattice whose three levels fit in L2), the STREAM triad and
 * in-place probes and the rooflines they give, and evolved over the best
 * verified single-sweep peer against the target.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kernelModulePath } from '../../native/loader.js';
import { Archive } from '../archive/archive.js';
import type { AttemptRecord } from '../archive/types.js';
import { kernelName, validateGenome } from '../generators/variant/index.js';
import { Lattice } from '../lattice/lattice.js';
import { sleepMs } from '../engine/watch.js';
import {
  type MissingPeer,
  type PeerOutput,
  type PeerRunArgs,
  buildSweepPeer,
  checkAgainstOracle,
  isMissing,
  probeMemory,
  runPythonPeer,
  runSweepPeer,
} from './peer-processes.js';
import {
  type CaseMeasurement,
  type ContenderMeasurement,
  type PeerCase,
  type PeerCaseReport,
  type PeerKind,
  type RatioTarget,
  caseReport,
  checkCells,
  inCacheExtents,
  initialLevel,
  missingPeers,
  PYTHON_PEERS,
  parseCacheSize,
  roundOrder,
} from './peers-report.js';
import type { BenchRunOptions } from './suites.js';
import { median } from '../util/median.js';

export interface PeersBenchReport {
  benchmark: 'peers';
  date: string;
  machine: { cpu: string; cores: number; node: string; l2Bytes: number; loadAverage: number[] };
  rounds: number;
  secondsPerMeasurement: number;
  threads: number;
  /** Which kernel the evolved rows are, and where it came from. */
  evolved: { name: string; source: 'archive' | 'kernel' | 'shipped'; file: string; attemptId: number | null; genome: Record<string, unknown> | null };
  python: string | null;
  /** Peers that could not run, and why (no --python, a package missing from it). */
  missingPeers: { name: string; reason: string }[];
  notes: string[];
  cases: PeerCaseReport[];
  /** evolvedOverBestSweepPeer of each case, keyed "4096x4096 f64". */
  targets: Record<string, RatioTarget>;
}

export const DEFAULT_PEER_CASES: PeerCase[] = [
  { extents: [4096, 4096], precision: 'f64' },
  { extents: [4096, 4096], precision: 'f32' },
  { extents: [256, 256, 256], precision: 'f64' },
];

const QUICK_PEER_CASES: PeerCase[] = [
  { extents: [256, 256], precision: 'f64' },
  { extents: [256, 256], precision: 'f32' },
  { extents: [32, 32, 32], precision: 'f64' },
];

const MiB = 1024 * 1024;
/** The initial state's seed: any, as long as the check runs and the oracle share it. */
const STATE_SEED = 1;
/** Steps of a check run: enough for a wrong wrap or stencil to reach the checked cells, cheap for the oracle. */
const CHECK_STEPS: Record<number, number> = { 1: 101, 2: 33, 3: 9 };
const DEVITO_NOTE = 'Devito has no periodic boundaries: interior update only (checked on interior cells)';
const L2_SYSFS = '/sys/devices/system/cpu/cpu0/cache/index2/size';
/** L2 assumed when sysfs does not say: the smallest of current x86 server cores. */
const FALLBACK_L2_BYTES = 512 * 1024;

interface Plan {
  cases: PeerCase[];
  rounds: number;
  seconds: number;
  probeBytesPerArray: number;
  probeRepetitions: number;
}

function plan(options: BenchRunOptions): Plan {
  const quick = options.quick;
  let cases = quick ? QUICK_PEER_CASES : DEFAULT_PEER_CASES;
  if (options.lattice !== undefined) cases = [{ extents: options.lattice, precision: options.precision ?? 'f64' }];
  else if (options.precision !== undefined) cases = cases.filter((c) => c.precision === options.precision);
  return {
    cases,
    rounds: quick ? 2 : 5,
    seconds: quick ? 0.3 : 2,
    probeBytesPerArray: quick ? 16 * MiB : 256 * MiB,
    probeRepetitions: quick ? 3 : 10,
  };
}

/** This machine's L2 per core, from sysfs. */
export function l2Bytes(): number {
  try {
    return parseCacheSize(readFileSync(L2_SYSFS, 'utf8')) ?? FALLBACK_L2_BYTES;
  } catch {
    return FALLBACK_L2_BYTES;
  }
}

function courant2Of(extents: number[]): number {
  const dt = 0.5 / Math.sqrt(extents.length);
  return dt * dt;
}

/** The best applied step kernel of an archive: applied or superseded, with a module, highest speedup. */
export function bestAppliedStepKernel(records: readonly AttemptRecord[]): AttemptRecord | null {
  let best: AttemptRecord | null = null;
  for (const record of records) {
    if (record.slot !== 'step' || !['applied', 'superseded'].includes(record.status)) continue;
    if (record.modulePath === null || record.speedup === null) continue;
    if (best === null || record.speedup > best.speedup!) best = record;
  }
  return best;
}

/** The variant's kernel name when its genome renders one, else the attempt's number. */
function moduleName(record: AttemptRecord): string {
  try {
    return record.genome === null ? `attempt-${record.id}` : kernelName(validateGenome(record.genome));
  } catch {
    return `attempt-${record.id}`;
  }
}

function evolvedKernel(options: BenchRunOptions): PeersBenchReport['evolved'] {
  if (options.kernel !== undefined) {
    if (!existsSync(options.kernel)) throw new Error(`--kernel ${options.kernel}: no such file`);
    return { name: path.basename(options.kernel, '.so'), source: 'kernel', file: options.kernel, attemptId: null, genome: null };
  }
  if (options.archive !== undefined) {
    if (!existsSync(options.archive)) throw new Error(`--archive ${options.archive}: no such file`);
    const archive = Archive.open(options.archive);
    try {
      const best = bestAppliedStepKernel(archive.list());
      if (best === null) throw new Error(`--archive ${options.archive} holds no applied step kernel with a module`);
      if (!existsSync(best.modulePath!)) throw new Error(`attempt #${best.id} of ${options.archive}: its module ${best.modulePath} is gone`);
      return { name: moduleName(best), source: 'archive', file: best.modulePath!, attemptId: best.id, genome: best.genome };
    } finally {
      archive.close();
    }
  }
  return { name: 'rows', source: 'shipped', file: kernelModulePath('rows'), attemptId: null, genome: null };
}

/** One way to measure a contender once, for `seconds`. */
interface Contender {
  name: string;
  kind: PeerKind;
  singleSweep: boolean;
  measure(seconds: number): Promise<number>;
  verified: boolean | null;
  note?: string;
}

/** MLUPS of `moduleId` stepped by the lattice's runner for `seconds`: the product's own path. */
export async function runnerMlups(lattice: Lattice, moduleId: number, seconds: number): Promise<number> {
  await lattice.swap('step', moduleId);
  const running = lattice.run();
  await sleepMs(seconds * 1e3);
  await lattice.stop();
  const summary = await running;
  if (summary.error !== null) throw new Error(`${lattice.kernelName} failed on ${lattice.extents.join('x')}: ${summary.error}`);
  return summary.runNs > 0 ? (summary.stepsRun * lattice.cells) / (summary.runNs / 1e3) : 0;
}

function newLattice(peerCase: PeerCase): Lattice {
  const lattice = new Lattice({ extents: peerCase.extents, dt: 0.5 / Math.sqrt(peerCase.extents.length), precision: peerCase.precision });
  const cells = lattice.cells;
  lattice.setState(initialLevel(cells, 0, STATE_SEED, peerCase.precision), initialLevel(cells, 1, STATE_SEED, peerCase.precision));
  return lattice;
}

interface Context {
  executable: string;
  python: string | null;
  threads: number;
  cacheDir: string;
  missing: Map<string, string>;
  log: (message: string) => void;
}

function runArgs(peerCase: PeerCase, extra: Partial<PeerRunArgs>): PeerRunArgs {
  return { extents: peerCase.extents, precision: peerCase.precision, courant2: courant2Of(peerCase.extents), seed: STATE_SEED, ...extra };
}

/** A check run of a peer: null when its Python lacks the package (recorded in `missing`). */
async function checkedPeer(
  name: string,
  run: (args: PeerRunArgs) => Promise<PeerOutput | MissingPeer>,
  peerCase: PeerCase,
  periodic: boolean,
  context: Context,
): Promise<{ verified: boolean; note?: string } | null> {
  const steps = CHECK_STEPS[peerCase.extents.length]!;
  const cells = checkCells(peerCase.extents, steps, periodic);
  context.log(`${name} ${peerCase.extents.join('x')} ${peerCase.precision}: check run of ${steps} steps against the oracle`);
  const output = await run(runArgs(peerCase, { steps, cells }));
  if (isMissing(output)) {
    context.missing.set(output.missing, output.reason);
    return null;
  }
  const check = checkAgainstOracle(output, cells, courant2Of(peerCase.extents), STATE_SEED);
  if (!check.ok) context.log(`${name}: WRONG: ${check.reason}`);
  return check.ok ? { verified: true } : { verified: false, note: `differs from the oracle: ${check.reason}` };
}

async function peerContenders(peerCase: PeerCase, context: Context): Promise<Contender[]> {
  const contenders: Contender[] = [];
  const sweep = (args: PeerRunArgs) => runSweepPeer(context.executable, args, context.threads);
  const c = await checkedPeer('C baseline', sweep, peerCase, true, context);
  contenders.push({
    name: 'C/OpenMP single sweep (bench/peers/sweep.cpp)',
    kind: 'peer',
    singleSweep: true,
    verified: c!.verified,
    ...(c!.note === undefined ? {} : { note: c!.note }),
    measure: async (seconds) => (await sweep(runArgs(peerCase, { seconds }))).mlups,
  });
  if (context.python === null) return contenders;
  const python = context.python;
  for (const peer of PYTHON_PEERS) {
    if (context.missing.has(peer)) continue;
    const run = (args: PeerRunArgs) => runPythonPeer(python, peer, args, context.threads, context.cacheDir);
    const checked = await checkedPeer(peer, run, peerCase, peer !== 'devito', context);
    if (checked === null) continue;
    const notes = [peer === 'devito' ? DEVITO_NOTE : null, checked.note ?? null].filter((n) => n !== null);
    contenders.push({
      name: peer === 'numba' ? 'numba parallel=True' : "Devito opt='advanced' OpenMP",
      kind: 'peer',
      singleSweep: true,
      verified: checked.verified,
      ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
      measure: async (seconds) => {
        const output = await run(runArgs(peerCase, { seconds }));
        if (isMissing(output)) throw new Error(`${peer} went missing from ${python} during the run`);
        return output.mlups;
      },
    });
  }
  return contenders;
}

async function latticeContenders(lattice: Lattice, evolved: PeersBenchReport['evolved']): Promise<Contender[]> {
  const kernels: { name: string; kind: PeerKind; file: string; note?: string }[] = [
    {
      name: `evolved: ${evolved.name}`,
      kind: 'evolved',
      file: evolved.file,
      ...(evolved.source === 'shipped' ? { note: 'no --archive or --kernel: the fastest shipped kernel' } : {}),
    },
  ];
  if (evolved.source !== 'shipped') kernels.push({ name: 'rows (shipped)', kind: 'reference', file: kernelModulePath('rows') });
  kernels.push({ name: 'reference (shipped)', kind: 'reference', file: kernelModulePath('reference') });
  const contenders: Contender[] = [];
  for (const kernel of kernels) {
    const id = await lattice.loadModule(kernel.file);
    contenders.push({
      name: kernel.name,
      kind: kernel.kind,
      singleSweep: false,
      verified: null,
      note: [kernel.note, "stepped by the lattice's runner (lat.run)"].filter((n) => n !== undefined).join('; '),
      measure: (seconds) => runnerMlups(lattice, id, seconds),
    });
  }
  return contenders;
}

async function measureCase(peerCase: PeerCase, p: Plan, evolved: PeersBenchReport['evolved'], l2: number, context: Context): Promise<CaseMeasurement> {
  const label = `${peerCase.extents.join('x')} ${peerCase.precision}`;
  context.log(`${label}: memory probes, 3 x ${p.probeBytesPerArray / MiB} MiB`);
  const memory = await probeMemory(context.executable, p.probeBytesPerArray, p.probeRepetitions, context.threads);
  const smallCase = { extents: inCacheExtents(peerCase.extents.length, peerCase.precision, l2), precision: peerCase.precision };
  const lattice = newLattice(peerCase);
  const small = newLattice(smallCase);
  try {
    const contenders = [...(await latticeContenders(lattice, evolved)), ...(await peerContenders(peerCase, context))];
    const evolvedSmall = await small.loadModule(evolved.file);
    const inCache = [
      { kernel: `evolved: ${evolved.name}`, measure: (seconds: number) => runnerMlups(small, evolvedSmall, seconds) },
      {
        kernel: 'C/OpenMP single sweep',
        measure: async (seconds: number) => (await runSweepPeer(context.executable, runArgs(smallCase, { seconds }), context.threads)).mlups,
      },
    ].map((c) => ({ ...c, name: `in cache (${smallCase.extents.join('x')}): ${c.kernel}` }));
    const entries = [...contenders, ...inCache];
    const roundMlups = new Map<string, number[]>(entries.map((c) => [c.name, []]));
    for (let round = 0; round < p.rounds; round++) {
      for (const entry of roundOrder(entries, round)) {
        context.log(`${label} round ${round + 1}/${p.rounds}: ${entry.name}`);
        roundMlups.get(entry.name)!.push(await entry.measure(p.seconds));
      }
    }
    const fastestInCache = inCache.map((c) => ({ kernel: c.kernel, mlups: median(roundMlups.get(c.name)!, 0) })).reduce((a, b) => (b.mlups > a.mlups ? b : a));
    return {
      ...peerCase,
      contenders: contenders.map((c): ContenderMeasurement => ({
        name: c.name,
        kind: c.kind,
        singleSweep: c.singleSweep,
        roundMlups: roundMlups.get(c.name)!,
        verified: c.verified,
        ...(c.note === undefined ? {} : { note: c.note }),
      })),
      inCache: { extents: smallCase.extents, ...fastestInCache },
      ...memory,
    };
  } finally {
    lattice.close();
    small.close();
  }
}

export async function benchPeers(options: BenchRunOptions): Promise<PeersBenchReport> {
  const p = plan(options);
  const log = options.onProgress;
  const threads = os.availableParallelism();
  const cacheDir = path.join(os.tmpdir(), 'ouroboros-peers');
  log(`building the C baseline with ${process.env['CXX'] || 'g++'}`);
  const executable = buildSweepPeer(cacheDir);
  const evolved = evolvedKernel(options);
  const python = options.python ?? null;
  const missing = new Map<string, string>();
  const context: Context = { executable, python, threads, cacheDir, missing, log };
  const l2 = l2Bytes();
  const cases: PeerCaseReport[] = [];
  for (const peerCase of p.cases) cases.push(caseReport(await measureCase(peerCase, p, evolved, l2, context)));
  const cpus = os.cpus();
  const notes = [
    'MLUPS are medians over interleaved rounds with the order rotated each round; on a shared machine the ratios within a case are what count.',
    'evolved and reference rows run through the lattice runner (lat.run), as the product steps its live kernel; peers run as child processes and time themselves.',
    `the C baseline is ${path.join('bench', 'peers', 'sweep.cpp')} built with -O3 -march=native -fopenmp: one sweep per step, wrap peeled, omp simd inner loop, two levels in place.`,
    `OpenMP peers run with OMP_WAIT_POLICY=${process.env['OMP_WAIT_POLICY'] ?? 'passive'}: threads sleep at a barrier, as the product's thread pool does.`,
    ...(python !== null && !missing.has('devito') ? [DEVITO_NOTE] : []),
    ...(python === null ? ['numba and Devito rows are absent: no --python given (CI installs neither).'] : []),
  ];
  return {
    benchmark: 'peers',
    date: new Date().toISOString(),
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version, l2Bytes: l2, loadAverage: os.loadavg() },
    rounds: p.rounds,
    secondsPerMeasurement: p.seconds,
    threads,
    evolved,
    python,
    missingPeers: missingPeers(python, missing),
    notes,
    cases,
    targets: Object.fromEntries(cases.map((c) => [`${c.extents.join('x')} ${c.precision}`, c.evolvedOverBestSweepPeer])),
  };
}

export function formatPeersReport(report: PeersBenchReport): string {
  const lines: string[] = [
    `evolved kernel: ${report.evolved.name} (${report.evolved.source}, ${report.evolved.file}); ${report.rounds} rounds of ${report.secondsPerMeasurement} s, ${report.threads} threads`,
  ];
  for (const c of report.cases) {
    lines.push('', `${c.extents.join('x')} ${c.precision}`);
    lines.push(`  ${'row'.padEnd(46)} ${'kind'.padEnd(9)} ${'MLUPS'.padStart(9)} ${'/best'.padStart(6)}  note`);
    for (const row of c.rows) {
      const flag = row.verified === false ? ' [WRONG]' : '';
      lines.push(
        `  ${row.name.padEnd(46)} ${row.kind.padEnd(9)} ${row.mlups.toFixed(0).padStart(9)} ${row.ratioToBest.toFixed(2).padStart(6)}  ${row.note ?? ''}${flag}`,
      );
    }
    lines.push(
      `  in cache (${c.inCacheExtents.join('x')}, ${c.inCacheKernel}): ${c.inCacheMlups.toFixed(0)} MLUPS; ` +
        `STREAM triad ${c.streamTriadGBs.toFixed(1)} GB/s -> ${c.streamTriadRooflineMlups.toFixed(0)} MLUPS, in-place ${c.inPlaceGBs.toFixed(1)} GB/s -> ${c.inPlaceRooflineMlups.toFixed(0)} MLUPS`,
    );
    const t = c.evolvedOverBestSweepPeer;
    const verdict = t.met === null ? 'no target' : t.met ? 'met' : 'missed';
    lines.push(`  evolved / best single-sweep peer (${t.bestPeer ?? 'none'}): ${t.value?.toFixed(2) ?? 'n/a'}x (target ${t.atLeast ?? 'none'}: ${verdict})`);
  }
  if (report.missingPeers.length > 0) lines.push('', ...report.missingPeers.map((m) => `missing ${m.name}: ${m.reason}`));
  lines.push('', ...report.notes);
  return lines.join('\n');
}
