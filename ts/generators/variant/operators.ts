/**
 * The genetic operators over variant genomes. Each takes its randomness from
 * the `random` it is given, so a run replays from a seed, and each returns a
 * genome inside the space.
 */
import { invalidRangeError } from '../../errors.js';
import { genomeSpace, type GeneName, type GeneSpec, type VariantGenome } from './genome.js';

type GeneValue = VariantGenome[GeneName];

/** A uniform integer in [0, count). */
export function pick(count: number, random: () => number): number {
  return Math.min(count - 1, Math.floor(random() * count));
}

function spec(name: GeneName): GeneSpec {
  const found = genomeSpace.find((gene) => gene.name === name);
  if (!found) throw invalidRangeError('gene', `is not a gene: the genes are ${genomeSpace.map((g) => g.name).join(', ')}`, name);
  return found;
}

/** Another value of the gene: a neighbouring one for an ordinal gene, any other for a categorical one. */
function otherValue(gene: GeneSpec, current: GeneValue, random: () => number): GeneValue {
  const index = gene.values.indexOf(current);
  if (gene.kind === 'ordinal') {
    const down = index > 0;
    const up = index < gene.values.length - 1;
    const step = down && up ? (random() < 0.5 ? -1 : 1) : up ? 1 : -1;
    return gene.values[index + step] as GeneValue;
  }
  const others = gene.values.filter((_, i) => i !== index);
  return others[pick(others.length, random)] as GeneValue;
}

/** The genome with each of `genes` (one or more) changed to another of its values. */
export function mutate(genome: VariantGenome, genes: readonly GeneName[], random: () => number): VariantGenome {
  if (genes.length === 0) throw invalidRangeError('genes', 'must name at least one gene to mutate', genes);
  const child: Record<string, GeneValue> = { ...genome };
  for (const name of genes) child[name] = otherValue(spec(name), genome[name], random);
  return child as unknown as VariantGenome;
}

/**
 * Uniform crossover: each gene from either parent with even odds. A child
 * equal to `genome` when the mate differs takes one of the mate's differing
 * genes, so that a crossover never repeats the parent.
 */
export function crossover(genome: VariantGenome, mate: VariantGenome, random: () => number): VariantGenome {
  const child: Record<string, GeneValue> = {};
  for (const gene of genomeSpace) child[gene.name] = random() < 0.5 ? genome[gene.name] : mate[gene.name];
  const differing = genomeSpace.filter((gene) => genome[gene.name] !== mate[gene.name]);
  if (differing.length > 0 && differing.every((gene) => child[gene.name] === genome[gene.name])) {
    const gene = differing[pick(differing.length, random)]!;
    child[gene.name] = mate[gene.name];
  }
  return child as unknown as VariantGenome;
}

/** `count` distinct genes, drawn uniformly (the first steps of a Fisher-Yates shuffle). */
export function distinctGenes(count: number, random: () => number): GeneName[] {
  const names = genomeSpace.map((gene) => gene.name);
  for (let i = 0; i < count; i += 1) {
    const j = i + pick(names.length - i, random);
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  return names.slice(0, count);
}

/** A genome drawn uniformly from the whole space. */
export function sample(random: () => number): VariantGenome {
  const genome: Record<string, GeneValue> = {};
  for (const gene of genomeSpace) genome[gene.name] = gene.values[pick(gene.values.length, random)] as GeneValue;
  return genome as unknown as VariantGenome;
}
