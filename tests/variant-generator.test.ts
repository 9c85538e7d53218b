// The variant generator: its genome space, the rendered kernels (every one
// through the whole gauntlet), the genetic operators and the two generators.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateCandidate, GauntletPool, type GauntletVerdict } from '@ouroboros-engine/core';
import {
  crossover,
  defaultGenome,
  genomeFeatures,
  genomeKey,
  genomeSpace,
  mutate,
  RandomSearchGenerator,
  renderKernel,
  sample,
  validateGenome,
  VARIANT_OPERATORS,
  VariantGenerator,
  type VariantGenome,
} from '../dist/ts/generators/variant/index.js';
import { GeneratorError, type GenerationContext, type ParentKernel } from '../dist/ts/generators/types.js';
import { seededRandom } from '../dist/ts/util/random.js';

function parentKernel(genome: VariantGenome | null, attemptId = 1): ParentKernel {
  return { attemptId, source: genome === null ? '' : renderKernel(genome), genome: genome === null ? null : { ...genome }, mlups: null };
}

function context(overrides: Partial<GenerationContext> = {}): GenerationContext {
  return {
    slot: 'step',
    parent: parentKernel(null),
    mates: [],
    profile: { share: 1, meanNs: 1e7, p99Ns: 2e7, mlups: 85, extents: [4096, 4096], precision: 'f64', threads: 2 },
    recentFailures: [],
    operatorWeights: {},
    random: seededRandom(1),
    ...overrides,
  };
}

function differingGenes(a: VariantGenome, b: VariantGenome): string[] {
  return genomeSpace.filter((gene) => a[gene.name] !== b[gene.name]).map((gene) => gene.name);
}

describe('the genome', () => {
  it('validates a genome and returns it with the genes in canonical order', () => {
    const shuffled = Object.fromEntries(Object.entries(defaultGenome()).reverse());
    const valid = validateGenome(shuffled);
    expect(Object.keys(valid)).toEqual(genomeSpace.map((gene) => gene.name));
    expect(valid).toEqual(defaultGenome());
  });

  it('names the gene, its value and the allowed values in every error', () => {
    expect(() => validateGenome({ ...defaultGenome(), unroll: 3 })).toThrow('genome.unroll = 3: must be one of 1, 2, 4, 8');
    expect(() => validateGenome({ ...defaultGenome(), boundary: 'wrap' })).toThrow('genome.boundary = "wrap": must be one of "modulo", "select", "peeled"');
    const { split: _split, ...missing } = defaultGenome();
    expect(() => validateGenome(missing)).toThrow('genome.split = undefined: must be one of "serial", "dynamic", "static"');
    expect(() => validateGenome({ ...defaultGenome(), fastMath: true })).toThrow(/genome\.fastMath = true: is not a gene: the genes are boundary, /);
    expect(() => validateGenome([1, 2])).toThrow(TypeError);
    expect(() => validateGenome(null)).toThrow(/genome = null: must be an object with the genes boundary/);
  });

  it('reads a genome archived before the isa gene existed as the baseline it was built for, and no other missing gene', () => {
    const { isa: _isa, ...older } = { ...defaultGenome(), split: 'static' as const };
    expect(validateGenome(older)).toEqual({ ...defaultGenome(), split: 'static' });
    const { unroll: _unroll, ...broken } = defaultGenome();
    expect(() => validateGenome(broken)).toThrow('genome.unroll = undefined: must be one of 1, 2, 4, 8');
  });

  it('encodes genomes as fixed-length features in [0, 1] that tell genomes apart', () => {
    const random = seededRandom(5);
    const genomes = [defaultGenome(), ...Array.from({ length: 50 }, () => sample(random))];
    const features = genomes.map(genomeFeatures);
    const length = features[0]!.length;
    for (const row of features) {
      expect(row).toHaveLength(length);
      for (const value of row) expect(value >= 0 && value <= 1).toBe(true);
    }
    const keys = new Set(genomes.map(genomeKey));
    expect(new Set(features.map((row) => row.join(','))).size).toBe(keys.size);
  });
});

