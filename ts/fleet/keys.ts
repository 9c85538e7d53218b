/**
 * Where the fleet keeps its state in Redis. One BullMQ queue per machine
 * fingerprint: an engine enqueues into the queue of its own fingerprint and
 * a worker takes jobs only from the queue of its own, so a module is built
 * only by a worker whose compiler, flags and -march are the engine's, and
 * runs only where it was built for.
 */

/** BullMQ's key prefix for the fleet's queues. */
export const QUEUE_PREFIX = 'ouroboros';
/** Worker id -> JSON of its advertisement (fingerprint, pid, host, last heartbeat). */
export const WORKERS_KEY = 'ouroboros:fleet:workers';
/** Engine id -> JSON of its advertisement. */
export const ENGINES_KEY = 'ouroboros:fleet:engines';
/** Job id -> JSON of its recorded outcome, written with HSETNX: a job is recorded once however often it is delivered. */
export const RESULTS_KEY = 'ouroboros:fleet:results';
/** Job ids in the order they were first recorded: a worker appends one only when its HSETNX was the first (an audit of the once-only recording). */
export const RECORD_LOG_KEY = 'ouroboros:fleet:record-log';
/** Job id -> how many times a worker finished evaluating it (more than 1: a redelivery, recorded once all the same). */
export const DELIVERIES_KEY = 'ouroboros:fleet:deliveries';
/** The stream of applied improvements engines share. */
export const IMPROVEMENTS_STREAM = 'ouroboros:fleet:improvements';
/** Entries kept in the improvements stream (approximately: XADD MAXLEN ~). */
export const IMPROVEMENTS_KEPT = 1000;

/** How often workers and engines refresh their advertisement. */
export const HEARTBEAT_MS = 2_000;
/** An advertisement older than this is a member gone (killed, or cut off from Redis). */
export const ALIVE_WITHIN_MS = 10_000;

/** The evaluation queue of machines with this fingerprint (BullMQ queue names may not contain ':'). */
export function evaluationQueueName(fingerprintHash: string): string {
  return `evaluate-${fingerprintHash.slice(0, 16)}`;
}
