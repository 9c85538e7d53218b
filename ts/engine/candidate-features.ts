/**
 * What the predictor learns from: a candidate's source features and, for a
 * kernel of the variant space, its genome. The genome says directly what
 * the source only hints at (a split over the pool, streaming stores), so
 * the model needs far fewer outcomes to see which genes pay; a candidate
 * without a genome (the reference, an LLM source) has zeros there.
 */
import type { AttemptRecord } from '../archive/types.js';
import { genomeFeatures, validateGenome, defaultGenome } from '../generators/variant/genome.js';
import { outcomeOfRecord, type AttemptOutcome } from './strategy-memory.js';
import { stripComments } from '../gauntlet/source-rules.js';

const GENOME_FEATURES = genomeFeatures(defaultGenome()).length;

function genomeVector(genome: Record<string, unknown> | null): number[] {
  if (genome === null) return new Array<number>(GENOME_FEATURES).fill(0);
  try {
    return genomeFeatures(validateGenome(genome));
  } catch {
    // A genome of another space (an archive written by another version) says nothing here.
    return new Array<number>(GENOME_FEATURES).fill(0);
  }
}

export function candidateFeatures(source: string, genome: Record<string, unknown> | null): number[] {
  return [...sourceFeatures(source), ...genomeVector(genome)];
}

/**
 * An archived attempt as the predictor learns it: its outcome with the
 * speedup over the reference kernel (the gauntlet's ratio against the
 * incumbent of the day, times that incumbent's speedup), so that outcomes
 * judged against different incumbents share one scale. Null while pending.
 */
export function predictorSample(record: AttemptRecord): { features: number[]; outcome: AttemptOutcome } | null {
  const outcome = outcomeOfRecord(record);
  if (outcome === null) return null;
  const speedup = outcome.passed && record.speedup !== null && record.speedup > 0 ? record.speedup : null;
  return { features: candidateFeatures(record.source, record.genome), outcome: { ...outcome, speedup } };
}

interface SourceFeature {
  name: string;
  /** Occurrences in the source with comments and string literals blanked. */
  pattern: RegExp;
}

/** What `sourceFeatures` measures, in order; each count enters as ln(1 + count). */
export const SOURCE_FEATURES: readonly SourceFeature[] = [
  { name: 'for loops', pattern: /\bfor\s*\(/g },
  { name: 'while loops', pattern: /\bwhile\s*\(/g },
  { name: 'parallel_for calls', pattern: /\bparallel_for\b/g },
  { name: '__restrict qualifiers', pattern: /\b__restrict(?:__)?\b/g },
  { name: 'pragmas', pattern: /^[ \t]*#[ \t]*pragma\b/gm },
  { name: 'unroll hints', pattern: /#[ \t]*pragma[ \t]+(?:GCC[ \t]+unroll|unroll|clang[ \t]+loop[ \t]+unroll)/g },
  {
    name: 'vectorisation hints',
    pattern: /#[ \t]*pragma[ \t]+(?:omp[ \t]+simd|GCC[ \t]+ivdep|clang[ \t]+loop[ \t]+vectorize)|__builtin_assume_aligned|\balignas\b/g,
  },
  { name: 'streaming stores', pattern: /__builtin_nontemporal_store/g },
  { name: 'other builtins', pattern: /\b__builtin_(?!nontemporal_store|assume_aligned)\w+/g },
  { name: '% operators', pattern: /%(?!=)/g },
  { name: '/ operators', pattern: /\/(?![=/*])/g },
  { name: 'branches', pattern: /\bif\s*\(|\?/g },
  { name: 'templates', pattern: /\btemplate\s*</g },
  { name: 'inline hints', pattern: /\binline\b|__attribute__\s*\(\(\s*always_inline/g },
];

/** Names of the numbers `sourceFeatures` returns, in order. */
export const SOURCE_FEATURE_NAMES: readonly string[] = ['ln bytes', 'ln lines', ...SOURCE_FEATURES.map((feature) => `ln(1 + ${feature.name})`)];

/** Numeric features of a kernel's C++ source, for the predictor. */
export function sourceFeatures(source: string): number[] {
  const code = stripComments(source);
  return [
    Math.log1p(Buffer.byteLength(source, 'utf8')),
    Math.log1p(source.split('\n').length),
    ...SOURCE_FEATURES.map(({ pattern }) => Math.log1p(code.match(pattern)?.length ?? 0)),
  ];
}
