/**
 * The cone probes the watchdog has taken and not yet sent to the oracle,
 * checked together in one call (`stepConeGroupsAsync`): each probe's cones
 * are copied out of the core straight into the batch's arrays, one probe
 * after another, and the oracle gives its values in the same order. A
 * call's fixed cost is thus paid once for the batch, not once a probe.
 */
import type { CoreConeProbe } from '../../native/addon-types.js';
import type { ConeGroupInput } from '../generated/oracle-napi.js';

/** A probe in a batch, with the watchdog's count of rollbacks when it was taken: a verdict on steps undone since is moot. */
export interface BatchedProbe {
  probe: CoreConeProbe;
  rollbacks: number;
}

export class ConeBatch {
  older: Float64Array;
  newer: Float64Array;
  readonly probes: BatchedProbe[] = [];
  /** Cone values (of each level) and cells the probes hold. */
  values = 0;
  cells = 0;
  /** What taking the probes cost: the runner's gathers, the JS thread's CPU and wall time. */
  gatherNs = 0;
  takeCpuMs = 0;
  takeMs = 0;

  constructor(capacity: number) {
    this.older = new Float64Array(capacity);
    this.newer = new Float64Array(capacity);
  }

  /** Where the next probe's cones go: room for at least `room` values after those held (the arrays grow, kept values copied). */
  free(room: number): [Float64Array, Float64Array] {
    if (this.values + room > this.older.length) {
      const capacity = Math.max(2 * this.older.length, this.values + room);
      const grow = (array: Float64Array) => {
        const grown = new Float64Array(capacity);
        grown.set(array.subarray(0, this.values));
        return grown;
      };
      this.older = grow(this.older);
      this.newer = grow(this.newer);
    }
    return [this.older.subarray(this.values), this.newer.subarray(this.values)];
  }

  /** A probe taken into free()'s arrays, its cones `values` values of each level. */
  add(probe: CoreConeProbe, values: number, rollbacks: number): void {
    this.probes.push({ probe, rollbacks });
    this.values += values;
    this.cells += probe.cells.length;
    this.gatherNs += probe.gatherNs;
  }

  /** Whether it holds the plan's probe (whose verdict the cone cadence waits for). */
  get hasPlan(): boolean {
    return this.probes.some(({ probe }) => !probe.extra);
  }

  /** Steps from its oldest probe's step to its newest's. */
  get spanSteps(): number {
    return this.probes.length === 0 ? 0 : this.probes.at(-1)!.probe.step - this.probes[0]!.probe.step;
  }

  /** The oracle's groups, one a probe, in order. */
  groups(): ConeGroupInput[] {
    return this.probes.map(({ probe }) => ({ count: probe.cells.length, radius: probe.radius, steps: probe.steps }));
  }

  /** Empty again, its arrays kept for the next batch. */
  clear(): void {
    this.probes.length = 0;
    this.values = 0;
    this.cells = 0;
    this.gatherNs = 0;
    this.takeCpuMs = 0;
    this.takeMs = 0;
  }
}
