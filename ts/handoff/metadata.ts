/**
 * The metadata block: what a successor needs besides the field (lattice
 * config, step count, the modules of every slot, profiler counters, the
 * engine's own state), as a `HandoffMetadata` protobuf (`proto/handoff.proto`).
 */
import type { Precision } from '../../native/addon-types.js';
import { invalidTypeError, requireFiniteNumber, requireInteger } from '../errors.js';
import { MetadataError } from './errors.js';
import { handoffMetadataType } from './schema.js';
import { requireExtents, requirePrecision } from './validate.js';

export interface HandoffLatticeConfig {
  extents: number[];
  c: number;
  h: number;
  dt: number;
  precision: Precision;
  /** The runner's batch settings; absent in metadata written before they were carried (the defaults then apply). */
  batchLatencyMs?: number;
  maxBatchSteps?: number;
}

/** A kernel module file and the sha256 (lowercase hex) it must still have. */
export interface ModuleRef {
  path: string;
  sha256: string;
  /** It ran confined in a kernel host: it is loaded confined again, never in-process. Absent means false. */
  confined?: boolean;
}

export interface SlotModules {
  slot: string;
  live: ModuleRef | null;
  lastKnownGood: ModuleRef | null;
}

/** One non-empty bucket of a slot's per-call latency histogram; `lowNs` names the bucket. */
export interface HistogramBucket {
  lowNs: number;
  calls: number;
}

/** A slot's profiler at the freeze, histogram included, so the successor's profile goes on from it. */
export interface SlotCounters {
  slot: string;
  calls: number;
  /** Time steps through the slot (a call may take several); 0 for readout. */
  steps: number;
  totalNs: number;
  maxNs: number;
  p50Ns: number;
  p99Ns: number;
  /** Empty in metadata written before histograms were carried: percentiles then start afresh. */
  histogram: HistogramBucket[];
}

export interface HandoffMetadata {
  config: HandoffLatticeConfig;
  stepCount: number;
  slots: SlotModules[];
  counters: SlotCounters[];
  engineState: Record<string, string>;
  /** Steps per call the runner had reached for the live step module; absent in older metadata (it ramps up from one). */
  batchSteps?: number;
}

const PRECISION_ENUM = { f64: 'PRECISION_F64', f32: 'PRECISION_F32' } as const;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidTypeError(name, 'a string', value);
  return value;
}

function requireCount(name: string, value: unknown): number {
  return requireInteger(name, value, 0);
}

/** A ref whose `confined` appears only when true, so refs of in-process modules read as before. */
function confinedRef(path: string, sha256: string, confined: boolean): ModuleRef {
  return confined ? { path, sha256, confined } : { path, sha256 };
}

function checkModule(name: string, value: unknown): ModuleRef | null {
  if (value === null) return null;
  if (typeof value !== 'object') throw invalidTypeError(name, 'a { path, sha256 } object or null', value);
  const module = value as ModuleRef;
  requireString(`${name}.path`, module.path);
  if (typeof module.sha256 !== 'string' || !SHA256_HEX.test(module.sha256)) {
    throw invalidTypeError(`${name}.sha256`, '64 lowercase hex digits', module.sha256);
  }
  if (module.confined !== undefined && typeof module.confined !== 'boolean') {
    throw invalidTypeError(`${name}.confined`, 'true or false', module.confined);
  }
  return confinedRef(module.path, module.sha256, module.confined === true);
}

function checkMetadata(metadata: HandoffMetadata): void {
  if (typeof metadata !== 'object' || metadata === null) throw invalidTypeError('metadata', 'an object', metadata);
  const { config } = metadata;
  if (typeof config !== 'object' || config === null) throw invalidTypeError('metadata.config', 'an object', config);
  requireExtents('metadata.config.extents', config.extents);
  for (const key of ['c', 'h', 'dt'] as const) requireFiniteNumber(`metadata.config.${key}`, config[key]);
  requirePrecision('metadata.config.precision', config.precision);
  if (config.batchLatencyMs !== undefined) requireFiniteNumber('metadata.config.batchLatencyMs', config.batchLatencyMs);
  if (config.maxBatchSteps !== undefined) requireInteger('metadata.config.maxBatchSteps', config.maxBatchSteps, 1);
  requireCount('metadata.stepCount', metadata.stepCount);
  if (metadata.batchSteps !== undefined) requireInteger('metadata.batchSteps', metadata.batchSteps, 1);
  if (!Array.isArray(metadata.slots)) throw invalidTypeError('metadata.slots', 'an array', metadata.slots);
  metadata.slots.forEach((slot, index) => {
    requireString(`metadata.slots[${index}].slot`, slot.slot);
    checkModule(`metadata.slots[${index}].live`, slot.live);
    checkModule(`metadata.slots[${index}].lastKnownGood`, slot.lastKnownGood);
  });
  if (!Array.isArray(metadata.counters)) throw invalidTypeError('metadata.counters', 'an array', metadata.counters);
  metadata.counters.forEach((counters, index) => {
    const name = `metadata.counters[${index}]`;
    requireString(`${name}.slot`, counters.slot);
    for (const key of ['calls', 'steps', 'totalNs', 'maxNs', 'p50Ns', 'p99Ns'] as const) {
      requireCount(`${name}.${key}`, counters[key]);
    }
    if (!Array.isArray(counters.histogram)) throw invalidTypeError(`${name}.histogram`, 'an array of { lowNs, calls }', counters.histogram);
    counters.histogram.forEach((bucket, at) => {
      requireCount(`${name}.histogram[${at}].lowNs`, bucket.lowNs);
      requireCount(`${name}.histogram[${at}].calls`, bucket.calls);
    });
  });
  const state = metadata.engineState;
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw invalidTypeError('metadata.engineState', 'an object of strings', state);
  }
  for (const [key, value] of Object.entries(state)) requireString(`metadata.engineState[${JSON.stringify(key)}]`, value);
}

