/**
 * The content hash of an attempt row (column row_sha256): the sha256 of
 * every other column's value, in the table's column order, written in the
 * same transaction as any change to the row. A row edited outside the
 * archive (a forged status, a changed source) no longer matches, and
 * `archive show`, `ledger verify` and the warm start say so. Like the
 * ledger's hash chain, it finds edits made by a tool or by hand, not by
 * someone who recomputes the hash: it has no key.
 *
 * Every column holds text, a number or null, so a JSON array of the values
 * in a fixed order has one spelling in JavaScript (numbers in their
 * shortest round-trip form), which is all that reads and writes archives.
 *
 * raw_reply (schema version 3) is appended to the array only when set: rows
 * sealed before it existed keep their hashes, and clearing a stored reply
 * changes the hash like any other edit.
 */
import { createHash } from 'node:crypto';
import type { SqlConnection } from './sql-connection.js';
import type { AttemptRow } from './attempt-row.js';

/** The columns the hash covers, in the table's order: all but row_sha256. */
export const SEALED_COLUMNS = [
  'id',
  'parent_id',
  'slot',
  'generator',
  'operator',
  'genome',
  'prompt',
  'source',
  'source_sha256',
  'module_sha256',
  'module_path',
  'gates',
  'failed_gate',
  'reason',
  'benchmark',
  'bench_ratio',
  'live_mlups',
  'speedup',
  'status',
  'cost_usd',
  'created_at',
  'finished_at',
] as const satisfies readonly (keyof AttemptRow)[];

export function rowSha256(row: AttemptRow): string {
  const values: unknown[] = SEALED_COLUMNS.map((column) => row[column]);
  if (row.raw_reply !== null && row.raw_reply !== undefined) values.push(row.raw_reply);
  return createHash('sha256').update(JSON.stringify(values)).digest('hex');
}

/** Stores the row's hash of attempt `id` as it now is; call inside the transaction that changed the row. */
export function sealAttempt(db: SqlConnection, id: number): AttemptRow {
  const row = db.get<AttemptRow>('SELECT * FROM attempts WHERE id = ?', id);
  if (row === undefined) throw new Error(`sealAttempt: no attempt ${id}`);
  const sha256 = rowSha256(row);
  db.run('UPDATE attempts SET row_sha256 = ? WHERE id = ?', sha256, id);
  return { ...row, row_sha256: sha256 };
}

/** Whether a row read from the file still matches its hash. */
export function rowIntact(row: AttemptRow): boolean {
  return row.row_sha256 === rowSha256(row);
}
