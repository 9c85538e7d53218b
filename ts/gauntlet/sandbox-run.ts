/**
 * Gate 5's process: starts the Rust runner (crates/sandbox), the supervisor
 * that forks one confined worker per kernel, each executing the kernel host's
 * program in its sandbox-worker mode (so a kernel finds the same program
 * calling it as live), as a child with an empty
 * environment, in its own process group, and kills the whole group at the
 * wall-clock limit (the workers die with it: each has PR_SET_PDEATHSIG). Collects its report (stdout) and its progress
 * (`phase <name>` lines on stderr), so that a crash names the last phase.
 */
import { spawn } from 'node:child_process';
import { stagedNativePath } from '../../native/loader.js';
import type { SandboxPriority } from './options.js';
import type { Precision, Slot } from './types.js';

export const RUNNER_NAME = 'ouroboros-sandbox';
const MAX_STDOUT_BYTES = 16 << 20;
const MAX_STDERR_CHARS = 64 * 1024;

/** The staged runner for this target (scripts/build-sandbox.mjs puts it there). */
export function sandboxRunnerPath(): string {
  return stagedNativePath('sandbox', RUNNER_NAME);
}

/** The staged kernel host (ts/modules/kernel-host.ts's `KERNEL_HOST_NAME`; not imported, which would load the core addon), every worker's program. */
export function sandboxWorkerProgramPath(): string {
  return stagedNativePath('kernel-host', 'ouroboros-kernel-host');
}

export interface RunnerOptions {
  runnerPath: string;
  candidatePath: string;
  incumbentPath: string;
  slot: Slot;
  seed: number;
  /** The live lattice's precision: the benchmark and its checks run in it. */
  precision: Precision;
  targetExtents: number[];
  /** null: the runner draws it from the seed, about `heldOutCells` cells. */
  heldOutExtents: number[] | null;
  heldOutCells: number;
  /** The live lattice, checked by the differential at its size; absent or null: the target is the live lattice. */
  liveExtents?: number[] | null;
  /** The live lattice's r^2, at which the live cases of the live kind step; absent or null: drawn. */
  liveCourant2?: number | null;
  /** Steps per wave_step call, the live runner's batch. */
  stepsPerCall: number;
  /** The live runner's longest batch (absent: the runner's default, 64). */
  maxBatchSteps?: number;
  benchSteps: number;
  benchSamples: number;
  /** Timed incumbent samples per lattice, at most benchSamples (default: all of them). */
  incumbentSamples?: number;
  /** Stop timing the incumbent once every candidate sample took at most this fraction of every incumbent sample (default: never early). */
  incumbentStopRatio?: number | null;
  dojoWaves: number;
  /** Threads the runner lends the candidate, the calling thread included. */
  threads: number;
  cpuSeconds: number;
  memoryMiB: number;
  timeoutMs: number;
  /** "idle": the runner and its workers run under SCHED_IDLE (default "normal"). */
  priority?: SandboxPriority;
  /** Aborting it kills the runner's group as the time limit does. */
  signal?: AbortSignal;
  /** The program each worker executes (default: the staged kernel host). */
  workerProgramPath?: string;
}

/** How the runner ended: structured-cloneable, so a worker can interpret it. */
export interface RunnerOutcome {
  stdout: Uint8Array;
  stderr: string;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The last `phase <name>` the runner announced, null if none. */
  lastPhase: string | null;
  seconds: number;
  timeoutMs: number;
}

export function runnerArguments(options: RunnerOptions): string[] {
  return [
    '--candidate',
    options.candidatePath,
    '--incumbent',
    options.incumbentPath,
    '--slot',
    options.slot,
    '--seed',
    String(options.seed),
    '--precision',
    options.precision,
    '--target',
    options.targetExtents.join(','),
    ...(options.heldOutExtents === null ? ['--held-out-cells', String(options.heldOutCells)] : ['--held-out', options.heldOutExtents.join(',')]),
    ...(options.liveExtents ? ['--live', options.liveExtents.join(',')] : []),
    ...(options.liveCourant2 == null ? [] : ['--live-courant2', String(options.liveCourant2)]),
    '--steps-per-call',
    String(options.stepsPerCall),
    ...(options.maxBatchSteps === undefined ? [] : ['--max-batch-steps', String(options.maxBatchSteps)]),
    '--bench-steps',
    String(options.benchSteps),
    '--bench-samples',
    String(options.benchSamples),
    '--incumbent-samples',
    String(options.incumbentSamples ?? options.benchSamples),
    ...(options.incumbentStopRatio == null ? [] : ['--incumbent-stop-ratio', String(options.incumbentStopRatio)]),
    '--dojo-waves',
    String(options.dojoWaves),
    '--threads',
    String(options.threads),
    '--cpu-seconds',
    String(options.cpuSeconds),
    '--memory-mib',
    String(options.memoryMiB),
    '--worker-program',
    options.workerProgramPath ?? sandboxWorkerProgramPath(),
    ...(options.priority === 'idle' ? ['--priority', 'idle'] : []),
  ];
}

export function lastPhaseOf(stderr: string): string | null {
  const phases = [...stderr.matchAll(/^phase (\w[\w-]*)$/gm)];
  return phases.at(-1)?.[1] ?? null;
}

export function runSandbox(options: RunnerOptions): Promise<RunnerOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(options.runnerPath, runnerArguments(options), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: {},
    });
    const chunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let timedOut = false;
    let spawnError: string | null = null;
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    if (options.signal?.aborted) kill();
    else options.signal?.addEventListener('abort', kill, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes <= MAX_STDOUT_BYTES) chunks.push(chunk);
      else kill();
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += text;
    });
    child.on('error', (error) => {
      spawnError = error.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      // The runner's own children die with it (PR_SET_PDEATHSIG); this
      // catches any straggler in its group.
      kill();
      resolve({
        stdout: new Uint8Array(Buffer.concat(chunks)),
        stderr: spawnError ? `could not start ${options.runnerPath}: ${spawnError}` : stderr,
        code,
        signal,
        timedOut,
        lastPhase: lastPhaseOf(stderr),
        seconds: (performance.now() - started) / 1000,
        timeoutMs: options.timeoutMs,
      });
    });
  });
}
