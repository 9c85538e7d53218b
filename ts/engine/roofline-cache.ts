/**
 * The roofline `run` measures before it starts (a STREAM triad over the
 * lattice's own memory, 0.3 to 1.4 s at 4096^2 f64 on the 2-core VM at load
 * 12, on the core's runner thread, before anything steps), remembered per machine so
 * that a warm run does not pay it again. The key holds what sets the
 * memory's speed for this lattice: the CPU model, the cores, the memory
 * size and the kernel release of the host, and the lattice's extents and
 * precision. An entry expires after ROOFLINE_MAX_AGE_MS, so a host moved to
 * other memory (a VM migrated, a DIMM changed) is measured again within a
 * day. The file lives in the build cache's directory, whose eviction takes
 * only modules: a fresh build cache (bench net's cold run) measures afresh.
 *
 * A cache that cannot be read is a miss, and one that cannot be written
 * only means the next run measures again: neither may fail a run.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOFLINE_CACHE_FILE = 'roofline.json';
/** How long a remembered roofline stands before it is measured again. */
export const ROOFLINE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

interface RooflineEntry {
  mlups: number;
  measuredAtMs: number;
}

/** The entry's key: the host as the memory sees it and the lattice. */
export function rooflineKey(extents: readonly number[], precision: string): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return [cpu, `${os.availableParallelism()} cores`, `${os.totalmem()} bytes`, os.release(), extents.join('x'), precision].join(' | ');
}

function readEntries(file: string): Record<string, RooflineEntry> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, RooflineEntry>) : {};
  } catch {
    return {};
  }
}

/** The remembered roofline for `key`, or null when there is none, it is malformed or it expired. */
export function cachedRooflineMlups(file: string, key: string, nowMs = Date.now()): number | null {
  const entry = readEntries(file)[key];
  if (entry === undefined || typeof entry.mlups !== 'number' || !(entry.mlups > 0) || typeof entry.measuredAtMs !== 'number') return null;
  const ageMs = nowMs - entry.measuredAtMs;
  return ageMs >= 0 && ageMs < ROOFLINE_MAX_AGE_MS ? entry.mlups : null;
}

/** Remembers `mlups` for `key` (written whole, by rename, so a reader never sees half a file). */
export function rememberRooflineMlups(file: string, key: string, mlups: number, nowMs = Date.now()): void {
  const entries = readEntries(file);
  entries[key] = { mlups, measuredAtMs: nowMs };
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(entries));
    renameSync(partial, file);
  } catch {
    // The next run measures again.
  }
}

/** The roofline from the cache, else from `measure` (then remembered). */
export async function cachedOrMeasuredRoofline(
  file: string,
  key: string,
  measure: () => number | Promise<number>,
  nowMs = Date.now(),
): Promise<{ mlups: number; cached: boolean }> {
  const cached = cachedRooflineMlups(file, key, nowMs);
  if (cached !== null) return { mlups: cached, cached: true };
  const mlups = await measure();
  rememberRooflineMlups(file, key, mlups, nowMs);
  return { mlups, cached: false };
}
