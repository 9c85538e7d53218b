/** The state `bench handoff` hands over: a 1-D lattice of a given size in a segment, and its hash. */
import { createHash } from 'node:crypto';
import { Lattice } from '../lattice/lattice.js';

/** A shared-state lattice whose two levels hold `stateBytes` in all, filled with a pattern and stepped once. */
export function filledLattice(stateBytes: number): Lattice {
  const cells = Math.max(3, Math.floor(stateBytes / 16));
  const lattice = new Lattice({ extents: [cells], dt: 0.5, threads: 1, sharedState: true });
  const segment = lattice.segment!;
  for (const index of [0, 1]) {
    const level = segment.level(index);
    for (let i = 0; i < level.length; i++) level[i] = Math.sin(i * 1e-3 + index);
  }
  lattice.step(1);
  return lattice;
}

export function stateHash(parts: ArrayBufferView[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
  return hash.digest('hex');
}
