// The predictor: learns a synthetic rule from a fixed seed, never skips
// before it has seen enough, audits the stated fraction of would-be skips,
// and counts what it skipped and what the audits found.
import { describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../dist/ts/engine/strategy-memory.js';
import { Predictor } from '../dist/ts/engine/predictor.js';
import { SOURCE_FEATURE_NAMES, sourceFeatures } from '../dist/ts/engine/candidate-features.js';
import { seededRandom } from '../dist/ts/util/random.js';
import type { AttemptRecord } from '../dist/ts/archive/types.js';
import { attemptRecord } from './helpers/attempt-record.js';
import { candidateFeatures, predictorSample } from '../dist/ts/engine/candidate-features.js';
import { defaultGenome, genomeFeatures, renderKernel } from '../dist/ts/generators/variant/index.js';

const WIN_MARGIN = 1.03;

/**
 * Synthetic candidates: five features in [-1, 1] (one on a large scale, as
 * source lengths are) and a hidden linear rule. It passes when
 * 2 x0 - x1 + 0.5 x2 > 0.1, and a passing one runs exp(0.3 x3 + 0.1 x0)
 * times faster than the incumbent.
 */
function synthetic(random: () => number): { features: number[]; outcome: AttemptOutcome } {
  const x = Array.from({ length: 5 }, () => 2 * random() - 1);
  const passed = 2 * x[0]! - x[1]! + 0.5 * x[2]! > 0.1;
  const speedup = passed ? Math.exp(0.3 * x[3]! + 0.1 * x[0]!) : null;
  const features = [x[0]!, x[1]!, x[2]!, x[3]!, 5_000 + 4_000 * x[4]!];
  return { features, outcome: { passed, won: passed && speedup! > WIN_MARGIN, speedup } };
}

function trained(samples: number, seed: number, options = {}): Predictor {
  const predictor = new Predictor(options);
  const random = seededRandom(seed);
  for (let i = 0; i < samples; i += 1) {
    const { features, outcome } = synthetic(random);
    predictor.update(features, outcome);
  }
  return predictor;
}

describe('Predictor learning', () => {
  it('learns a separable pass rule and the speedup to the stated bounds on held-out data', () => {
    const predictor = trained(400, 1);
    const heldOut = seededRandom(2);
    let correct = 0;
    let absoluteLogError = 0;
    let timed = 0;
    const total = 1_000;
    for (let i = 0; i < total; i += 1) {
      const { features, outcome } = synthetic(heldOut);
      const prediction = predictor.predict(features);
      if (prediction.passProbability > 0.5 === outcome.passed) correct += 1;
      if (outcome.speedup !== null) {
        absoluteLogError += Math.abs(Math.log(prediction.expectedSpeedup) - Math.log(outcome.speedup));
        timed += 1;
      }
      expect(prediction.trainedOn).toBe(400);
    }
    // The rule is linear in the features, so a logistic model separates it almost perfectly.
    expect(correct / total).toBeGreaterThan(0.95);
    // ln speedups spread over about +-0.4; the fit is within 0.02 on average.
    expect(absoluteLogError / timed).toBeLessThan(0.02);
  });

  it('skips confident losers on held-out data but almost never a winner', () => {
    const predictor = trained(400, 3, { auditFraction: 0 });
    const heldOut = seededRandom(4);
    let winners = 0;
    let skippedWinners = 0;
    let losers = 0;
    let skippedLosers = 0;
    for (let i = 0; i < 2_000; i += 1) {
      const { features, outcome } = synthetic(heldOut);
      const decision = predictor.decide(predictor.predict(features), heldOut);
      if (outcome.won) {
        winners += 1;
        if (decision === 'skip') skippedWinners += 1;
      } else {
        losers += 1;
        if (decision === 'skip') skippedLosers += 1;
      }
    }
    expect(skippedWinners / winners).toBeLessThan(0.01);
    expect(skippedLosers / losers).toBeGreaterThan(0.5);
  });

  it('ranks by expected speedup, a candidate likely to fail last', () => {
    const predictor = trained(200, 5);
    const order = predictor.rank([
      [-0.9, 0.9, 0, 0, 5_000],
      [0.9, -0.9, 0, 0.9, 5_000],
      [0.9, -0.9, 0, -0.5, 5_000],
    ]);
    expect(order).toEqual([1, 2, 0]);
  });
});

describe('Predictor ranking by posterior draws', () => {
  /** How often each candidate ranks first over `draws` Thompson rankings. */
  function firstShares(predictor: Predictor, candidates: number[][], draws: number, seed: number): number[] {
    const random = seededRandom(seed);
    const firsts = candidates.map(() => 0);
    for (let i = 0; i < draws; i += 1) firsts[predictor.rank(candidates, random)[0]!]! += 1;
    return firsts.map((count) => count / draws);
  }

  it('gives each of two genes the data cannot tell apart its turn, where the mean ranks one always first', () => {
    // Genes 0 and 1 were always on together and the pair made kernels 3x faster: which one pays is unknown.
    const predictor = new Predictor();
    const random = seededRandom(5);
    for (let i = 0; i < 24; i += 1) {
      const on = i % 2;
      predictor.update([on, on, random()], { passed: true, won: false, speedup: Math.exp(1.1 * on + 0.02 * (random() - 0.5)) });
    }
    const onlyFirst = [1, 0, 0.5];
    const onlySecond = [0, 1, 0.5];
    expect(predictor.rank([onlyFirst, onlySecond])).toEqual([0, 1]);
    const [first, second] = firstShares(predictor, [onlyFirst, onlySecond], 400, 6);
    expect(first).toBeGreaterThan(0.35);
    expect(second).toBeGreaterThan(0.35);
  });

  it('ranks a candidate the data show to be faster first in nearly every draw', () => {
    const predictor = trained(200, 5);
    const fast = [0.9, -0.9, 0, 0.9, 5_000];
    const slow = [0.9, -0.9, 0, -0.9, 5_000];
    const [fastShare] = firstShares(predictor, [fast, slow], 400, 7);
    expect(fastShare).toBeGreaterThan(0.99);
  });

  it('orders candidates at random before it has seen any outcome', () => {
    const candidates = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    for (const share of firstShares(new Predictor(), candidates, 400, 8)) {
      expect(share).toBeGreaterThan(0.15);
      expect(share).toBeLessThan(0.35);
    }
  });
});

describe('Predictor uncertainty and the bar', () => {
  it('is less sure of a candidate unlike any it has seen than of one like those it learnt from', () => {
    const predictor = new Predictor();
    const random = seededRandom(40);
    // Feature 1 is always 0 in training: the model knows nothing of what it does.
    for (let i = 0; i < 30; i += 1) {
      const x = 2 * random() - 1;
      predictor.update([x, 0], { passed: true, won: false, speedup: Math.exp(0.5 * x) });
    }
    const familiar = predictor.predict([0.2, 0]);
    const novel = predictor.predict([0.2, 3]);
    expect(familiar.expectedSpeedup).toBeCloseTo(Math.exp(0.1), 2);
    expect(novel.logSpeedupSd).toBeGreaterThan(2 * familiar.logSpeedupSd);
    // Of two candidates expected equally fast, the uncertain one promises more improvement.
    expect(novel.expectedImprovement).toBeGreaterThan(familiar.expectedImprovement);
  });

  it('judges a win and the expected improvement against the bar it is given', () => {
    const predictor = trained(200, 9);
    const features = [0.9, -0.9, 0, 0.5, 5_000];
    const low = predictor.predict(features, 1);
    const high = predictor.predict(features, 1.5);
    expect(high.expectedSpeedup).toBe(low.expectedSpeedup);
    expect(low.winProbability).toBeGreaterThan(0.9);
    expect(high.winProbability).toBeLessThan(0.1);
    expect(high.expectedImprovement).toBeLessThan(low.expectedImprovement);
    expect(predictor.rank([[0.9, -0.9, 0, -0.5, 5_000], features])).toEqual([1, 0]);
    expect(() => predictor.predict(features, 0)).toThrow('barSpeedup = 0: must be a finite number > 0');
  });
});

describe('Predictor decisions', () => {
  const failing = { passed: false, won: false, speedup: null };

  it('never skips before minTrainingSamples, however sure it is', () => {
    const predictor = new Predictor({ minTrainingSamples: 30, auditFraction: 0 });
    const random = seededRandom(6);
    for (let i = 0; i < 29; i += 1) {
      predictor.update([i % 3, 1], failing);
      const prediction = predictor.predict([1, 1]);
      expect(prediction.trainedOn).toBe(i + 1);
      expect(predictor.decide(prediction, random)).toBe('evaluate');
    }
    expect(predictor.predict([1, 1]).winProbability).toBeLessThan(0.05);
    predictor.update([0, 1], failing);
    expect(predictor.decide(predictor.predict([1, 1]), random)).toBe('skip');
  });

  it('audits the stated fraction of would-be skips', () => {
    const predictor = new Predictor({ minTrainingSamples: 10, auditFraction: 0.2 });
    for (let i = 0; i < 40; i += 1) predictor.update([i % 5], failing);
    const prediction = predictor.predict([2]);
    const random = seededRandom(7);
    const decisions = Array.from({ length: 2_000 }, () => predictor.decide(prediction, random));
    const audited = decisions.filter((d) => d === 'audit').length;
    // Binomial(2000, 0.2): the standard deviation of the fraction is 0.009; 0.035 is four of them.
    expect(Math.abs(audited / decisions.length - 0.2)).toBeLessThan(0.035);
    expect(decisions.filter((d) => d === 'evaluate')).toHaveLength(0);
  });

  it('counts predictions, skips, audits and what the audits found', () => {
    const predictor = new Predictor({ minTrainingSamples: 10, auditFraction: 0.5 });
    for (let i = 0; i < 20; i += 1) predictor.update([i % 4, 0], failing);
    const random = seededRandom(8);
    const audits: number[][] = [];
    let skips = 0;
    for (let i = 0; i < 40; i += 1) {
      const features = [i % 4, 0];
      const decision = predictor.decide(predictor.predict(features), random);
      if (decision === 'audit') audits.push(features);
      if (decision === 'skip') skips += 1;
    }
    expect(audits.length).toBeGreaterThan(3);
    // The audited ones come back: the first passed and won, the second passed and lost, the rest failed.
    audits.forEach((features, i) => {
      const outcome = i === 0 ? { passed: true, won: true, speedup: 1.2 } : i === 1 ? { passed: true, won: false, speedup: 0.9 } : failing;
      predictor.update(features, outcome, 'audit');
    });
    predictor.update([9, 9], { passed: true, won: true, speedup: 2 });
    expect(predictor.stats()).toEqual({
      predicted: 40,
      evaluated: 40 - skips - audits.length,
      skipped: skips,
      audited: audits.length,
      auditOutcomes: audits.length,
      auditedWouldHavePassed: 2,
      auditedWouldHaveWon: 1,
      estimatedSkippedWinners: skips / audits.length,
    });
  });

  it('rejects bad options and features of the wrong shape with the name, value and limit', () => {
    expect(() => new Predictor({ auditFraction: 1.5 })).toThrow('auditFraction = 1.5: must be in [0, 1]');
    expect(() => new Predictor({ minTrainingSamples: 0 })).toThrow('minTrainingSamples = 0: must be an integer in [1, 1000000]');
    expect(() => new Predictor({ l2: 0 })).toThrow('l2 = 0: must be a finite number > 0');
    const predictor = new Predictor();
    predictor.update([1, 2, 3], failing);
    expect(() => predictor.predict([1, 2])).toThrow('features.length = 2: must be 3, the length the predictor was first given');
    expect(() => predictor.update([1, Number.NaN, 3], failing)).toThrow('features[1] = NaN: must be a finite number');
  });
});

describe('sourceFeatures', () => {
  it('counts the constructs of the code, not of its comments', () => {
    const source = [
      '// for (a % b) parallel_for in a comment',
      '#pragma GCC unroll 4',
      'void f(double* __restrict out, const ouro_host* host) {',
      '  for (int i = 0; i < 8; ++i) out[i % 4] = i / 2;',
      '  host->parallel_for(host->pool, 8, 1, g, nullptr);',
      '}',
    ].join('\n');
    const features = sourceFeatures(source);
    expect(features).toHaveLength(SOURCE_FEATURE_NAMES.length);
    const named = Object.fromEntries(SOURCE_FEATURE_NAMES.map((name, i) => [name, Math.round(Math.expm1(features[i]!))]));
    expect(named).toMatchObject({
      'ln lines': 6,
      'ln(1 + for loops)': 1,
      'ln(1 + parallel_for calls)': 1,
      'ln(1 + __restrict qualifiers)': 1,
      'ln(1 + pragmas)': 1,
      'ln(1 + unroll hints)': 1,
      'ln(1 + % operators)': 1,
      'ln(1 + / operators)': 1,
      'ln(1 + while loops)': 0,
    });
  });
});

describe('what the engine feeds the predictor', () => {
  const gate = { gate: 'bench' as const, passed: true, reason: '', seconds: 1, details: {} };
  const record = (overrides: Partial<AttemptRecord>): AttemptRecord =>
    attemptRecord({
      id: 7,
      parentId: 1,
      operator: 'mutate:split',
      genome: { ...defaultGenome(), split: 'static' },
      source: renderKernel({ ...defaultGenome(), split: 'static' }),
      gates: [gate],
      benchRatio: 0.5,
      speedup: 6,
      finishedAt: '',
      ...overrides,
    });

  it('learns the speedup over the reference, not over the incumbent of the day', () => {
    // Judged against an incumbent 3x the reference, at half its time: 6x the reference.
    expect(predictorSample(record({}))!.outcome).toEqual({ passed: true, won: false, speedup: 6 });
    expect(predictorSample(record({ status: 'pending' }))).toBeNull();
    const failedGate = { ...gate, gate: 'sandbox' as const, passed: false };
    expect(predictorSample(record({ gates: [failedGate], failedGate: 'sandbox', speedup: null, status: 'rejected' }))!.outcome).toEqual({
      passed: false,
      won: false,
      speedup: null,
    });
  });

  it('gives the genome to the model beside the source features, and zeros for a kernel without one', () => {
    const withGenome = predictorSample(record({}))!.features;
    const source = record({}).source;
    expect(withGenome.slice(0, SOURCE_FEATURE_NAMES.length)).toEqual(sourceFeatures(source));
    expect(withGenome.slice(SOURCE_FEATURE_NAMES.length)).toEqual(genomeFeatures({ ...defaultGenome(), split: 'static' }));
    const without = candidateFeatures(source, null);
    expect(without).toHaveLength(withGenome.length);
    expect(without.slice(SOURCE_FEATURE_NAMES.length).every((value) => value === 0)).toBe(true);
    expect(candidateFeatures(source, { tile: 32 })).toEqual(without);
  });
});
