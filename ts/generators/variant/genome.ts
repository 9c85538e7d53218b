/**
 * The variant generator's search space: a genome is a plain JSON object with
 * one value per gene, and every combination of values renders to a correct
 * kernel (no gene may change the arithmetic of a cell, only the order in
 * which cells are visited, how loops are written and who computes them).
 */
import { describe, invalidRangeError, invalidTypeError } from '../../errors.js';

export interface VariantGenome {
  /** How a row finds its wrapped neighbours along the last axis. */
  boundary: 'modulo' | 'select' | 'peeled';
  /** Whole rows one after another, or column strips each swept down the rows. */
  loopOrder: 'rows' | 'strips';
  /**
   * Columns per strip when loopOrder is "strips", counted in f64 cells (an
   * f32 strip has as many bytes, twice the columns); rows short enough to
   * sit in L1 whole, as a 3-D lattice's usually are, are not cut. A 2-D
   * trapezoid pass skews its strips by a cache line per step and widens them
   * to more than twice its deepest skew.
   */
  tileCols: 64 | 256 | 1024 | 4096;
  /** `#pragma GCC unroll` factor of the inner loop (1: no pragma). */
  unroll: 1 | 2 | 4 | 8;
  /** "off" forbids the auto-vectoriser, "ivdep" promises it no loop-carried dependence. */
  vectorize: 'off' | 'auto' | 'ivdep';
  /** `__restrict` on the row pointers. */
  restrict: boolean;
  /** "checked": rows whose pointers are 64-byte aligned take a path compiled with that assumption. */
  alignment: 'none' | 'checked';
  /** "streaming": non-temporal stores (SSE2 builtins) for the new time level. */
  stores: 'plain' | 'streaming';
  /** Cells ahead that the inner loop prefetches the leading neighbour row and the old level (0: none). */
  prefetchCells: 0 | 64 | 256 | 1024;
  /** Time steps fused into one pass (a wavefront sweep or a trapezoid pass) when wave_step is asked for several. */
  temporalSteps: 1 | 2 | 3 | 4 | 6 | 8;
  /** Planes along the first axis per wavefront block. */
  wavefrontPlanes: 2 | 4 | 8 | 16 | 32 | 64;
  /** Who computes: the calling thread only, parallel_for over rows, or one band per pool thread. */
  split: 'serial' | 'dynamic' | 'static';
  /** Minimum rows per parallel_for chunk when split is "dynamic". */
  grainRows: 1 | 4 | 16 | 64 | 256;
  /** The instruction set the inner loop is compiled for: the build's baseline (SSE2) or wider vectors. */
  isa: 'baseline' | 'avx2' | 'avx512f';
  /**
   * How fused steps are scheduled: "wavefront", the one-sweep wavefront of
   * 2-D and 3-D lattices; "trapezoid", one band of the first axis per
   * thread, each a shrinking trapezoid of temporalSteps steps, then the
   * inverted triangles between bands (1-D and 2-D); in 3-D, tiles of planes
   * by lines, in four phases of shrinking and growing ranges.
   */
  blocking: 'wavefront' | 'trapezoid';
  /**
   * Bytes of one level a trapezoid's wavefront advances per position, in KiB
   * (at least one unit of the first axis); in 3-D, about the bytes of one
   * tile, a square of planes by lines.
   */
  tileKiB: 8 | 32 | 128 | 512;
  /** "compiler": the loop as the compiler vectorises it; "explicit": GCC vector types as wide as the isa's registers. */
  vectorPath: 'compiler' | 'explicit';
}

export type GeneName = keyof VariantGenome;

export interface GeneSpec {
  name: GeneName;
  /** The allowed values; for an ordinal gene, in order. */
  values: readonly (string | number | boolean)[];
  /** Ordinal genes mutate to a neighbouring value, categorical ones to any other. */
  kind: 'categorical' | 'ordinal';
  description: string;
  /**
   * For a gene added after genomes were first archived: the value a genome
   * without it has (what the kernels rendered before the gene existed did).
   */
  whenAbsent?: string | number | boolean;
  /**
   * For a gene added after kernels were named by their genome's key: the
   * key leaves the gene out at its whenAbsent value, so an archived genome
   * keeps its key, its kernel name and its rendering byte for byte.
   */
  keyedWhenSet?: true;
}