/** Encodes `metadata` after checking every field; throws naming the first bad one. */
export function encodeMetadata(metadata: HandoffMetadata): Uint8Array {
  checkMetadata(metadata);
  const type = handoffMetadataType();
  const message = type.fromObject({
    ...metadata,
    config: { ...metadata.config, precision: PRECISION_ENUM[metadata.config.precision] },
  });
  return type.encode(message).finish();
}

interface DecodedModule {
  path: string;
  sha256: string;
  confined: boolean;
}

interface Decoded {
  config?: { extents: number[]; c: number; h: number; dt: number; precision: string; batchLatencyMs: number; maxBatchSteps: number };
  stepCount: number;
  slots: { slot: string; live?: DecodedModule; lastKnownGood?: DecodedModule }[];
  counters: SlotCounters[];
  engineState: Record<string, string>;
  batchSteps: number;
}

function decodedPrecision(value: string): Precision {
  if (value === PRECISION_ENUM.f64) return 'f64';
  if (value === PRECISION_ENUM.f32) return 'f32';
  throw new MetadataError(`metadata config.precision = ${value}: must be PRECISION_F64 or PRECISION_F32`);
}

/**
 * Decodes a metadata block; a block that is not a `HandoffMetadata`
 * protobuf, or lacks the lattice config, is a `MetadataError`.
 */
export function decodeMetadata(bytes: Uint8Array): HandoffMetadata {
  if (!(bytes instanceof Uint8Array)) throw invalidTypeError('bytes', 'a Uint8Array', bytes);
  let decoded: Decoded;
  try {
    const type = handoffMetadataType();
    decoded = type.toObject(type.decode(bytes), {
      longs: Number,
      enums: String,
      defaults: true,
      arrays: true,
      objects: true,
    }) as Decoded;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MetadataError(
      `metadata block (${bytes.length} bytes) is not a HandoffMetadata protobuf: ${reason}; ` +
        'the segment or checkpoint was written by something else or is corrupt',
    );
  }
  const { config } = decoded;
  if (!config || config.extents.length === 0) {
    throw new MetadataError(`metadata block (${bytes.length} bytes) has no lattice config: it cannot be resumed`);
  }
  const module = (value: DecodedModule | undefined): ModuleRef | null => (value ? confinedRef(value.path, value.sha256, value.confined) : null);
  const { batchLatencyMs, maxBatchSteps, ...lattice } = config;
  return {
    // proto3 reads an absent field as 0: older metadata has no batch settings.
    config: {
      ...lattice,
      precision: decodedPrecision(config.precision),
      ...(batchLatencyMs > 0 ? { batchLatencyMs } : {}),
      ...(maxBatchSteps > 0 ? { maxBatchSteps } : {}),
    },
    stepCount: decoded.stepCount,
    slots: decoded.slots.map((slot) => ({
      slot: slot.slot,
      live: module(slot.live),
      lastKnownGood: module(slot.lastKnownGood),
    })),
    counters: decoded.counters.map(({ slot, calls, steps, totalNs, maxNs, p50Ns, p99Ns, histogram }) => ({
      slot,
      calls,
      steps,
      totalNs,
      maxNs,
      p50Ns,
      p99Ns,
      histogram: histogram.map(({ lowNs, calls: bucketCalls }) => ({ lowNs, calls: bucketCalls })),
    })),
    engineState: { ...decoded.engineState },
    ...(decoded.batchSteps > 0 ? { batchSteps: decoded.batchSteps } : {}),
  };
}
