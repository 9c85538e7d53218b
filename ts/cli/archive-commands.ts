/**
 * Reading the archive from the command line: `ouroboros archive list`,
 * `archive show ID`, `ledger verify`, and the archive half of `ouroboros
 * status` (what the last run left when no engine is running). Everything
 * printed from the archive is untrusted text and goes through printable().
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { Archive } from '../archive/archive.js';
import { redactUrl } from '../archive/postgres-connection.js';
import { isPostgresUrl } from '../archive/postgres-schema.js';
import type { AttemptCounts, AttemptRecord, AttemptStatus, LedgerEntry, LedgerVerification } from '../archive/types.js';
import { describe } from '../errors.js';
import { archiveLocation, loadConfig } from '../engine/config.js';
import { GATES, type Slot } from '../gauntlet/types.js';
import { SLOTS } from '../lattice/lattice.js';
import { printable } from '../report/escape.js';
import { shortHash } from '../report/format.js';
import { ATTEMPT_STATUSES } from '../report/run-summary.js';
import { parseInteger } from './parse.js';
import { UsageError } from './usage-error.js';

interface ArchiveOptions {
  archive?: string;
  config?: string;
  json?: boolean;
}

/** An archive's location as messages print it: an SQLite file's absolute path, or a PostgreSQL URL without its password. */
export function archiveName(location: string): string {
  return isPostgresUrl(location) ? redactUrl(location) : path.resolve(location);
}

/**
 * The archive --archive names (a file or a postgres:// URL), else the one
 * the configuration names (archive.url, else archive.path); a file must
 * exist (reading never creates one).
 */
export function archivePath(options: ArchiveOptions): string {
  const file = options.archive ?? archiveLocation(loadConfig(options.config).archive);
  if (isPostgresUrl(file)) return file;
  if (!existsSync(file)) {
    const named = options.archive !== undefined ? `--archive = ${describe(file)}` : `archive.path = ${describe(file)}`;
    throw new UsageError(`${named}: no archive there; run \`ouroboros run\` to create one, or name one with --archive`);
  }
  return file;
}

/** Opens the archive `options` name for the duration of `use`. */
export function withArchive<T>(options: ArchiveOptions, use: (archive: Archive) => T): T {
  const archive = Archive.open(archivePath(options));
  try {
    return use(archive);
  } finally {
    archive.close();
  }
}

function archiveOptions(command: Command): Command {
  return command
    .option('--archive <path>', 'the archive file or postgres:// URL (default: archive.url, else archive.path, of the configuration)')
    .option('--config <file>', 'configuration naming the archive (default ./ouroboros.toml when present)')
    .option('--json', 'print JSON instead of text');
}

function attemptId(value: string): number {
  const id = parseInteger(value);
  if (id < 1) throw new InvalidArgumentError(`${value} is out of range: attempt ids are integers >= 1.`);
  return id;
}

function speedupText(record: AttemptRecord): string {
  return record.speedup === null ? '' : `${record.speedup.toFixed(2)}x`;
}

export function formatAttemptList(records: readonly AttemptRecord[]): string {
  if (records.length === 0) return 'no attempts match';
  const header = `${'id'.padStart(5)} ${'parent'.padStart(6)} ${'slot'.padEnd(7)} ${'status'.padEnd(11)} ${'gate'.padEnd(7)} ${'speedup'.padStart(8)}  generator / reason`;
  const rows = records.map((record) => {
    const how = `${printable(record.generator)} ${printable(record.operator)}`;
    const why = record.reason === '' ? '' : `: ${printable(record.reason)}`;
    return (
      `${String(record.id).padStart(5)} ${(record.parentId === null ? '-' : String(record.parentId)).padStart(6)} ` +
      `${record.slot.padEnd(7)} ${record.status.padEnd(11)} ${(record.failedGate ?? '').padEnd(7)} ${speedupText(record).padStart(8)}  ${how}${why}`
    );
  });
  return [header, ...rows].join('\n');
}

