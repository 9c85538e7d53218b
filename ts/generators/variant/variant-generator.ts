/**
 * The offline generators over the variant space. `VariantGenerator` breeds a
 * child from the parent's genome with an operator chosen by the strategy
 * memory's weights; `RandomSearchGenerator` samples the same space
 * uniformly, the peer the Darwin search is measured against.
 */
import { describe, invalidRangeError, requireInteger } from '../../errors.js';
import { type CandidateProposal, type GenerationContext, type Generator, GeneratorError } from '../types.js';
import { defaultGenome, genomeSpace, validateGenome, type VariantGenome } from './genome.js';
import { crossover, distinctGenes, mutate, pick, sample } from './operators.js';
import { renderKernel } from './render.js';

/**
 * Every operator the variant generator can pick: "mutate:<gene>" for each
 * gene, "mutate:several" (two to four genes at once: good points differ
 * from their parents in several genes whose gains only show together),
 * "crossover" and "sample".
 */
export const VARIANT_OPERATORS: readonly string[] = [...genomeSpace.map((gene) => `mutate:${gene.name}`), 'mutate:several', 'crossover', 'sample'];

const SEVERAL_GENES_MIN = 2;
const SEVERAL_GENES_MAX = 4;

function proposal(generator: string, operator: string, genome: VariantGenome): CandidateProposal {
  return { generator, operator, source: renderKernel(genome), genome: { ...genome }, prompt: null, costUsd: 0 };
}

/** The genomes of mates that belong to this space; archived kernels without one (or from another space) are skipped. */
function mateGenomes(context: GenerationContext): VariantGenome[] {
  const genomes: VariantGenome[] = [];
  for (const mate of context.mates) {
    if (mate.genome === null) continue;
    try {
      genomes.push(validateGenome(mate.genome));
    } catch {
      continue;
    }
  }
  return genomes;
}

function operatorWeight(weights: Record<string, number>, operator: string): number {
  const weight = weights[operator] ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw invalidRangeError(`operatorWeights["${operator}"]`, 'must be a finite number >= 0', weight);
  }
  return weight;
}

/** An operator drawn with probability proportional to its weight. */
function chooseOperator(operators: readonly string[], weights: Record<string, number>, random: () => number): string {
  const weighted = operators.map((operator) => ({ operator, weight: operatorWeight(weights, operator) }));
  const total = weighted.reduce((sum, entry) => sum + entry.weight, 0);
  if (total === 0) {
    throw new GeneratorError('exhausted', `every operator has weight 0 in operatorWeights = ${describe(weights)}: nothing to choose`);
  }
  let remaining = random() * total;
  for (const entry of weighted) {
    remaining -= entry.weight;
    if (remaining < 0 && entry.weight > 0) return entry.operator;
  }
  return weighted.filter((entry) => entry.weight > 0).at(-1)!.operator;
}

export interface VariantGeneratorOptions {
  /** Children bred per attempt for the predictor to choose from (1 to 256, default 1). */
  candidatesPerAttempt?: number;
}

export class VariantGenerator implements Generator {
  readonly name = 'variant';
  readonly candidatesPerAttempt: number;

  constructor(options: VariantGeneratorOptions = {}) {
    this.candidatesPerAttempt = requireInteger('candidatesPerAttempt', options.candidatesPerAttempt ?? 1, 1, 256);
  }

  /**
   * A child of `context.parent`: a parent with no genome (the reference
   * kernel, a hand-written or LLM source) is bred from `defaultGenome()`.
   * Crossover is only on offer when some mate has a genome of this space.
   */
  async propose(context: GenerationContext): Promise<CandidateProposal> {
    context.signal?.throwIfAborted();
    const parent = context.parent.genome === null ? defaultGenome() : validateGenome(context.parent.genome);
    const mates = mateGenomes(context);
    const operators = mates.length > 0 ? VARIANT_OPERATORS : VARIANT_OPERATORS.filter((op) => op !== 'crossover');
    const operator = chooseOperator(operators, context.operatorWeights, context.random);
    if (operator === 'sample') return proposal(this.name, operator, sample(context.random));
    if (operator === 'crossover') {
      const mate = mates[pick(mates.length, context.random)]!;
      return proposal(this.name, operator, crossover(parent, mate, context.random));
    }
    if (operator === 'mutate:several') {
      const count = SEVERAL_GENES_MIN + pick(SEVERAL_GENES_MAX - SEVERAL_GENES_MIN + 1, context.random);
      return proposal(this.name, operator, mutate(parent, distinctGenes(count, context.random), context.random));
    }
    const gene = genomeSpace.find((spec) => `mutate:${spec.name}` === operator)!;
    return proposal(this.name, operator, mutate(parent, [gene.name], context.random));
  }
}

export class RandomSearchGenerator implements Generator {
  readonly name = 'random';

  /** A genome drawn uniformly from the space, whatever the parent. */
  async propose(context: GenerationContext): Promise<CandidateProposal> {
    context.signal?.throwIfAborted();
    return proposal(this.name, 'sample', sample(context.random));
  }
}
