/**
 * Checks of what callers hand the archive. The archive is the record a user
 * audits, so a malformed value is refused at the door with the field's name,
 * never stored and discovered later.
 */
import { invalidRangeError, invalidTypeError, requireFiniteNumber, requireInteger } from '../errors.js';
import { GATES, type GateName, type GateVerdict, type Slot } from '../gauntlet/types.js';
import type { AttemptStatus, AttemptUpdate, NewAttempt } from './types.js';

export const SLOT_NAMES = ['step', 'readout'] as const satisfies readonly Slot[];
export const ATTEMPT_STATUSES = [
  'pending',
  'rejected',
  'failed',
  'passed',
  'applied',
  'rolled-back',
  'superseded',
  'interrupted',
] as const satisfies readonly AttemptStatus[];
const SHA256_HEX = /^[0-9a-f]{64}$/;

function oneOf<T extends string>(name: string, allowed: readonly T[], value: unknown): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidRangeError(name, `must be one of ${allowed.join(', ')}`, value);
  }
  return value as T;
}

export function requireSlot(name: string, value: unknown): Slot {
  return oneOf(name, SLOT_NAMES, value);
}

export function requireStatus(name: string, value: unknown): AttemptStatus {
  return oneOf(name, ATTEMPT_STATUSES, value);
}

export function requireGateName(name: string, value: unknown): GateName {
  return oneOf(name, GATES, value);
}

export function requireText(name: string, value: unknown, nonEmpty = false): string {
  if (typeof value !== 'string') throw invalidTypeError(name, 'a string', value);
  if (nonEmpty && value.length === 0) throw invalidRangeError(name, 'must not be empty', value);
  return value;
}

export function requireSha256(name: string, value: unknown): string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) throw invalidTypeError(name, '64 lowercase hex digits (a sha256)', value);
  return value;
}

export function requireId(name: string, value: unknown): number {
  return requireInteger(name, value, 1);
}

export function requireTimestamp(name: string, value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalidTypeError(name, 'an ISO 8601 timestamp', value);
  return value;
}

function nullable<T>(check: (name: string, value: unknown) => T): (name: string, value: unknown) => T | null {
  return (name, value) => (value === null ? null : check(name, value));
}

function requireObject(name: string, value: unknown): object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidTypeError(name, 'an object', value);
  return value;
}

/** A value that JSON keeps as it is (no cycles, no bigint), as the archive stores it. */
export function toJson(name: string, value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw invalidTypeError(name, `a value JSON can store (${error instanceof Error ? error.message : String(error)})`, value);
  }
}

function requireGates(name: string, value: unknown): GateVerdict[] {
  if (!Array.isArray(value)) throw invalidTypeError(name, 'an array of gate verdicts', value);
  return value.map((verdict: unknown, index) => {
    const at = `${name}[${index}]`;
    const { gate, passed, reason, details, seconds } = requireObject(at, verdict) as Partial<GateVerdict>;
    requireGateName(`${at}.gate`, gate);
    if (typeof passed !== 'boolean') throw invalidTypeError(`${at}.passed`, 'a boolean', passed);
    requireText(`${at}.reason`, reason);
    requireObject(`${at}.details`, details);
    requireFiniteNumber(`${at}.seconds`, seconds);
    return verdict as GateVerdict;
  });
}

function requireCost(name: string, value: unknown): number {
  const cost = requireFiniteNumber(name, value);
  if (cost < 0) throw invalidRangeError(name, 'must be a finite number >= 0', value);
  return cost;
}

/** Checks a new attempt; a root record (parentId null) is made only by `ensureRoot`. */
export function checkNewAttempt(attempt: NewAttempt): void {
  requireObject('attempt', attempt);
  if (attempt.parentId === null)
    throw invalidRangeError('attempt.parentId', 'must be the id of the parent attempt (a root record is made by ensureRoot)', null);
  requireId('attempt.parentId', attempt.parentId);
  requireSlot('attempt.slot', attempt.slot);
  requireText('attempt.generator', attempt.generator, true);
  requireText('attempt.operator', attempt.operator, true);
  nullable(requireObject)('attempt.genome', attempt.genome);
  nullable(requireText)('attempt.prompt', attempt.prompt);
  if (attempt.rawReply !== undefined) nullable(requireText)('attempt.rawReply', attempt.rawReply);
  requireText('attempt.source', attempt.source);
  if (attempt.status !== undefined) requireStatus('attempt.status', attempt.status);
  if (attempt.costUsd !== undefined) requireCost('attempt.costUsd', attempt.costUsd);
}

const UPDATE_CHECKS: { [K in keyof Required<AttemptUpdate>]: (name: string, value: unknown) => unknown } = {
  generator: (name, value) => requireText(name, value, true),
  operator: (name, value) => requireText(name, value, true),
  genome: nullable(requireObject),
  prompt: nullable(requireText),
  moduleSha256: nullable(requireSha256),
  modulePath: nullable(requireText),
  gates: requireGates,
  failedGate: nullable(requireGateName),
  reason: requireText,
  benchmark: nullable(requireObject),
  benchRatio: nullable(requireFiniteNumber),
  liveMlups: nullable(requireFiniteNumber),
  speedup: nullable(requireFiniteNumber),
  status: requireStatus,
  costUsd: requireCost,
  finishedAt: nullable(requireTimestamp),
};

/** Checks an update; `undefined` fields are left as they are, unknown fields are refused. */
export function checkAttemptUpdate(update: AttemptUpdate): void {
  requireObject('update', update);
  for (const [key, value] of Object.entries(update)) {
    if (!Object.hasOwn(UPDATE_CHECKS, key)) {
      throw invalidRangeError(`update.${key}`, `is not a field an update may change (allowed: ${Object.keys(UPDATE_CHECKS).join(', ')})`, value);
    }
    if (value !== undefined) UPDATE_CHECKS[key as keyof AttemptUpdate](`update.${key}`, value);
  }
}
