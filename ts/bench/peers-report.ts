/**
 * The arithmetic of `ouroboros bench peers`, apart from any measurement:
 * rows and ratios from the medians of interleaved rounds, the issue's
 * targets, the cells the oracle checks and how close a peer's value must be.
 * Every measurement comes in as an argument, so tests inject them.
 */
import type { Precision } from '../../native/addon-types.js';
import { rooflineMlupsOf } from './kernels.js';
import { median } from '../util/median.js';

export type PeerKind = 'evolved' | 'peer' | 'reference';

export interface PeerCase {
  extents: number[];
  precision: Precision;
}

/** One contender of a case and its MLUPS in each round. */
export interface ContenderMeasurement {
  name: string;
  kind: PeerKind;
  /** A conventional kernel that sweeps the lattice once per step: the bar the evolved kernel is held to. */
  singleSweep: boolean;
  roundMlups: number[];
  /** false when its values after the check run differed from the oracle: it is reported, never the bar. */
  verified: boolean | null;
  note?: string;
}

export interface CaseMeasurement extends PeerCase {
  contenders: ContenderMeasurement[];
  /** The fastest kernel on a lattice whose three levels fit in L2. */
  inCache: { extents: number[]; kernel: string; mlups: number };
  streamTriadGBs: number;
  inPlaceGBs: number;
}

export interface PeerRow {
  name: string;
  kind: PeerKind;
  extents: number[];
  precision: Precision;
  /** Median over the rounds. */
  mlups: number;
  /** mlups over the case's fastest row. */
  ratioToBest: number;
  roundMlups: number[];
  verified: boolean | null;
  note?: string;
}

export interface RatioTarget {
  /** The evolved kernel's MLUPS over the best verified single-sweep peer's; null without either. */
  value: number | null;
  bestPeer: string | null;
  /** The bar for this case; null for a case it sets none for. */
  atLeast: number | null;
  met: boolean | null;
}

export interface PeerCaseReport extends PeerCase {
  rows: PeerRow[];
  inCacheMlups: number;
  inCacheExtents: number[];
  inCacheKernel: string;
  streamTriadGBs: number;
  inPlaceGBs: number;
  /** The roofline each probe gives at this precision's bytes per update. */
  streamTriadRooflineMlups: number;
  inPlaceRooflineMlups: number;
  evolvedOverBestSweepPeer: RatioTarget;
}

/** Issue 16's targets: evolved / best single-sweep peer, on the main job's lattices. */
export const PEER_TARGETS: readonly (PeerCase & { atLeast: number })[] = [
  { extents: [4096, 4096], precision: 'f64', atLeast: 1.6 },
  { extents: [4096, 4096], precision: 'f32', atLeast: 2.0 },
  { extents: [256, 256, 256], precision: 'f64', atLeast: 1.3 },
];

function sameCase(a: PeerCase, b: PeerCase): boolean {
  return a.precision === b.precision && a.extents.length === b.extents.length && a.extents.every((extent, i) => extent === b.extents[i]);
}

export function targetFor(peerCase: PeerCase): number | null {
  return PEER_TARGETS.find((target) => sameCase(target, peerCase))?.atLeast ?? null;
}

/** Rows, ratios and the target of one case from its measurements. */
export function caseReport(measurement: CaseMeasurement): PeerCaseReport {
  const { extents, precision } = measurement;
  const medians = measurement.contenders.map((contender) => median(contender.roundMlups, 0));
  const best = Math.max(0, ...medians);
  const rows: PeerRow[] = measurement.contenders.map((contender, i) => ({
    name: contender.name,
    kind: contender.kind,
    extents,
    precision,
    mlups: medians[i]!,
    ratioToBest: best > 0 ? medians[i]! / best : 0,
    roundMlups: contender.roundMlups,
    verified: contender.verified,
    ...(contender.note === undefined ? {} : { note: contender.note }),
  }));
  const evolved = rows.find((row) => row.kind === 'evolved');
  const bar = rows
    .filter((row, i) => measurement.contenders[i]!.singleSweep && row.verified === true)
    .reduce<PeerRow | null>((fastest, row) => (fastest === null || row.mlups > fastest.mlups ? row : fastest), null);
  const value = evolved !== undefined && bar !== null && bar.mlups > 0 ? evolved.mlups / bar.mlups : null;
  const atLeast = targetFor(measurement);
  return {
    extents,
    precision,
    rows,
    inCacheMlups: measurement.inCache.mlups,
    inCacheExtents: measurement.inCache.extents,
    inCacheKernel: measurement.inCache.kernel,
    streamTriadGBs: measurement.streamTriadGBs,
    inPlaceGBs: measurement.inPlaceGBs,
    streamTriadRooflineMlups: rooflineMlupsOf(measurement.streamTriadGBs, precision),
    inPlaceRooflineMlups: rooflineMlupsOf(measurement.inPlaceGBs, precision),
    evolvedOverBestSweepPeer: {
      value,
      bestPeer: bar?.name ?? null,
      atLeast,
      met: atLeast === null ? null : value !== null && value >= atLeast,
    },
  };
}

export const PYTHON_PEERS = ['numba', 'devito'] as const;

/**
 * The Python peers absent from a run, and why: all of them without a Python
 * to run them, else those whose package the Python lacked (`lacking`, from
 * the scripts' own report).
 */
export function missingPeers(python: string | null, lacking: ReadonlyMap<string, string>): { name: string; reason: string }[] {
  if (python === null) {
    return PYTHON_PEERS.map((name) => ({ name, reason: 'no --python given: the numba and Devito rows need a Python that has them' }));
  }
  return PYTHON_PEERS.filter((name) => lacking.has(name)).map((name) => ({ name, reason: `${python}: ${lacking.get(name)!}` }));
}

