/**
 * Redis connections of the fleet. Every connection retries for ever
 * (ioredis reconnects with a capped back-off), as BullMQ requires of its
 * workers (maxRetriesPerRequest: null): a fleet member outlives a Redis
 * restart or a network cut and carries on when the server is back.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { invalidRangeError } from '../errors.js';

/** The longest wait between two reconnection tries. */
const MAX_RECONNECT_DELAY_MS = 1_000;
const RECONNECT_STEP_MS = 100;

/** Checks a redis:// URL once, with a message that names it. */
export function checkRedisUrl(url: string, name = 'redis'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidRangeError(name, 'must be a URL like redis://127.0.0.1:6379', url);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw invalidRangeError(name, 'must be a redis:// or rediss:// URL', url);
  return url;
}

export function redisOptions(): RedisOptions {
  return {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * RECONNECT_STEP_MS, MAX_RECONNECT_DELAY_MS),
    lazyConnect: true,
  };
}

/** A connection for commands; resolves once it is connected (or rejects with why not). */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(checkRedisUrl(url), redisOptions());
  // Errors while reconnecting are the 'close'/'ready' states the members watch, not crashes.
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}
