/**
 * The engine's side of remote evaluation: an evaluator with the gauntlet's
 * signature (the engine's `evaluate` hook), which enqueues the candidate as
 * a BullMQ job into the queue of the engine's own fingerprint and waits for
 * a worker's verdict, so that the engine keeps only the live A/B
 * measurement and the swap. It evaluates locally (the gauntlet as without
 * a fleet) whenever the fleet cannot answer: Redis is unreachable, no
 * worker of this fingerprint is alive, the connection drops while waiting,
 * the job fails outright, or the result is not for this fingerprint.
 *
 * A candidate judged locally after its job was enqueued is judged: when
 * Redis is back, the engine drains such jobs still waiting in its queue
 * (its own enqueues replayed from the offline queue included), so that no
 * worker spends time on them and nothing waits for their results. A job a
 * worker already runs or finished is left to be recorded once, and a later
 * enqueue of the same candidate (same job id) gets that result at once.
 *
 * A worker's pass is its word: every remotely passed candidate that could go
 * live (`needsReverification`) is checked again here before the engine sees
 * it (local-reverification.ts), and only the engine's own build of it can
 * go live.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { MachineFingerprint } from '../archive/types.js';
import type { CandidateOptions } from '../gauntlet/options.js';
import { evaluateCandidate, type GateProgressListener } from '../gauntlet/pipeline.js';
import type { GauntletVerdict } from '../gauntlet/types.js';
import { checkRedisUrl, connectRedis, redisOptions } from './connection.js';
import { screenedOut } from '../engine/judge.js';
import { type EvaluationResult, JOB_SCHEMA, jobFromOptions, jobId, stageModule, withModulePath } from './evaluation-job.js';
import { ENGINES_KEY, QUEUE_PREFIX, WORKERS_KEY, evaluationQueueName } from './keys.js';
import { type Reverification, reverifyLocally } from './local-reverification.js';
import { advertise, advertisement, liveMembers } from './membership.js';
import { DEFAULT_JOB_TIMEOUT_MS } from './worker.js';

/** Deliveries of a job: a timeout is retried once (on whichever worker takes it), then recorded. */
export const JOB_ATTEMPTS = 2;
/** Completed jobs are kept this long, so that the same candidate enqueued again gets its recorded result. */
const KEEP_COMPLETED_S = 24 * 3600;
/** Beyond every delivery's time limit, how long the engine waits for a result before it evaluates locally. */
const WAIT_MARGIN_MS = 60_000;
/** The states of a job no worker has taken yet: a drain removes those. */
const UNTAKEN_STATES = ['waiting', 'delayed', 'prioritized'];

export interface FleetEvaluatorOptions {
  redisUrl: string;
  fingerprint: MachineFingerprint;
  /** The gauntlet run when the fleet cannot answer (default evaluateCandidate). */
  local?: (options: CandidateOptions, onGate?: GateProgressListener) => Promise<GauntletVerdict>;
  /** Each delivery's limit; must match the workers' (default 10 min). */
  jobTimeoutMs?: number;
  /** The engine's own check of a worker's pass (default reverifyLocally). */
  reverify?: (options: CandidateOptions, remote: GauntletVerdict, workerId: string) => Promise<Reverification>;
  id?: string;
}

/** Where one evaluation was done, and why it was not done remotely. */
export interface EvaluationRoute {
  jobId: string;
  remote: boolean;
  /** Why it was evaluated locally; empty when remotely. */
  reason: string;
  workerId: string | null;
}

/** The engine's re-verification of one worker's pass. */
export interface ReverificationEvent {
  jobId: string;
  workerId: string;
  /** The local gate that refused the worker's pass and why, or null when it held. */
  refusedAt: string | null;
  reason: string;
  workerModuleMatches: boolean | null;
  seconds: number;
}

/**
 * Whether a worker's verdict could take its candidate live, so that the
 * engine must check it first: accepted, and either not screened out as
 * clearly slower (what the live trial asks) or claiming a benchmark win
 * (what the "benchmark" judge asks). Both are read from the worker's
 * verdict, so a verdict that says "slower" and "improves" at once is
 * checked too.
 */
export function needsReverification(verdict: GauntletVerdict): boolean {
  return verdict.accepted && (screenedOut(verdict) === null || verdict.improves);
}

/** What one drain after an outage did: jobs removed from the queue, and jobs a worker had taken already (left to finish). */
export interface Drain {
  removed: string[];
  left: string[];
}

