/**
 * `ouroboros bench kernels`: the reference kernel against the machine's memory
 * bandwidth and against the TypeScript peer, all measured in one run.
 *
 * Native kernels are timed inside native code (Lattice.lastStepNs); the
 * JavaScript side (the TypeScript peer, the N-API call) with Benchmark.js.
 */
import os from 'node:os';
import type { Precision } from '../../native/addon-types.js';
import { coreAddon } from '../../native/loader.js';
import { Lattice } from '../lattice/lattice.js';
import { randomState } from '../lattice/initial-conditions.js';
import type { BenchRunOptions } from './suites.js';
import { TypeScriptPeer2d } from './typescript-peer.js';
import { median } from '../util/median.js';

/** Bytes one lattice update moves: read u^n and u^{n-1}, write u^{n+1} in place. */
export const BYTES_PER_UPDATE: Record<Precision, number> = { f64: 24, f32: 12 };

/** The MLUPS a memory bandwidth of `gbPerSecond` allows at `precision`: the stencil's roofline. */
export function rooflineMlupsOf(gbPerSecond: number, precision: Precision): number {
  return (gbPerSecond * 1e9) / BYTES_PER_UPDATE[precision] / 1e6;
}

export interface KernelRow {
  name: string;
  extents: number[];
  precision: Precision;
  mlups: number;
  /** mlups / the roofline for this precision. */
  rooflineFraction: number;
  stateBytes: number;
}

export interface DriftRow {
  dimensions: number;
  extents: number[];
  precision: Precision;
  steps: number;
  energyDrift: number;
}

export interface KernelBenchReport {
  benchmark: 'kernels';
  date: string;
  machine: { cpu: string; cores: number; node: string };
  bytesPerUpdate: Record<Precision, number>;
  streamTriadGBs: number;
  streamTriadThreads: number;
  /** Upper bound for f64 lattice updates per second (millions) that memory bandwidth allows. */
  rooflineMlups: number;
  rows: KernelRow[];
  napiStepCall: { extents: number[]; callUs: number; kernelUs: number; overheadUs: number };
  energyDrift: DriftRow[];
}

interface Plan {
  streamBytesPerArray: number;
  lattices: { extents: number[]; precision: Precision }[];
  driftSteps: number;
  driftCases: number[][];
  sampleSeconds: number;
}

const MiB = 1024 * 1024;

function plan(quick: boolean): Plan {
  const driftCases = [[16384], [128, 128], [32, 32, 32], new Array<number>(9).fill(3)];
  if (quick) {
    return {
      streamBytesPerArray: 16 * MiB,
      lattices: [{ extents: [64, 64], precision: 'f64' }],
      driftSteps: 100,
      driftCases,
      sampleSeconds: 0.02,
    };
  }
  return {
    // Three 256 MiB arrays: far beyond the 32 MB L3.
    streamBytesPerArray: 256 * MiB,
    lattices: [
      { extents: [256, 256], precision: 'f64' },
      { extents: [2048, 2048], precision: 'f64' },
      { extents: [2048, 2048], precision: 'f32' },
    ],
    driftSteps: 100_000,
    driftCases,
    sampleSeconds: 0.25,
  };
}

/** Median MLUPS of the live kernel over five samples of about `sampleSeconds` each. */
function measureNative(lattice: Lattice, sampleSeconds: number): number {
  lattice.step(1);
  const stepsPerSample = Math.max(1, Math.round((sampleSeconds * 1e9) / Math.max(lattice.lastStepNs, 1)));
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    lattice.step(stepsPerSample);
    samples.push((lattice.cells * stepsPerSample) / (lattice.lastStepNs / 1e3));
  }
  return median(samples);
}

type BenchmarkClass = typeof import('benchmark');

/**
 * Benchmark.js is a devDependency: it is loaded when this suite runs, not when
 * the CLI (or `ouroboros run`, which uses rooflineMlupsOf) starts.
 */
async function loadBenchmark(): Promise<BenchmarkClass> {
  try {
    return (await import('benchmark')).default;
  } catch {
    throw new Error('bench kernels needs the package "benchmark" (a devDependency): run it from a clone after npm install');
  }
}

/** Operations per second of `fn`, measured by Benchmark.js. */
function benchmarkHz(Benchmark: BenchmarkClass, name: string, fn: () => void, maxTime: number): number {
  const bench = new Benchmark(name, { fn, maxTime, minSamples: 5 });
  bench.run();
  if (bench.error) throw bench.error;
  return bench.hz;
}

function stateBytes(extents: number[], precision: Precision): number {
  return 3 * extents.reduce((a, b) => a * b, 1) * (precision === 'f64' ? 8 : 4);
}

