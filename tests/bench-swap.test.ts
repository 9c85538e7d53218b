// bench swap's accounting of the runner's batches: lost and duplicated steps
// from the trace of batches, and how many steps a swap waited for.
import { describe, expect, it } from 'vitest';
import { sequenceCheck, stepsWaited } from '../dist/ts/bench/swap.js';

describe('the trace of batches', () => {
  it('counts no loss and no duplicate when each batch starts where the last ended', () => {
    expect(sequenceCheck([0, 1, 3, 7, 15], [1, 2, 4, 8, 8])).toEqual({ lost: 0, duplicated: 0, total: 23 });
  });

  it('counts the steps a gap skips and the steps a batch repeats', () => {
    expect(sequenceCheck([0, 4, 10], [4, 4, 2])).toMatchObject({ lost: 2, duplicated: 0, total: 12 });
    expect(sequenceCheck([0, 4, 6], [4, 4, 2])).toMatchObject({ lost: 0, duplicated: 2, total: 8 });
  });

  it("says a swap asked for during a batch waited for that batch's steps, and one between batches for none", () => {
    const trace = { step: [0, 8, 16], startNs: [100, 200, 300], endNs: [180, 280, 380] };
    expect(stepsWaited(trace, 150, 8)).toBe(8);
    expect(stepsWaited(trace, 190, 16)).toBe(0);
    expect(stepsWaited(trace, 250, 16)).toBe(8);
  });
});
