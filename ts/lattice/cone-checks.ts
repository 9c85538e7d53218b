/**
 * The watchdog's cone probes, once the runner has handed them over: copied
 * out of the core into a pending batch (cone-batch.ts), the batch sent to
 * the oracle in one call once it is due, each probe compared with its part
 * of the answer, and a mismatch handed to the watchdog to roll back. With a
 * cost share, the plans are spaced by their own cadence and the take rate
 * of the gathers beyond them is what the share buys at the calls' measured
 * cost, a fixed part and a part per cell (cone-cost.ts), in CPU time, solved
 * again at every call's verdict at the time a step takes now, the fit's
 * level set by what the latest calls and dropped gathers really cost
 * (cone-take-rate.ts).
 */
import type { CoreConeProbe, CoreLattice, OracleAddon } from '../../native/addon-types.js';
import { coreAddon, oracleAddon } from '../../native/loader.js';
import { ConeBatch } from './cone-batch.js';
import { ConeCostModel } from './cone-cost.js';
import { ConeTakeRate } from './cone-take-rate.js';
import { compareProbe, coneProbeRandom, coneValues, drawConeProbe, drawFollowingProbe, mismatchDetail } from './differential-check.js';
import { SnapshotCadence } from './watchdog-cadence.js';
import type { CadencePlan, DifferentialPlan, WatchdogPhysics } from './watchdog.js';

/** What the cone probes have cost so far: the runner's gathers, the JS thread's work, the oracle's off it. */
export interface ConeProbeStats {
  checked: number;
  /** Of those, handed over at the take rate beyond the plans' (extra probes). */
  extras: number;
  /** Cells the checked probes compared. */
  cellsChecked: number;
  /** Oracle calls that checked them (each a batch of probes: cone-batch.ts). */
  calls: number;
  gatherNs: number;
  /** The gathers of extras the runner dropped for want of a slot (the watchdog behind): spent on cells nobody checked. */
  droppedGatherNs: number;
  /** The JS thread's part (taking, sending, comparing) and the oracle's steps, in wall time... */
  jsMs: number;
  oracleMs: number;
  /** ...and in the CPU time of the thread that did each: what they took from the kernel's cores, and what the cost share goes by. */
  jsCpuMs: number;
  oracleCpuMs: number;
}

/** Most cells a step the watchdog asks the core to check beyond its plans (the core caps a gather at the plan's cells). */
const MAX_TAKE_CELLS_PER_STEP = 2 ** 20;

/** What of the core the cone checks use. */
export type ConeCore = Pick<CoreLattice, 'takeConeProbe' | 'settleConeProbe' | 'armConeProbe' | 'setConeTakeRate' | 'stepCount' | 'watchdogCounters'>;

/** What the cone checks call beyond the core: the oracle and the JS thread's CPU clock; injected by tests. */
export interface ConeCheckDeps {
  /** The oracle steps a batch's cones off the JS thread (stepConeGroupsAsync). */
  stepConeGroups: OracleAddon['stepConeGroupsAsync'];
  /** The JS thread's CPU time, in ns: what the watchdog's own work takes from the kernel's cores. */
  threadCpuNs: () => number;
}

const addonDeps = (): ConeCheckDeps => ({
  stepConeGroups: (...args) => oracleAddon().stepConeGroupsAsync(...args),
  threadCpuNs: () => coreAddon().threadCpuNs(),
});

/** Cone batches with the oracle at once: while as many are out and the next is due, probes wait in the core (which drops extras it has no slot for). */
const MAX_CONE_BATCHES_OUT = 2;

/** What the cone checks need of their watchdog. */
export interface ConeCheckHooks {
  /** Its rollbacks so far: a verdict on a state rolled back since its probe was taken is moot. */
  rollbacks(): number;
  /** A probe of `step` disagreed: roll back, as any differential failure does. */
  rollBack(detail: string, step: number): void;
  /** A differential verdict came at `atMs` on the watchdog's clock. */
  noteCheck(atMs: number): void;
}

/** No cone probe checked yet. */
export function emptyConeStats(): ConeProbeStats {
  return { checked: 0, extras: 0, cellsChecked: 0, calls: 0, gatherNs: 0, droppedGatherNs: 0, jsMs: 0, oracleMs: 0, jsCpuMs: 0, oracleCpuMs: 0 };
}

