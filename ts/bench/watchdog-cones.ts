/**
 * `ouroboros bench watchdog`'s figures of the engine's cone probes: what they
 * checked (cells a step, against the rate of the results a run replaces) and
 * cost (per probe, per oracle call, as a share of the run), and what a
 * kernel could see of them (the batch cap, the gather at every boundary, the
 * gap between calls before probed and unprobed batches).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { CoreStepTrace } from '../../native/addon-types.js';
import type { ConeProbeStats } from '../lattice/watchdog.js';
import { DEFAULT_PROBE_CONE_VALUES } from '../lattice/watchdog.js';
import { median } from '../util/median.js';
import type { EngineWatchdogFigures } from './watchdog.js';

/** What a round of the engine's watchdog gives the cone figures. */
export interface ConeRound {
  /** The runner's whole run, by its own clock, in ns. */
  runNs: number;
  cones: ConeProbeStats & { skips: number; drops: number; steps: number };
  /** Measured batches: end of the call before to the start of each (ns), split by whether the batch was probed; their median length. */
  boundaryGapsNs: { probed: number[]; unprobed: number[] };
  batchMedianNs: number;
  /** Boundaries where the runner gathered cones, and the ns it spent. */
  coneBoundaries: number;
  coneBoundaryNs: number;
  batchCap: number | null;
}

export interface ConeProbeFigures {
  everySteps: number;
  probesPerRound: number;
  /** Due while the last was still being checked, skipped by the runner. */
  skipsPerRound: number;
  /** Of the probes, boundaries' gathers handed over beyond the plans at the take rate the cost share affords; and those chosen but dropped, every extra slot out. */
  extrasPerRound: number;
  extraDropsPerRound: number;
  /** Cells the cone probes compared per step run (median over rounds): the rate a kernel wrong at a few cells is found at. */
  cellsCheckedPerStep: number;
  /**
   * The same rate in the results this run replaces (bench/results/watchdog.json, with their extents): theirs, or,
   * in results from before extra probes, their probes per round x cells per probe (all probeCells within the
   * cone budget at the live batch) / steps per round; null when there are none.
   */
  previousCellsCheckedPerStep: { date: string; extents: number[]; value: number } | null;
  /** The runner's gathers of both levels' cones and the cells' newest values, per probe. */
  runnerGatherMs: number;
  /** The JS thread's part per probe: taking the cones, arming the next, comparing. */
  jsMs: number;
  /** The oracle's steps of the cones on a libuv thread, per probe (wall time from sending to the answer). */
  oracleMs: number;
  /** (gathers + JS + oracle) of all probes over the round's run time, median over rounds: the oracle's thread counted as lost outright. */
  accountedCostPct: number;
  /** Oracle calls a round: each checks a batch of probes (ts/lattice/cone-batch.ts), and its cells, median over rounds. */
  callsPerRound: number;
  cellsPerCall: number;
  /** The JS thread's and the oracle thread's CPU time per probe, which the cost share goes by (wall time counts waits for a core too). */
  jsCpuMs: number;
  oracleCpuMs: number;
  /** (gathers + JS CPU + oracle CPU) of all probes over the round's run time, median over rounds: the share the watchdog aims at. */
  accountedCpuCostPct: number;
  /** Most steps in one batch while cone probes are on (one cone of that radius fits the budget); null: no cap. */
  batchCapSteps: number | null;
  /** The runner's cone gather at each boundary, probed or not (both levels' cones and the newest values), and its share of a median batch. */
  boundaryGatherUs: number;
  boundaryGatherPctOfBatch: number;
  /** What a kernel sees: end of one call to the start of the next, by the runner's clock, before probed and unprobed batches (pooled over rounds). */
  boundaryGapUs: { probed: GapQuantiles; unprobed: GapQuantiles };
}

export interface GapQuantiles {
  count: number;
  medianUs: number;
  p95Us: number;
}

export function gapText(gap: GapQuantiles): string {
  return `${gap.medianUs.toFixed(1)} us median, ${gap.p95Us.toFixed(1)} us p95 (${gap.count})`;
}

function quantiles(values: number[], scale: number): GapQuantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (fraction: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]! / scale);
  return { count: sorted.length, medianUs: at(0.5), p95Us: at(0.95) };
}

