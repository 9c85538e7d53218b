/**
 * The processes of `bench fleet`, each started as
 * `node fleet-children.js <role> <json>`:
 *
 * - `worker`: a FleetWorker whose evaluation burns `evaluationCpuMs` of CPU
 *   (a stand-in for the gauntlet of the same cost: the bench measures the
 *   fleet's delivery, recording and CPU placement, not the gates) and
 *   accepts. It prints "ready" and "started <jobId>" per job, so the bench
 *   kills it with SIGKILL mid-job.
 * - `engine`: steps a live lattice on its own pool while it sends
 *   `candidates` distinct candidates through a FleetEvaluator, then prints
 *   one JSON line: where each was evaluated and the CPU times of its process
 *   tree, split into the lattice pool's threads and everything else.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { MachineFingerprint } from '../archive/types.js';
import { defaultConfig } from '../engine/config.js';
import { createMainLattice } from '../engine/main-lattice.js';
import type { CandidateOptions } from '../gauntlet/options.js';
import type { GauntletVerdict } from '../gauntlet/types.js';
import { type EvaluationRoute, FleetEvaluator } from '../fleet/remote-evaluator.js';
import { FleetWorker } from '../fleet/worker.js';

export interface WorkerChildArgs {
  redisUrl: string;
  fingerprint: MachineFingerprint;
  evaluationCpuMs: number;
  lockMs: number;
}

export interface EngineChildArgs {
  redisUrl: string;
  fingerprint: MachineFingerprint;
  candidates: number;
  /** Makes this run's sources (and so job ids) its own. */
  tag: string;
  extents: number[];
  /** Cut off from the local fallback: a candidate the fleet does not evaluate counts as lost. */
  localFallback: boolean;
  evaluationCpuMs: number;
}

export interface EngineChildReport {
  routes: EvaluationRoute[];
  failures: string[];
  wallMs: number;
  /** CPU seconds over the evaluation phase: the whole process tree, and the lattice pool's threads within it. */
  treeCpuSeconds: number;
  latticeCpuSeconds: number;
  latticeThreads: number;
}

const CLOCK_TICKS_PER_SECOND = 100;
/** The burn loop yields this often so the worker's lock renewals and the abort signal get their turn. */
const BURN_SLICE_MS = 20;

/** Burns `cpuMs` of this thread's CPU, yielding every slice; stops early when the signal aborts. */
async function burnCpu(cpuMs: number, signal: AbortSignal | undefined): Promise<boolean> {
  const start = process.cpuUsage();
  for (;;) {
    if (signal?.aborted) return false;
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= cpuMs) return true;
    const sliceEnd = performance.now() + BURN_SLICE_MS;
    while (performance.now() < sliceEnd);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function syntheticVerdict(interrupted: boolean): GauntletVerdict {
  return {
    interrupted,
    accepted: !interrupted,
    improves: false,
    failedGate: null,
    gates: interrupted ? [] : [{ gate: 'sandbox', passed: true, reason: '', details: { synthetic: true }, seconds: 0 }],
    safetyScore: null,
    compileCached: null,
    isolation: [],
    benchmark: null,
    seconds: 0,
  };
}

function syntheticEvaluation(cpuMs: number): (options: CandidateOptions) => Promise<GauntletVerdict> {
  return async (options) => syntheticVerdict(!(await burnCpu(cpuMs, options.signal)));
}

/** utime + stime of one thread of this process, in seconds. */
function threadCpuSeconds(tid: string): number {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** This process's CPU and its reaped children's, in seconds (/proc/self/stat utime, stime, cutime, cstime). */
function treeCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
}

const threads = () => new Set(readdirSync('/proc/self/task'));

async function runWorker(args: WorkerChildArgs): Promise<void> {
  const worker = await FleetWorker.start({
    redisUrl: args.redisUrl,
    fingerprint: args.fingerprint,
    lockMs: args.lockMs,
    evaluate: syntheticEvaluation(args.evaluationCpuMs),
  });
  worker.on('job-started', (jobId: string) => process.stdout.write(`started ${jobId}\n`));
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
}

async function runEngine(args: EngineChildArgs): Promise<void> {
  const before = threads();
  const lattice = createMainLattice({ ...defaultConfig.lattice, extents: args.extents, threads: 1 });
  const running = lattice.run();
  // The runner's thread exists once the run has taken its first batch.
  const startStep = lattice.stepCount;
  while (lattice.stepCount === startStep) await new Promise((resolve) => setTimeout(resolve, 1));
  const poolThreads = [...threads()].filter((tid) => !before.has(tid));
  const local = async (options: CandidateOptions) => {
    if (!args.localFallback) throw new Error(`not evaluated by the fleet: ${options.source}`);
    return syntheticEvaluation(args.evaluationCpuMs)(options);
  };
  const evaluator = await FleetEvaluator.connect({ redisUrl: args.redisUrl, fingerprint: args.fingerprint, local });
  const routes: EvaluationRoute[] = [];
  evaluator.on('evaluated', (route: EvaluationRoute) => routes.push(route));
  const poolCpu = () => poolThreads.reduce((sum, tid) => sum + threadCpuSeconds(tid), 0);
  const treeAtStart = treeCpuSeconds();
  const latticeAtStart = poolCpu();
  const started = performance.now();
  const sources = Array.from({ length: args.candidates }, (_, i) => `// ${args.tag} candidate ${i}\n`);
  const outcomes = await Promise.allSettled(sources.map((source) => evaluator.evaluate({ source, slot: 'step' })));
  const report: EngineChildReport = {
    routes,
    failures: outcomes
      .filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')
      .map((outcome) => String(outcome.reason?.message ?? outcome.reason)),
    wallMs: performance.now() - started,
    treeCpuSeconds: treeCpuSeconds() - treeAtStart,
    latticeCpuSeconds: poolCpu() - latticeAtStart,
    latticeThreads: poolThreads.length,
  };
  await evaluator.close();
  await lattice.stop();
  await running;
  lattice.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

const [role, json] = process.argv.slice(2);
if (role === 'worker') await runWorker(JSON.parse(json!) as WorkerChildArgs);
else if (role === 'engine') await runEngine(JSON.parse(json!) as EngineChildArgs);
else throw new Error(`role "${role}": must be worker or engine`);
