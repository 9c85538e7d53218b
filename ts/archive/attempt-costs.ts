/**
 * The attempts' measured costs: what each attempt that ended on its own
 * cost the live job, kept under what makes costs comparable (the machine,
 * the live lattice's extents, precision and threads, the slot), so that a
 * new run's economy starts from what attempts really cost on this machine
 * and lattice rather than a guess (ts/engine/attempt-costs.ts).
 */
import { invalidRangeError, requireFiniteNumber, requireInteger } from '../errors.js';
import type { Slot } from '../gauntlet/types.js';
import type { SqlConnection } from './sql-connection.js';
import type { AttemptCostKey, AttemptCostRecord, NewAttemptCost } from './types.js';
import { requireId, requireSha256, requireSlot } from './validate.js';

/** A cost key's columns, as the costs and the baselines (baselines.ts) both keep them. */
export interface CostKeyRow {
  machine: string;
  extents: string;
  precision: string;
  threads: number;
}

interface CostRow extends CostKeyRow {
  attempt_id: number;
  slot: string;
  cost_seconds: number;
  wall_seconds: number;
  recorded_at: string;
}

/** "4096x4096": the extents as one comparable text. */
function extentsText(name: string, extents: unknown): string {
  if (!Array.isArray(extents) || extents.length === 0) throw invalidRangeError(name, 'a non-empty array of integers >= 1', extents);
  extents.forEach((extent, axis) => requireInteger(`${name}[${axis}]`, extent, 1));
  return extents.join('x');
}

/** The key's columns, checked; shared with the baselines (baselines.ts), kept under the same key. */
export function checkCostKey(name: string, key: AttemptCostKey): { machine: string; extents: string; precision: string; threads: number } {
  const precision: unknown = key.precision;
  if (precision !== 'f32' && precision !== 'f64') throw invalidRangeError(`${name}.precision`, 'must be "f32" or "f64"', precision);
  return {
    machine: requireSha256(`${name}.machine`, key.machine),
    extents: extentsText(`${name}.extents`, key.extents),
    precision,
    threads: requireInteger(`${name}.threads`, key.threads, 1),
  };
}

function nonNegative(name: string, value: unknown): number {
  const number = requireFiniteNumber(name, value);
  if (number < 0) throw invalidRangeError(name, 'must be >= 0', value);
  return number;
}

/** The key a row was stored under, as records give it back. */
export function costKeyOf(row: CostKeyRow): AttemptCostKey {
  return {
    machine: row.machine,
    extents: row.extents.split('x').map(Number),
    precision: row.precision as AttemptCostKey['precision'],
    threads: row.threads,
  };
}

function toRecord(row: CostRow): AttemptCostRecord {
  return {
    attemptId: row.attempt_id,
    slot: row.slot as Slot,
    ...costKeyOf(row),
    costSeconds: row.cost_seconds,
    wallSeconds: row.wall_seconds,
    recordedAt: row.recorded_at,
  };
}

export class AttemptCostStore {
  /** Made by `Archive.open`; shares the archive's connection. */
  constructor(private readonly db: SqlConnection) {}

  /** Keeps what attempt `cost.attemptId` cost; an attempt's cost is recorded once. */
  record(cost: NewAttemptCost): AttemptCostRecord {
    const key = checkCostKey('cost', cost);
    const attemptId = requireId('cost.attemptId', cost.attemptId);
    const slot = requireSlot('cost.slot', cost.slot);
    const costSeconds = nonNegative('cost.costSeconds', cost.costSeconds);
    const wallSeconds = nonNegative('cost.wallSeconds', cost.wallSeconds);
    return this.db.transaction(() => {
      this.db.run(
        `INSERT INTO attempt_costs (attempt_id, slot, machine, extents, precision, threads, cost_seconds, wall_seconds, recorded_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        attemptId,
        slot,
        key.machine,
        key.extents,
        key.precision,
        key.threads,
        costSeconds,
        wallSeconds,
        new Date().toISOString(),
      );
      return toRecord(this.db.get<CostRow>('SELECT * FROM attempt_costs WHERE attempt_id = ?', attemptId)!);
    });
  }

  /** The last `limit` costs recorded under `key` for any of `slots`, the newest first. */
  recent(key: AttemptCostKey, slots: readonly Slot[], limit: number): AttemptCostRecord[] {
    const checked = checkCostKey('key', key);
    slots.forEach((slot, index) => requireSlot(`slots[${index}]`, slot));
    requireInteger('limit', limit, 0);
    if (slots.length === 0) return [];
    return this.db
      .all<CostRow>(
        `SELECT * FROM attempt_costs WHERE machine = ? AND extents = ? AND precision = ? AND threads = ? AND slot IN (${slots.map(() => '?').join(', ')})
           ORDER BY recorded_at DESC, attempt_id DESC LIMIT ?`,
        checked.machine,
        checked.extents,
        checked.precision,
        checked.threads,
        ...slots,
        limit,
      )
      .map(toRecord);
  }
}
