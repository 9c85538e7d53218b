/**
 * The archive's two backends as the shared suite (archive-backends.test.ts)
 * runs them: a new SQLite file, or a new database on a private PostgreSQL
 * server on loopback, started once for the suite. `tamper` changes stored
 * rows behind the archive's back, past the append-only triggers, as someone
 * with write access to the file or the server could.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PrivatePostgres } from '../../ts/fleet/private-servers.js';

export interface ArchiveBackend {
  readonly name: 'sqlite' | 'postgres';
  start(): Promise<void>;
  /** Where a new, empty archive is: a file path or a postgres:// URL. */
  fresh(): Promise<string>;
  /** Runs `sql` on the archive at `location` with its triggers bypassed. */
  tamper(location: string, sql: string): Promise<void>;
  /** Runs `sql` on the archive at `location` as any client of the file or server would, triggers and all. */
  plain(location: string, sql: string): Promise<void>;
  stop(): Promise<void>;
}

export class SqliteBackend implements ArchiveBackend {
  readonly name = 'sqlite';
  private dir = '';
  private count = 0;

  async start(): Promise<void> {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-archive-backend-'));
  }

  async fresh(): Promise<string> {
    return path.join(this.dir, `archive-${++this.count}.sqlite`);
  }

  async tamper(location: string, sql: string): Promise<void> {
    const db = new Database(location);
    try {
      db.exec('DROP TRIGGER IF EXISTS ledger_refuses_update; DROP TRIGGER IF EXISTS ledger_refuses_delete; DROP TRIGGER IF EXISTS ledger_head_only_advances;');
      db.exec(sql);
    } finally {
      db.close();
    }
  }

  async plain(location: string, sql: string): Promise<void> {
    const db = new Database(location);
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  }

  async stop(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class PostgresBackend implements ArchiveBackend {
  readonly name = 'postgres';
  server: PrivatePostgres | null = null;
  private count = 0;

  async start(): Promise<void> {
    this.server = await PrivatePostgres.start();
  }

  /** A new database on the server, so that each test starts from an empty archive. */
  async fresh(): Promise<string> {
    const name = `archive_${++this.count}`;
    await this.query(this.server!.url, `CREATE DATABASE ${name}`);
    return this.server!.url.replace(/\/postgres$/, `/${name}`);
  }

  async tamper(location: string, sql: string): Promise<void> {
    // replica: the server fires no ordinary triggers in this session.
    await this.query(location, `SET session_replication_role = replica; ${sql}`);
  }

  async plain(location: string, sql: string): Promise<void> {
    await this.query(location, sql);
  }

  async query(location: string, sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: location });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}
