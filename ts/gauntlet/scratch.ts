/**
 * The gauntlet's scratch directories (the preprocessor's, the analysers'
 * and the compiler's). Each process keeps them under one directory named by
 * its pid and its start time, so that a process killed before it could
 * remove its own (SIGKILL, a crash, a power cut of the container) leaves
 * something the next one can recognise: `sweepDeadScratch` removes every
 * such directory whose process is gone. The start time tells a live
 * process from a later one that was given the same pid.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ROOT_PREFIX = 'ouroboros-scratch-';
const ROOT_PATTERN = /^ouroboros-scratch-(\d+)-(\d+)$/;

/** Field 22 of /proc/PID/stat: the process's start time in clock ticks since boot; null when it is gone. */
export function startTicks(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

let ownRoot: string | null = null;
let swept = false;

/** This process's scratch root, made on first use (only its user can enter it). */
function scratchRoot(): string {
  const root = path.join(os.tmpdir(), `${ROOT_PREFIX}${process.pid}-${startTicks(process.pid) ?? 0}`);
  if (root !== ownRoot || !existsSync(root)) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    if (ownRoot === null) process.once('exit', () => rmSync(ownRoot!, { recursive: true, force: true }));
    ownRoot = root;
  }
  return root;
}

/**
 * A new scratch directory for one tool run; the caller removes it. The
 * first call of a process sweeps what dead processes left.
 */
export async function makeScratch(prefix: string): Promise<string> {
  if (!swept) {
    swept = true;
    sweepDeadScratch();
  }
  return mkdtemp(path.join(scratchRoot(), prefix));
}

/**
 * Removes the scratch roots in `tmpDir` whose process is gone (or whose
 * pid now belongs to a process started at another time). Returns the
 * paths removed. Roots of live processes, this one's included, are kept.
 */
export function sweepDeadScratch(tmpDir = os.tmpdir()): string[] {
  let names: string[];
  try {
    names = readdirSync(tmpDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = ROOT_PATTERN.exec(name);
    if (match === null) continue;
    if (startTicks(Number(match[1])) === match[2]) continue;
    const dir = path.join(tmpDir, name);
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another user's, or being removed by another sweeper: it is not ours to insist on.
    }
  }
  return removed;
}