/**
 * Emits 'evaluated' (EvaluationRoute) after each evaluation, 'reverified'
 * (ReverificationEvent) after each check of a worker's pass, 'disconnected'
 * when Redis goes away, 'reconnected' when it is back, and 'drained' (Drain)
 * once the jobs judged locally meanwhile are out of the queue.
 */
export class FleetEvaluator extends EventEmitter {
  /** Where candidates were evaluated, how many workers' passes the engine re-verified and refused, and jobs drained after an outage. */
  readonly counts = { remote: 0, local: 0, reverified: 0, refused: 0, drained: 0 };
  private closing = false;
  /** Jobs enqueued, then judged locally: each with its enqueue, which may still wait in the offline queue. */
  private readonly abandoned = new Map<string, Promise<unknown>>();
  private draining: Promise<void> = Promise.resolve();

  private constructor(
    readonly id: string,
    private readonly options: Required<Omit<FleetEvaluatorOptions, 'id'>>,
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly withdraw: () => Promise<void>,
    /** BullMQ's connections: BullMQ never closes a connection it was given. */
    private readonly bullConnections: Redis[],
  ) {
    super();
    // Each evaluation in flight listens for the connection's close and for its job's end: as many listeners as jobs in flight.
    redis.setMaxListeners(0);
    queue.setMaxListeners(0);
    events.setMaxListeners(0);
    redis.on('close', () => this.closing || this.emit('disconnected'));
    redis.on('ready', () => {
      this.emit('reconnected');
      this.draining = this.draining.then(() => this.drain());
    });
  }

  /** Connects to Redis (waiting for it: an engine started with a fleet URL expects the fleet) and advertises the engine. */
  static async connect(options: FleetEvaluatorOptions): Promise<FleetEvaluator> {
    checkRedisUrl(options.redisUrl);
    const id = options.id ?? `engine-${randomUUID().slice(0, 8)}`;
    const redis = await connectRedis(options.redisUrl);
    const bullConnections = [0, 1].map(() => new Redis(options.redisUrl, { ...redisOptions(), lazyConnect: false }).on('error', () => undefined));
    const name = evaluationQueueName(options.fingerprint.hash);
    const queue = new Queue(name, { connection: bullConnections[0]!, prefix: QUEUE_PREFIX });
    const events = new QueueEvents(name, { connection: bullConnections[1]!, prefix: QUEUE_PREFIX });
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const startedAt = new Date().toISOString();
    const withdraw = advertise(redis, ENGINES_KEY, () => advertisement(id, 'engine', options.fingerprint, startedAt));
    const resolved = {
      redisUrl: options.redisUrl,
      fingerprint: options.fingerprint,
      local: options.local ?? evaluateCandidate,
      jobTimeoutMs: options.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS,
      reverify: options.reverify ?? reverifyLocally,
    };
    return new FleetEvaluator(id, resolved, redis, queue, events, withdraw, bullConnections);
  }

  /** The engine's `evaluate` hook; a remote verdict comes whole, so only a local fallback reports its gates to `onGate`. */
  readonly evaluate = async (options: CandidateOptions, onGate?: GateProgressListener): Promise<GauntletVerdict> => {
    const job = jobFromOptions(options, this.options.fingerprint.hash, this.id);
    const id = jobId(job);
    const outcome = await this.remote(id, job, options.signal).catch((error: unknown) => ({
      reason: `the fleet failed: ${(error as Error)?.message ?? String(error)}`,
    }));
    // Stopped: the local gauntlet returns an interrupted verdict at once; that is no fallback to count or log.
    if (options.signal?.aborted) return this.options.local(options);
    if ('verdict' in outcome) {
      this.counts.remote += 1;
      this.emit('evaluated', { jobId: id, remote: true, reason: '', workerId: outcome.workerId } satisfies EvaluationRoute);
      return needsReverification(outcome.verdict) ? this.reverified(id, options, outcome.verdict, outcome.workerId) : outcome.verdict;
    }
    this.counts.local += 1;
    this.emit('evaluated', { jobId: id, remote: false, reason: outcome.reason, workerId: null } satisfies EvaluationRoute);
    return this.options.local(options, onGate);
  };

  /** The engine's verdict on a worker's pass: its own re-verification's. */
  private async reverified(jobId: string, options: CandidateOptions, remote: GauntletVerdict, workerId: string): Promise<GauntletVerdict> {
    const checked = await this.options.reverify(options, remote, workerId);
    if (checked.verdict.interrupted) return checked.verdict;
    this.counts.reverified += 1;
    if (checked.refused !== null) this.counts.refused += 1;
    this.emit('reverified', {
      jobId,
      workerId,
      refusedAt: checked.refused?.gate ?? null,
      reason: checked.refused?.reason ?? '',
      workerModuleMatches: checked.workerModuleMatches,
      seconds: checked.seconds,
    } satisfies ReverificationEvent);
    return checked.verdict;
  }

