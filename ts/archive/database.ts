/**
 * Opening an archive file: create it when new, refuse it when it is not an
 * Ouroboros archive of a schema version this build knows, then set the
 * connection up for durable single-statement transactions.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ArchiveError } from './errors.js';
import { sealAttempt } from './row-seal.js';
import { SqliteConnection } from './sqlite-connection.js';
import { APPLICATION_ID, MIGRATIONS, REQUIRED_TABLES, SCHEMA_SQL, SCHEMA_VERSION, TABLES_SINCE_VERSION } from './schema.js';

export type SqliteDatabase = Database.Database;

/** An in-memory archive, for tests and throwaway runs: no file, nothing survives `close()`. */
export const IN_MEMORY = ':memory:';

const KNOWN_VERSIONS: readonly number[] = [...MIGRATIONS.keys(), SCHEMA_VERSION];

/** better-sqlite3's own busy timeout, which its statements wait on for a lock. */
export const BUSY_TIMEOUT_MS = 5000;
const BUSY_RETRY_MS = 5;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

interface Identity {
  applicationId: number;
  version: number;
  tables: string[];
}

function sqliteCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `body` again while SQLite answers SQLITE_BUSY, until `timeoutMs`. A
 * statement waits on the busy timeout for most locks, but not for all:
 * switching a new file to write-ahead logging while another process opens
 * it too can fail at once, and so can reading a WAL index that process is
 * still building. Those locks are held for microseconds, so a short wait
 * and a retry always gets them.
 */
export function retryWhileBusy<T>(body: () => T, timeoutMs = BUSY_TIMEOUT_MS, now: () => number = Date.now): T {
  const deadline = now() + timeoutMs;
  for (;;) {
    try {
      return body();
    } catch (error) {
      if (!sqliteCode(error)?.startsWith('SQLITE_BUSY') || now() >= deadline) throw error;
      Atomics.wait(sleeper, 0, 0, BUSY_RETRY_MS);
    }
  }
}

function readIdentity(db: SqliteDatabase, file: string): Identity {
  try {
    // One read transaction: the three reads see one state of the file even
    // while another process creates the schema in it.
    return retryWhileBusy(() =>
      db
        .transaction(() => ({
          applicationId: db.pragma('application_id', { simple: true }) as number,
          version: db.pragma('user_version', { simple: true }) as number,
          tables: db
            .prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .all()
            .map((row) => row.name),
        }))
        .deferred(),
    );
  } catch (error) {
    const code = sqliteCode(error);
    if (code === 'SQLITE_NOTADB') {
      throw new ArchiveError(`archive ${file} is not an SQLite database (${message(error)}): point archive.path at a new file or an existing archive`, file);
    }
    if (code === 'SQLITE_CORRUPT') {
      throw new ArchiveError(`archive ${file} is a corrupt SQLite database (${message(error)}): restore it from a copy or start a new archive`, file);
    }
    throw new ArchiveError(`archive ${file} cannot be read: ${message(error)}`, file);
  }
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

function checkIdentity(identity: Identity, file: string): 'new' | 'archive' {
  if (identity.applicationId === 0 && identity.version === 0 && identity.tables.length === 0) return 'new';
  if (identity.applicationId !== APPLICATION_ID) {
    throw new ArchiveError(
      `archive ${file} is an SQLite database of another application (application_id ${hex(identity.applicationId)}, ` +
        `an archive has ${hex(APPLICATION_ID)}; tables: ${identity.tables.join(', ') || 'none'}): it was not opened for writing; point archive.path at another file`,
      file,
    );
  }
  if (!KNOWN_VERSIONS.includes(identity.version)) {
    const why = identity.version > SCHEMA_VERSION ? 'is newer than this build of Ouroboros understands' : 'is not one this build of Ouroboros knows';
    throw new ArchiveError(
      `archive ${file} has schema version ${identity.version}, which ${why} (it reads version ${SCHEMA_VERSION} and migrates version ${[...MIGRATIONS.keys()].join(', ')}): ` +
        'open it with the Ouroboros that wrote it, or start a new archive',
      file,
    );
  }
  const since = [...TABLES_SINCE_VERSION].filter(([, version]) => identity.version >= version).map(([table]) => table);
  const missing = [...REQUIRED_TABLES, ...since].filter((table) => !identity.tables.includes(table));
  if (missing.length > 0) {
    throw new ArchiveError(
      `archive ${file} lacks the table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that every archive has: the file was edited or damaged; restore it from a copy`,
      file,
    );
  }
  return 'archive';
}

/** Brings an archive of an older known version up to SCHEMA_VERSION, in one transaction; returns the version it had. */
function migrate(db: SqliteDatabase, file: string): number {
  return db
    .transaction(() => {
      const from = readIdentity(db, file).version;
      for (let version = from; version < SCHEMA_VERSION; version++) {
        const step = MIGRATIONS.get(version)!;
        db.exec(step.sql);
        if (step.sealAll) {
          const connection = new SqliteConnection(db);
          for (const { id } of connection.all<{ id: number }>('SELECT id FROM attempts')) sealAttempt(connection, id);
        }
      }
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return from;
    })
    .immediate();
}

function createSchema(db: SqliteDatabase, file: string): void {
  // Immediate: two processes creating one new file take turns, and the
  // second finds the schema the first wrote.
  db.transaction(() => {
    if (checkIdentity(readIdentity(db, file), file) === 'archive') return;
    db.exec(SCHEMA_SQL);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function connect(file: string): SqliteDatabase {
  try {
    if (file !== IN_MEMORY) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return new Database(file, { timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    throw new ArchiveError(`archive ${file} cannot be opened: ${message(error)}`, file);
  }
}

/**
 * Opens `file` as an archive, creating the file and its tables when it does
 * not exist or is empty. Throws an `ArchiveError` naming the file for
 * anything that is not an archive of a known schema version, and leaves
 * such a file untouched.
 */
export function openDatabase(file: string): { db: SqliteConnection; migratedFrom: number | null } {
  const db = connect(file);
  try {
    // Identity first: a foreign file is refused before anything writes
    // to it, so it is not even switched to WAL.
    const identity = readIdentity(db, file);
    const state = checkIdentity(identity, file);
    setUp(db, file);
    if (state === 'new') createSchema(db, file);
    const migratedFrom = state === 'archive' && identity.version < SCHEMA_VERSION ? migrate(db, file) : null;
    return { db: new SqliteConnection(db), migratedFrom };
  } catch (error) {
    db.close();
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError(`archive ${file} cannot be opened for writing: ${message(error)}; check that its directory is writable`, file);
  }
}

/**
 * WAL lets readers (the CLI's `archive list`, a report) run while the engine
 * writes. synchronous = FULL syncs the WAL at every commit, so a write that
 * returned survives not only `kill -9` of this process but a crash of the
 * machine; attempts take seconds each, so the sync costs nothing that shows.
 */
function setUp(db: SqliteDatabase, file: string): void {
  const mode = retryWhileBusy(() => db.pragma('journal_mode = WAL', { simple: true }) as string);
  if (mode !== 'wal' && !(file === IN_MEMORY && mode === 'memory')) {
    throw new ArchiveError(`archive ${file} cannot use write-ahead logging (journal_mode stayed ${mode}): put it on a local filesystem`, file);
  }
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
}