describe('rendering', () => {
  it('gives byte-identical source for equal genomes, whatever their key order', () => {
    const genome = sample(seededRandom(11));
    const reordered = Object.fromEntries(Object.entries(genome).reverse()) as unknown as VariantGenome;
    expect(renderKernel(reordered)).toBe(renderKernel(genome));
    expect(renderKernel(genome)).toContain(genomeKey(genome));
  });

  it('gives different source for genomes that differ in any gene', () => {
    const base = defaultGenome();
    const sources = new Set([renderKernel(base)]);
    for (const gene of genomeSpace) {
      for (const value of gene.values) {
        if (value === base[gene.name]) continue;
        sources.add(renderKernel(validateGenome({ ...base, [gene.name]: value })));
      }
    }
    const variants = genomeSpace.reduce((sum, gene) => sum + gene.values.length - 1, 1);
    expect(sources.size).toBe(variants);
  });

  it('refuses to render a genome outside the space', () => {
    expect(() => renderKernel({ ...defaultGenome(), temporalSteps: 5 } as unknown as VariantGenome)).toThrow(
      'genome.temporalSteps = 5: must be one of 1, 2, 3, 4',
    );
  });
});

describe('operators', () => {
  it('mutate changes exactly the named genes, stays in the space and replays from a seed', () => {
    const parent = sample(seededRandom(3));
    for (const gene of genomeSpace) {
      const child = mutate(parent, [gene.name], seededRandom(9));
      expect(differingGenes(parent, child)).toEqual([gene.name]);
      expect(validateGenome(child)).toEqual(child);
      expect(mutate(parent, [gene.name], seededRandom(9))).toEqual(child);
    }
    const two = mutate(parent, ['boundary', 'unroll'], seededRandom(4));
    expect(differingGenes(parent, two)).toEqual(['boundary', 'unroll']);
    expect(() => mutate(parent, [], seededRandom(4))).toThrow('genes = []: must name at least one gene to mutate');
  });

  it('mutates an ordinal gene to a neighbouring value', () => {
    const random = seededRandom(8);
    const values = genomeSpace.find((gene) => gene.name === 'grainRows')!.values;
    for (const grainRows of values) {
      const child = mutate(validateGenome({ ...defaultGenome(), grainRows }), ['grainRows'], random);
      expect(Math.abs(values.indexOf(child.grainRows) - values.indexOf(grainRows))).toBe(1);
    }
  });

  it('crossover takes every gene from one parent or the other, never repeating the parent', () => {
    const random = seededRandom(12);
    for (let round = 0; round < 50; round += 1) {
      const a = sample(random);
      const b = sample(random);
      const child = crossover(a, b, random);
      for (const gene of genomeSpace) expect([a[gene.name], b[gene.name]]).toContain(child[gene.name]);
      if (differingGenes(a, b).length > 0) expect(differingGenes(a, child).length).toBeGreaterThan(0);
    }
    const a = sample(seededRandom(20));
    const b = sample(seededRandom(21));
    expect(crossover(a, b, seededRandom(22))).toEqual(crossover(a, b, seededRandom(22)));
  });

  it('sample draws every value of every gene and replays from a seed', () => {
    const random = seededRandom(30);
    const genomes = Array.from({ length: 400 }, () => sample(random));
    for (const genome of genomes) expect(validateGenome(genome)).toEqual(genome);
    for (const gene of genomeSpace) {
      expect(new Set(genomes.map((genome) => genome[gene.name])).size, gene.name).toBe(gene.values.length);
    }
    expect(sample(seededRandom(31))).toEqual(sample(seededRandom(31)));
  });
});

