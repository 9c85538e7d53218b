/**
 * `ouroboros bench handoff`: the freeze-to-resume downtime of a core restart
 * on the same state, by exec and by spawn (the state stays in the segment,
 * no copy), against the baseline a user would write (serialise the state to
 * a file, read it back in a new process), for state sizes from 1 MB to 1 GiB.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRunOptions } from './suites.js';
import { filledLattice, stateHash } from './handoff-state.js';

export interface HandoffRow {
  mode: 'exec' | 'spawn' | 'file';
  stateBytes: number;
  downtimeMs: number;
  stateEqual: boolean;
}

export interface HandoffBenchReport {
  rows: HandoffRow[];
  targets: { spawnMsAt1GiB: number; execMsAt1GiB: number };
}

const MB = 1_000_000;
const GIB = 2 ** 30;
const FULL_SIZES = [MB, 16 * MB, 256 * MB, GIB];
const QUICK_SIZES = [MB, 4 * MB];
const child = fileURLToPath(new URL('./handoff-child.js', import.meta.url));

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

async function spawnRow(stateBytes: number, dir: string): Promise<HandoffRow> {
  const lattice = filledLattice(stateBytes);
  const hash = stateHash([lattice.segment!.level(0), lattice.segment!.level(1)]);
  const out = path.join(dir, 'spawn.json');
  const report = await lattice.restart({ mode: 'spawn', command: [child, 'successor', out] });
  for (let waited = 0; waited < 600 && !safeExists(out); waited++) await new Promise((r) => setTimeout(r, 100));
  return { mode: 'spawn', stateBytes, downtimeMs: report.downtimeMs, stateEqual: readJson(out).hash === hash };
}

function safeExists(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').length > 0;
  } catch {
    return false;
  }
}

function execRow(stateBytes: number, dir: string): HandoffRow {
  const out = path.join(dir, 'exec.json');
  const result = spawnSync(process.execPath, [child, 'exec', String(stateBytes), out], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`bench handoff: the exec child failed: ${result.stderr}`);
  return readJson(out) as unknown as HandoffRow;
}

function fileRow(stateBytes: number, dir: string): HandoffRow {
  const lattice = filledLattice(stateBytes);
  const levels = [lattice.segment!.level(0), lattice.segment!.level(1)];
  const hash = stateHash(levels);
  const file = path.join(dir, 'state.bin');
  const out = path.join(dir, 'file.json');
  const freezeNs = process.hrtime.bigint();
  writeFileSync(file, Buffer.concat(levels.map((level) => Buffer.from(level.buffer, level.byteOffset, level.byteLength))));
  const result = spawnSync(process.execPath, [child, 'file', file, out], { encoding: 'utf8' });
  lattice.close();
  if (result.status !== 0) throw new Error(`bench handoff: the file reader failed: ${result.stderr}`);
  const read = readJson(out);
  rmSync(file);
  return { mode: 'file', stateBytes, downtimeMs: Number(BigInt(read.readNs as string) - freezeNs) / 1e6, stateEqual: read.hash === hash };
}

export async function benchHandoff(options: BenchRunOptions): Promise<HandoffBenchReport> {
  const rows: HandoffRow[] = [];
  for (const stateBytes of options.quick ? QUICK_SIZES : FULL_SIZES) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-bench-handoff-'));
    options.onProgress(`${stateBytes} bytes`);
    rows.push(execRow(stateBytes, dir), await spawnRow(stateBytes, dir), fileRow(stateBytes, dir));
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, targets: { spawnMsAt1GiB: 20, execMsAt1GiB: 150 } };
}

export function formatHandoffReport(report: HandoffBenchReport): string {
  const lines = report.rows.map(
    (row) => `${row.mode.padEnd(6)} ${String(row.stateBytes).padStart(11)} B  ${row.downtimeMs.toFixed(2).padStart(9)} ms  ${row.stateEqual ? 'equal' : 'DIFFERENT'}`,
  );
  return ['mode     stateBytes      downtime  state', ...lines].join('\n');
}
