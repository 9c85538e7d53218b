import { describe, expect, it } from 'vitest';
import { nonary } from '@ouroboros-engine/core';
import { oracleAddon } from '../dist/native/loader.js';
import { seededRandom } from '../dist/ts/util/random.js';

const { add, compare, fromInt, mul, neg, sub, toInt, format } = nonary;
const SMALL = 120;

function randomDigits(random: () => number, maxLength: number): Int8Array {
  const length = 1 + Math.floor(random() * maxLength);
  return Int8Array.from({ length }, () => Math.floor(random() * 9) - 4);
}

describe('balanced nonary conversion', () => {
  it('round-trips every integer in [-10000, 10000] and uses digits -4..4 with no high zero', () => {
    for (let n = -10_000; n <= 10_000; n++) {
      const digits = fromInt(n);
      expect(toInt(digits)).toBe(BigInt(n));
      for (const d of digits) expect(Math.abs(d)).toBeLessThanOrEqual(4);
      if (n !== 0) expect(digits[digits.length - 1]).not.toBe(0);
    }
  });

  it('writes small numbers as expected', () => {
    expect([...fromInt(0)]).toEqual([0]);
    expect([...fromInt(1)]).toEqual([1]);
    expect([...fromInt(5)]).toEqual([-4, 1]);
    expect([...fromInt(-5)]).toEqual([4, -1]);
    expect([...fromInt(40)]).toEqual([4, 4]);
    expect([...fromInt(41)]).toEqual([-4, -4, 1]);
    expect(format(fromInt(41))).toBe('+1 -4 -4');
  });

  it('round-trips bigints far beyond 2^64', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 200; i++) {
      const digits = Array.from({ length: 40 }, () => Math.floor(random() * 10)).join('');
      const n = BigInt(digits) * (random() < 0.5 ? -1n : 1n);
      expect(toInt(fromInt(n))).toBe(n);
    }
  });

  it('accepts non-canonical input and returns canonical output', () => {
    expect([...add(Int8Array.from([1, 0, 0]), new Int8Array(0))]).toEqual([1]);
    expect(toInt(new Int8Array(0))).toBe(0n);
  });
});

describe('balanced nonary laws, exhaustively on a small range', () => {
  const values = Array.from({ length: 2 * SMALL + 1 }, (_, i) => i - SMALL);
  const digits = new Map(values.map((v) => [v, fromInt(v)]));
  const d = (v: number) => digits.get(v)!;

  it('1 + (-1) = 0 and a + (-a) = 0', () => {
    expect([...add(fromInt(1), fromInt(-1))]).toEqual([0]);
    for (const a of values) expect([...add(d(a), neg(d(a)))]).toEqual([0]);
  });

  it('add, sub, mul and compare agree with integer arithmetic; add and mul commute', () => {
    for (const a of values) {
      for (const b of values) {
        expect(toInt(add(d(a), d(b)))).toBe(BigInt(a + b));
        expect(toInt(sub(d(a), d(b)))).toBe(BigInt(a - b));
        expect(compare(d(a), d(b))).toBe(Math.sign(a - b));
        expect([...add(d(a), d(b))]).toEqual([...add(d(b), d(a))]);
        if (Math.abs(a) <= 40 && Math.abs(b) <= 40) {
          expect(toInt(mul(d(a), d(b)))).toBe(BigInt(a * b));
          expect([...mul(d(a), d(b))]).toEqual([...mul(d(b), d(a))]);
        }
      }
    }
  });

  it('associativity and distributivity on every triple in [-12, 12]', () => {
    for (let a = -12; a <= 12; a++) {
      for (let b = -12; b <= 12; b++) {
        for (let c = -12; c <= 12; c++) {
          expect([...add(add(d(a), d(b)), d(c))]).toEqual([...add(d(a), add(d(b), d(c)))]);
          expect([...mul(mul(d(a), d(b)), d(c))]).toEqual([...mul(d(a), mul(d(b), d(c)))]);
          expect([...mul(d(a), add(d(b), d(c)))]).toEqual([...add(mul(d(a), d(b)), mul(d(a), d(c)))]);
        }
      }
    }
  });
});

describe('balanced nonary laws, by property on large values', () => {
  it('hold for random 60-digit numbers and match bigint arithmetic', () => {
    const random = seededRandom(17);
    for (let i = 0; i < 500; i++) {
      const [a, b, c] = [randomDigits(random, 60), randomDigits(random, 60), randomDigits(random, 60)];
      const [x, y, z] = [toInt(a), toInt(b), toInt(c)];
      expect(toInt(add(a, b))).toBe(x + y);
      expect(toInt(sub(a, b))).toBe(x - y);
      expect(toInt(mul(a, b))).toBe(x * y);
      expect(compare(a, b)).toBe(x < y ? -1 : x > y ? 1 : 0);
      expect([...add(a, neg(a))]).toEqual([0]);
      expect([...mul(a, add(b, c))]).toEqual([...add(mul(a, b), mul(a, c))]);
      expect([...add(add(a, b), c)]).toEqual([...add(a, add(b, c))]);
      expect(toInt(add(add(a, b), c))).toBe(x + y + z);
    }
  });

  it('agrees digit for digit with the independent Rust oracle', () => {
    const oracle = oracleAddon();
    const random = seededRandom(29);
    for (let i = 0; i < 500; i++) {
      const a = randomDigits(random, 30);
      const b = randomDigits(random, 30);
      expect([...oracle.nonaryAdd(a, b)]).toEqual([...add(a, b)]);
      expect([...oracle.nonarySub(a, b)]).toEqual([...sub(a, b)]);
      expect([...oracle.nonaryMul(a, b)]).toEqual([...mul(a, b)]);
      expect([...oracle.nonaryNeg(a)]).toEqual([...neg(a)]);
      expect(oracle.nonaryCompare(a, b)).toBe(compare(a, b));
    }
  });
});

describe('balanced nonary input errors', () => {
  it('names the array, the index and the range of a bad digit', () => {
    expect(() => add(Int8Array.from([1, 5]), fromInt(1))).toThrow(RangeError);
    expect(() => add(Int8Array.from([1, 5]), fromInt(1))).toThrow('a[1] = 5: each balanced nonary digit must be in [-4, 4]');
    expect(() => mul(fromInt(1), Int8Array.from([-9]))).toThrow('b[0] = -9');
  });

  it('rejects the wrong types', () => {
    expect(() => add([1] as unknown as Int8Array, fromInt(1))).toThrow(TypeError);
    expect(() => add([1] as unknown as Int8Array, fromInt(1))).toThrow(/^a = \[1\]: must be an Int8Array/);
    expect(() => fromInt(1.5)).toThrow(RangeError);
    expect(() => fromInt(1.5)).toThrow('n = 1.5: must be a safe integer');
    expect(() => fromInt(2 ** 60)).toThrow('pass a bigint');
    expect(() => fromInt('7' as unknown as number)).toThrow(TypeError);
  });
});