  /** Whether Redis answers now. */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  private async remote(
    id: string,
    job: ReturnType<typeof jobFromOptions>,
    signal: AbortSignal | undefined,
  ): Promise<{ verdict: GauntletVerdict; workerId: string } | { reason: string }> {
    if (signal?.aborted) return { reason: 'stopped before it was enqueued' };
    if (!this.connected) return { reason: `Redis is not reachable (${this.redis.status})` };
    const workers = (await liveMembers(this.redis, WORKERS_KEY)).filter((worker) => worker.fingerprintHash === this.options.fingerprint.hash);
    if (workers.length === 0) return { reason: `no live worker has this engine's fingerprint ${this.options.fingerprint.hash.slice(0, 12)}` };
    const waitMs = JOB_ATTEMPTS * this.options.jobTimeoutMs + WAIT_MARGIN_MS;
    let onClose = (): void => undefined;
    let onAbort = (): void => undefined;
    const lost = new Promise<{ reason: string }>((resolve) => {
      onClose = () => resolve({ reason: 'the connection to Redis dropped while the job was queued or running' });
      onAbort = () => resolve({ reason: 'stopped while the job was queued or running' });
      this.redis.once('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    // Raced with the loss too: an enqueue issued as the connection drops waits in the offline queue until Redis is back.
    const added = this.queue.add('evaluate', job, {
      jobId: id,
      attempts: JOB_ATTEMPTS,
      removeOnComplete: { age: KEEP_COMPLETED_S },
      removeOnFail: { age: KEEP_COMPLETED_S },
    });
    const finished = added.then((enqueued) => enqueued.waitUntilFinished(this.events, waitMs)).then((result: EvaluationResult) => this.accept(result));
    try {
      const outcome = await Promise.race([finished, lost]);
      if (!('verdict' in outcome)) this.abandoned.set(id, added);
      return outcome;
    } catch (error) {
      this.abandoned.set(id, added);
      throw error;
    } finally {
      this.redis.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      // A result that arrives after the engine stopped waiting is recorded by the worker all the same; nobody reads it here.
      finished.catch(() => undefined);
    }
  }

  /**
   * Removes from the queue the jobs judged locally while the fleet could
   * not answer, once their enqueue went through; a job a worker has taken
   * is left to finish and be recorded. Runs after each reconnection.
   */
  private async drain(): Promise<void> {
    const drain: Drain = { removed: [], left: [] };
    for (const [id, added] of [...this.abandoned]) {
      if (this.closing) return;
      try {
        if (
          !(await added.then(
            () => true,
            () => false,
          ))
        ) {
          // The enqueue failed outright: there is no job to drain.
          this.abandoned.delete(id);
          continue;
        }
        const job = await this.queue.getJob(id);
        if (job !== undefined && UNTAKEN_STATES.includes(await job.getState())) {
          await job.remove();
          drain.removed.push(id);
        } else {
          drain.left.push(id);
        }
        this.abandoned.delete(id);
      } catch {
        // Redis went away again: the job stays listed for the next reconnection.
      }
    }
    this.counts.drained += drain.removed.length;
    if (drain.removed.length + drain.left.length > 0) this.emit('drained', drain);
  }

  /** A worker's result, checked: the same schema, this fingerprint; the built module staged here under its hash. */
  private accept(result: EvaluationResult): { verdict: GauntletVerdict; workerId: string } | { reason: string } {
    if (result.schema !== JOB_SCHEMA) return { reason: `worker ${result.workerId}'s result has schema ${String(result.schema)}, not ${JOB_SCHEMA}` };
    if (result.fingerprintHash !== this.options.fingerprint.hash) {
      return {
        reason: `worker ${result.workerId} built for fingerprint ${result.fingerprintHash.slice(0, 12)}, not this engine's ${this.options.fingerprint.hash.slice(0, 12)}`,
      };
    }
    const modulePath = result.module === null ? null : stageModule(result.module);
    return { verdict: withModulePath(result.verdict, modulePath), workerId: result.workerId };
  }

  /** The number of jobs waiting or running in this engine's queue. */
  async queueDepth(): Promise<number> {
    return this.queue.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized');
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.withdraw().catch(() => undefined);
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    for (const connection of this.bullConnections) connection.disconnect();
    this.redis.disconnect();
  }
}
