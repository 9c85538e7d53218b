/**
 * `ouroboros bench handoff`: the freeze-to-resume downtime of a core restart
 * on the same state, by exec and by spawn (the state stays in the segment,
 * no copy), against the baseline a user would write (serialise the state to
 * a file, read it back in a new process), for state sizes from 1 MB to 1 GiB,
 * each the median of a few rounds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRunOptions } from './suites.js';
import { filledLattice, stateHash } from './handoff-state.js';
import { median } from '../util/median.js';

export interface HandoffRow {
  mode: 'exec' | 'spawn' | 'file';
  stateBytes: number;
  /** The median of the rounds: on a shared machine one round can land beside someone else's burst. */
  downtimeMs: number;
  /** Every round's downtime, in the order run. */
  roundsMs: number[];
  /** True when every round's state was bitwise the one frozen. */
  stateEqual: boolean;
}

type HandoffRound = Pick<HandoffRow, 'downtimeMs' | 'stateEqual'>;

export interface HandoffBenchReport {
  rows: HandoffRow[];
  targets: { spawnMsAt1GiB: number; execMsAt1GiB: number };
}

const MB = 1_000_000;
const GIB = 2 ** 30;
const FULL_SIZES = [MB, 16 * MB, 256 * MB, GIB];
const QUICK_SIZES = [MB, 4 * MB];
const FULL_ROUNDS = 3;
const QUICK_ROUNDS = 1;
const child = fileURLToPath(new URL('./handoff-child.js', import.meta.url));

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

async function spawnRound(stateBytes: number, dir: string): Promise<HandoffRound> {
  const lattice = filledLattice(stateBytes);
  const hash = stateHash([lattice.segment!.level(0), lattice.segment!.level(1)]);
  const out = path.join(dir, 'spawn.json');
  const report = await lattice.restart({ mode: 'spawn', command: [child, 'successor', out] });
  for (let waited = 0; waited < 600 && !safeExists(out); waited++) await new Promise((r) => setTimeout(r, 100));
  const seen = readJson(out);
  rmSync(out);
  return { downtimeMs: report.downtimeMs, stateEqual: seen.hash === hash };
}

function safeExists(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').length > 0;
  } catch {
    return false;
  }
}

function execRound(stateBytes: number, dir: string): HandoffRound {
  const out = path.join(dir, 'exec.json');
  const result = spawnSync(process.execPath, [child, 'exec', String(stateBytes), out], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`bench handoff: the exec child failed: ${result.stderr}`);
  const { downtimeMs, stateEqual } = readJson(out) as unknown as HandoffRound;
  rmSync(out);
  return { downtimeMs, stateEqual };
}

function fileRound(stateBytes: number, dir: string): HandoffRound {
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
  return { downtimeMs: Number(BigInt(read.readNs as string) - freezeNs) / 1e6, stateEqual: read.hash === hash };
}

function row(mode: HandoffRow['mode'], stateBytes: number, rounds: HandoffRound[]): HandoffRow {
  const roundsMs = rounds.map((round) => round.downtimeMs);
  return { mode, stateBytes, downtimeMs: median(roundsMs), roundsMs, stateEqual: rounds.every((round) => round.stateEqual) };
}

export async function benchHandoff(options: BenchRunOptions): Promise<HandoffBenchReport> {
  const rows: HandoffRow[] = [];
  const roundCount = options.quick ? QUICK_ROUNDS : FULL_ROUNDS;
  for (const stateBytes of options.quick ? QUICK_SIZES : FULL_SIZES) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-bench-handoff-'));
    const rounds = { exec: [] as HandoffRound[], spawn: [] as HandoffRound[], file: [] as HandoffRound[] };
    for (let round = 1; round <= roundCount; round++) {
      options.onProgress(`${stateBytes} bytes, round ${round} of ${roundCount}`);
      rounds.exec.push(execRound(stateBytes, dir));
      rounds.spawn.push(await spawnRound(stateBytes, dir));
      rounds.file.push(fileRound(stateBytes, dir));
    }
    rows.push(row('exec', stateBytes, rounds.exec), row('spawn', stateBytes, rounds.spawn), row('file', stateBytes, rounds.file));
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, targets: { spawnMsAt1GiB: 20, execMsAt1GiB: 150 } };
}

export function formatHandoffReport(report: HandoffBenchReport): string {
  const lines = report.rows.map(
    (row) =>
      `${row.mode.padEnd(6)} ${String(row.stateBytes).padStart(11)} B  ${row.downtimeMs.toFixed(2).padStart(9)} ms  ` +
      `${row.stateEqual ? 'equal    ' : 'DIFFERENT'}  (${row.roundsMs.map((ms) => ms.toFixed(1)).join(', ')})`,
  );
  return ['mode     stateBytes  median downtime  state      rounds (ms)', ...lines].join('\n');
}
