/**
 * The server side of the control protocol (control-protocol.ts), shared by
 * `simulate --serve` and `ouroboros run --serve`: a Unix domain socket that
 * parses one request per line and answers each.
 *
 * Only its own user may talk to it. The default socket lives in the user's
 * private runtime directory (util/private-dir.ts); the socket file is made
 * with mode 0600 whatever the umask; and every connection's peer credentials
 * (SO_PEERCRED) must name the server's uid, so a socket placed where others
 * can reach it still refuses them. A request line is capped, a connection
 * may queue only a few requests, and `status` and `stop` are answered at
 * once rather than behind queued swaps; swaps and rollbacks run one at a
 * time in arrival order. The server removes only the socket file it made.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { coreAddon } from '../../native/loader.js';
import { describe } from '../errors.js';
import { currentUid, ensurePrivateDir, runtimeDirPath } from '../util/private-dir.js';
import { type ControlReply, type ControlRequest, parseRequest, peerUidOf, sendRequest } from './control-protocol.js';
import { UsageError } from './usage-error.js';

/** The longest request line: a swap names one module path, far below this. */
export const MAX_REQUEST_BYTES = 1 << 20;
/** Requests one connection may have waiting for their replies. */
export const MAX_PENDING_PER_CONNECTION = 64;

export interface ControlSocket {
  readonly path: string;
  /** Resolves once every request received so far has been answered. */
  drained(): Promise<void>;
  /** Stops listening, drops the connections and removes the socket file it made. */
  close(): void;
}

export interface ControlSocketOptions {
  /** The uid at the other end of a connection (default: its SO_PEERCRED); for tests. */
  peerUid?: (connection: net.Socket) => number;
}

/**
 * Removes a stale socket file of ours; refuses to take over a live server,
 * to delete anything but a socket, or to delete another user's socket.
 */
export async function claimSocketPath(socketPath: string): Promise<void> {
  if (!existsSync(socketPath)) return;
  const stats = lstatSync(socketPath);
  if (!stats.isSocket()) {
    throw new UsageError(`--socket = ${describe(socketPath)}: a file that is not a socket is in the way; choose another path`);
  }
  if (stats.uid !== currentUid()) {
    throw new UsageError(
      `--socket = ${describe(socketPath)}: a socket of uid ${stats.uid} is in the way (this server runs as uid ${currentUid()}); ` +
        'it is not ours to remove: choose another path',
    );
  }
  const live = await sendRequest(socketPath, { command: 'status' }).then(
    () => true,
    () => false,
  );
  if (live) {
    throw new UsageError(
      `--socket = ${describe(socketPath)}: a simulation is already listening there; stop it ` +
        `(\`ouroboros stop --socket ${socketPath}\`) or choose another path`,
    );
  }
  unlinkSync(socketPath);
}

/** Connections the kernel may hold before the server accepts them. */
const LISTEN_BACKLOG = 64;

/**
 * Listens on a socket the core binds with mode 0600 from its creation. Node
 * would bind under the process's umask and, at close, unlink whatever file
 * then bears the name; given a descriptor it does neither, so close() can
 * remove only the file made here.
 */
async function listenPrivately(server: net.Server, socketPath: string): Promise<{ dev: number; ino: number }> {
  let fd: number;
  try {
    fd = coreAddon().listenPrivateSocket(socketPath, LISTEN_BACKLOG);
  } catch (error) {
    throw new UsageError(`--socket = ${describe(socketPath)}: cannot listen there (${(error as Error).message})`);
  }
  const stats = lstatSync(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { dev: stats.dev, ino: stats.ino };
}

/** Splits a connection's text into request lines, holding at most MAX_REQUEST_BYTES of an unfinished one. */
class LineReader {
  private pieces: string[] = [];
  private bytes = 0;

  /** The complete lines in `chunk` (with what was buffered before); throws when a line outgrows the cap. */
  lines(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      this.pieces.push(chunk.slice(start, end));
      lines.push(this.pieces.join(''));
      this.pieces = [];
      this.bytes = 0;
      start = end + 1;
    }
    const rest = chunk.slice(start);
    if (rest !== '') {
      this.pieces.push(rest);
      this.bytes += Buffer.byteLength(rest);
    }
    if (this.bytes > MAX_REQUEST_BYTES) {
      throw new Error(`request line over ${MAX_REQUEST_BYTES} bytes (the limit) without a newline: send one JSON object per line`);
    }
    return lines;
  }
}

/** `status` and `stop` only read or end the run: they never wait behind swaps. */
function answeredAtOnce(request: ControlRequest): boolean {
  return request.command === 'status' || request.command === 'stop';
}

