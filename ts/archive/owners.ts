/**
 * Who owns a pending attempt, and whether that owner is gone. Engines that
 * share an archive (a fleet on PostgreSQL, or two processes on one SQLite
 * file) each own the attempts they insert; an engine closes a pending
 * attempt as interrupted only when its owner is gone, never one another
 * engine still has in flight.
 *
 * An owner renews a lease (owners.heartbeat_ms) while it runs. It is gone
 * when its lease ran out, when it released the lease on close, or, on this
 * host, as soon as its process no longer exists: an engine restarted after
 * `kill -9` closes what the killed one left without waiting for the lease.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';

/** How long an owner that stopped renewing still counts as alive: long enough to outlast a stalled event loop. */
export const DEFAULT_LEASE_MS = 60_000;
/** Heartbeats per lease: three can be missed before the lease runs out. */
export const HEARTBEATS_PER_LEASE = 4;

export interface OwnerRow {
  id: string;
  host: string;
  pid: number;
  heartbeat_ms: number;
}

/** A new owner id for this process: its host and pid, and a random part so that two archives of one process differ. */
export function newOwnerId(): string {
  return `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the owner of a pending attempt is gone, so that the attempt may be closed as interrupted. */
export function ownerGone(owner: OwnerRow | undefined, nowMs: number, leaseMs: number): boolean {
  if (owner === undefined) return true;
  if (nowMs - owner.heartbeat_ms > leaseMs) return true;
  return owner.host === os.hostname() && !processExists(owner.pid);
}
