/**
 * The measured baselines: the step kernel's quiet throughput as a run
 * measured it before anything changed, kept under what makes it comparable
 * (the machine, the live lattice's extents, precision and threads, as the
 * attempts' costs are, and the module measured). A run that puts a
 * remembered kernel live at once reads the figure here instead of stepping
 * the reference kernel through a window of its own first (ts/engine/scheduler.ts).
 */
import { invalidRangeError, requireFiniteNumber, requireInteger } from '../errors.js';
import { type CostKeyRow, checkCostKey, costKeyOf } from './attempt-costs.js';
import type { SqlConnection } from './sql-connection.js';
import type { AttemptCostKey, BaselineRecord, NewBaseline } from './types.js';
import { requireSha256 } from './validate.js';

interface BaselineRow extends CostKeyRow {
  module_sha256: string;
  mlups: number;
  steps: number;
  recorded_at: string;
}

function toRecord(row: BaselineRow): BaselineRecord {
  return {
    ...costKeyOf(row),
    moduleSha256: row.module_sha256,
    mlups: row.mlups,
    steps: row.steps,
    recordedAt: row.recorded_at,
  };
}

export class BaselineStore {
  /** Made by `Archive.open`; shares the archive's connection. */
  constructor(private readonly db: SqlConnection) {}

  /** Keeps `baseline`, in place of any measured before under its key and module. */
  record(baseline: NewBaseline): BaselineRecord {
    const key = checkCostKey('baseline', baseline);
    const moduleSha256 = requireSha256('baseline.moduleSha256', baseline.moduleSha256);
    const mlups = requireFiniteNumber('baseline.mlups', baseline.mlups);
    if (mlups <= 0) throw invalidRangeError('baseline.mlups', 'must be > 0', baseline.mlups);
    const steps = requireInteger('baseline.steps', baseline.steps, 1);
    return this.db.transaction(() => {
      this.db.run(
        `INSERT INTO baselines (machine, extents, precision, threads, module_sha256, mlups, steps, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (machine, extents, precision, threads, module_sha256) DO UPDATE SET mlups = excluded.mlups, steps = excluded.steps, recorded_at = excluded.recorded_at`,
        key.machine,
        key.extents,
        key.precision,
        key.threads,
        moduleSha256,
        mlups,
        steps,
        new Date().toISOString(),
      );
      return this.latest(baseline, moduleSha256)!;
    });
  }

  /** The baseline last measured for `moduleSha256` under `key`; null when none was. */
  latest(key: AttemptCostKey, moduleSha256: string): BaselineRecord | null {
    const checked = checkCostKey('key', key);
    const row = this.db.get<BaselineRow>(
      'SELECT * FROM baselines WHERE machine = ? AND extents = ? AND precision = ? AND threads = ? AND module_sha256 = ?',
      checked.machine,
      checked.extents,
      checked.precision,
      checked.threads,
      requireSha256('moduleSha256', moduleSha256),
    );
    return row === undefined ? null : toRecord(row);
  }
}
