/**
 * The processes `bench handoff` starts: `exec <stateBytes> <out>` builds a
 * lattice and restarts itself by exec, then (as the new image) checks the
 * state and writes its row; `successor <out>` is a spawn successor that
 * hashes the state it took over; `file <path> <out>` reads a serialised
 * state back, the naive baseline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Lattice } from '../lattice/lattice.js';
import { filledLattice, stateHash } from './handoff-state.js';

const HASH_ENV = 'OUROBOROS_BENCH_STATE_HASH';

async function main(role: string | undefined, args: string[]): Promise<void> {
  if (role === 'file') {
    const [file, out] = args as [string, string];
    const hash = stateHash([readFileSync(file)]);
    writeFileSync(out!, JSON.stringify({ hash, readNs: String(process.hrtime.bigint()) }));
    return;
  }
  const inherited = await Lattice.inherited({ threads: 1 });
  if (role === 'successor') {
    const lattice = inherited!;
    writeFileSync(args[0]!, JSON.stringify({ hash: stateHash([lattice.segment!.level(0), lattice.segment!.level(1)]) }));
    lattice.close();
    return;
  }
  const [stateBytes, out] = args as [string, string];
  if (inherited) {
    const hash = stateHash([inherited.segment!.level(0), inherited.segment!.level(1)]);
    const row = { mode: 'exec', stateBytes: Number(stateBytes), downtimeMs: inherited.handoff!.downtimeMs, stateEqual: hash === process.env[HASH_ENV] };
    writeFileSync(out, JSON.stringify(row));
    inherited.close();
    return;
  }
  const lattice = filledLattice(Number(stateBytes));
  process.env[HASH_ENV] = stateHash([lattice.segment!.level(0), lattice.segment!.level(1)]);
  await lattice.restart({ mode: 'exec' });
}

await main(process.argv[2], process.argv.slice(3));
