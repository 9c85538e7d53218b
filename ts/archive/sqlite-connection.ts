/**
 * The archive's SQLite backend: better-sqlite3, synchronous by nature,
 * behind the archive's SqlConnection. Statements are prepared once and kept.
 */
import type Database from 'better-sqlite3';
import type { SqlConnection, SqlParams } from './sql-connection.js';

export class SqliteConnection implements SqlConnection {
  private readonly statements = new Map<string, Database.Statement>();

  /** Takes over `db`, opened and set up by database.ts. */
  constructor(readonly db: Database.Database) {}

  get<T>(sql: string, ...params: SqlParams): T | undefined {
    return this.statement(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: SqlParams): T[] {
    return this.statement(sql).all(...params) as T[];
  }

  run(sql: string, ...params: SqlParams): { changes: number } {
    return { changes: this.statement(sql).run(...params).changes };
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  transaction<T>(body: () => T): T {
    // better-sqlite3 turns a nested call into a savepoint of the outer transaction.
    return this.db.transaction(body).immediate();
  }

  storageProblems(): string[] {
    return this.all<{ quick_check: string }>('PRAGMA quick_check')
      .map((row) => row.quick_check)
      .filter((text) => text !== 'ok');
  }

  close(): void {
    this.db.close();
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
