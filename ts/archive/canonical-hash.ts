/**
 * The hashes the archive relies on, each the sha256 of a protobuf message
 * from proto/archive.proto. Protobuf fixes the byte layout (fields in number
 * order, defaults omitted), so the same values hash the same on every
 * machine, unlike JSON whose key order and number formatting are the
 * writer's choice.
 */
import { ouroboros } from '../generated/archive.js';
import { sha256Hex } from '../util/sha256.js';
import type { LedgerEntry, MachineFingerprint } from './types.js';

const { LedgerEntryContent, MachineFingerprint: FingerprintMessage } = ouroboros.archive;

/** The previousHash of the first ledger entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** sha256 of a kernel's source text (UTF-8), as the archive records it. */
export function sourceSha256(source: string): string {
  return sha256Hex(source);
}

/** The hash a ledger entry must carry: over every field but the hash itself, previousHash included. */
export function ledgerEntryHash(entry: Omit<LedgerEntry, 'hash'>): string {
  const bytes = LedgerEntryContent.encode({
    sequence: entry.sequence,
    action: entry.action,
    slot: entry.slot,
    ...(entry.attemptId === null ? {} : { attemptId: entry.attemptId }),
    moduleSha256: entry.moduleSha256,
    previousModuleSha256: entry.previousModuleSha256,
    atStep: entry.atStep,
    reason: entry.reason,
    recordedAt: entry.recordedAt,
    previousHash: entry.previousHash,
  }).finish();
  return sha256Hex(bytes);
}

/** The hash of a fingerprint's fields (its own `hash` aside). */
export function fingerprintHash(fingerprint: Omit<MachineFingerprint, 'hash'>): string {
  const bytes = FingerprintMessage.encode({
    cpuModel: fingerprint.cpuModel,
    cpuFlags: fingerprint.cpuFlags,
    compilerVersion: fingerprint.compilerVersion,
    buildFlags: fingerprint.buildFlags,
    nodeVersion: fingerprint.nodeVersion,
    arch: fingerprint.arch,
  }).finish();
  return sha256Hex(bytes);
}
