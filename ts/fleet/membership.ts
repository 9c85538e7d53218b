/**
 * Fleet members advertise themselves in a Redis hash, refreshed on a
 * heartbeat: workers with their machine fingerprint (an engine's jobs go
 * only to workers of its own), engines with theirs. A member that stops
 * refreshing (killed, or cut off) counts as gone after ALIVE_WITHIN_MS.
 */
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { MachineFingerprint } from '../archive/types.js';
import { ALIVE_WITHIN_MS, HEARTBEAT_MS } from './keys.js';

export interface Advertisement {
  id: string;
  role: 'worker' | 'engine';
  host: string;
  pid: number;
  fingerprintHash: string;
  cpuModel: string;
  march: string;
  startedAt: string;
  /** Milliseconds since the epoch of the last heartbeat. */
  seenAtMs: number;
}

export function advertisement(id: string, role: Advertisement['role'], fingerprint: MachineFingerprint, startedAt: string): Advertisement {
  return {
    id,
    role,
    host: os.hostname(),
    pid: process.pid,
    fingerprintHash: fingerprint.hash,
    cpuModel: fingerprint.cpuModel,
    march: fingerprint.march,
    startedAt,
    seenAtMs: Date.now(),
  };
}

/** Writes the advertisement now and on every heartbeat until the returned function is called (which also withdraws it). */
export function advertise(redis: Redis, key: string, make: () => Advertisement): () => Promise<void> {
  const write = () => {
    // While Redis is away the write would only queue up behind the reconnection: skip the beat.
    if (redis.status !== 'ready') return;
    const member = make();
    redis.hset(key, member.id, JSON.stringify(member)).catch(() => undefined);
  };
  write();
  const timer = setInterval(write, HEARTBEAT_MS);
  timer.unref();
  // A Redis that restarted empty learns of the member as soon as it is back, not a heartbeat later.
  redis.on('ready', write);
  const { id } = make();
  return async () => {
    clearInterval(timer);
    redis.off('ready', write);
    if (redis.status === 'ready') await redis.hdel(key, id);
  };
}

/** The members of a hash that beat within ALIVE_WITHIN_MS of `nowMs`; malformed entries are left out. */
export async function liveMembers(redis: Redis, key: string, nowMs = Date.now()): Promise<Advertisement[]> {
  const entries = await redis.hgetall(key);
  const members: Advertisement[] = [];
  for (const text of Object.values(entries)) {
    try {
      const member = JSON.parse(text) as Advertisement;
      if (typeof member.seenAtMs === 'number' && nowMs - member.seenAtMs <= ALIVE_WITHIN_MS) members.push(member);
    } catch {
      // A member's entry that does not parse is no member.
    }
  }
  return members.sort((a, b) => a.id.localeCompare(b.id));
}
