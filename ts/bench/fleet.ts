/**
 * `ouroboros bench fleet`: one engine process and 1, 2, 3 worker processes
 * on a private Redis on loopback. Per row, the engine sends distinct
 * candidates through the fleet while it steps a live lattice; candidates
 * per minute come from its wall time. Then the chaos phase: workers are
 * killed with SIGKILL as soon as they start a job (a new one is started in
 * each's place; each kill on a different job, since a job whose worker dies
 * more than 3 times is failed by BullMQ as a poison job) until `killTarget`
 * have died, and the engine, cut off from
 * its local fallback, must still get every verdict: `jobsLost` counts those
 * it did not, `duplicateRecords` the jobs recorded more than once (the
 * record log, where a worker appends a job only when its HSETNX into the results hash was the first). The engine's evaluation CPU share is
 * everything its process tree spent outside the lattice pool's threads over
 * its total, an upper bound (the JS thread's own sampling counts as
 * evaluation too). Last, sharing: engine A publishes an improvement and a
 * tampered copy; engine B refuses the copy and adopts the genuine one only
 * after the fleet's evaluation of it accepts it.
 *
 * The workers' evaluation is a CPU burn of the gauntlet's order (see
 * fleet-children.ts): the bench measures the fleet, not the gates.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { machineFingerprint } from '../archive/fingerprint.js';
import { attemptRecord } from '../archive/attempt-record.js';
import { sourceSha256 } from '../archive/canonical-hash.js';
import type { AttemptRecord, MachineFingerprint } from '../archive/types.js';
import { ImprovementExchange, type Refusal } from '../fleet/improvement-exchange.js';
import { DELIVERIES_KEY, RECORD_LOG_KEY } from '../fleet/keys.js';
import { PrivateRedis } from '../fleet/private-servers.js';
import { FleetEvaluator } from '../fleet/remote-evaluator.js';
import { improvementFromRecord, type SharedImprovement } from '../fleet/shared-improvement.js';
import type { EngineChildArgs, EngineChildReport, WorkerChildArgs } from './fleet-children.js';
import type { BenchRunOptions } from './suites.js';

const CHILDREN = fileURLToPath(new URL('./fleet-children.js', import.meta.url));
/** Worker locks: a killed worker's job is back in the queue this long after it died. */
const LOCK_MS = 1_000;

export interface FleetBenchReport {
  settings: { evaluationCpuMs: number; candidatesPerRow: number; chaosCandidates: number; latticeExtents: number[]; cores: number };
  rows: { workers: number; candidatesPerMinute: number; remote: number; local: number }[];
  killedWorkers: number;
  jobsLost: number;
  duplicateRecords: number;
  /** Evaluations of a job completed beyond its first (a job whose lock expired while its worker still ran): recorded once each all the same. */
  repeatedCompletions: number;
  engineEvaluationCpuShare: number;
  sharedAdopted: number;
  sharedRefused: number;
  refusalReasons: string[];
  note: string;
}

interface Settings {
  evaluationCpuMs: number;
  candidatesPerRow: number;
  chaosCandidates: number;
  killTarget: number;
  workerCounts: number[];
  extents: number[];
}

function settingsFor(quick: boolean): Settings {
  return quick
    ? { evaluationCpuMs: 300, candidatesPerRow: 6, chaosCandidates: 6, killTarget: 2, workerCounts: [1, 2], extents: [128, 128] }
    : { evaluationCpuMs: 2_000, candidatesPerRow: 24, chaosCandidates: 30, killTarget: 10, workerCounts: [1, 2, 3], extents: [512, 512] };
}

/** A child of the bench, with its stdout lines as events ('line'). */
function child(
  role: 'worker' | 'engine',
  args: WorkerChildArgs | EngineChildArgs,
): { process: ChildProcess; lines: string[]; waitFor: (prefix: string) => Promise<string> } {
  const proc = spawn(process.execPath, [CHILDREN, role, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop()!;
    for (const line of complete) {
      lines.push(line);
      proc.emit('line', line);
    }
  });
  const waitFor = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const found = lines.find((line) => line.startsWith(prefix));
      if (found !== undefined) return resolve(found);
      const onLine = (line: string) => {
        if (!line.startsWith(prefix)) return;
        proc.off('line', onLine);
        resolve(line);
      };
      proc.on('line', onLine);
      proc.once('exit', (code, signal) => reject(new Error(`${role} exited (${code ?? signal}) before it printed "${prefix}"`)));
    });
  return { process: proc, lines, waitFor };
}

