import { describe, expect, it } from 'vitest';
import { median } from '../dist/ts/util/median.js';

describe('median', () => {
  it('is the middle value of an odd count and the mean of the middle two of an even one, whatever the order', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it("is the caller's value for no values, NaN when none is given", () => {
    expect(median([])).toBeNaN();
    expect(median([], 0)).toBe(0);
    expect(median([], null)).toBeNull();
  });

  it('leaves its input as it was', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});