export function formatAttempt(record: AttemptRecord, withSource: boolean): string {
  const lines = [
    `attempt #${record.id}: ${record.status}${record.failedGate === null ? '' : ` at the ${record.failedGate} gate`}`,
    `parent      ${record.parentId === null ? '- (the reference kernel: a lineage root)' : `#${record.parentId}`}`,
    `slot        ${record.slot}`,
    `generator   ${printable(record.generator)} ${printable(record.operator)}`,
    `reason      ${record.reason === '' ? '-' : printable(record.reason)}`,
    `speedup     ${speedupText(record) || '-'}   bench ratio ${record.benchRatio?.toFixed(3) ?? '-'}   live MLUPS ${record.liveMlups?.toFixed(1) ?? '-'}`,
    `source      ${record.source.length} chars, sha256 ${record.sourceSha256}`,
    `module      ${record.moduleSha256 ?? '-'}`,
    `cost        ${record.costUsd.toFixed(4)} USD`,
    `created     ${record.createdAt}   finished ${record.finishedAt ?? '-'}`,
  ];
  if (record.genome !== null) lines.push(`genome      ${printable(JSON.stringify(record.genome))}`);
  for (const gate of record.gates) {
    lines.push(
      `  ${gate.gate.padEnd(8)} ${gate.passed ? 'passed' : 'FAILED'} in ${gate.seconds.toFixed(2)} s${gate.reason === '' ? '' : `: ${printable(gate.reason)}`}`,
    );
  }
  for (const lattice of record.benchmark?.lattices ?? []) {
    lines.push(
      `  bench ${printable(lattice.lattice)} ${lattice.extents.join('x')}: ratio ${lattice.ratio.toFixed(3)} ` +
        `[${lattice.ratioLow.toFixed(3)}, ${lattice.ratioHigh.toFixed(3)}], p ${lattice.pValue.toPrecision(2)}, ${lattice.verdict}`,
    );
  }
  if (record.prompt !== null) lines.push('prompt:', printable(record.prompt, true));
  if (record.rawReply !== null) lines.push('raw reply:', printable(record.rawReply, true));
  if (withSource) lines.push('source:', printable(record.source, true));
  return lines.join('\n');
}

function listCommand(): Command {
  return archiveOptions(new Command('list'))
    .description('every attempt in id order, the reference roots included')
    .addOption(new Option('--slot <slot>', 'only this slot').choices(SLOTS))
    .addOption(new Option('--status <status>', 'only this outcome').choices(ATTEMPT_STATUSES))
    .action((options: ArchiveOptions & { slot?: Slot; status?: AttemptStatus }) => {
      const records = withArchive(options, (archive) =>
        archive.list({ ...(options.slot ? { slot: options.slot } : {}), ...(options.status ? { status: options.status } : {}) }),
      );
      console.log(options.json ? JSON.stringify(records) : formatAttemptList(records));
    });
}

function showCommand(): Command {
  return archiveOptions(new Command('show'))
    .description('one attempt: its lineage, every gate verdict, its benchmark, and with --source its source')
    .addArgument(new Argument('<id>', 'the attempt id').argParser(attemptId))
    .option('--source', 'print the kernel source too')
    .action((id: number, options: ArchiveOptions & { source?: boolean }) => {
      const { record, integrity } = withArchive(options, (archive) => ({ record: archive.get(id), integrity: archive.integrity(id) }));
      if (record === null) throw new UsageError(`attempt ${id} is not in the archive; \`ouroboros archive list\` shows the ids`);
      if (options.json) {
        console.log(JSON.stringify({ ...record, integrity }));
        return;
      }
      const flag = integrity === 'edited' ? 'EDITED: the row no longer matches its content hash; it was changed outside the archive' : 'intact';
      console.log(`${formatAttempt(record, Boolean(options.source))}\nintegrity: ${flag}`);
    });
}

export function archiveCommand(): Command {
  return new Command('archive').description('read the archive of improvement attempts').addCommand(listCommand()).addCommand(showCommand());
}

export function formatVerification(file: string, verification: LedgerVerification): string {
  if (verification.ok) return `ledger of ${file}: ${verification.entries} entries, hash chain intact`;
  return `ledger of ${file}: TAMPERED at entry ${verification.firstBad!.sequence}: ${printable(verification.firstBad!.reason)}`;
}