describe('generators', () => {
  it('breeds from defaultGenome() when the parent has no genome, and says how', async () => {
    const proposal = await new VariantGenerator().propose(context({ operatorWeights: { sample: 0 } }));
    expect(proposal.generator).toBe('variant');
    expect(proposal.operator).toMatch(/^mutate:\w+$/);
    const child = validateGenome(proposal.genome);
    expect(differingGenes(defaultGenome(), child)).toEqual([proposal.operator.slice('mutate:'.length)]);
    expect(proposal.source).toBe(renderKernel(child));
    expect(proposal).toMatchObject({ prompt: null, costUsd: 0 });
  });

  it('replays the same proposals from the same seed', async () => {
    const run = async () => {
      const random = seededRandom(77);
      const generator = new VariantGenerator();
      const mates = [parentKernel(sample(seededRandom(1)), 2), parentKernel(null, 3)];
      const proposals = [];
      for (let i = 0; i < 20; i += 1) proposals.push(await generator.propose(context({ random, mates, parent: parentKernel(sample(seededRandom(i))) })));
      return proposals.map((p) => [p.operator, genomeKey(validateGenome(p.genome))]);
    };
    expect(await run()).toEqual(await run());
  });

  it('chooses operators in proportion to operatorWeights', async () => {
    const generator = new VariantGenerator();
    const random = seededRandom(2024);
    const mates = [parentKernel(sample(seededRandom(5)), 2)];
    const operatorWeights = { sample: 10, 'mutate:unroll': 0 };
    const counts = new Map<string, number>();
    const draws = 2000;
    for (let i = 0; i < draws; i += 1) {
      const { operator } = await generator.propose(context({ random, mates, operatorWeights }));
      counts.set(operator, (counts.get(operator) ?? 0) + 1);
    }
    // Every other operator weighs 1: 16 operators, one at 10 and one at 0.
    const total = VARIANT_OPERATORS.length - 2 + 10;
    expect((counts.get('sample') ?? 0) / draws).toBeCloseTo(10 / total, 1);
    expect(counts.get('mutate:unroll')).toBeUndefined();
    expect((counts.get('crossover') ?? 0) / draws).toBeCloseTo(1 / total, 1);
    expect(counts.size).toBe(VARIANT_OPERATORS.length - 1);
  });

  it('mutate:several changes two to four genes of the parent at once', async () => {
    const generator = new VariantGenerator();
    const random = seededRandom(55);
    const onlySeveral = Object.fromEntries(VARIANT_OPERATORS.map((op) => [op, op === 'mutate:several' ? 1 : 0]));
    const parent = sample(seededRandom(56));
    const counts = new Set<number>();
    for (let i = 0; i < 200; i += 1) {
      const proposal = await generator.propose(context({ random, parent: parentKernel(parent), operatorWeights: onlySeveral }));
      expect(proposal.operator).toBe('mutate:several');
      counts.add(differingGenes(parent, validateGenome(proposal.genome)).length);
    }
    expect([...counts].sort()).toEqual([2, 3, 4]);
  });

  it('says how many children it breeds per attempt, and refuses a count outside 1 to 256', () => {
    expect(new VariantGenerator().candidatesPerAttempt).toBe(1);
    expect(new VariantGenerator({ candidatesPerAttempt: 16 }).candidatesPerAttempt).toBe(16);
    expect(() => new VariantGenerator({ candidatesPerAttempt: 0 })).toThrow('candidatesPerAttempt = 0: must be an integer in [1, 256]');
    expect(() => new VariantGenerator({ candidatesPerAttempt: 2.5 })).toThrow('candidatesPerAttempt = 2.5: must be an integer in [1, 256]');
    // The random peer must stay random sampling: nothing ranks its proposals.
    expect('candidatesPerAttempt' in new RandomSearchGenerator()).toBe(false);
  });

  it('offers crossover only with a mate that has a genome of this space', async () => {
    const generator = new VariantGenerator();
    const foreign = { ...parentKernel(null, 4), genome: { tile: 32 } };
    const onlyCrossover = Object.fromEntries(VARIANT_OPERATORS.map((op) => [op, op === 'crossover' ? 1 : 0]));
    await expect(generator.propose(context({ mates: [parentKernel(null, 2), foreign], operatorWeights: onlyCrossover }))).rejects.toThrow(GeneratorError);
    const mate = sample(seededRandom(6));
    const proposal = await generator.propose(context({ mates: [parentKernel(mate, 2)], operatorWeights: onlyCrossover }));
    expect(proposal.operator).toBe('crossover');
    const child = validateGenome(proposal.genome);
    for (const gene of genomeSpace) expect([defaultGenome()[gene.name], mate[gene.name]]).toContain(child[gene.name]);
  });

  it('rejects a parent genome outside the space and a negative weight, naming them', async () => {
    const generator = new VariantGenerator();
    const bad = { ...parentKernel(null), genome: { ...defaultGenome(), tileCols: 100 } };
    await expect(generator.propose(context({ parent: bad }))).rejects.toThrow('genome.tileCols = 100: must be one of 64, 256, 1024, 4096');
    await expect(generator.propose(context({ operatorWeights: { sample: -1 } }))).rejects.toThrow(
      'operatorWeights["sample"] = -1: must be a finite number >= 0',
    );
  });

  it('random search samples the space uniformly whatever the parent', async () => {
    const generator = new RandomSearchGenerator();
    const propose = (seed: number, parent: ParentKernel) => generator.propose(context({ random: seededRandom(seed), parent }));
    const first = await propose(40, parentKernel(null));
    expect(first).toMatchObject({ generator: 'random', operator: 'sample' });
    expect(validateGenome(first.genome)).toEqual(sample(seededRandom(40)));
    expect((await propose(40, parentKernel(sample(seededRandom(1))))).source).toBe(first.source);
  });
});

