/**
 * An attempt as the `attempts` table stores it, and the conversions both
 * ways. Structured fields are JSON text; everything else is a column of its
 * own so that filters and counts run in SQL.
 */
import type { GateName, Slot } from '../gauntlet/types.js';
import type { AttemptRecord, AttemptStatus, AttemptUpdate } from './types.js';
import { ArchiveError } from './errors.js';
import { toJson } from './validate.js';

export interface AttemptRow {
  id: number;
  parent_id: number | null;
  slot: string;
  generator: string;
  operator: string;
  genome: string | null;
  prompt: string | null;
  source: string;
  source_sha256: string;
  module_sha256: string | null;
  module_path: string | null;
  gates: string;
  failed_gate: string | null;
  reason: string;
  benchmark: string | null;
  bench_ratio: number | null;
  live_mlups: number | null;
  speedup: number | null;
  status: string;
  cost_usd: number;
  created_at: string;
  finished_at: string | null;
  /** row-seal.ts: the sha256 of every other column. */
  row_sha256: string;
  /** Schema version 3: the LLM's reply as it came, whether or not a candidate could be read from it. */
  raw_reply: string | null;
  /** Schema version 5: the archive (owners.ts) that inserted a pending attempt; null for roots and older rows. Not sealed. */
  owner: string | null;
}

/** A JSON cell of a row that does not parse: the file was edited or damaged. */
export class MalformedCellError extends ArchiveError {}

function parseCell<T>(file: string, row: AttemptRow, column: 'genome' | 'gates' | 'benchmark'): T | null {
  const text = row[column];
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new MalformedCellError(
      `archive ${file}: attempt ${row.id}, column ${column}, is not valid JSON (${(error as Error).message}): the file was edited or damaged; restore it from a copy`,
      file,
    );
  }
}

/**
 * Rows are only written through the checks in validate.ts, so their values
 * are trusted here, except that a JSON cell that does not parse is named
 * (file, attempt, column) rather than failing every read of the archive.
 */
export function toRecord(file: string, row: AttemptRow): AttemptRecord {
  return {
    id: row.id,
    parentId: row.parent_id,
    slot: row.slot as Slot,
    generator: row.generator,
    operator: row.operator,
    genome: parseCell(file, row, 'genome'),
    prompt: row.prompt,
    rawReply: row.raw_reply,
    source: row.source,
    sourceSha256: row.source_sha256,
    moduleSha256: row.module_sha256,
    modulePath: row.module_path,
    gates: parseCell<AttemptRecord['gates']>(file, row, 'gates') ?? [],
    failedGate: row.failed_gate as GateName | null,
    reason: row.reason,
    benchmark: parseCell(file, row, 'benchmark'),
    benchRatio: row.bench_ratio,
    liveMlups: row.live_mlups,
    speedup: row.speedup,
    status: row.status as AttemptStatus,
    costUsd: row.cost_usd,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

const asIs = (value: unknown): unknown => value;
const jsonOrNull = (name: string) => (value: unknown) => (value === null ? null : toJson(name, value));

/** The column each updatable field lives in, and how its value is stored there. */
export const UPDATE_COLUMNS: { [K in keyof Required<AttemptUpdate>]: { column: keyof AttemptRow; encode: (value: unknown) => unknown } } = {
  generator: { column: 'generator', encode: asIs },
  operator: { column: 'operator', encode: asIs },
  genome: { column: 'genome', encode: jsonOrNull('update.genome') },
  prompt: { column: 'prompt', encode: asIs },
  moduleSha256: { column: 'module_sha256', encode: asIs },
  modulePath: { column: 'module_path', encode: asIs },
  gates: { column: 'gates', encode: (value) => toJson('update.gates', value) },
  failedGate: { column: 'failed_gate', encode: asIs },
  reason: { column: 'reason', encode: asIs },
  benchmark: { column: 'benchmark', encode: jsonOrNull('update.benchmark') },
  benchRatio: { column: 'bench_ratio', encode: asIs },
  liveMlups: { column: 'live_mlups', encode: asIs },
  speedup: { column: 'speedup', encode: asIs },
  status: { column: 'status', encode: asIs },
  costUsd: { column: 'cost_usd', encode: asIs },
  finishedAt: { column: 'finished_at', encode: asIs },
};
