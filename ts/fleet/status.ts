/**
 * `ouroboros fleet status`: the fleet as Redis holds it: live engines and
 * workers with their fingerprints, the depth of each fingerprint's queue,
 * the jobs recorded and redelivered, and the latest shared improvements
 * (each marked with whether its content hash holds).
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { canonicalHash } from './canonical-json.js';
import { connectRedis } from './connection.js';
import { DELIVERIES_KEY, ENGINES_KEY, IMPROVEMENTS_STREAM, QUEUE_PREFIX, RESULTS_KEY, WORKERS_KEY, evaluationQueueName } from './keys.js';
import { type Advertisement, liveMembers } from './membership.js';

/** Shared improvements listed, newest first. */
const RECENT_IMPROVEMENTS = 10;

export interface QueueDepth {
  fingerprintHash: string;
  waiting: number;
  active: number;
  completed: number;
  failed: number;
}

export interface SharedSummary {
  entryId: string;
  engineId: string;
  attemptId: number | null;
  slot: string;
  liveSpeedup: number | null;
  /** Whether the message's content hash matches its content. */
  intact: boolean;
}

export interface FleetStatus {
  engines: Advertisement[];
  workers: Advertisement[];
  queues: QueueDepth[];
  /** Jobs recorded (once each), and evaluations completed beyond a job's first (recorded once all the same). */
  recordedJobs: number;
  repeatedCompletions: number;
  recentImprovements: SharedSummary[];
}

async function queueDepth(redis: Redis, fingerprintHash: string): Promise<QueueDepth> {
  const connection = redis.duplicate();
  const queue = new Queue(evaluationQueueName(fingerprintHash), { connection, prefix: QUEUE_PREFIX });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    return {
      fingerprintHash,
      waiting: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
    };
  } finally {
    // BullMQ never closes a connection it was given.
    await queue.close();
    connection.disconnect();
  }
}

function summarise(entryId: string, text: string): SharedSummary {
  try {
    const { hash, ...body } = JSON.parse(text) as Record<string, unknown>;
    const evidence = (body.evidence ?? {}) as { liveSpeedup?: unknown };
    return {
      entryId,
      engineId: String(body.engineId),
      attemptId: typeof body.attemptId === 'number' ? body.attemptId : null,
      slot: String(body.slot),
      liveSpeedup: typeof evidence.liveSpeedup === 'number' ? evidence.liveSpeedup : null,
      intact: canonicalHash(body) === hash,
    };
  } catch {
    return { entryId, engineId: '?', attemptId: null, slot: '?', liveSpeedup: null, intact: false };
  }
}

export async function fleetStatus(redisUrl: string): Promise<FleetStatus> {
  const redis = await connectRedis(redisUrl);
  try {
    const [engines, workers] = await Promise.all([liveMembers(redis, ENGINES_KEY), liveMembers(redis, WORKERS_KEY)]);
    const fingerprints = [...new Set([...engines, ...workers].map((member) => member.fingerprintHash))].sort();
    const queues = await Promise.all(fingerprints.map((hash) => queueDepth(redis, hash)));
    const deliveries = Object.values(await redis.hgetall(DELIVERIES_KEY)).map(Number);
    const entries = await redis.xrevrange(IMPROVEMENTS_STREAM, '+', '-', 'COUNT', RECENT_IMPROVEMENTS);
    return {
      engines,
      workers,
      queues,
      recordedJobs: await redis.hlen(RESULTS_KEY),
      repeatedCompletions: deliveries.reduce((sum, count) => sum + Math.max(0, count - 1), 0),
      recentImprovements: entries.map(([entryId, fields]) => summarise(entryId, fields[fields.indexOf('message') + 1] ?? '')),
    };
  } finally {
    redis.disconnect();
  }
}

export function formatFleetStatus(status: FleetStatus): string {
  const member = (m: Advertisement) => `  ${m.id}  ${m.host} pid ${m.pid}  fingerprint ${m.fingerprintHash.slice(0, 12)} (${m.march || m.cpuModel})`;
  const lines = [
    `engines (${status.engines.length})`,
    ...status.engines.map(member),
    `workers (${status.workers.length})`,
    ...status.workers.map(member),
    'queues',
    ...status.queues.map((q) => `  ${q.fingerprintHash.slice(0, 12)}  waiting ${q.waiting}  active ${q.active}  completed ${q.completed}  failed ${q.failed}`),
    `jobs recorded ${status.recordedJobs}, repeated completions ${status.repeatedCompletions}`,
    `recent shared improvements (${status.recentImprovements.length})`,
    ...status.recentImprovements.map(
      (s) =>
        `  ${s.entryId}  ${s.engineId} attempt ${s.attemptId ?? '?'} (${s.slot})  ${s.liveSpeedup === null ? '' : `${s.liveSpeedup.toFixed(2)}x live  `}${s.intact ? 'intact' : 'HASH MISMATCH'}`,
    ),
  ];
  return lines.join('\n');
}
