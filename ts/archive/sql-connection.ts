/**
 * The few operations the archive needs from a database, so that one archive
 * (archive.ts, ledger.ts, warm-start.ts, approvals.ts) runs on either
 * backend: an SQLite file (sqlite-connection.ts, the default) or a
 * PostgreSQL server shared by a fleet (postgres-connection.ts). Both are
 * synchronous: the engine calls the archive from dozens of places between
 * physics steps, and none of them awaits.
 *
 * Statements are written once, in the SQL both backends read: `?` for a
 * positional parameter, `@name` for a named one (given as one object).
 */
export type SqlParams = unknown[] | [Record<string, unknown>];

export interface SqlConnection {
  /** The first row, or undefined. */
  get<T>(sql: string, ...params: SqlParams): T | undefined;
  all<T>(sql: string, ...params: SqlParams): T[];
  /** How many rows the statement changed. */
  run(sql: string, ...params: SqlParams): { changes: number };
  /** Several statements without parameters (the schema). */
  exec(sql: string): void;
  /**
   * Runs `body` in one write transaction and returns its result; a throw
   * rolls everything back. One writer at a time across every process that
   * shares the archive (SQLite's IMMEDIATE lock, PostgreSQL's advisory
   * lock), so a read inside `body` is not stale when `body` writes. Nested
   * calls join the outer transaction (as a savepoint).
   */
  transaction<T>(body: () => T): T;
  /** The database's own check of its storage: the problems it reports, none when sound. */
  storageProblems(): string[];
  close(): void;
}
