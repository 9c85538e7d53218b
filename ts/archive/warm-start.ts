/**
 * The warm-start memory: the best verified module of each slot, with the
 * fingerprint of the machine it was verified on. On the next start a
 * remembered module is offered back only under an equal fingerprint; the
 * engine puts it live and re-verifies it through the gauntlet, since the
 * archive file itself could have been copied or edited. One that fails is
 * marked (`markFailed`) and never offered again.
 */
import { invalidRangeError, invalidTypeError } from '../errors.js';
import type { Slot } from '../gauntlet/types.js';
import type { SqlConnection } from './sql-connection.js';
import type { AttemptRow } from './attempt-row.js';
import { rowIntact, sealAttempt } from './row-seal.js';
import { ArchiveError } from './errors.js';
import { FINGERPRINT_FIELDS, withHash } from './fingerprint.js';
import type { AttemptStatus, FingerprintDifference, MachineFingerprint, WarmStartCandidate, WarmStartMemory } from './types.js';
import { requireId, requireSlot, requireText } from './validate.js';

/** Accepted by the gauntlet and never regressed live. */
const REMEMBERABLE: readonly AttemptStatus[] = ['passed', 'applied', 'superseded'];

interface MemoryRow {
  slot: string;
  attempt_id: number;
  fingerprint: string;
  remembered_at: string;
}

function requireFingerprintShape(name: string, value: unknown): MachineFingerprint {
  if (typeof value !== 'object' || value === null) throw invalidTypeError(name, 'a MachineFingerprint (from machineFingerprint())', value);
  const fingerprint = value as MachineFingerprint;
  for (const field of ['cpuModel', 'compilerVersion', 'nodeVersion', 'arch', 'hash'] as const) requireText(`${name}.${field}`, fingerprint[field]);
  for (const field of ['cpuFlags', 'buildFlags'] as const) {
    const list: unknown = fingerprint[field];
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) throw invalidTypeError(`${name}.${field}`, 'an array of strings', list);
  }
  return fingerprint;
}

function requireFingerprint(name: string, value: unknown): MachineFingerprint {
  const fingerprint = requireFingerprintShape(name, value);
  const expected = withHash(fingerprint).hash;
  if (fingerprint.hash !== expected)
    throw invalidRangeError(`${name}.hash`, `does not match the fingerprint's fields (${expected}): it was edited`, fingerprint.hash);
  return fingerprint;
}

function listDifference(field: 'cpuFlags', remembered: string[], current: string[]): FingerprintDifference | null {
  const onlyRemembered = remembered.filter((flag) => !current.includes(flag));
  const onlyCurrent = current.filter((flag) => !remembered.includes(flag));
  if (onlyRemembered.length === 0 && onlyCurrent.length === 0) return null;
  return { field, remembered: onlyRemembered.join(' '), current: onlyCurrent.join(' ') };
}

/**
 * Every field in which the remembered fingerprint differs from the current
 * one. For cpuFlags the strings hold only the flags one side lacks; build
 * flags are compared in order, since their order changes the build.
 */
export function fingerprintDifferences(remembered: MachineFingerprint, current: MachineFingerprint): FingerprintDifference[] {
  const differences: FingerprintDifference[] = [];
  for (const field of FINGERPRINT_FIELDS) {
    if (field === 'cpuFlags') {
      const flags = listDifference(field, remembered.cpuFlags, current.cpuFlags);
      if (flags) differences.push(flags);
      continue;
    }
    const [was, now] = field === 'buildFlags' ? [remembered.buildFlags.join(' '), current.buildFlags.join(' ')] : [remembered[field], current[field]];
    if (was !== now) differences.push({ field, remembered: was, current: now });
  }
  const selfHash = withHash(remembered).hash;
  if (remembered.hash !== selfHash) differences.push({ field: 'hash', remembered: remembered.hash, current: selfHash });
  return differences;
}

function describeDifference({ field, remembered, current }: FingerprintDifference): string {
  if (field === 'cpuFlags') return `cpuFlags differ (only where remembered: ${remembered || 'none'}; only here: ${current || 'none'})`;
  if (field === 'hash') return 'the remembered fingerprint does not match its own hash (it was edited)';
  return `${field} differs (remembered ${JSON.stringify(remembered)}, here ${JSON.stringify(current)})`;
}

export class WarmStartStore {
  /** Made by `Archive.open`; shares the archive's connection. */
  constructor(
    private readonly db: SqlConnection,
    private readonly file: string,
  ) {}

