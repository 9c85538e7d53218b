/**
 * A fleet worker (`ouroboros worker --redis URL`): takes evaluation jobs
 * from the BullMQ queue of its own machine fingerprint and runs each
 * through the gauntlet's pipeline (evaluateCandidate: static rules,
 * hardened compile, symbol gate, sandbox differential, dojo, benchmark),
 * for any engine that enqueued it.
 *
 * Delivery is at least once, so recording is idempotent: the outcome goes
 * into the results hash with HSETNX under the job id (the candidate's
 * hash), once however often the job is delivered. A worker killed mid-job
 * holds its lock until it expires; another worker's stalled check then puts
 * the job back and it runs again there. A delivery that runs past
 * jobTimeoutMs is stopped and retried; the last one records a timeout.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { machineFingerprint } from '../archive/fingerprint.js';
import type { MachineFingerprint } from '../archive/types.js';
import type { CandidateOptions } from '../gauntlet/options.js';
import { evaluateCandidate } from '../gauntlet/pipeline.js';
import type { GauntletVerdict } from '../gauntlet/types.js';
import { checkRedisUrl, connectRedis, redisOptions } from './connection.js';
import {
  type EvaluationJob,
  type EvaluationResult,
  JOB_SCHEMA,
  moduleBytes,
  optionsFromJob,
  stageModule,
  timeoutVerdict,
  verdictModulePath,
} from './evaluation-job.js';
import { DELIVERIES_KEY, QUEUE_PREFIX, RECORD_LOG_KEY, RESULTS_KEY, WORKERS_KEY, evaluationQueueName } from './keys.js';
import { advertise, advertisement } from './membership.js';

/** Default longest evaluation of one delivery: a cold analyser run plus compile plus sandbox on a loaded 2-core machine. */
export const DEFAULT_JOB_TIMEOUT_MS = 10 * 60_000;
/**
 * How long a worker's lock on its job lasts without renewal: a killed
 * worker's job goes back to the queue this long after it died.
 */
export const DEFAULT_LOCK_MS = 30_000;
/** Times a job may be left by a dead worker before it fails as a poison job (one that kills every worker it meets). */
const MAX_STALLED = 3;

export interface FleetWorkerOptions {
  redisUrl: string;
  /** The gauntlet (default evaluateCandidate); tests and `bench fleet` inject their own. */
  evaluate?: (options: CandidateOptions) => Promise<GauntletVerdict>;
  /** Default: this machine's. */
  fingerprint?: MachineFingerprint;
  jobTimeoutMs?: number;
  lockMs?: number;
  /** How often this worker looks for jobs whose worker died (default lockMs / 2). */
  stalledCheckMs?: number;
  id?: string;
}

/** What a worker tells its listeners: 'job-started' (jobId), 'job-recorded' ({ jobId, duplicate }), 'job-timeout' (jobId), 'fleet-error' (Error). */
export class FleetWorker extends EventEmitter {
  private constructor(
    readonly id: string,
    readonly fingerprint: MachineFingerprint,
    private readonly redis: Redis,
    private readonly worker: Worker<EvaluationJob, EvaluationResult>,
    /** BullMQ's connection: BullMQ never closes a connection it was given. */
    private readonly bullConnection: Redis,
    private readonly withdraw: () => Promise<void>,
  ) {
    super();
  }