describe('every rendered genome passes the gauntlet', () => {
  const random = seededRandom(1);
  const genomes: VariantGenome[] = [
    defaultGenome(),
    ...Array.from({ length: 7 }, () => sample(random)),
    { ...defaultGenome(), blocking: 'trapezoid', temporalSteps: 8, split: 'static', vectorPath: 'explicit', isa: 'avx512f' },
    { ...defaultGenome(), blocking: 'trapezoid', temporalSteps: 4, tileKiB: 8, split: 'dynamic', stores: 'streaming', vectorize: 'auto' },
  ];
  const verdicts: GauntletVerdict[] = [];

  beforeAll(async () => {
    const pool = new GauntletPool(2);
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-variant-cache-'));
    try {
      // With its genome, as the engine passes a proposal's: the static gate
      // takes the template's analysis (the trapezoid renderings cost clang-tidy
      // 20-30 CPU seconds, past the 20 an untrusted source is given).
      verdicts.push(
        ...(await Promise.all(genomes.map((genome) => evaluateCandidate({ source: renderKernel(genome), genome: { ...genome }, pool, cacheDir })))),
      );
    } finally {
      await pool.close();
    }
  }, 300_000);

  it('static safety, a warning-free compile, symbols, the oracle differential and the dojo', () => {
    genomes.forEach((genome, i) => {
      const verdict = verdicts[i]!;
      const failed = verdict.gates.find((gate) => !gate.passed);
      expect(failed?.reason, genomeKey(genome)).toBeUndefined();
      expect(verdict.gates.map((gate) => gate.gate)).toEqual(['patch', 'static', 'compile', 'symbols', 'sandbox', 'dojo', 'bench']);
      expect(verdict.safetyScore, genomeKey(genome)).toBeGreaterThanOrEqual(0.8);
      expect(verdict.accepted).toBe(true);
    });
  });

  it('covers the space: the sample holds every boundary, split and instruction set, both blockings, both vector paths, streaming, prefetch, strips, alignment, ivdep', () => {
    expect(genomes.some((genome) => genome.temporalSteps > 1 && genome.blocking === 'wavefront')).toBe(true);
    expect(genomes.some((genome) => genome.temporalSteps > 1 && genome.blocking === 'trapezoid')).toBe(true);
    expect(genomes.some((genome) => genome.vectorPath === 'explicit')).toBe(true);
    expect(genomes.some((genome) => genome.prefetchCells > 0)).toBe(true);
    expect(genomes.some((genome) => genome.stores === 'streaming')).toBe(true);
    expect(genomes.some((genome) => genome.loopOrder === 'strips')).toBe(true);
    expect(genomes.some((genome) => genome.alignment === 'checked')).toBe(true);
    expect(genomes.some((genome) => genome.vectorize === 'ivdep')).toBe(true);
    expect(new Set(genomes.map((genome) => genome.split)).size).toBe(3);
    expect(new Set(genomes.map((genome) => genome.boundary)).size).toBe(3);
    expect(new Set(genomes.map((genome) => genome.isa)).size).toBe(3);
  });
});