/** `handle` with failures as replies: a request that did not parse, or whose handler throws, gets `{ ok: false, error }`. */
function answering(handle: (request: ControlRequest) => Promise<ControlReply>) {
  return async (request: ControlRequest | Error): Promise<ControlReply> => {
    if (request instanceof Error) return { ok: false, error: request.message };
    try {
      return await handle(request);
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  };
}

/** A request line parsed, or why it does not parse (answered as an error reply). */
function parsedOrError(line: string): ControlRequest | Error {
  try {
    return parseRequest(line);
  } catch (error) {
    return error as Error;
  }
}

/** Runs the replies of every connection: swaps and rollbacks one at a time in arrival order, the rest at once. */
class ReplyScheduler {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();

  schedule(request: ControlRequest | Error, reply: () => Promise<void>): void {
    const work = request instanceof Error || answeredAtOnce(request) ? reply() : (this.queue = this.queue.then(reply));
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Resolves once every reply scheduled so far, and any scheduled meanwhile, has been sent. */
  async drained(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}

/** Sends a connection one error reply and ends it. */
function refuse(connection: net.Socket, error: string): void {
  connection.end(`${JSON.stringify({ ok: false, error } satisfies ControlReply)}\n`);
}

/** Whether the peer of `connection` is the server's own user; any other is refused. */
function peerAdmitted(connection: net.Socket, peerUid: (connection: net.Socket) => number, serverUid: number): boolean {
  let uid: number;
  try {
    uid = peerUid(connection);
  } catch (error) {
    refuse(connection, `refused: the peer's credentials cannot be read (${error instanceof Error ? error.message : String(error)})`);
    return false;
  }
  if (uid !== serverUid) {
    refuse(connection, `refused: the peer runs as uid ${uid}, and this server answers only its own user (uid ${serverUid})`);
    return false;
  }
  return true;
}

/** Reads an admitted connection's request lines and schedules a reply to each. */
function serveRequests(connection: net.Socket, answer: ReturnType<typeof answering>, replies: ReplyScheduler): void {
  connection.setEncoding('utf8');
  const reader = new LineReader();
  let pending = 0;
  // A connection refused for what it sent gets one error reply; its requests still waiting are dropped.
  let refused = false;
  const refuseFurther = (error: string) => {
    refused = true;
    refuse(connection, error);
  };
  connection.on('data', (chunk: string) => {
    let lines: string[];
    try {
      lines = reader.lines(chunk);
    } catch (error) {
      refuseFurther((error as Error).message);
      return;
    }
    for (const line of lines) {
      if (line.trim() === '') continue;
      if (pending >= MAX_PENDING_PER_CONNECTION) {
        refuseFurther(`more than ${MAX_PENDING_PER_CONNECTION} requests (the limit) are waiting for their replies on this connection`);
        return;
      }
      pending += 1;
      const request = parsedOrError(line);
      // Replies go out in the order their requests finish: a status sent after a swap may be answered first.
      replies.schedule(request, async () => {
        if (refused) return;
        const sent = await answer(request);
        pending -= 1;
        if (connection.writable) connection.write(`${JSON.stringify(sent)}\n`);
      });
    }
  });
}

/** Removes the socket file only if it is still the one this server made: one put there since is someone else's. */
function removeOwnSocket(socketPath: string, created: { dev: number; ino: number }): void {
  let stats: { dev: number; ino: number } | null;
  try {
    stats = lstatSync(socketPath);
  } catch {
    stats = null;
  }
  if (stats !== null && stats.dev === created.dev && stats.ino === created.ino) unlinkSync(socketPath);
}

/**
 * Claims `socketPath` and answers requests with `handle`; a request that does
 * not parse, or whose handler throws, gets `{ ok: false, error }`.
 */
export async function listenForControl(
  socketPath: string,
  handle: (request: ControlRequest) => Promise<ControlReply>,
  options: ControlSocketOptions = {},
): Promise<ControlSocket> {
  if (path.dirname(socketPath) === runtimeDirPath()) ensurePrivateDir(path.dirname(socketPath));
  await claimSocketPath(socketPath);
  const peerUid = options.peerUid ?? peerUidOf;
  const serverUid = currentUid();
  const answer = answering(handle);
  const replies = new ReplyScheduler();
  const connections = new Set<net.Socket>();
  const server = net.createServer((connection) => {
    connections.add(connection);
    connection.on('close', () => connections.delete(connection));
    connection.on('error', () => connection.destroy());
    if (peerAdmitted(connection, peerUid, serverUid)) serveRequests(connection, answer, replies);
  });
  const created = await listenPrivately(server, socketPath);
  return {
    path: socketPath,
    drained: () => replies.drained(),
    close: () => {
      server.close();
      for (const connection of connections) connection.destroy();
      removeOwnSocket(socketPath, created);
    },
  };
}