export class ConeChecks {
  /** The cone probes taken and not yet sent to the oracle, and emptied batches kept for reuse (their arrays allocated once). */
  #pendingCones: ConeBatch | null = null;
  readonly #spareConeBatches: ConeBatch[] = [];
  /** Probes were left in the core while the oracle was behind: taken when a batch settles. */
  #conesWaiting = false;
  /** The run has ended (end()). */
  #ended = false;
  /** What the cone probes' oracle calls cost: a fixed part per call and a part per cell (cone-cost.ts). */
  readonly #coneCost = new ConeCostModel();
  readonly #coneRandom: () => number;
  /**
   * With a cost share, the cone probes' own cadence: each plan probe's cost
   * (its cells' share of its batch's: the runner's gathers and the JS and
   * oracle threads' CPU time) defers the next plan by whole cone intervals
   * as a snapshot's defers the next snapshot.
   */
  readonly #coneCadence: SnapshotCadence | null;
  /** With a cost share, the take rate beyond the plans, solved again at every call's verdict (cone-take-rate.ts). */
  readonly #takeRate: ConeTakeRate | null;
  /** Cells of the last plan probe checked: the plans' own cells a step, taken off what the share affords extras. */
  #planCells = 0;
  /** The core's count of the dropped extras' gather time when last read, in ns. */
  #droppedGatherNsSeen: number;
  /** Cone batches' oracle steps under way off the JS thread. */
  readonly #conesInFlight = new Set<Promise<void>>();
  /** What the cone probes checked so far cost. */
  readonly stats: ConeProbeStats = emptyConeStats();

  constructor(
    private readonly core: ConeCore,
    private readonly physics: WatchdogPhysics,
    private readonly plan: DifferentialPlan,
    cadence: CadencePlan | null,
    private readonly now: () => number,
    private readonly hooks: ConeCheckHooks,
    private readonly deps: ConeCheckDeps = addonDeps(),
  ) {
    this.#coneRandom = coneProbeRandom(plan.seed);
    this.#coneCadence = cadence === null ? null : new SnapshotCadence(plan.coneEverySteps, cadence.maxCostShare, this.#coneRandom);
    this.#takeRate = cadence === null ? null : new ConeTakeRate(cadence.maxCostShare);
    this.#droppedGatherNsSeen = core.watchdogCounters().coneExtraDropNs;
  }

  /** The run has ended: what the core announces from now on is another run's. */
  end(): void {
    this.#ended = true;
  }