  /**
   * Remembers `attemptId` as the best verified module of `slot`, built and
   * verified under `fingerprint`, replacing what the slot remembered. The
   * attempt must be of that slot, accepted by the gauntlet (passed, applied
   * or superseded) and have a built module.
   */
  rememberBest(slot: Slot, attemptId: number, fingerprint: MachineFingerprint): WarmStartMemory {
    requireSlot('slot', slot);
    requireId('attemptId', attemptId);
    requireFingerprint('fingerprint', fingerprint);
    const attempt = this.db.get<{ slot: string; status: string; module_sha256: string | null }>(
      'SELECT slot, status, module_sha256 FROM attempts WHERE id = ?',
      attemptId,
    );
    if (!attempt) throw invalidRangeError('attemptId', `is not an attempt in archive ${this.file}`, attemptId);
    if (attempt.slot !== slot) throw invalidRangeError('attemptId', `is an attempt of slot ${attempt.slot}, not ${slot}`, attemptId);
    if (!(REMEMBERABLE as readonly string[]).includes(attempt.status)) {
      throw invalidRangeError('attemptId', `has status ${attempt.status}; only a ${REMEMBERABLE.join(', ')} attempt is a verified module`, attemptId);
    }
    if (attempt.module_sha256 === null) throw invalidRangeError('attemptId', 'has no built module (moduleSha256 is null)', attemptId);
    const memory: WarmStartMemory = { slot, attemptId, fingerprint, rememberedAt: new Date().toISOString() };
    this.db.run(
      `INSERT INTO warm_start (slot, attempt_id, fingerprint, remembered_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (slot) DO UPDATE SET attempt_id = excluded.attempt_id, fingerprint = excluded.fingerprint, remembered_at = excluded.remembered_at`,
      slot,
      attemptId,
      JSON.stringify(fingerprint),
      memory.rememberedAt,
    );
    return memory;
  }

  /**
   * Marks the remembered module of `slot`, attempt `attemptId`, as failed
   * here, in one transaction: the slot forgets it (if it still remembers
   * that attempt) and the attempt becomes rolled-back with `reason`, a
   * status that is never remembered again nor chosen as a parent. Returns
   * whether the slot remembered it.
   */
  markFailed(slot: Slot, attemptId: number, reason: string): boolean {
    requireSlot('slot', slot);
    requireId('attemptId', attemptId);
    requireText('reason', reason, true);
    return this.db.transaction(() => {
      const updated = this.db.run("UPDATE attempts SET status = 'rolled-back', reason = ? WHERE id = ? AND slot = ?", reason, attemptId, slot).changes;
      if (updated === 0) throw invalidRangeError('attemptId', `is not an attempt of slot ${slot} in archive ${this.file}`, attemptId);
      sealAttempt(this.db, attemptId);
      return this.db.run('DELETE FROM warm_start WHERE slot = ? AND attempt_id = ?', slot, attemptId).changes > 0;
    });
  }

  /** What `slot` remembers, whatever the machine; null when nothing. */
  remembered(slot: Slot): WarmStartMemory | null {
    requireSlot('slot', slot);
    const row = this.db.get<MemoryRow>('SELECT * FROM warm_start WHERE slot = ?', slot);
    if (!row) return null;
    let fingerprint: MachineFingerprint;
    try {
      fingerprint = requireFingerprintShape('fingerprint', JSON.parse(row.fingerprint));
    } catch (error) {
      throw new ArchiveError(
        `archive ${this.file}: the warm-start memory of slot ${slot} holds no readable fingerprint (${(error as Error).message}; the file was edited)`,
        this.file,
      );
    }
    return { slot, attemptId: row.attempt_id, fingerprint, rememberedAt: row.remembered_at };
  }

  /**
   * The remembered module of `slot` when it was remembered under a
   * fingerprint equal to `fingerprint` (this machine's); otherwise a
   * mismatch naming every field that differs, and the module is not to be
   * trusted here.
   */
  warmStartCandidate(slot: Slot, fingerprint: MachineFingerprint): WarmStartCandidate {
    requireFingerprint('fingerprint', fingerprint);
    const memory = this.remembered(slot);
    if (memory === null) return { kind: 'none', slot };
    const differences = fingerprintDifferences(memory.fingerprint, fingerprint);
    if (differences.length > 0) {
      const reason = `remembered under another fingerprint, not trusted here: ${differences.map(describeDifference).join('; ')}`;
      return { kind: 'mismatch', slot, attemptId: memory.attemptId, differences, reason };
    }
    const attempt = this.db.get<AttemptRow>('SELECT * FROM attempts WHERE id = ?', memory.attemptId);
    if (attempt !== undefined && !rowIntact(attempt)) {
      const reason = `attempt ${memory.attemptId}'s row no longer matches its content hash: it was edited outside the archive, so its source and module are not trusted`;
      return { kind: 'mismatch', slot, attemptId: memory.attemptId, differences: [], reason };
    }
    if (!attempt?.module_sha256) {
      throw new ArchiveError(
        `archive ${this.file}: the warm-start memory of slot ${slot} names attempt ${memory.attemptId}, which has no built module in the archive (the file was edited)`,
        this.file,
      );
    }
    return {
      kind: 'match',
      slot,
      attemptId: memory.attemptId,
      source: attempt.source,
      sourceSha256: attempt.source_sha256,
      moduleSha256: attempt.module_sha256,
      rememberedAt: memory.rememberedAt,
    };
  }
}
