// The variant space's fused and vector paths compute what the oracle does,
// bit for bit: trapezoid temporal blocking at every depth, tile and split,
// the explicit vector loop at every width, on 1-D, 2-D, 3-D and 5-D
// lattices with extents down to 3, in both precisions, called with one
// step, two, a full pass and odd counts that leave a shallower last pass.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Lattice, type Precision } from '@ouroboros-engine/core';
import { oracleAddon, packageRoot } from '../dist/native/loader.js';
import { hardenedCompile } from '../dist/ts/gauntlet/compile.js';
import { defaultGenome, genomeKey, genomeSpace, renderKernel, validateGenome, type VariantGenome } from '../dist/ts/generators/variant/index.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';

const base = defaultGenome();
/** Every value of temporalSteps, tileKiB, split, isa and vectorPath under blocking "trapezoid", and the wavefront's new depths with the explicit loop. */
const GENOMES: VariantGenome[] = [
  { ...base, blocking: 'trapezoid', temporalSteps: 8, tileKiB: 8, split: 'static', vectorPath: 'explicit', isa: 'avx512f', boundary: 'select', unroll: 2 },
  {
    ...base,
    blocking: 'trapezoid',
    temporalSteps: 6,
    tileKiB: 128,
    split: 'dynamic',
    grainRows: 4,
    vectorPath: 'explicit',
    isa: 'avx2',
    loopOrder: 'strips',
    tileCols: 64,
  },
  { ...base, blocking: 'trapezoid', temporalSteps: 2, tileKiB: 512, vectorPath: 'explicit', restrict: true, alignment: 'checked' },
  { ...base, blocking: 'trapezoid', temporalSteps: 4, split: 'static', stores: 'streaming', prefetchCells: 64, boundary: 'peeled', vectorize: 'ivdep' },
  { ...base, blocking: 'trapezoid', temporalSteps: 3, split: 'dynamic', grainRows: 1, boundary: 'modulo', vectorize: 'auto', isa: 'avx2' },
  { ...base, blocking: 'trapezoid', temporalSteps: 1, split: 'static', vectorPath: 'explicit', isa: 'avx512f' },
  { ...base, temporalSteps: 8, wavefrontPlanes: 2, split: 'dynamic', grainRows: 1, vectorPath: 'explicit', isa: 'avx512f' },
  { ...base, temporalSteps: 6, wavefrontPlanes: 4, split: 'static', vectorPath: 'explicit' },
];

/** Small and odd extents: 3 along every axis somewhere, bands narrower than a pass's 2 * depth units, the 1-D line's wrap, rows long enough to be cut into strips, and a 3-D lattice cut into several tiles along planes and lines. */
const LATTICES: number[][] = [[3], [17], [1000], [3, 17], [17, 5], [40, 33], [5, 1100], [3, 5, 3], [17, 5, 9], [24, 20, 40], [3, 5, 3, 4, 3]];
/** One step, two, a full pass of the deepest genome, and odd counts that end in a shallower pass. */
const STEP_COUNTS = [1, 2, 7, 8, 19];
const THREADS = 2;

const oracle = oracleAddon();

function oracleState(
  extents: number[],
  precision: Precision,
  courant2: number,
  steps: number,
  state: { previous: Float64Array | Float32Array; current: Float64Array | Float32Array },
) {
  return precision === 'f64'
    ? oracle.stepF64(Float64Array.from(state.previous), Float64Array.from(state.current), extents, courant2, steps)
    : oracle.stepF32(Float32Array.from(state.previous), Float32Array.from(state.current), extents, courant2, steps);
}

/** Cells where the kernel's two levels differ from the oracle's, bit for bit (NaN never appears: random data, r < 1/sqrt(dims)). */
function mismatches(modulePath: string, extents: number[], precision: Precision): string[] {
  const lat = new Lattice({ extents, dt: 0.9 / Math.sqrt(extents.length), precision, kernel: modulePath, threads: THREADS });
  const found: string[] = [];
  try {
    const state = randomState(lat, extents.length * 31 + extents[0]!);
    for (const steps of STEP_COUNTS) {
      lat.setState(state.previous, state.current);
      lat.step(steps);
      const want = oracleState(extents, precision, lat.courantNumber ** 2, steps, state);
      const pairs = [
        [lat.previousField(), want.previous],
        [lat.field(), want.current],
      ] as const;
      const differing = pairs.reduce((sum, [got, expected]) => sum + expected.filter((value, i) => !Object.is(value, got[i])).length, 0);
      if (differing > 0) found.push(`${extents.join('x')} ${precision}, ${steps} steps: ${differing} cells`);
    }
  } finally {
    lat.close();
  }
  return found;
}

describe('fused and vector kernels against the oracle', () => {
  const modules: string[] = [];

  beforeAll(async () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-blocking-cache-'));
    const includeDir = path.join(packageRoot, 'cpp', 'include');
    for (const genome of GENOMES) {
      const built = await hardenedCompile(renderKernel(genome), { includeDir, timeoutMs: 300_000, cacheDir, useCache: true });
      expect(built.reason, genomeKey(genome)).toBe('');
      modules.push(built.details.modulePath!);
    }
  }, 900_000);

  it('the sample holds every value of the genes the fused and vector paths read', () => {
    const trapezoids = GENOMES.filter((genome) => genome.blocking === 'trapezoid');
    for (const name of ['temporalSteps', 'tileKiB', 'split', 'isa', 'vectorPath'] as const) {
      const values = genomeSpace.find((gene) => gene.name === name)!.values;
      expect(new Set(trapezoids.map((genome) => genome[name])), name).toEqual(new Set(values));
    }
    expect(new Set(GENOMES.filter((genome) => genome.vectorPath === 'explicit').map((genome) => genome.isa))).toEqual(new Set(['baseline', 'avx2', 'avx512f']));
  });

  GENOMES.forEach((genome, index) => {
    it(`is bitwise the oracle at 1, 2, 7, 8 and 19 steps on 1-D to 5-D lattices: ${genomeKey(genome)}`, () => {
      const found = LATTICES.flatMap((extents) => (['f64', 'f32'] as const).flatMap((precision) => mismatches(modules[index]!, extents, precision)));
      expect(found).toEqual([]);
    });
  });
});

describe('genomes archived before the fused and vector genes', () => {
  it('keep their key, and so their kernel name and rendering, and read the genes as the wavefront and compiler paths', () => {
    const { blocking: _b, tileKiB: _t, vectorPath: _v, ...older } = { ...base, temporalSteps: 3 as const, split: 'dynamic' as const };
    const read = validateGenome(older);
    expect(read).toMatchObject({ blocking: 'wavefront', tileKiB: 32, vectorPath: 'compiler' });
    expect(genomeKey(read)).toBe(JSON.stringify(older));
    expect(genomeKey({ ...read, blocking: 'trapezoid' })).toContain('"blocking":"trapezoid"');
  });
});
