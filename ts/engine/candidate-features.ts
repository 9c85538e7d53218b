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
import { sourceFeatures } from './predictor.js';

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