function kernelRows(Benchmark: BenchmarkClass, p: Plan, roofline: number, log: (m: string) => void): KernelRow[] {
  const rows: KernelRow[] = [];
  for (const { extents, precision } of p.lattices) {
    const roof = (roofline * BYTES_PER_UPDATE.f64) / BYTES_PER_UPDATE[precision];
    const dimensions = extents.length;
    const lattice = new Lattice({ extents, dt: 0.5 / Math.sqrt(dimensions), precision });
    const state = randomState(lattice, 7);
    lattice.setState(state.previous, state.current);
    log(`reference kernel ${extents.join('x')} ${precision}`);
    const native = measureNative(lattice, p.sampleSeconds);
    const courant2 = lattice.courantNumber ** 2;
    lattice.close();
    const row = (name: string, mlups: number): KernelRow => ({
      name,
      extents,
      precision,
      mlups,
      rooflineFraction: mlups / roof,
      stateBytes: stateBytes(extents, precision),
    });
    rows.push(row('reference (native, public API)', native));
    if (dimensions === 2) {
      log(`TypeScript peer ${extents.join('x')} ${precision}`);
      const peer = new TypeScriptPeer2d(extents[0]!, extents[1]!, courant2, state.previous, state.current);
      const hz = benchmarkHz(Benchmark, 'typescript peer', () => peer.step(), p.sampleSeconds * 8);
      rows.push(row('typescript typed-array peer', (hz * lattice.cells) / 1e6));
    }
  }
  return rows;
}

function napiStepCall(Benchmark: BenchmarkClass, p: Plan): KernelBenchReport['napiStepCall'] {
  const extents = [3];
  const lattice = new Lattice({ extents, dt: 0.5 });
  const hz = benchmarkHz(Benchmark, 'lat.step(1)', () => lattice.step(1), p.sampleSeconds * 8);
  let kernelNs = 0;
  const calls = 10_000;
  for (let i = 0; i < calls; i++) {
    lattice.step(1);
    kernelNs += lattice.lastStepNs;
  }
  lattice.close();
  const callUs = 1e6 / hz;
  const kernelUs = kernelNs / calls / 1e3;
  return { extents, callUs, kernelUs, overheadUs: callUs - kernelUs };
}

function driftRows(p: Plan, log: (m: string) => void): DriftRow[] {
  const cases: { extents: number[]; precision: Precision }[] = [
    ...p.driftCases.map((extents) => ({ extents, precision: 'f64' as const })),
    { extents: [256, 256], precision: 'f32' },
  ];
  return cases.map(({ extents, precision }) => {
    log(`energy drift ${extents.length}-D ${precision}, ${p.driftSteps} steps`);
    const lattice = new Lattice({ extents, dt: 0.9 / Math.sqrt(extents.length), precision });
    const state = randomState(lattice, 11);
    lattice.setState(state.previous, state.current);
    lattice.step(p.driftSteps);
    const drift = Math.abs(lattice.energy() - lattice.initialEnergy) / lattice.initialEnergy;
    lattice.close();
    return { dimensions: extents.length, extents, precision, steps: p.driftSteps, energyDrift: drift };
  });
}

export async function benchKernels(options: BenchRunOptions): Promise<KernelBenchReport> {
  const Benchmark = await loadBenchmark();
  const log = options.onProgress;
  const p = plan(options.quick);
  const threads = os.availableParallelism();
  log(`STREAM triad, 3 x ${p.streamBytesPerArray / MiB} MiB, ${threads} threads`);
  const triad = await coreAddon().streamTriadAsync(p.streamBytesPerArray, options.quick ? 3 : 10, threads);
  const rooflineMlups = rooflineMlupsOf(triad.gbPerSecond, 'f64');
  return {
    benchmark: 'kernels',
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
    bytesPerUpdate: BYTES_PER_UPDATE,
    streamTriadGBs: triad.gbPerSecond,
    streamTriadThreads: triad.threads,
    rooflineMlups,
    rows: kernelRows(Benchmark, p, rooflineMlups, log),
    napiStepCall: napiStepCall(Benchmark, p),
    energyDrift: driftRows(p, log),
  };
}

export function formatKernelReport(report: KernelBenchReport): string {
  const lines = [
    `STREAM triad ${report.streamTriadGBs.toFixed(2)} GB/s (${report.streamTriadThreads} threads); ` +
      `roofline ${report.rooflineMlups.toFixed(0)} MLUPS at ${report.bytesPerUpdate.f64} B/update (f64), ` +
      `${(report.rooflineMlups * 2).toFixed(0)} at ${report.bytesPerUpdate.f32} B/update (f32)`,
    '',
    `${'kernel'.padEnd(32)} ${'lattice'.padEnd(10)} ${'prec'.padEnd(4)} ${'MLUPS'.padStart(9)} ${'roofline'.padStart(9)}`,
    ...report.rows.map(
      (row) =>
        `${row.name.padEnd(32)} ${row.extents.join('x').padEnd(10)} ${row.precision.padEnd(4)} ` +
        `${row.mlups.toFixed(1).padStart(9)} ${(100 * row.rooflineFraction).toFixed(1).padStart(8)}%`,
    ),
    '',
    `N-API lat.step(1) on [${report.napiStepCall.extents}]: ${report.napiStepCall.callUs.toFixed(3)} us per call ` +
      `(kernel ${report.napiStepCall.kernelUs.toFixed(3)} us, overhead ${report.napiStepCall.overheadUs.toFixed(3)} us)`,
    '',
    'energy drift |E_n - E_0| / E_0 (random initial data):',
    ...report.energyDrift.map(
      (row) =>
        `  ${`${row.dimensions}-D`.padEnd(5)} ${row.extents.join('x').padEnd(18)} ${row.precision} ` +
        `${row.steps} steps: ${row.energyDrift.toExponential(2)}`,
    ),
  ];
  return lines.join('\n');
}
