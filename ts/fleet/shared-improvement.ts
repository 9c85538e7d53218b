/**
 * The message an engine publishes for each improvement it applied, and the
 * checks a receiving engine makes before it lets the message become a
 * candidate. The content hash finds a message altered on its way or by a
 * careless hand, not a forger (who can compute it again): what makes a
 * shared kernel safe is that the receiver never takes the sender's word,
 * but runs it through its own full gauntlet and a live A/B trial, confined
 * as any untrusted kernel.
 */
import { withHash } from '../archive/fingerprint.js';
import { sourceSha256 } from '../archive/canonical-hash.js';
import type { AttemptRecord, MachineFingerprint } from '../archive/types.js';
import { GATES, type GateName, type Slot } from '../gauntlet/types.js';
import { SLOTS } from '../lattice/slots.js';
import { canonicalHash } from './canonical-json.js';

/** The layout version of a shared improvement; a receiver refuses any other. */
export const IMPROVEMENT_SCHEMA = 1;
/** The largest kernel source a receiver takes (the gauntlet's patch gate has its own limit too). */
export const MAX_SHARED_SOURCE_BYTES = 1 << 20;

/** What the sender says it saw: its gauntlet's gate verdicts and its live measurement. Kept for lineage; never trusted. */
export interface ImprovementEvidence {
  gates: { gate: GateName; passed: boolean }[];
  /** Speedup over the reference kernel measured live by the sender. */
  liveSpeedup: number | null;
  /** Candidate over incumbent median time in the sender's sandbox. */
  benchRatio: number | null;
  liveMlups: number | null;
}

export interface SharedImprovement {
  schema: typeof IMPROVEMENT_SCHEMA;
  engineId: string;
  attemptId: number;
  slot: Slot;
  source: string;
  sourceSha256: string;
  genome: Record<string, unknown> | null;
  buildFlags: string[];
  fingerprint: MachineFingerprint;
  evidence: ImprovementEvidence;
  publishedAt: string;
  /** sha256 of the canonical JSON of every other field. */
  hash: string;
}

export function sealImprovement(body: Omit<SharedImprovement, 'hash'>): SharedImprovement {
  return { ...body, hash: canonicalHash(body) };
}

/** The message for an applied attempt of this engine's archive. */
export function improvementFromRecord(
  record: AttemptRecord,
  engineId: string,
  fingerprint: MachineFingerprint,
  publishedAt = new Date().toISOString(),
): SharedImprovement {
  return sealImprovement({
    schema: IMPROVEMENT_SCHEMA,
    engineId,
    attemptId: record.id,
    slot: record.slot,
    source: record.source,
    sourceSha256: record.sourceSha256,
    genome: record.genome,
    buildFlags: fingerprint.buildFlags,
    fingerprint,
    evidence: {
      gates: record.gates.map((gate) => ({ gate: gate.gate, passed: gate.passed })),
      liveSpeedup: record.speedup,
      benchRatio: record.benchRatio,
      liveMlups: record.liveMlups,
    },
    publishedAt,
  });
}

export type ImprovementCheck = { ok: true; improvement: SharedImprovement } | { ok: false; reason: string };

const refuse = (reason: string): ImprovementCheck => ({ ok: false, reason });
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
const isNullableNumber = (value: unknown) => value === null || (typeof value === 'number' && Number.isFinite(value));

function schemaProblem(message: Record<string, unknown>): string | null {
  if (message.schema !== IMPROVEMENT_SCHEMA) return `schema ${JSON.stringify(message.schema)} is not ${IMPROVEMENT_SCHEMA}`;
  for (const field of ['engineId', 'source', 'sourceSha256', 'publishedAt', 'hash'] as const) {
    if (typeof message[field] !== 'string') return `field ${field} is not a string`;
  }
  if (!Number.isInteger(message.attemptId)) return 'field attemptId is not an integer';
  if (!(SLOTS as readonly unknown[]).includes(message.slot)) return `slot ${JSON.stringify(message.slot)} is not one of ${SLOTS.join(', ')}`;
  if (message.genome !== null && !isObject(message.genome)) return 'field genome is neither an object nor null';
  if (!isStringArray(message.buildFlags)) return 'field buildFlags is not a list of strings';
  const fingerprint = message.fingerprint;
  if (!isObject(fingerprint) || !isStringArray(fingerprint.cpuFlags) || !isStringArray(fingerprint.buildFlags) || typeof fingerprint.hash !== 'string') {
    return 'field fingerprint is not a machine fingerprint';
  }
  const evidence = message.evidence;
  if (!isObject(evidence) || !Array.isArray(evidence.gates)) return 'field evidence is not gate verdicts and measurements';
  const gatesWellFormed = evidence.gates.every(
    (gate) => isObject(gate) && (GATES as readonly unknown[]).includes(gate.gate) && typeof gate.passed === 'boolean',
  );
  if (!gatesWellFormed) return 'field evidence.gates holds something that is not a gate verdict';
  if (![evidence.liveSpeedup, evidence.benchRatio, evidence.liveMlups].every(isNullableNumber))
    return 'field evidence holds a measurement that is not a finite number or null';
  return null;
}

/**
 * Whether a received message (its JSON text) may become a candidate here:
 * the schema, the content hash, the source's own hash, and a fingerprint
 * that is consistent with its fields and is this engine's (a kernel built
 * and measured for another machine proves nothing here). The reason names
 * what failed.
 */
export function checkImprovement(text: string, own: MachineFingerprint): ImprovementCheck {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    return refuse(`not JSON: ${(error as Error).message}`);
  }
  if (!isObject(message)) return refuse('not a JSON object');
  const problem = schemaProblem(message);
  if (problem !== null) return refuse(`schema: ${problem}`);
  const improvement = message as unknown as SharedImprovement;
  const { hash, ...body } = improvement;
  const computed = canonicalHash(body);
  if (computed !== hash) return refuse(`hash: the content hashes to ${computed.slice(0, 12)}, the message says ${hash.slice(0, 12)}`);
  if (Buffer.byteLength(improvement.source) > MAX_SHARED_SOURCE_BYTES)
    return refuse(`source: ${Buffer.byteLength(improvement.source)} bytes, more than ${MAX_SHARED_SOURCE_BYTES}`);
  const sourceHash = sourceSha256(improvement.source);
  if (sourceHash !== improvement.sourceSha256)
    return refuse(`hash: the source hashes to ${sourceHash.slice(0, 12)}, the message says ${improvement.sourceSha256.slice(0, 12)}`);
  const { hash: fingerprintHash, ...fields } = improvement.fingerprint;
  if (withHash(fields).hash !== fingerprintHash) return refuse('fingerprint: its hash does not match its own fields');
  if (fingerprintHash !== own.hash)
    return refuse(
      `fingerprint: built for ${fingerprintHash.slice(0, 12)} (${improvement.fingerprint.cpuModel}), this engine is ${own.hash.slice(0, 12)} (${own.cpuModel})`,
    );
  if (improvement.buildFlags.join(' ') !== own.buildFlags.join(' ')) return refuse("fingerprint: the build flags are not this engine's");
  return { ok: true, improvement };
}