function verifyCommand(): Command {
  return archiveOptions(new Command('verify'))
    .description(
      "check the file (SQLite's quick_check), recompute the ledger's hash chain and every attempt row's content hash; " +
        'exits 1 naming what is damaged, the first ledger entry edited, removed or reordered, or the attempts edited',
    )
    .action((options: ArchiveOptions) => {
      const file = archivePath(options);
      const { fileProblems, verification, editedAttempts } = withArchive(options, (archive) => {
        // A damaged file first: a chain read from broken pages proves nothing.
        const problems = archive.fileProblems();
        return {
          fileProblems: problems,
          verification: problems.length === 0 ? archive.ledger.verify() : null,
          editedAttempts: problems.length === 0 ? archive.editedAttempts() : [],
        };
      });
      if (options.json) {
        console.log(
          JSON.stringify({ archive: archiveName(file), ...(verification ?? { ok: false, entries: 0, firstBad: null }), fileProblems, editedAttempts }),
        );
      } else {
        const lines =
          fileProblems.length > 0
            ? [`archive ${archiveName(file)}: the file is damaged: ${fileProblems.map((p) => printable(p)).join('; ')}`]
            : [formatVerification(archiveName(file), verification!)];
        if (editedAttempts.length > 0)
          lines.push(`attempts edited outside the archive (rows no longer match their content hash): ${editedAttempts.join(', ')}`);
        console.log(lines.join('\n'));
      }
      if (fileProblems.length > 0) throw new Error(`the archive file is damaged (SQLite quick_check): ${fileProblems[0]}`);
      if (!verification!.ok) throw new Error(`the ledger does not verify: entry ${verification!.firstBad!.sequence}: ${verification!.firstBad!.reason}`);
      if (editedAttempts.length > 0) throw new Error(`attempt rows were edited outside the archive: ${editedAttempts.join(', ')}`);
    });
}

function entriesCommand(): Command {
  return archiveOptions(new Command('list'))
    .description('every ledger entry in sequence order (run `ledger verify` to know whether to trust them)')
    .action((options: ArchiveOptions) => {
      const entries = withArchive(options, (archive) => archive.ledger.entries());
      if (options.json) {
        console.log(JSON.stringify(entries));
        return;
      }
      for (const entry of entries) {
        console.log(
          `#${entry.sequence} ${entry.action.padEnd(10)} ${entry.slot.padEnd(7)} attempt ${entry.attemptId ?? '-'} at step ${entry.atStep}: ` +
            `${shortHash(entry.previousModuleSha256)} -> ${shortHash(entry.moduleSha256)}${entry.reason === '' ? '' : `, ${printable(entry.reason)}`}`,
        );
      }
    });
}

export function ledgerCommand(): Command {
  return new Command('ledger')
    .description('the hash-chained ledger of changes applied to the live engine')
    .addCommand(verifyCommand())
    .addCommand(entriesCommand());
}

/** What the archive says about the last runs, for `ouroboros status` when no engine is running. */
export interface ArchiveStatus {
  archive: string;
  counts: AttemptCounts;
  /** The ledger's last change per slot: what should be live there (null: the reference kernel, never changed). */
  lastChange: Record<Slot, LedgerEntry | null>;
  ledger: LedgerVerification;
}

export function archiveStatus(file: string): ArchiveStatus {
  return withArchive({ archive: file }, (archive) => ({
    archive: path.resolve(file),
    counts: archive.counts(),
    lastChange: Object.fromEntries(SLOTS.map((slot) => [slot, archive.ledger.latest(slot)])) as Record<Slot, LedgerEntry | null>,
    ledger: archive.ledger.verify(),
  }));
}

export function formatArchiveStatus(status: ArchiveStatus): string {
  const { counts } = status;
  const outcomes = ATTEMPT_STATUSES.filter((s) => counts.byStatus[s] > 0).map((s) => `${s} ${counts.byStatus[s]}`);
  const gates = GATES.filter((gate) => counts.byFailedGate[gate] > 0).map((gate) => `${gate} ${counts.byFailedGate[gate]}`);
  const lines = [
    `no engine is running; from the archive ${status.archive}:`,
    `attempts ${counts.total}${outcomes.length > 0 ? `: ${outcomes.join(', ')}` : ''}`,
    `stopped by gate: ${gates.length > 0 ? gates.join(', ') : 'none'}`,
  ];
  for (const slot of SLOTS) {
    const entry = status.lastChange[slot];
    lines.push(
      entry === null
        ? `${slot.padEnd(8)} the reference kernel (the ledger records no change)`
        : `${slot.padEnd(8)} last change #${entry.sequence}: ${entry.action} of attempt ${entry.attemptId ?? '-'} at step ${entry.atStep}, module ${shortHash(entry.moduleSha256)}`,
    );
  }
  lines.push(formatVerification(status.archive, status.ledger));
  return lines.join('\n');
}
