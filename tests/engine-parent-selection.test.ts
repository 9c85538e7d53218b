// Parent selection: the Darwin Gödel Machine rule, checked against the
// formula computed here from scratch, and by sampling with a fixed seed.
import { describe, expect, it } from 'vitest';
import { eligibleParents, selectParent, selectionProbabilities } from '../dist/ts/engine/parent-selection.js';
import { seededRandom } from '../dist/ts/util/random.js';
import type { AttemptRecord } from '../dist/ts/archive/types.js';
import { attemptRecord } from './helpers/attempt-record.js';

const candidates = [
  { attemptId: 1, speedup: 1, children: 4 }, // the reference root
  { attemptId: 7, speedup: 6, children: 0 }, // the best so far, unexplored
  { attemptId: 9, speedup: 3, children: 1 }, // exactly half the best
  { attemptId: 12, speedup: 5.4, children: 3 },
];

/** The rule, written out independently of the implementation. */
function expected(list: typeof candidates): number[] {
  const best = Math.max(...list.map((c) => c.speedup));
  const weights = list.map((c) => 1 / (1 + Math.exp(-10 * (c.speedup / best - 0.5))) / (1 + c.children));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

describe('selectionProbabilities', () => {
  it('follows sigmoid(10 (s - 0.5)) / (1 + children), normalised', () => {
    const got = selectionProbabilities(candidates);
    const want = expected(candidates);
    got.forEach((p, i) => expect(p.probability).toBeCloseTo(want[i]!, 14));
    expect(got.reduce((sum, p) => sum + p.probability, 0)).toBeCloseTo(1, 14);
    expect(got.map((p) => p.score)).toEqual([1 / 6, 1, 0.5, 0.9]);
    // A score of exactly 0.5 sits at the sigmoid's centre: weight 1/2, halved again by its one child.
    expect(got[2]!.weight).toBeCloseTo(0.25, 15);
  });

  it('gives a lone root probability 1', () => {
    expect(selectionProbabilities([{ attemptId: 1, speedup: 1, children: 30 }])[0]!.probability).toBe(1);
  });

  it('refuses an empty list and a non-positive speedup, naming the value', () => {
    expect(() => selectionProbabilities([])).toThrow(/at least one kernel/);
    expect(() => selectionProbabilities([{ attemptId: 3, speedup: 0, children: 0 }])).toThrow(/attemptId 3\]\.speedup = 0: must be a finite number > 0/);
    expect(() => selectionProbabilities([{ attemptId: 3, speedup: 1, children: -1 }])).toThrow(/children = -1/);
  });
});

describe('selectParent', () => {
  it('draws each parent about as often as its probability (seeded, 40000 draws)', () => {
    const random = seededRandom(20261122);
    const draws = 40_000;
    const counts = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const parent = selectParent(candidates, random);
      counts.set(parent.attemptId, (counts.get(parent.attemptId) ?? 0) + 1);
    }
    expected(candidates).forEach((p, i) => {
      const frequency = (counts.get(candidates[i]!.attemptId) ?? 0) / draws;
      // Five binomial standard deviations: a wrong rule is far outside, a right one essentially never.
      const sd = Math.sqrt((p * (1 - p)) / draws);
      expect(Math.abs(frequency - p)).toBeLessThan(5 * sd + 1e-12);
    });
  });

  it('maps the ends of [0, 1) to the first and the last candidate', () => {
    expect(selectParent(candidates, () => 0).attemptId).toBe(1);
    expect(selectParent(candidates, () => 0.999999999999).attemptId).toBe(12);
  });
});

describe('eligibleParents', () => {
  const record = (id: number, status: AttemptRecord['status'], speedup: number | null): AttemptRecord =>
    attemptRecord({ id, parentId: id === 1 ? null : 1, status, speedup });

  it('keeps accepted kernels, the incumbent and the root, and drops rejected and rolled-back ones', () => {
    const records = [
      record(1, 'applied', null),
      record(2, 'rejected', null),
      record(3, 'passed', 1.4),
      record(4, 'rolled-back', 2),
      record(5, 'superseded', 2.5),
      record(6, 'applied', 3),
      record(7, 'failed', null),
    ];
    const parents = eligibleParents(
      records,
      new Map([
        [1, 6],
        [3, 1],
      ]),
      { rootId: 1, incumbentId: 6 },
    );
    expect(parents).toEqual([
      { attemptId: 1, speedup: 1, children: 6 },
      { attemptId: 3, speedup: 1.4, children: 1 },
      { attemptId: 5, speedup: 2.5, children: 0 },
      { attemptId: 6, speedup: 3, children: 0 },
    ]);
  });
});