  static async start(options: FleetWorkerOptions): Promise<FleetWorker> {
    checkRedisUrl(options.redisUrl);
    const fingerprint = options.fingerprint ?? (await machineFingerprint());
    const id = options.id ?? `worker-${randomUUID().slice(0, 8)}`;
    const evaluate = options.evaluate ?? evaluateCandidate;
    const jobTimeoutMs = options.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
    const lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
    const redis = await connectRedis(options.redisUrl);
    const startedAt = new Date().toISOString();
    const withdraw = advertise(redis, WORKERS_KEY, () => advertisement(id, 'worker', fingerprint, startedAt));
    let self: FleetWorker | null = null;
    const processor = (job: Job<EvaluationJob, EvaluationResult>, _token?: string, signal?: AbortSignal) =>
      runJob({ job, signal, evaluate, fingerprint, id, jobTimeoutMs, redis, emit: (event, value) => self?.emit(event, value) });
    const bullConnection = new Redis(options.redisUrl, { ...redisOptions(), lazyConnect: false });
    bullConnection.on('error', () => undefined);
    const worker = new Worker<EvaluationJob, EvaluationResult>(evaluationQueueName(fingerprint.hash), processor, {
      connection: bullConnection,
      prefix: QUEUE_PREFIX,
      concurrency: 1,
      lockDuration: lockMs,
      stalledInterval: options.stalledCheckMs ?? Math.max(1, Math.floor(lockMs / 2)),
      maxStalledCount: MAX_STALLED,
      autorun: true,
    });
    self = new FleetWorker(id, fingerprint, redis, worker, bullConnection, withdraw);
    worker.on('error', (error) => self?.emit('fleet-error', error));
    await worker.waitUntilReady();
    return self;
  }

  /** Stops taking jobs, waits for the one in hand, withdraws the advertisement and disconnects. */
  async close(): Promise<void> {
    await this.worker.close();
    await this.withdraw();
    this.bullConnection.disconnect();
    this.redis.disconnect();
  }
}

interface JobRun {
  job: Job<EvaluationJob, EvaluationResult>;
  signal: AbortSignal | undefined;
  evaluate: (options: CandidateOptions) => Promise<GauntletVerdict>;
  fingerprint: MachineFingerprint;
  id: string;
  jobTimeoutMs: number;
  redis: Redis;
  emit: (event: string, value: unknown) => void;
}

async function runJob({ job, signal, evaluate, fingerprint, id, jobTimeoutMs, redis, emit }: JobRun): Promise<EvaluationResult> {
  const data = job.data;
  if (data.schema !== JOB_SCHEMA) throw new Error(`job ${job.id}: schema ${String(data.schema)} is not ${JOB_SCHEMA}; this worker is of another version`);
  if (data.fingerprintHash !== fingerprint.hash)
    throw new Error(`job ${job.id}: built for fingerprint ${data.fingerprintHash.slice(0, 12)}, this worker is ${fingerprint.hash.slice(0, 12)}`);
  emit('job-started', job.id);
  const incumbentPath = data.candidate.incumbent === null ? undefined : stageModule(data.candidate.incumbent);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, jobTimeoutMs);
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort);
  let verdict: GauntletVerdict;
  try {
    verdict = await evaluate(optionsFromJob(data, incumbentPath, controller.signal));
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  const deliveries = job.attemptsMade + 1;
  if (timedOut) {
    emit('job-timeout', job.id);
    // Thrown, BullMQ delivers it again (another worker may be less loaded); the last delivery records the timeout.
    if (deliveries < (job.opts.attempts ?? 1)) throw new Error(`timed out after ${jobTimeoutMs} ms (delivery ${deliveries} of ${job.opts.attempts})`);
    verdict = timeoutVerdict(deliveries, jobTimeoutMs);
  }
  const modulePath = verdictModulePath(verdict);
  const result: EvaluationResult = {
    schema: JOB_SCHEMA,
    jobId: job.id!,
    workerId: id,
    fingerprintHash: fingerprint.hash,
    verdict,
    module: modulePath === null ? null : moduleBytes(modulePath),
    timeouts: timedOut ? deliveries : job.attemptsMade,
  };
  const outcome = JSON.stringify({ workerId: id, accepted: verdict.accepted, failedGate: verdict.failedGate, recordedAt: new Date().toISOString() });
  const [first] = await Promise.all([redis.hsetnx(RESULTS_KEY, job.id!, outcome), redis.hincrby(DELIVERIES_KEY, job.id!, 1)]);
  if (first === 1) await redis.rpush(RECORD_LOG_KEY, job.id!);
  emit('job-recorded', { jobId: job.id, duplicate: first === 0 });
  return result;
}