async function startWorker(redisUrl: string, fingerprint: MachineFingerprint, settings: Settings) {
  const worker = child('worker', { redisUrl, fingerprint, evaluationCpuMs: settings.evaluationCpuMs, lockMs: LOCK_MS });
  await worker.waitFor('ready');
  return worker;
}

async function stopWorker(worker: ReturnType<typeof child>): Promise<void> {
  if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
  const exited = once(worker.process, 'exit');
  worker.process.kill('SIGTERM');
  await exited;
}

async function runEngine(args: EngineChildArgs): Promise<EngineChildReport> {
  const engine = child('engine', args);
  const line = await engine.waitFor('{');
  return JSON.parse(line) as EngineChildReport;
}

/** Kills each worker as it starts a job, starting another in its place, until `target` are dead; resolves with the count. */
function chaos(workers: ReturnType<typeof child>[], start: () => Promise<ReturnType<typeof child>>, target: number, done: Promise<unknown>) {
  let killed = 0;
  let finished = false;
  // Each kill on a job not killed before: a job whose workers die more than maxStalledCount times in a row fails as a poison job.
  const killedJobs = new Set<string>();
  void done.finally(() => (finished = true));
  const arm = (worker: ReturnType<typeof child>) => {
    const onLine = (line: string) => {
      if (!line.startsWith('started ') || killed >= target || finished) return;
      const jobId = line.slice('started '.length);
      if (killedJobs.has(jobId)) return;
      killedJobs.add(jobId);
      worker.process.off('line', onLine);
      killed += 1;
      worker.process.kill('SIGKILL');
      void start().then((next) => {
        workers.push(next);
        arm(next);
      });
    };
    worker.process.on('line', onLine);
  };
  workers.forEach(arm);
  return () => killed;
}

function record(id: number, source: string): AttemptRecord {
  const now = new Date().toISOString();
  return attemptRecord({
    id,
    parentId: 1,
    operator: 'bench',
    source,
    sourceSha256: sourceSha256(source),
    benchRatio: 0.8,
    speedup: 1.25,
    status: 'applied',
    createdAt: now,
    finishedAt: now,
  });
}

/** Engine A shares a kernel and a tampered copy; engine B refuses the copy and adopts the kernel once the fleet's evaluation accepts it. */
async function sharing(redisUrl: string, fingerprint: MachineFingerprint, settings: Settings): Promise<{ adopted: number; refused: Refusal[] }> {
  const worker = await startWorker(redisUrl, fingerprint, settings);
  const a = await ImprovementExchange.connect({ redisUrl, engineId: 'bench-engine-A', fingerprint, knownSource: () => false });
  const b = await ImprovementExchange.connect({ redisUrl, engineId: 'bench-engine-B', fingerprint, knownSource: () => false });
  const evaluatorB = await FleetEvaluator.connect({
    redisUrl,
    fingerprint,
    id: 'bench-engine-B',
    local: async () => {
      throw new Error('the bench evaluates shared kernels on the fleet only');
    },
  });
  const refused: Refusal[] = [];
  b.on('refused', (refusal: Refusal) => refused.push(refusal));
  try {
    const genuine = improvementFromRecord(record(1, '// shared kernel\n'), 'bench-engine-A', fingerprint);
    await a.publishRaw(JSON.stringify({ ...genuine, source: '// shared kernel, tampered\n' } satisfies SharedImprovement));
    const received = once(b, 'received');
    await a.publish(record(1, '// shared kernel\n'));
    const [improvement] = (await received) as [SharedImprovement];
    const verdict = await evaluatorB.evaluate({ source: improvement.source, slot: improvement.slot });
    return { adopted: verdict.accepted ? 1 : 0, refused };
  } finally {
    await Promise.all([a.close(), b.close(), evaluatorB.close()]);
    await stopWorker(worker);
  }
}

/** Candidates per minute with each worker count (the engine falls back to local evaluation), and the CPU the engine's process tree and its lattice spent. */
async function scalingRows(redisUrl: string, fingerprint: MachineFingerprint, settings: Settings, onProgress: (message: string) => void) {
  const rows: FleetBenchReport['rows'] = [];
  let treeCpu = 0;
  let latticeCpu = 0;
  for (const count of settings.workerCounts) {
    onProgress(`${count} worker(s), ${settings.candidatesPerRow} candidates`);
    const workers = await Promise.all(Array.from({ length: count }, () => startWorker(redisUrl, fingerprint, settings)));
    const report = await runEngine({
      redisUrl,
      fingerprint,
      candidates: settings.candidatesPerRow,
      tag: `row-${count}`,
      extents: settings.extents,
      localFallback: true,
      evaluationCpuMs: settings.evaluationCpuMs,
    });
    await Promise.all(workers.map(stopWorker));
    const remote = report.routes.filter((route) => route.remote).length;
    rows.push({ workers: count, candidatesPerMinute: settings.candidatesPerRow / (report.wallMs / 60_000), remote, local: report.routes.length - remote });
    treeCpu += report.treeCpuSeconds;
    latticeCpu += report.latticeCpuSeconds;
  }
  return { rows, treeCpu, latticeCpu };
}