/** What the engine's cone probes cost, per probe and as a share of each round's run. */
export function coneProbeFigures(
  rounds: ConeRound[],
  everySteps: number,
  previousCellsCheckedPerStep: ConeProbeFigures['previousCellsCheckedPerStep'],
): ConeProbeFigures {
  const perProbe = (value: (r: ConeRound) => number) => median(rounds.map((r) => (r.cones.checked > 0 ? value(r) / r.cones.checked : Number.NaN)));
  return {
    everySteps,
    probesPerRound: median(rounds.map((r) => r.cones.checked)),
    skipsPerRound: median(rounds.map((r) => r.cones.skips)),
    extrasPerRound: median(rounds.map((r) => r.cones.extras)),
    extraDropsPerRound: median(rounds.map((r) => r.cones.drops)),
    cellsCheckedPerStep: median(rounds.map((r) => r.cones.cellsChecked / r.cones.steps)),
    previousCellsCheckedPerStep,
    runnerGatherMs: perProbe((r) => r.cones.gatherNs / 1e6),
    jsMs: perProbe((r) => r.cones.jsMs),
    oracleMs: perProbe((r) => r.cones.oracleMs),
    accountedCostPct: median(
      rounds.map((r) => (100 * ((r.cones.gatherNs + r.cones.droppedGatherNs) / 1e6 + r.cones.jsMs + r.cones.oracleMs)) / (r.runNs / 1e6)),
    ),
    callsPerRound: median(rounds.map((r) => r.cones.calls)),
    cellsPerCall: median(rounds.map((r) => (r.cones.calls > 0 ? r.cones.cellsChecked / r.cones.calls : Number.NaN))),
    jsCpuMs: perProbe((r) => r.cones.jsCpuMs),
    oracleCpuMs: perProbe((r) => r.cones.oracleCpuMs),
    accountedCpuCostPct: median(
      rounds.map((r) => (100 * ((r.cones.gatherNs + r.cones.droppedGatherNs) / 1e6 + r.cones.jsCpuMs + r.cones.oracleCpuMs)) / (r.runNs / 1e6)),
    ),
    batchCapSteps: rounds.at(-1)?.batchCap ?? null,
    boundaryGatherUs: median(rounds.map((r) => (r.coneBoundaries > 0 ? r.coneBoundaryNs / r.coneBoundaries / 1e3 : Number.NaN))),
    boundaryGatherPctOfBatch: median(rounds.map((r) => (r.coneBoundaries > 0 ? (100 * r.coneBoundaryNs) / r.coneBoundaries / r.batchMedianNs : Number.NaN))),
    boundaryGapUs: {
      probed: quantiles(
        rounds.flatMap((r) => r.boundaryGapsNs.probed),
        1e3,
      ),
      unprobed: quantiles(
        rounds.flatMap((r) => r.boundaryGapsNs.unprobed),
        1e3,
      ),
    },
  };
}

/**
 * The cone probes' cells checked per step in the results this run replaces, where each probe took the plan's
 * cells (all of probeCells that fit the cone budget at the live batch): probes a round x cells / steps a round.
 */
export function previousConeRate(path: string): ConeProbeFigures['previousCellsCheckedPerStep'] {
  if (!existsSync(path)) return null;
  const old = JSON.parse(readFileSync(path, 'utf8')) as { date?: string; engineWatchdog?: Partial<EngineWatchdogFigures> };
  const e = old.engineWatchdog;
  const date = old.date ?? 'unknown';
  if (e?.coneProbe === undefined || e.extents === undefined) return null;
  // Results of this kind carry the rate; older ones, whose every probe took the plan's cells, give it by their counts.
  if (e.coneProbe.cellsCheckedPerStep !== undefined) return { date, extents: e.extents, value: e.coneProbe.cellsCheckedPerStep };
  const { probeCells, liveBatchSteps, stepsPerRound, extents } = e;
  if (probeCells === undefined || liveBatchSteps === undefined || stepsPerRound === undefined) return null;
  const cells = keptCells(probeCells, extents.length, liveBatchSteps);
  return { date, extents, value: (e.coneProbe.probesPerRound * cells) / stepsPerRound };
}

/** Cells the core keeps of `drawn` for a probe of `steps` steps under the default light-cone budget. */
export function keptCells(drawn: number, dims: number, steps: number): number {
  return Math.min(drawn, Math.max(1, Math.floor(DEFAULT_PROBE_CONE_VALUES / (2 * steps + 1) ** dims)));
}

/** The measured batches' gaps before them (only those a gather preceded: every one while cone probes are on) and their lengths, from the trace. */
export function boundaryGaps(trace: CoreStepTrace, first: number, last: number): { boundaryGapsNs: ConeRound['boundaryGapsNs']; batchNs: number[] } {
  const boundaryGapsNs = { probed: [] as number[], unprobed: [] as number[] };
  const batchNs: number[] = [];
  for (let i = Math.max(first, 1); i <= last; i++) {
    batchNs.push(trace.endNs[i]! - trace.startNs[i]!);
    if (trace.coneValues[i] === 0) continue;
    (trace.coneProbed[i] === 1 ? boundaryGapsNs.probed : boundaryGapsNs.unprobed).push(trace.startNs[i]! - trace.endNs[i - 1]!);
  }
  return { boundaryGapsNs, batchNs };
}

/** The report's lines on the cone probes. */
export function coneFigureLines(c: ConeProbeFigures): string[] {
  const previous = c.previousCellsCheckedPerStep;
  return [
    `  cone probes: ${c.cellsCheckedPerStep.toPrecision(3)} cells checked a step (${c.extrasPerRound} extra gathers a round, ${c.extraDropsPerRound} dropped)` +
      (previous === null ? '' : `, against ${previous.value.toPrecision(3)} at ${previous.extents.join('x')} in the results of ${previous.date}`),
    `  cone plans every ${c.everySteps} steps on average: ${c.probesPerRound} probes a round (${c.skipsPerRound} skipped), each ` +
      `${c.runnerGatherMs.toFixed(2)} ms of runner gathers, ${c.jsMs.toFixed(2)} ms on the JS thread, ${c.oracleMs.toFixed(2)} ms of oracle ` +
      `off it: accounted ${c.accountedCostPct.toFixed(2)}% of the run`,
    `  in ${c.callsPerRound} oracle calls a round of ${c.cellsPerCall.toFixed(0)} cells: CPU time a probe ${c.jsCpuMs.toFixed(3)} ms on the JS thread, ` +
      `${c.oracleCpuMs.toFixed(3)} ms of oracle: ${c.accountedCpuCostPct.toFixed(2)}% of the run with the gathers`,
    `  what a kernel sees: batches capped at ${c.batchCapSteps ?? 'no'} steps; a ${c.boundaryGatherUs.toFixed(1)} us gather at every boundary ` +
      `(${c.boundaryGatherPctOfBatch.toFixed(3)}% of a median batch); the gap between calls before probed batches ` +
      `${gapText(c.boundaryGapUs.probed)}, before unprobed ${gapText(c.boundaryGapUs.unprobed)}`,
  ];
}