  /** Sends the cone probes taken and not yet sent, and resolves once none is being checked (at once when none is). */
  async settled(): Promise<void> {
    this.#sendCones();
    while (this.#conesInFlight.size > 0) await Promise.all(this.#conesInFlight);
  }

  /**
   * Called with each cone probe the runner announces: the cones of every
   * probe waiting (a follow-on may have been announced too) are copied out
   * into the pending batch, the next plan is armed when a plan's probe is
   * taken, and an extra probe's slot is the runner's again at once (its
   * cones are the batch's now). The batch goes to the oracle, which steps
   * its cones on a libuv thread, once it is due (#coneBatchDue); a plan's
   * slot is settled with its verdict, and a mismatch rolls back.
   */
  check(): void {
    const plan = this.plan;
    const room = Math.max(plan.coneValues, coneValues(this.physics.extents.length, 1));
    this.#takeRate?.observeStep(this.now(), this.core.stepCount);
    for (;;) {
      const batch = (this.#pendingCones ??= this.#spareConeBatches.pop() ?? new ConeBatch(plan.coneValues + room));
      // The oracle is behind: the probes wait in the core (which drops the extras it has no slot left for) until a batch settles.
      if (this.#conesInFlight.size >= MAX_CONE_BATCHES_OUT && this.#coneBatchDue(batch, plan)) {
        this.#conesWaiting = true;
        return;
      }
      const startedMs = this.now();
      const startedCpuNs = this.deps.threadCpuNs();
      const probe = this.#takeConeProbe(...batch.free(room));
      if (probe === null) return;
      batch.add(probe, probe.cells.length * coneValues(this.physics.extents.length, probe.radius), this.hooks.rollbacks());
      // An extra probe took no plan: the armed one stands, and nothing waits on its slot.
      if (probe.extra) this.core.settleConeProbe(probe.step);
      else this.arm(Math.max(probe.step, this.core.stepCount));
      batch.takeCpuMs += (this.deps.threadCpuNs() - startedCpuNs) / 1e6;
      batch.takeMs += this.now() - startedMs;
      if (this.#coneBatchDue(batch, plan)) this.#sendCones();
    }
  }

  /**
   * A batch goes to the oracle once it holds a plan's probe (whose verdict
   * spaces the next plan), the cells of one snapshot probe or the cone
   * budget, or once its oldest probe is coneEverySteps steps older than its
   * newest: a wrong batch is seen within about that many steps.
   */
  #coneBatchDue(batch: ConeBatch, plan: DifferentialPlan): boolean {
    if (batch.probes.length === 0) return false;
    return batch.hasPlan || batch.cells >= plan.cells || batch.values >= plan.coneValues || batch.spanSteps >= plan.coneEverySteps;
  }

  /** Sends the pending batch to the oracle, unless it is empty or MAX_CONE_BATCHES_OUT are out already. */
  #sendCones(): void {
    const batch = this.#pendingCones;
    if (batch === null || batch.probes.length === 0 || this.#conesInFlight.size >= MAX_CONE_BATCHES_OUT) return;
    this.#pendingCones = null;
    const checked = this.#checkConeBatch(batch).finally(() => {
      this.#conesInFlight.delete(checked);
      batch.clear();
      this.#spareConeBatches.push(batch);
      // A batch due while the others were out, and probes left waiting in the core, go now (unless the run is over:
      // the core's next announcements are another run's).
      if (this.#pendingCones !== null && this.#coneBatchDue(this.#pendingCones, this.plan)) this.#sendCones();
      if (this.#conesWaiting && !this.#ended) {
        this.#conesWaiting = false;
        this.check();
      }
    });
    this.#conesInFlight.add(checked);
  }

  /** The oracle steps a batch's cones off the JS thread; each probe is compared with its own part, and a mismatch rolls back. */
  async #checkConeBatch(batch: ConeBatch): Promise<void> {
    const { extents, courant2, precision } = this.physics;
    try {
      const startedMs = this.now();
      const startedCpuNs = this.deps.threadCpuNs();
      const answer = this.deps.stepConeGroups(
        batch.older.subarray(0, batch.values),
        batch.newer.subarray(0, batch.values),
        extents.length,
        batch.groups(),
        courant2,
        precision === 'f32',
      );
      const sentMs = this.now();
      let jsCpuMs = batch.takeCpuMs + (this.deps.threadCpuNs() - startedCpuNs) / 1e6;
      const { values, scales, cpuNs } = await answer;
      const answeredMs = this.now();
      const answeredCpuNs = this.deps.threadCpuNs();
      const failures = this.#compareConeBatch(batch, values, scales);
      jsCpuMs += (this.deps.threadCpuNs() - answeredCpuNs) / 1e6;
      const doneMs = this.now();
      this.#noteConeBatch(batch, {
        jsMs: batch.takeMs + sentMs - startedMs + doneMs - answeredMs,
        oracleMs: answeredMs - sentMs,
        jsCpuMs,
        oracleCpuMs: cpuNs / 1e6,
      });
      this.hooks.noteCheck(answeredMs);
      const costMs = batch.gatherNs / 1e6 + jsCpuMs + cpuNs / 1e6;
      this.#coneCost.record(batch.cells, costMs);
      this.#takeRate?.spend(answeredMs, batch.cells, costMs);
      for (const { probe } of batch.probes) {
        if (probe.extra) continue;
        // Its share of the call's cost, by cells, spaces the next plan; only then is its slot the runner's again.
        if (!failures.some((failure) => failure.probe === probe)) this.#deferNextCone(probe.step, startedMs, (costMs * probe.cells.length) / batch.cells);
        this.#planCells = probe.cells.length;
        this.core.settleConeProbe(probe.step);
      }
      this.#spendDroppedGathers(answeredMs);
      this.#setTakeRate(answeredMs);
      const failure = failures.find(({ rollbacks }) => rollbacks === this.hooks.rollbacks());
      if (failure !== undefined) this.hooks.rollBack(failure.detail, failure.probe.step);
    } catch (error) {
      if (!(error instanceof Error && /is closed/.test(error.message)))
        process.emitWarning(
          `the watchdog's cone probes of steps ${batch.probes[0]?.probe.step} to ${batch.probes.at(-1)?.probe.step} failed: ${String(error)}`,
        );
    }
  }

  /** Each probe of a batch against its part of the oracle's answer, in order: the probes that disagree. */
  #compareConeBatch(batch: ConeBatch, values: Float64Array, scales: Float64Array): { probe: CoreConeProbe; rollbacks: number; detail: string }[] {
    const failures: { probe: CoreConeProbe; rollbacks: number; detail: string }[] = [];
    let at = 0;
    for (const { probe, rollbacks } of batch.probes) {
      const cells = probe.cells.length;
      const mismatch = compareProbe(
        probe.cells,
        probe.values,
        values.subarray(at, at + cells),
        scales.subarray(at, at + cells),
        this.physics.precision,
        probe.steps,
      );
      at += cells;
      if (mismatch !== null)
        failures.push({ probe, rollbacks, detail: mismatchDetail(mismatch, probe.step, probe.steps, cells, 'differential check of a cone probe') });
    }
    return failures;
  }

  #noteConeBatch(batch: ConeBatch, cost: { jsMs: number; oracleMs: number; jsCpuMs: number; oracleCpuMs: number }): void {
    const stats = this.stats;
    stats.checked += batch.probes.length;
    stats.extras += batch.probes.filter(({ probe }) => probe.extra).length;
    stats.cellsChecked += batch.cells;
    stats.calls += 1;
    stats.gatherNs += batch.gatherNs;
    stats.jsMs += cost.jsMs;
    stats.oracleMs += cost.oracleMs;
    stats.jsCpuMs += cost.jsCpuMs;
    stats.oracleCpuMs += cost.oracleCpuMs;
  }

  /**
   * Before a passed plan probe is settled (its slot is not yet the
   * runner's): with a cost share, the next plan is drawn again from as many
   * whole intervals on as the cone cadence defers it, when it defers.
   */
  #deferNextCone(step: number, startedMs: number, costMs: number): void {
    if (this.#coneCadence === null) return;
    const first = this.#coneCadence.next(step, startedMs, costMs);
    if (first > step + 1) this.arm(first - 1);
  }

  /**
   * The gathers of the extras the runner dropped since the last call (chosen
   * with no slot free) were spent all the same: counted with the cone
   * probes' cost and against the share.
   */
  #spendDroppedGathers(atMs: number): void {
    const droppedNs = this.core.watchdogCounters().coneExtraDropNs;
    const spentNs = droppedNs - this.#droppedGatherNsSeen;
    this.#droppedGatherNsSeen = droppedNs;
    if (!(spentNs > 0)) return;
    this.stats.droppedGatherNs += spentNs;
    this.#takeRate?.spend(atMs, 0, spentNs / 1e6);
  }

  /**
   * With a cost share, what it affords beyond the plans goes to the gathers
   * the runner makes anyway at other boundaries, in cells a step
   * (cone-take-rate.ts), less the plans' own cells a step.
   */
  #setTakeRate(atMs: number): void {
    const takeRate = this.#takeRate;
    if (takeRate === null) return;
    const plan = this.plan;
    takeRate.observeStep(atMs, this.core.stepCount);
    const affordable = takeRate.cellsPerStep(this.#coneCost.fit(), plan.cells, plan.coneEverySteps);
    this.core.setConeTakeRate(Math.min(Math.max(0, affordable - this.#planCells / plan.coneEverySteps), MAX_TAKE_CELLS_PER_STEP));
  }

  /** The oldest announced cone probe not yet taken, into `older` and `newer`; null when none is waiting, or when the lattice was closed after announcing it. */
  #takeConeProbe(older: Float64Array, newer: Float64Array): CoreConeProbe | null {
    try {
      return this.core.takeConeProbe(older, newer);
    } catch (error) {
      if (error instanceof Error && /is closed/.test(error.message)) return null;
      throw error;
    }
  }

  /** Arms the core's next cone probe, drawn to come after `fromStep`. */
  arm(fromStep: number): void {
    const plan = this.plan;
    const next = drawConeProbe(this.#coneRandom, fromStep, plan.coneEverySteps);
    const follow = drawFollowingProbe(this.#coneRandom, plan.coneEverySteps);
    this.core.armConeProbe(
      plan.cells,
      next.cellSeed,
      next.delayed,
      next.remainder,
      next.atStep,
      plan.coneEverySteps,
      plan.coneValues,
      follow.offsetSteps,
      follow.delayed,
      follow.remainder,
    );
  }
}
