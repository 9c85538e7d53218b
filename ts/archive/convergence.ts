/**
 * The remembered convergence: the economy's decision that attempts no
 * longer pay (it backed off), as a run ended in it, kept under what makes
 * it comparable (the machine, the live lattice's extents, precision and
 * threads, as the attempts' costs are) with the slot, live module and
 * generator it was made for and the figures it was made on. A run that
 * starts where that one ended starts backed off instead of paying for an
 * attempt to learn it again (ts/engine/convergence.ts).
 */
import { invalidRangeError, requireFiniteNumber } from '../errors.js';
import { checkCostKey } from './attempt-costs.js';
import type { SqlConnection } from './sql-connection.js';
import type { AttemptCostKey, ConvergenceRecord, NewConvergence } from './types.js';
import { requireSha256, requireSlot, requireText } from './validate.js';

interface ConvergenceRow {
  machine: string;
  extents: string;
  precision: string;
  threads: number;
  slot: string;
  module_sha256: string;
  generator: string;
  expected_gain_seconds: number;
  attempt_cost_seconds: number;
  ceiling_kind: string | null;
  ceiling_mlups: number | null;
  in_cache_mlups: number | null;
  live_mlups: number;
  recorded_at: string;
}

function toRecord(row: ConvergenceRow): ConvergenceRecord {
  return {
    machine: row.machine,
    extents: row.extents.split('x').map(Number),
    precision: row.precision as ConvergenceRecord['precision'],
    threads: row.threads,
    slot: row.slot as ConvergenceRecord['slot'],
    moduleSha256: row.module_sha256,
    generator: row.generator,
    expectedGainSeconds: row.expected_gain_seconds,
    attemptCostSeconds: row.attempt_cost_seconds,
    ceiling: row.ceiling_kind === null || row.ceiling_mlups === null ? null : { kind: row.ceiling_kind as 'roofline' | 'in-cache', mlups: row.ceiling_mlups },
    inCacheMlups: row.in_cache_mlups,
    liveMlups: row.live_mlups,
    recordedAt: row.recorded_at,
  };
}

function atLeast(name: string, value: unknown, least: number, strictly: boolean): number {
  const number = requireFiniteNumber(name, value);
  if (strictly ? number <= least : number < least) throw invalidRangeError(name, `must be ${strictly ? '>' : '>='} ${least}`, value);
  return number;
}

function checkCeiling(name: string, ceiling: NewConvergence['ceiling']): { kind: string | null; mlups: number | null } {
  if (ceiling === null) return { kind: null, mlups: null };
  if (ceiling.kind !== 'roofline' && ceiling.kind !== 'in-cache') throw invalidRangeError(`${name}.kind`, 'must be "roofline" or "in-cache"', ceiling.kind);
  return { kind: ceiling.kind, mlups: atLeast(`${name}.mlups`, ceiling.mlups, 0, true) };
}

export class ConvergenceStore {
  /** Made by `Archive.open`; shares the archive's connection. */
  constructor(private readonly db: SqlConnection) {}

  /** Keeps `convergence` in place of what its key remembered. */
  record(convergence: NewConvergence): ConvergenceRecord {
    const key = checkCostKey('convergence', convergence);
    const slot = requireSlot('convergence.slot', convergence.slot);
    const moduleSha256 = requireSha256('convergence.moduleSha256', convergence.moduleSha256);
    const generator = requireText('convergence.generator', convergence.generator, true);
    const gain = atLeast('convergence.expectedGainSeconds', convergence.expectedGainSeconds, 0, false);
    const cost = atLeast('convergence.attemptCostSeconds', convergence.attemptCostSeconds, 0, false);
    const ceiling = checkCeiling('convergence.ceiling', convergence.ceiling);
    const inCache = convergence.inCacheMlups === null ? null : atLeast('convergence.inCacheMlups', convergence.inCacheMlups, 0, true);
    const live = atLeast('convergence.liveMlups', convergence.liveMlups, 0, true);
    return this.db.transaction(() => {
      this.db.run(
        `INSERT INTO convergence (machine, extents, precision, threads, slot, module_sha256, generator, expected_gain_seconds, attempt_cost_seconds,
             ceiling_kind, ceiling_mlups, in_cache_mlups, live_mlups, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (machine, extents, precision, threads) DO UPDATE SET slot = excluded.slot, module_sha256 = excluded.module_sha256,
             generator = excluded.generator, expected_gain_seconds = excluded.expected_gain_seconds, attempt_cost_seconds = excluded.attempt_cost_seconds,
             ceiling_kind = excluded.ceiling_kind, ceiling_mlups = excluded.ceiling_mlups, in_cache_mlups = excluded.in_cache_mlups,
             live_mlups = excluded.live_mlups, recorded_at = excluded.recorded_at`,
        key.machine,
        key.extents,
        key.precision,
        key.threads,
        slot,
        moduleSha256,
        generator,
        gain,
        cost,
        ceiling.kind,
        ceiling.mlups,
        inCache,
        live,
        new Date().toISOString(),
      );
      return this.latest(convergence)!;
    });
  }

  /** What `key` remembers; null when nothing. */
  latest(key: AttemptCostKey): ConvergenceRecord | null {
    const checked = checkCostKey('key', key);
    const row = this.db.get<ConvergenceRow>(
      'SELECT * FROM convergence WHERE machine = ? AND extents = ? AND precision = ? AND threads = ?',
      checked.machine,
      checked.extents,
      checked.precision,
      checked.threads,
    );
    return row === undefined ? null : toRecord(row);
  }

  /** Forgets what `key` remembers; returns whether it remembered anything. */
  forget(key: AttemptCostKey): boolean {
    const checked = checkCostKey('key', key);
    return (
      this.db.run(
        'DELETE FROM convergence WHERE machine = ? AND extents = ? AND precision = ? AND threads = ?',
        checked.machine,
        checked.extents,
        checked.precision,
        checked.threads,
      ).changes > 0
    );
  }
}
