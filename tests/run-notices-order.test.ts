// A run's snapshot notices and its end come to JS in the order the runner
// sent them: the run's promise settles only after every notice of the run has
// been delivered. When the end came on a queue of its own, a snapshot taken at
// a run's last boundaries could be served after the lattice had ended the
// run's watchdog, and went unchecked: a kernel wrong only in a run's last
// batches, before a stop or a handoff, passed.
import { describe, expect, it } from 'vitest';
import { coreAddon, kernelModulePath } from '../dist/native/loader.js';
import { cellCount, randomState } from '../dist/ts/lattice/initial-conditions.js';

const extents = [8, 8];

/** Resolves after the event loop has served every queue it had ready, twice over. */
function drained(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

describe("a run's notices", () => {
  it('all reach JS before the run ends, run after run', async () => {
    const core = new (coreAddon().LatticeCore)({ extents, courant2: 0.36, precision: 'f64', kernelPath: kernelModulePath('reference'), threads: 1 });
    try {
      const state = randomState({ extents, precision: 'f64', courantNumber: 0.6 }, 7);
      core.setState(state.previous, state.current);
      const levels = { previous: new Float64Array(cellCount(extents)), current: new Float64Array(cellCount(extents)) };
      let late = 0;
      let delivered = 0;
      // Short runs with a snapshot due at every step: each run's last boundary, one step before its end, takes one
      // whenever the watchdog has settled the one before, and its notice is sent just before the end's.
      // Runs of 12 steps and runs without a budget, each stopped at its third notice when still running: the runner may
      // have sent more by then.
      for (let run = 0; run < 200; run++) {
        let ended = false;
        let notices = 0;
        const summary = core.run(run % 2 === 0 ? 12 : 0, 1, (step) => {
          if (ended) late += 1;
          delivered += 1;
          notices += 1;
          core.copySnapshot(levels.previous, levels.current);
          core.settleSnapshot(step, true);
          if (notices === 3 && core.running) core.stop();
        });
        void summary.then(() => (ended = true));
        expect((await summary).error).toBeNull();
        await drained();
      }
      expect(late).toBe(0);
      // Every run announced at least its first snapshot, at its start.
      expect(delivered).toBeGreaterThanOrEqual(200);
    } finally {
      core.close();
    }
  });
});
