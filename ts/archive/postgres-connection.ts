/**
 * The archive's PostgreSQL backend behind the synchronous SqlConnection.
 * The `pg` driver runs in a worker thread (postgres-worker.ts) holding one
 * connection; each call posts its statement there and blocks this thread in
 * Atomics.wait until the answer is posted back (synckit's pattern). The
 * event loop therefore waits one loopback round trip per archive call; the
 * physics runs in native threads and does not wait.
 *
 * A call that gets no answer within `timeoutMs`, or a connection that
 * drops, is a storage failure (errors.ts): the engine stops starting
 * attempts and says which server, as for a full disk. The connection is not
 * reopened: what a lost transaction had written is not known here.
 */
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { ArchiveError } from './errors.js';
import type { SqlConnection, SqlParams } from './sql-connection.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './postgres-worker.js';

/** How long one archive call may wait for the server before it is a storage failure. */
export const DEFAULT_POSTGRES_TIMEOUT_MS = 10_000;

/**
 * Every write transaction of every process on the archive takes this
 * transaction-level advisory lock first, so writers take turns as SQLite's
 * IMMEDIATE transactions do: the ledger's append reads the head and writes
 * the next entry, and two engines must not both write entry n + 1.
 */
export const ARCHIVE_WRITE_LOCK = 0x4f55524f;

/** The code of a PostgreSQL storage failure with no SQLSTATE: no answer in time, or the connection dropped. */
export const POSTGRES_UNREACHABLE = 'POSTGRES_UNREACHABLE';

/** The URL without its password, for messages and `Archive.file`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/** An error from the server or the connection, with its SQLSTATE (or POSTGRES_UNREACHABLE) as `code`. */
export class PostgresError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PostgresError';
  }
}

/**
 * Rewrites `?` and `@name` parameters as `$1`, `$2`, ... and returns the
 * values in that order. Quoted text is copied as it is.
 */
export function toPostgresParams(sql: string, params: SqlParams): { text: string; values: unknown[] } {
  const named = params.length === 1 && typeof params[0] === 'object' && params[0] !== null && !Array.isArray(params[0]);
  const values: unknown[] = [];
  const slots = new Map<string, number>();
  let positional = 0;
  const text = sql.replace(/'(?:[^']|'')*'|\?|@([A-Za-z_][A-Za-z0-9_]*)/g, (token: string, name: string | undefined) => {
    if (token.startsWith("'")) return token;
    if (name === undefined) {
      values.push(params[positional++]);
      return `$${values.length}`;
    }
    if (!named) throw new Error(`statement parameter @${name} needs the parameters as one object`);
    let slot = slots.get(name);
    if (slot === undefined) {
      values.push((params[0] as Record<string, unknown>)[name]);
      slot = values.length;
      slots.set(name, slot);
    }
    return `$${slot}`;
  });
  return { text, values };
}

export class PostgresConnection implements SqlConnection {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly requests: MessagePort;
  private readonly replies: MessagePort;
  private readonly worker: Worker;
  private nextId = 1;
  private depth = 0;
  /** Set by a timeout or a lost connection: the connection is not used again. */
  private broken: PostgresError | null = null;

  private constructor(
    /** The URL without its password. */
    readonly location: string,
    url: string,
    private readonly timeoutMs: number,
  ) {
    const requests = new MessageChannel();
    const replies = new MessageChannel();
    this.requests = requests.port1;
    this.replies = replies.port1;
    const setup: WorkerSetup = { url, flag: this.flag, requests: requests.port2, replies: replies.port2, connectTimeoutMs: timeoutMs };
    this.worker = new Worker(new URL('./postgres-worker.js', import.meta.url), { workerData: setup, transferList: [requests.port2, replies.port2] });
    // The worker must not keep the process alive; close() ends it.
    this.worker.unref();
    this.replies.unref();
  }

  /** Connects to `url`; throws an ArchiveError naming the server (without its password) when it cannot. */
  static connect(url: string, timeoutMs = DEFAULT_POSTGRES_TIMEOUT_MS): PostgresConnection {
    const connection = new PostgresConnection(redactUrl(url), url, timeoutMs);
    try {
      connection.call({ id: 0, kind: 'connect' });
    } catch (error) {
      connection.terminate();
      throw new ArchiveError(
        `archive ${connection.location} cannot be reached: ${(error as Error).message}; check that the server runs and the URL is right`,
        connection.location,
      );
    }
    return connection;
  }

  get<T>(sql: string, ...params: SqlParams): T | undefined {
    return this.query(sql, params).rows[0] as T | undefined;
  }

  all<T>(sql: string, ...params: SqlParams): T[] {
    return this.query(sql, params).rows as T[];
  }

  run(sql: string, ...params: SqlParams): { changes: number } {
    return { changes: this.query(sql, params).rowCount };
  }

  exec(sql: string): void {
    this.call({ id: 0, kind: 'query', sql, params: [] });
  }

  transaction<T>(body: () => T): T {
    const savepoint = `archive_${this.depth}`;
    this.exec(this.depth === 0 ? `BEGIN; SELECT pg_advisory_xact_lock(${ARCHIVE_WRITE_LOCK})` : `SAVEPOINT ${savepoint}`);
    this.depth++;
    try {
      const result = body();
      this.depth--;
      this.exec(this.depth === 0 ? 'COMMIT' : `RELEASE SAVEPOINT ${savepoint}`);
      return result;
    } catch (error) {
      this.depth--;
      // A rollback that fails too (the connection is gone) must not hide the first error.
      if (this.broken === null) {
        try {
          this.exec(this.depth === 0 ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`);
        } catch {
          // The first error says what happened; this one only repeats that the connection is unusable.
        }
      }
      throw error;
    }
  }

  /** The server checks its own pages; a PostgreSQL archive has no file for the archive to check. */
  storageProblems(): string[] {
    return [];
  }

  close(): void {
    if (this.broken === null) {
      try {
        this.call({ id: 0, kind: 'close' });
      } catch {
        // Closing a connection that failed: there is nothing left to end.
      }
    }
    this.terminate();
  }

  private terminate(): void {
    this.requests.close();
    this.replies.close();
    void this.worker.terminate();
  }

  private query(sql: string, params: SqlParams): { rows: Record<string, unknown>[]; rowCount: number } {
    const { text, values } = toPostgresParams(sql, params);
    return this.call({ id: 0, kind: 'query', sql: text, params: values });
  }

  /** Posts one request and blocks until its answer (or the timeout); answers to requests that timed out are dropped. */
  private call(request: WorkerRequest): { rows: Record<string, unknown>[]; rowCount: number } {
    if (this.broken !== null) throw this.broken;
    const id = this.nextId++;
    Atomics.store(this.flag, 0, 0);
    this.requests.postMessage({ ...request, id });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      // Reset before reading the port: an answer posted after the read sets the flag again, and the wait returns at once.
      Atomics.store(this.flag, 0, 0);
      for (let message = receiveMessageOnPort(this.replies); message !== undefined; message = receiveMessageOnPort(this.replies)) {
        const answer = message.message as WorkerReply;
        if (answer.id !== id) continue;
        if (answer.ok) return answer;
        const error = new PostgresError(answer.message, answer.code ?? POSTGRES_UNREACHABLE);
        if (answer.lost) this.broken = error;
        throw error;
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0 || Atomics.wait(this.flag, 0, 0, remainingMs) === 'timed-out') {
        this.broken = new PostgresError(`no answer from the server within ${this.timeoutMs} ms`, POSTGRES_UNREACHABLE);
        throw this.broken;
      }
    }
  }
}