/** Workers SIGKILLed mid-job while an engine without a local fallback evaluates: what was lost, recorded twice or completed again. */
async function chaosRun(redisUrl: string, redis: Redis, fingerprint: MachineFingerprint, settings: Settings) {
  const workers = await Promise.all([0, 1].map(() => startWorker(redisUrl, fingerprint, settings)));
  const engine = runEngine({
    redisUrl,
    fingerprint,
    candidates: settings.chaosCandidates,
    tag: 'chaos',
    extents: settings.extents,
    localFallback: false,
    evaluationCpuMs: settings.evaluationCpuMs,
  });
  const killed = chaos(workers, () => startWorker(redisUrl, fingerprint, settings), settings.killTarget, engine);
  const chaosReport = await engine;
  await Promise.all(workers.map(stopWorker));
  const chaosJobs = new Set(chaosReport.routes.filter((route) => route.remote).map((route) => route.jobId));
  const log = await redis.lrange(RECORD_LOG_KEY, 0, -1);
  const chaosRecords = log.filter((jobId) => chaosJobs.has(jobId));
  const deliveries = (await Promise.all([...chaosJobs].map((jobId) => redis.hget(DELIVERIES_KEY, jobId)))).map(Number);
  return {
    killedWorkers: killed(),
    // A candidate the fleet did not answer: the engine had no local fallback, so it failed, or it was never recorded.
    jobsLost: chaosReport.failures.length + [...chaosJobs].filter((jobId) => !chaosRecords.includes(jobId)).length,
    duplicateRecords: chaosRecords.length - new Set(chaosRecords).size,
    repeatedCompletions: deliveries.reduce((sum, count) => sum + Math.max(0, count - 1), 0),
  };
}

export async function benchFleet(options: BenchRunOptions): Promise<FleetBenchReport> {
  const settings = settingsFor(options.quick);
  const fingerprint = await machineFingerprint();
  const server = await PrivateRedis.start();
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  try {
    const { rows, treeCpu, latticeCpu } = await scalingRows(server.url, fingerprint, settings, options.onProgress);
    options.onProgress(`chaos: SIGKILL ${settings.killTarget} workers mid-job over ${settings.chaosCandidates} candidates`);
    const chaosFigures = await chaosRun(server.url, redis, fingerprint, settings);
    options.onProgress('sharing: one genuine improvement, one tampered');
    const shared = await sharing(server.url, fingerprint, settings);
    return {
      settings: {
        evaluationCpuMs: settings.evaluationCpuMs,
        candidatesPerRow: settings.candidatesPerRow,
        chaosCandidates: settings.chaosCandidates,
        latticeExtents: settings.extents,
        cores: (await import('node:os')).availableParallelism(),
      },
      rows,
      ...chaosFigures,
      engineEvaluationCpuShare: treeCpu > 0 ? (treeCpu - latticeCpu) / treeCpu : 0,
      sharedAdopted: shared.adopted,
      sharedRefused: shared.refused.length,
      refusalReasons: shared.refused.map((refusal) => refusal.reason),
      note: "One 2-core machine: the workers and the engine share the same cores, so candidates per minute cannot grow with workers here; on separate machines each worker adds its own cores and the rate grows with them until Redis or the engine's live trials bound it.",
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

export function formatFleetReport(report: FleetBenchReport): string {
  return [
    ...report.rows.map((row) => `${row.workers} worker(s): ${row.candidatesPerMinute.toFixed(1)} candidates/min (${row.remote} remote, ${row.local} local)`),
    `killed workers ${report.killedWorkers} (SIGKILL mid-job), jobs lost ${report.jobsLost}, duplicate records ${report.duplicateRecords}, repeated completions ${report.repeatedCompletions}`,
    `engine evaluation CPU share ${(report.engineEvaluationCpuShare * 100).toFixed(1)}% (target <= 5%)`,
    `shared: adopted ${report.sharedAdopted}, refused ${report.sharedRefused} (${report.refusalReasons.join('; ')})`,
    report.note,
  ].join('\n');
}