/** Every gene, its values and what it changes, in the genome's canonical order. */
export const genomeSpace: readonly GeneSpec[] = [
  {
    name: 'boundary',
    values: ['modulo', 'select', 'peeled'],
    kind: 'categorical',
    description: 'wrap of the last axis: % per cell, compare-and-select per cell, or edges peeled off the loop',
  },
  { name: 'loopOrder', values: ['rows', 'strips'], kind: 'categorical', description: 'whole rows, or column strips swept down the rows' },
  {
    name: 'tileCols',
    values: [64, 256, 1024, 4096],
    kind: 'ordinal',
    description: 'f64 columns per strip (loopOrder "strips"; rows that fit L1 whole are not cut)',
  },
  { name: 'unroll', values: [1, 2, 4, 8], kind: 'ordinal', description: 'unroll factor of the inner loop' },
  { name: 'vectorize', values: ['off', 'auto', 'ivdep'], kind: 'categorical', description: 'auto-vectoriser off, on, or on with #pragma GCC ivdep' },
  { name: 'restrict', values: [false, true], kind: 'categorical', description: '__restrict on the row pointers' },
  { name: 'alignment', values: ['none', 'checked'], kind: 'categorical', description: 'a 64-byte-aligned path for rows that are, checked at run time' },
  { name: 'stores', values: ['plain', 'streaming'], kind: 'categorical', description: 'plain or non-temporal stores of the new level' },
  { name: 'prefetchCells', values: [0, 64, 256, 1024], kind: 'ordinal', description: 'software prefetch distance in cells (0: none)' },
  { name: 'temporalSteps', values: [1, 2, 3, 4, 6, 8], kind: 'ordinal', description: 'steps fused per pass when several are asked for' },
  { name: 'wavefrontPlanes', values: [2, 4, 8, 16, 32, 64], kind: 'ordinal', description: 'first-axis planes per wavefront block' },
  {
    name: 'split',
    values: ['serial', 'dynamic', 'static'],
    kind: 'categorical',
    description: 'calling thread only, parallel_for over rows, or one band per pool thread',
  },
  { name: 'grainRows', values: [1, 4, 16, 64, 256], kind: 'ordinal', description: 'minimum rows per parallel_for chunk (split "dynamic")' },
  {
    name: 'isa',
    values: ['baseline', 'avx2', 'avx512f'],
    kind: 'categorical',
    description:
      "instruction set of the inner loop: the build's baseline, or AVX2 / AVX-512F by a target attribute (no FMA: the arithmetic stays the same); a machine without it fails the gauntlet",
    whenAbsent: 'baseline',
  },
  {
    name: 'blocking',
    values: ['wavefront', 'trapezoid'],
    kind: 'categorical',
    description: 'fused steps as one wavefront sweep, or as per-thread trapezoids and the triangles between them',
    whenAbsent: 'wavefront',
    keyedWhenSet: true,
  },
  {
    name: 'tileKiB',
    values: [8, 32, 128, 512],
    kind: 'ordinal',
    description: 'KiB of a level per trapezoid wavefront position, in 3-D per tile of planes by lines (blocking "trapezoid")',
    whenAbsent: 32,
    keyedWhenSet: true,
  },
  {
    name: 'vectorPath',
    values: ['compiler', 'explicit'],
    kind: 'categorical',
    description: "inner loop vectorised by the compiler, or written with vector types of the isa's width (16, 32 or 64 bytes)",
    whenAbsent: 'compiler',
    keyedWhenSet: true,
  },
];

const GENE_NAMES = new Set<string>(genomeSpace.map((gene) => gene.name));

/** The plain, unoptimised point the search starts from when the parent has no genome. */
export function defaultGenome(): VariantGenome {
  return {
    boundary: 'modulo',
    loopOrder: 'rows',
    tileCols: 4096,
    unroll: 1,
    vectorize: 'off',
    restrict: false,
    alignment: 'none',
    stores: 'plain',
    prefetchCells: 0,
    temporalSteps: 1,
    wavefrontPlanes: 4,
    split: 'serial',
    grainRows: 16,
    isa: 'baseline',
    blocking: 'wavefront',
    tileKiB: 32,
    vectorPath: 'compiler',
  };
}

/**
 * Checks that `value` is a genome of this space and returns a copy with the
 * genes in canonical order; the error names the gene, its value and the
 * allowed values.
 */
export function validateGenome(value: unknown): VariantGenome {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidTypeError('genome', `an object with the genes ${[...GENE_NAMES].join(', ')}`, value);
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !GENE_NAMES.has(key));
  if (unknown !== undefined) {
    throw invalidRangeError(`genome.${unknown}`, `is not a gene: the genes are ${[...GENE_NAMES].join(', ')}`, record[unknown]);
  }
  const genome: Record<string, unknown> = {};
  for (const gene of genomeSpace) {
    const geneValue = record[gene.name] === undefined && gene.whenAbsent !== undefined ? gene.whenAbsent : record[gene.name];
    if (!gene.values.includes(geneValue as string | number | boolean)) {
      throw invalidRangeError(`genome.${gene.name}`, `must be one of ${gene.values.map(describe).join(', ')}`, geneValue);
    }
    genome[gene.name] = geneValue;
  }
  return genome as unknown as VariantGenome;
}

/**
 * The genome as canonical JSON: genes in genomeSpace order, so equal
 * genomes give equal text; a keyedWhenSet gene only when it is not at its
 * whenAbsent value.
 */
export function genomeKey(genome: VariantGenome): string {
  const keyed = genomeSpace.filter((gene) => !(gene.keyedWhenSet && genome[gene.name] === gene.whenAbsent));
  return JSON.stringify(Object.fromEntries(keyed.map((gene) => [gene.name, genome[gene.name]])));
}

/**
 * A numeric encoding for a learned predictor: one-hot for categorical genes,
 * the value's position scaled to [0, 1] for ordinal ones.
 */
export function genomeFeatures(genome: VariantGenome): number[] {
  const features: number[] = [];
  for (const gene of genomeSpace) {
    const index = gene.values.indexOf(genome[gene.name]);
    if (gene.kind === 'ordinal') {
      features.push(index / (gene.values.length - 1));
    } else if (gene.values.length === 2) {
      features.push(index);
    } else {
      features.push(...gene.values.map((_, i) => (i === index ? 1 : 0)));
    }
  }
  return features;
}
