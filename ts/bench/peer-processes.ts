/**
 * The peers of `ouroboros bench peers` as child processes: the shipped C
 * baseline (bench/peers/sweep.cpp, compiled here for this host) and the
 * Python peers (bench/peers/*.py, run with the Python the user names).
 * Each prints one JSON object; a peer's values at the cells it was asked for
 * are checked against the Rust oracle before its speed may set the bar.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Precision } from '../../native/addon-types.js';
import { oracleAddon, packageRoot } from '../../native/loader.js';
import { type PYTHON_PEERS, type SampleCheck, compareSamples, initialLevel } from './peers-report.js';

export const PEERS_DIR = path.join(packageRoot, 'bench', 'peers');

/** What every peer prints (a missing Python package prints { missing, reason } instead). */
export interface PeerOutput {
  extents: number[];
  precision: Precision;
  threads: number;
  /** Steps from the initial state, the untimed first one included: what the oracle repeats. */
  steps: number;
  timedSteps: number;
  seconds: number;
  mlups: number;
  samples: { cell: number; value: number }[];
  note?: string;
}

export interface MissingPeer {
  missing: string;
  reason: string;
}

export interface PeerRunArgs {
  extents: number[];
  precision: Precision;
  courant2: number;
  seed: number;
  /** Exactly this many steps, or steps for `seconds`. */
  steps?: number;
  seconds?: number;
  cells?: number[];
}

/** Flags the C baseline is built with: what a user who wants speed from plain C would pass. */
export const SWEEP_FLAGS = ['-O3', '-march=native', '-fopenmp', '-std=c++17'];

/**
 * Builds bench/peers/sweep.cpp with $CXX (default g++) into `cacheDir`, named
 * by the hash of its source, flags and compiler, and returns the executable.
 */
export function buildSweepPeer(cacheDir = path.join(os.tmpdir(), 'ouroboros-peers')): string {
  const compiler = process.env['CXX'] || 'g++';
  const source = path.join(PEERS_DIR, 'sweep.cpp');
  const version = spawnSync(compiler, ['--version'], { encoding: 'utf8' });
  if (version.error) {
    throw new Error(
      `bench peers builds its C baseline (${source}) with ${compiler} ${SWEEP_FLAGS.join(' ')}; ${compiler} could not be run ` +
        `(${version.error.message}): install g++ with OpenMP, or set CXX to a compiler that has it`,
    );
  }
  const key = createHash('sha256').update(readFileSync(source)).update(SWEEP_FLAGS.join(' ')).update(version.stdout).digest('hex').slice(0, 16);
  const executable = path.join(cacheDir, `sweep-${key}`);
  if (existsSync(executable)) return executable;
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${executable}.${process.pid}.tmp`;
  const build = spawnSync(compiler, [...SWEEP_FLAGS, source, '-o', partial], { encoding: 'utf8' });
  if (build.error || build.status !== 0) {
    throw new Error(`${compiler} ${SWEEP_FLAGS.join(' ')} ${source} failed: ${build.error?.message ?? build.stderr.trim()}`);
  }
  renameSync(partial, executable);
  return executable;
}

function peerArgs(args: PeerRunArgs): string[] {
  return [
    '--extents',
    args.extents.join(','),
    '--precision',
    args.precision,
    '--courant2',
    String(args.courant2),
    '--seed',
    String(args.seed),
    ...(args.steps !== undefined ? ['--steps', String(args.steps)] : ['--seconds', String(args.seconds ?? 1)]),
    ...(args.cells && args.cells.length > 0 ? ['--cells', args.cells.join(',')] : []),
  ];
}

/** Runs a peer command; resolves with the JSON object it printed last. */
function runJson(command: string, argv: string[], env: NodeJS.ProcessEnv, what: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => reject(new Error(`${what}: could not run ${command}: ${error.message}`)));
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`${what} exited with ${code}: ${stderr.trim().split('\n').slice(-10).join('\n')}`));
        return;
      }
      resolve(JSON.parse(line));
    });
  });
}

function peerEnv(threads: number, cacheDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    // Threads that sleep at a barrier, as the product's pool does (condition
    // variables): libgomp's default spin-wait loses whole time slices when the
    // cores are shared, 3 against 1000+ MLUPS at 256^2 f32 on this 2-core VM at load 10.
    OMP_WAIT_POLICY: process.env['OMP_WAIT_POLICY'] ?? 'passive',
    NUMBA_NUM_THREADS: String(threads),
    // The Python peers' caches stay out of the repository.
    NUMBA_CACHE_DIR: path.join(cacheDir, 'numba'),
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

export function runSweepPeer(executable: string, args: PeerRunArgs, threads: number): Promise<PeerOutput> {
  return runJson(executable, peerArgs(args), peerEnv(threads, path.dirname(executable)), 'the C baseline') as Promise<PeerOutput>;
}

export type PythonPeer = (typeof PYTHON_PEERS)[number];

export function runPythonPeer(python: string, peer: PythonPeer, args: PeerRunArgs, threads: number, cacheDir: string): Promise<PeerOutput | MissingPeer> {
  const script = path.join(PEERS_DIR, `${peer}_sweep.py`);
  return runJson(python, [script, ...peerArgs(args)], peerEnv(threads, cacheDir), `${peer} (${python})`) as Promise<PeerOutput | MissingPeer>;
}

export function isMissing(output: PeerOutput | MissingPeer): output is MissingPeer {
  return 'missing' in output;
}

/** The oracle's values at `cells` after `steps` steps from the bench's initial state, against the peer's. */
export function checkAgainstOracle(output: PeerOutput, cells: number[], courant2: number, seed: number): SampleCheck {
  const { extents, precision, steps } = output;
  const count = extents.reduce((a, b) => a * b, 1);
  const previous = initialLevel(count, 0, seed, precision);
  const current = initialLevel(count, 1, seed, precision);
  const at = Float64Array.from(cells);
  const oracle = oracleAddon();
  const expected =
    precision === 'f64'
      ? oracle.stepAtCellsF64(previous as Float64Array, current as Float64Array, extents, courant2, steps, at)
      : oracle.stepAtCellsF32(previous as Float32Array, current as Float32Array, extents, courant2, steps, at);
  return compareSamples(output.samples, cells, expected, precision, steps);
}

/** Memory bandwidth by the C baseline's probes: STREAM triad and the in-place a = s a + b, 24 bytes counted each. */
export async function probeMemory(
  executable: string,
  bytesPerArray: number,
  repetitions: number,
  threads: number,
): Promise<{ streamTriadGBs: number; inPlaceGBs: number }> {
  const argv = ['--probe', '--bytes', String(bytesPerArray), '--repetitions', String(repetitions)];
  const result = (await runJson(executable, argv, peerEnv(threads, path.dirname(executable)), 'the memory probe')) as {
    streamTriadGBs: number;
    inPlaceGBs: number;
  };
  return { streamTriadGBs: result.streamTriadGBs, inPlaceGBs: result.inPlaceGBs };
}
