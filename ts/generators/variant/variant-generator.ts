/**
 * The offline generators over the variant space. `VariantGenerator` breeds a
 * child from the parent's genome with an operator chosen by the strategy
 * memory's weights; `RandomSearchGenerator` samples the same space
 * uniformly, the peer the Darwin search is measured against.
 */
import { describe, invalidRangeError } from '../../errors.js';
import { type CandidateProposal, type GenerationContext, type Generator, GeneratorError } from '../types.js';
import { defaultGenome, genomeSpace, validateGenome, type VariantGenome } from './genome.js';
import { crossover, mutate, sample } from './operators.js';
import { renderKernel } from './render.js';

/** Every operator the variant generator can pick: "mutate:<gene>" for each gene, "crossover" and "sample". */
export const VARIANT_OPERATORS: readonly string[] = [...genomeSpace.map((gene) => `mutate:${gene.name}`), 'crossover', 'sample'];

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

export class VariantGenerator implements Generator {
  readonly name = 'variant';

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
      const mate = mates[Math.min(mates.length - 1, Math.floor(context.random() * mates.length))]!;
      return proposal(this.name, operator, crossover(parent, mate, context.random));
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
