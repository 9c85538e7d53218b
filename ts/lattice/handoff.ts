/**
 * The pieces of a handoff that need no lattice: the environment a successor
 * finds the segment by, module checks by sha256, and the message protocol
 * between a process and the successor it spawns.
 */
import { existsSync } from 'node:fs';
import type { HandoffMetadata, ModuleRef, SlotModules } from '../handoff/metadata.js';
import { fileSha256 } from '../util/sha256.js';

/** The descriptor of the inherited state segment, in a successor's environment. */
export const SEGMENT_FD_ENV = 'OUROBOROS_SEGMENT_FD';
/** How the successor was started: "exec" or "spawn". */
export const HANDOFF_MODE_ENV = 'OUROBOROS_HANDOFF';
/** process.hrtime.bigint() at the freeze (CLOCK_MONOTONIC, so it survives exec). */
export const FREEZE_NS_ENV = 'OUROBOROS_HANDOFF_FREEZE_NS';
/** The descriptor a spawned successor finds the segment at (its stdio[3]). */
export const SPAWNED_SEGMENT_FD = 3;

export type HandoffMode = 'checkpoint' | 'exec' | 'spawn';

/** What became of one slot's modules when a lattice was resumed. */
export interface ModuleRestore {
  slot: string;
  /** The module that was live when the state was frozen. */
  wanted: ModuleRef | null;
  /** The module live now; null when the slot kept the base kernel because nothing recorded could be loaded. */
  live: ModuleRef | null;
  /** "none" when the wanted module is live again. */
  fallback: 'none' | 'last-known-good' | 'base-kernel';
  /** Why the wanted module (and last-known-good) was not loaded. */
  reason: string | null;
}

// Module files are treated as immutable once loaded (the cache is content-addressed):
// each is hashed once per process.
const hashes = new Map<string, string>();

/** The sha256 (lowercase hex) of `file`, hashed once per process; null if it is missing. */
export function moduleSha256(file: string): string | null {
  const known = hashes.get(file);
  if (known) return known;
  if (!existsSync(file)) return null;
  const sha256 = fileSha256(file);
  hashes.set(file, sha256);
  return sha256;
}

/** Why `ref` must not be loaded (missing file, other bytes), or null when it may. */
export function moduleDefect(ref: ModuleRef): string | null {
  if (!existsSync(ref.path)) return `${ref.path} is missing`;
  const found = fileSha256(ref.path);
  if (found !== ref.sha256) return `${ref.path} has sha256 ${found}, the frozen state recorded ${ref.sha256}`;
  return null;
}

/** The module a resumed slot should run: live if intact, else last-known-good, else the base kernel. */
export function chooseModules(slot: SlotModules): {
  chosen: ModuleRef | null;
  lastKnownGood: ModuleRef | null;
  fallback: ModuleRestore['fallback'];
  reason: string | null;
} {
  const liveDefect = slot.live ? moduleDefect(slot.live) : 'no live module was recorded';
  const lkgDefect = slot.lastKnownGood ? moduleDefect(slot.lastKnownGood) : 'no last-known-good module was recorded';
  if (liveDefect === null) {
    return { chosen: slot.live, lastKnownGood: lkgDefect === null ? slot.lastKnownGood : null, fallback: 'none', reason: null };
  }
  if (lkgDefect === null) return { chosen: slot.lastKnownGood, lastKnownGood: null, fallback: 'last-known-good', reason: liveDefect };
  return { chosen: null, lastKnownGood: null, fallback: 'base-kernel', reason: `${liveDefect}; ${lkgDefect}` };
}

// ---------------------------------------------------------------- spawn protocol

/**
 * Messages on the IPC channel of a spawned successor, in order:
 * parent -> child `warmup` (the metadata so far, to load modules early);
 * child -> parent `ready`; parent -> child `go` (after the freeze and commit);
 * child -> parent `resumed` (or `failed`).
 */
export type ParentMessage = { type: 'warmup'; metadata: HandoffMetadata } | { type: 'go'; freezeNs: string };
export type SuccessorMessage = { type: 'ready' } | { type: 'resumed'; step: number; resumedNs: string } | { type: 'failed'; error: string };

/** The next message of `type` on this process's IPC channel. */
export function nextParentMessage<T extends ParentMessage['type']>(type: T): Promise<Extract<ParentMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error(`${HANDOFF_MODE_ENV}=spawn but this process has no IPC channel to its predecessor`));
      return;
    }
    const onMessage = (message: ParentMessage) => {
      if (message?.type !== type) return;
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      resolve(message as Extract<ParentMessage, { type: T }>);
    };
    const onDisconnect = () => {
      process.off('message', onMessage);
      reject(new Error(`the predecessor went away before sending "${type}"`));
    };
    process.on('message', onMessage);
    process.on('disconnect', onDisconnect);
  });
}

/** Sends `message` to the predecessor and waits until it is written. */
export function sendToPredecessor(message: SuccessorMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('no IPC channel to the predecessor'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}
