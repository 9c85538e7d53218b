/**
 * The runs' samples: what a finished run's dashboard draws. A run samples
 * its lattice every second or so for as long as it runs, so the archive
 * keeps at most MAX_RUN_SAMPLES per run, merging neighbours when there are
 * more: a merged sample covers their intervals, its MLUPS is their
 * lattice updates over that time, its held time their sum (a held period
 * stays shaded), and its drift their largest (a drift above tolerance
 * stays visible).
 */
import { requireFiniteNumber, requireInteger } from '../errors.js';
import type { SqlConnection } from './sql-connection.js';
import type { NewRun, RunRecord, RunSample } from './types.js';
import { requireTimestamp } from './validate.js';

/** Samples kept per run: at the default 1 s interval, a run of half an hour keeps every one. */
export const MAX_RUN_SAMPLES = 2_000;

interface RunRow {
  id: number;
  started_at: string;
  finished_at: string;
  baseline_mlups: number | null;
  roofline_mlups: number | null;
  drift_tolerance: number | null;
  samples_taken: number;
}

interface SampleRow {
  at_ms: number;
  step: number;
  mlups: number;
  interval_ms: number;
  held_ms: number;
  energy_drift: number;
  in_cache_mlups: number | null;
}

function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    baselineMlups: row.baseline_mlups,
    rooflineMlups: row.roofline_mlups,
    driftTolerance: row.drift_tolerance,
    samplesTaken: row.samples_taken,
  };
}

function toSample(row: SampleRow): RunSample {
  return {
    atMs: row.at_ms,
    step: row.step,
    mlups: row.mlups,
    intervalMs: row.interval_ms,
    heldMs: row.held_ms,
    energyDrift: row.energy_drift,
    inCacheMlups: row.in_cache_mlups,
  };
}

function nullableFinite(name: string, value: unknown): number | null {
  return value === null ? null : requireFiniteNumber(name, value);
}

function checkSample(sample: RunSample, index: number): void {
  const name = `run.samples[${index}]`;
  for (const field of ['atMs', 'mlups', 'intervalMs', 'heldMs', 'energyDrift'] as const) requireFiniteNumber(`${name}.${field}`, sample[field]);
  requireInteger(`${name}.step`, sample.step, 0);
  nullableFinite(`${name}.inCacheMlups`, sample.inCacheMlups);
}

/** One sample for a run of neighbours: their whole interval, their updates over it, their held time, their largest drift. */
function merged(group: readonly RunSample[]): RunSample {
  const last = group.at(-1)!;
  const intervalMs = group.reduce((sum, sample) => sum + sample.intervalMs, 0);
  const updates = group.reduce((sum, sample) => sum + sample.mlups * sample.intervalMs, 0);
  return {
    atMs: last.atMs,
    step: last.step,
    mlups: intervalMs > 0 ? updates / intervalMs : last.mlups,
    intervalMs,
    heldMs: group.reduce((sum, sample) => sum + sample.heldMs, 0),
    energyDrift: group.reduce((largest, sample) => (Math.abs(sample.energyDrift) > Math.abs(largest) ? sample.energyDrift : largest), 0),
    inCacheMlups: last.inCacheMlups,
  };
}

/** At most `limit` samples: groups of neighbours merged, in order. */
export function downsampleRun(samples: readonly RunSample[], limit = MAX_RUN_SAMPLES): RunSample[] {
  if (samples.length <= limit) return [...samples];
  const size = Math.ceil(samples.length / limit);
  const kept: RunSample[] = [];
  for (let start = 0; start < samples.length; start += size) kept.push(merged(samples.slice(start, start + size)));
  return kept;
}

export class RunStore {
  /** Made by `Archive.open`; shares the archive's connection. */
  constructor(private readonly db: SqlConnection) {}

  /** Keeps a finished run's samples, merged down to MAX_RUN_SAMPLES, and its figures; returns the run's row. */
  record(run: NewRun): RunRecord {
    requireTimestamp('run.startedAt', run.startedAt);
    requireTimestamp('run.finishedAt', run.finishedAt);
    nullableFinite('run.baselineMlups', run.baselineMlups);
    nullableFinite('run.rooflineMlups', run.rooflineMlups);
    nullableFinite('run.driftTolerance', run.driftTolerance);
    run.samples.forEach(checkSample);
    const kept = downsampleRun(run.samples);
    return this.db.transaction(() => {
      const { next } = this.db.get<{ next: number }>('SELECT COALESCE(MAX(id), 0) + 1 AS next FROM runs')!;
      this.db.run(
        'INSERT INTO runs (id, started_at, finished_at, baseline_mlups, roofline_mlups, drift_tolerance, samples_taken) VALUES (?, ?, ?, ?, ?, ?, ?)',
        next,
        run.startedAt,
        run.finishedAt,
        run.baselineMlups,
        run.rooflineMlups,
        run.driftTolerance,
        run.samples.length,
      );
      kept.forEach((s, seq) =>
        this.db.run(
          'INSERT INTO run_samples (run_id, seq, at_ms, step, mlups, interval_ms, held_ms, energy_drift, in_cache_mlups) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          next,
          seq,
          s.atMs,
          s.step,
          s.mlups,
          s.intervalMs,
          s.heldMs,
          s.energyDrift,
          s.inCacheMlups,
        ),
      );
      return this.get(next)!;
    });
  }

  get(id: number): RunRecord | null {
    const row = this.db.get<RunRow>('SELECT * FROM runs WHERE id = ?', id);
    return row === undefined ? null : toRun(row);
  }

  /** Every run that kept its samples, the oldest first. */
  list(): RunRecord[] {
    return this.db.all<RunRow>('SELECT * FROM runs ORDER BY id').map(toRun);
  }

  /** The samples the archive keeps of run `id`, in order; none for a run it does not know. */
  samples(id: number): RunSample[] {
    return this.db
      .all<SampleRow>('SELECT at_ms, step, mlups, interval_ms, held_ms, energy_drift, in_cache_mlups FROM run_samples WHERE run_id = ? ORDER BY seq', id)
      .map(toSample);
  }
}