/** The contenders of round `round` in the order they run: rotated by one each round, so none always runs first. */
export function roundOrder<T>(contenders: readonly T[], round: number): T[] {
  if (contenders.length === 0) return [];
  const shift = round % contenders.length;
  return [...contenders.slice(shift), ...contenders.slice(0, shift)];
}

const BYTES_PER_CELL: Record<Precision, number> = { f64: 8, f32: 4 };
/** Levels the product keeps: u^{n-1}, u^n and the kernels' scratch. */
const LATTICE_LEVELS = 3;

/**
 * Extents of `dimensions` equal sides whose three levels fit in `l2Bytes`:
 * the largest side, a multiple of 8 (a whole number of vectors per row), and
 * at least 8.
 */
export function inCacheExtents(dimensions: number, precision: Precision, l2Bytes: number): number[] {
  const cells = l2Bytes / (LATTICE_LEVELS * BYTES_PER_CELL[precision]);
  const side = Math.max(8, Math.floor(Math.floor(cells ** (1 / dimensions) + 1e-9) / 8) * 8);
  return new Array<number>(dimensions).fill(side);
}

/** "1024K" or "2M" as sysfs writes a cache size, in bytes. */
export function parseCacheSize(text: string): number | null {
  const match = /^(\d+)\s*([KMG]?)$/i.exec(text.trim());
  if (!match) return null;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(match[1]) * unit;
}

/**
 * Cells the oracle checks after a check run of `steps` steps: cells whose
 * light cone stays clear of every face (the only ones a peer without
 * periodic boundaries, Devito, gets right), and with `periodic` the corners
 * and face cells, whose stencils wrap.
 */
export function checkCells(extents: readonly number[], steps: number, periodic: boolean): number[] {
  const strides = extents.map((_, axis) => extents.slice(axis + 1).reduce((a, b) => a * b, 1));
  const flat = (coords: number[]) => coords.reduce((sum, coord, axis) => sum + coord * strides[axis]!, 0);
  const cells = new Set<number>();
  const margin = steps + 1;
  if (extents.every((extent) => extent > 2 * margin)) {
    for (const fraction of [0.5, 0.37, 0.61]) {
      cells.add(flat(extents.map((extent) => margin + Math.floor((extent - 2 * margin) * fraction))));
    }
  }
  if (periodic) {
    cells.add(0);
    cells.add(flat(extents.map((extent) => extent - 1)));
    extents.forEach((extent, axis) => {
      cells.add(flat(extents.map((e, a) => (a === axis ? 0 : e >> 1))));
      cells.add(flat(extents.map((e, a) => (a === axis ? extent - 1 : e >> 1))));
    });
  }
  return [...cells];
}

/**
 * How far a peer's value may be from the oracle's after `steps` steps: a peer
 * may order its additions differently and contract to FMA, which costs a few
 * ulps of the field's scale per step; a wrong stencil, wrap or step count is
 * off by the field's own size.
 */
export function sampleTolerance(precision: Precision, steps: number, scale: number): number {
  const ulpsPerStep = 16;
  const epsilon = precision === 'f64' ? Number.EPSILON : 2 ** -23;
  return ulpsPerStep * epsilon * Math.max(1, steps) * Math.max(1, scale);
}

export interface SampleCheck {
  ok: boolean;
  /** The cell furthest from the oracle, and how far. */
  worst: { cell: number; value: number; expected: number; difference: number } | null;
  tolerance: number;
  /** Why the check failed, naming the cell: null when ok. */
  reason: string | null;
}

/** A peer's values at `cells` against the oracle's (`expected`, same order). */
export function compareSamples(
  samples: readonly { cell: number; value: number }[],
  cells: readonly number[],
  expected: ArrayLike<number>,
  precision: Precision,
  steps: number,
): SampleCheck {
  const scale = Math.max(0, ...Array.from(expected, Math.abs));
  const tolerance = sampleTolerance(precision, steps, scale);
  const byCell = new Map(samples.map((sample) => [sample.cell, sample.value]));
  let worst: SampleCheck['worst'] = null;
  for (const [i, cell] of cells.entries()) {
    const value = byCell.get(cell);
    if (value === undefined) return { ok: false, worst, tolerance, reason: `no value for cell ${cell}` };
    const difference = Math.abs(value - expected[i]!);
    if (worst === null || !(difference <= worst.difference)) worst = { cell, value, expected: expected[i]!, difference };
  }
  const ok = worst === null || worst.difference <= tolerance;
  return {
    ok,
    worst,
    tolerance,
    reason: ok
      ? null
      : `cell ${worst!.cell} is ${worst!.value} after ${steps} steps, the oracle's ${worst!.expected} (off by ${worst!.difference.toExponential(2)}, tolerance ${tolerance.toExponential(2)})`,
  };
}

/**
 * The bench's initial state, level 0 (u^{n-1}) or 1 (u^n): Wellons'
 * lowbias32 hash of 2 cell + level + seed * 0x9E3779B9, as its top 24 bits
 * scaled into [-1, 1), exact in f32 and f64. bench/peers/sweep.cpp and
 * peer_common.py compute the same values, so the oracle checks what a peer
 * printed without reading the peer's memory.
 */
export function initialLevel(cells: number, level: 0 | 1, seed: number, precision: Precision): Float64Array | Float32Array {
  const out = precision === 'f64' ? new Float64Array(cells) : new Float32Array(cells);
  const offset = (level + Math.imul(seed, 0x9e3779b9)) >>> 0;
  for (let cell = 0; cell < cells; cell++) {
    let x = (2 * cell + offset) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x ^= x >>> 16;
    out[cell] = (x >>> 8) * 2 ** -23 - 1;
  }
  return out;
}
