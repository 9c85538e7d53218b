/**
 * The thread that holds the PostgreSQL archive's one connection
 * (postgres-connection.ts). It runs each request the archive's thread
 * sends, posts the answer on the reply port, then wakes that thread, which
 * is blocked in Atomics.wait on the shared flag: the `pg` driver is
 * asynchronous, the archive's API is not, and this thread is where the one
 * meets the other.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import pg from 'pg';

export interface WorkerSetup {
  url: string;
  /** Int32Array over a SharedArrayBuffer: [0] becomes 1 when an answer was posted. */
  flag: Int32Array;
  requests: MessagePort;
  replies: MessagePort;
  connectTimeoutMs: number;
}

export type WorkerRequest = { id: number; kind: 'connect' } | { id: number; kind: 'query'; sql: string; params: unknown[] } | { id: number; kind: 'close' };

export type WorkerReply =
  { id: number; ok: true; rows: Record<string, unknown>[]; rowCount: number } | { id: number; ok: false; message: string; code: string | null; lost: boolean };

// BIGINT columns (a step count) and COUNT(*) come back as numbers, as from
// SQLite: every value the archive stores is below 2^53.
const INT8_OID = 20;
pg.types.setTypeParser(INT8_OID, Number);

const setup = workerData as WorkerSetup;
const client = new pg.Client({ connectionString: setup.url, connectionTimeoutMillis: setup.connectTimeoutMs });
/** Set once the connection failed: every later request gets the same answer. */
let lost: string | null = null;
client.on('error', (error: Error) => {
  lost = error.message;
});

function reply(answer: WorkerReply): void {
  setup.replies.postMessage(answer);
  Atomics.store(setup.flag, 0, 1);
  Atomics.notify(setup.flag, 0);
}

function failure(id: number, error: unknown): WorkerReply {
  const message = error instanceof Error ? error.message : String(error);
  // The server's errors carry an SQLSTATE; any other is the network's (refused, reset, ended): the connection is gone.
  if (error instanceof pg.DatabaseError) return { id, ok: false, message, code: error.code ?? null, lost: false };
  return { id, ok: false, message, code: null, lost: true };
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  if (lost !== null) return { id: request.id, ok: false, message: `the connection was lost: ${lost}`, code: null, lost: true };
  try {
    if (request.kind === 'connect') await client.connect();
    if (request.kind === 'close') await client.end();
    if (request.kind !== 'query') return { id: request.id, ok: true, rows: [], rowCount: 0 };
    const result = await client.query({ text: request.sql, values: request.params });
    // A multi-statement exec returns one result per statement; only single statements read rows.
    const single = Array.isArray(result) ? { rows: [], rowCount: 0 } : result;
    return { id: request.id, ok: true, rows: single.rows as Record<string, unknown>[], rowCount: single.rowCount ?? 0 };
  } catch (error) {
    return failure(request.id, error);
  }
}

// One request at a time, in order: a transaction's statements must not interleave.
let queue = Promise.resolve();
setup.requests.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => reply(await handle(request)));
});
