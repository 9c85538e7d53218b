/**
 * The variant generator's template as something the static analysers can
 * read once: a covering set of genomes, in whose renderings every value of
 * every gene appears at least once and takes effect (the rendering with that
 * value differs from the one with another value of the gene, beyond the
 * header and the kernel's name), and the template hash, a hash of those
 * renderings.
 *
 * Covered: each value of each gene, in some context where it changes the
 * code, so every text the renderer emits for a single gene's value is read.
 * Not covered: interactions between genes. A combination of values no
 * covering genome has (e.g. streaming stores with the "peeled" boundary and
 * AVX-512F) is only read as parts the covering renderings hold separately.
 * A gene whose value shows only under another gene's value is covered under
 * it: tileCols with loopOrder "strips", grainRows with split "dynamic",
 * wavefrontPlanes with temporalSteps above 1, tileKiB with blocking
 * "trapezoid"; the explicit vector path is read at each isa's width, and
 * the trapezoid path with each split, with both vector paths and with
 * streaming stores and the peeled boundary in its 1-D line span.
 */
import { createHash } from 'node:crypto';
import { type VariantGenome, defaultGenome } from './genome.js';
import { renderKernel } from './render.js';

// The search's starting point, which the covering genomes vary.
const BASE: VariantGenome = defaultGenome();

/**
 * Eleven genomes: seven for the wavefront path (the fewest that cover
 * grainRows' five values under split "dynamic" beside "serial" and
 * "static"), four for the trapezoid path. tests/gauntlet-template-analysis
 * checks that every value of every gene takes effect in one of them.
 */
export const COVERING_GENOMES: readonly VariantGenome[] = [
  BASE,
  {
    ...BASE,
    split: 'dynamic',
    grainRows: 1,
    loopOrder: 'strips',
    tileCols: 64,
    temporalSteps: 2,
    wavefrontPlanes: 2,
    prefetchCells: 64,
    boundary: 'select',
    unroll: 2,
    vectorize: 'auto',
    restrict: true,
    alignment: 'checked',
    stores: 'streaming',
    isa: 'avx2',
  },
  {
    ...BASE,
    split: 'dynamic',
    grainRows: 4,
    loopOrder: 'strips',
    tileCols: 256,
    temporalSteps: 3,
    wavefrontPlanes: 4,
    prefetchCells: 256,
    boundary: 'peeled',
    unroll: 4,
    vectorize: 'ivdep',
    isa: 'avx512f',
  },
  {
    ...BASE,
    split: 'dynamic',
    grainRows: 16,
    loopOrder: 'strips',
    tileCols: 1024,
    temporalSteps: 4,
    wavefrontPlanes: 8,
    prefetchCells: 1024,
    unroll: 8,
    vectorize: 'auto',
    restrict: true,
    alignment: 'checked',
    stores: 'streaming',
  },
  {
    ...BASE,
    split: 'dynamic',
    grainRows: 64,
    loopOrder: 'strips',
    tileCols: 4096,
    temporalSteps: 2,
    wavefrontPlanes: 16,
    boundary: 'select',
    vectorize: 'ivdep',
    stores: 'streaming',
    isa: 'avx2',
  },
  { ...BASE, split: 'dynamic', grainRows: 256, temporalSteps: 3, wavefrontPlanes: 32, prefetchCells: 64, boundary: 'peeled', unroll: 2, alignment: 'checked' },
  { ...BASE, split: 'static', temporalSteps: 8, wavefrontPlanes: 64, prefetchCells: 256, unroll: 4, vectorize: 'auto', restrict: true, isa: 'avx512f' },
  { ...BASE, blocking: 'trapezoid', temporalSteps: 8, tileKiB: 8, split: 'static', vectorPath: 'explicit', isa: 'avx512f', boundary: 'select', unroll: 2 },
  {
    ...BASE,
    blocking: 'trapezoid',
    temporalSteps: 6,
    tileKiB: 128,
    split: 'dynamic',
    grainRows: 64,
    vectorPath: 'explicit',
    isa: 'avx2',
    loopOrder: 'strips',
    tileCols: 1024,
    prefetchCells: 64,
    stores: 'streaming',
  },
  { ...BASE, blocking: 'trapezoid', temporalSteps: 2, tileKiB: 512, vectorPath: 'explicit', restrict: true, alignment: 'checked', vectorize: 'auto' },
  {
    ...BASE,
    blocking: 'trapezoid',
    temporalSteps: 4,
    split: 'static',
    stores: 'streaming',
    prefetchCells: 256,
    boundary: 'peeled',
    vectorize: 'ivdep',
    unroll: 4,
  },
];

/** The covering genomes' renderings, in order. */
export function coveringRenderings(): string[] {
  return COVERING_GENOMES.map((genome) => renderKernel(genome));
}

/**
 * The template hash: sha256 of the covering renderings. Any change of the
 * renderer's output for a covering genome changes it, and with it the
 * analysis that stands for the template.
 */
export function templateHash(): string {
  const hash = createHash('sha256');
  for (const rendering of coveringRenderings()) hash.update(rendering).update('\0');
  return hash.digest('hex');
}
