/**
 * The control protocol between a served simulation (`ouroboros simulate
 * --serve`, `ouroboros run --serve`) and its clients (`ouroboros swap`,
 * `rollback`, `status`, `stop`): newline-delimited JSON over a Unix domain
 * socket, one request per line, one reply line per request, in order.
 *
 *   {"command":"swap","module":"/abs/path.so","slot":"step"}
 *   {"command":"rollback","slot":"step"}
 *   {"command":"status"}
 *   {"command":"stop"}
 *
 * Every reply has `ok`; a failed request is `{"ok":false,"error":"..."}` and
 * leaves the simulation as it was. Swaps and rollbacks are answered in the
 * order they were sent; `status` and `stop` are answered at once, ahead of
 * swaps still waiting (the CLI sends one request per connection).
 *
 * Both ends check who is at the other: the server answers only its own user
 * (control-socket.ts), and a client trusts a reply only from a server of its
 * own user, so a socket someone else planted at the path cannot answer.
 */
import { lstatSync, type Stats } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { coreAddon } from '../../native/loader.js';
import { describe } from '../errors.js';
import type { EngineSummary } from '../engine/summary.js';
import type { ProfileReport, Slot } from '../lattice/lattice.js';
import { SLOTS } from '../lattice/lattice.js';
import { currentUid, runtimeDirPath } from '../util/private-dir.js';
import { UsageError } from './usage-error.js';

export type ControlRequest =
  { command: 'swap'; module: string; slot: Slot } | { command: 'rollback'; slot: Slot } | { command: 'status' } | { command: 'stop' };

/** A module as the core knows it: its id, the name it gives itself and the file it was loaded from. */
export interface ModuleRef {
  id: number;
  name: string;
  path: string;
}

/** What a swap or a rollback did, once the first step on the new code has run. */
export interface SwapReply {
  ok: true;
  command: 'swap' | 'rollback';
  slot: Slot;
  from: { id: number; name: string };
  to: { id: number; name: string };
  /** The file the client named (swap only). */
  module?: string;
  /** Load and checks of the module (swap only), in ms. */
  loadMs?: number;
  /** End of the last step on the old code to the start of the first on the new, in us. */
  pauseUs: number;
  /** The step counter at the swap: the first step on the new code has this index. */
  appliedAtStep: number;
  /** The step counter when the reply was sent. */
  stepCount: number;
  /** The ledger entry that records it, when an engine served the request. */
  ledgerSequence?: number;
}

export interface StatusReply {
  ok: true;
  command: 'status';
  stepCount: number;
  running: boolean;
  extents: number[];
  precision: string;
  slots: Record<Slot, { live: ModuleRef; lastKnownGood: ModuleRef }>;
  profile: ProfileReport;
  swaps: number;
  uptimeMs: number;
  /** Present when the server is `ouroboros run --serve`: the improvement engine's figures so far. */
  engine?: EngineStatus;
}

/** What a running engine adds to a status reply. */
export interface EngineStatus {
  paused: boolean;
  /** The archive file the engine writes. */
  archive: string;
  summary: EngineSummary;
}

export interface StopReply {
  ok: true;
  command: 'stop';
  stepCount: number;
  swaps: number;
}

export interface ErrorReply {
  ok: false;
  error: string;
}

export type ControlReply = SwapReply | StatusReply | StopReply | ErrorReply;

/** sun_path holds 108 bytes on Linux, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;

/** The longest reply a client reads: a status with the engine's summary is far below it. */
const MAX_REPLY_CHARS = 64 << 20;

/** In the user's private runtime directory (created when a server listens there). */
export function defaultSocketPath(): string {
  return path.join(runtimeDirPath(), 'control.sock');
}

/** The descriptor under a connected net.Socket; Node keeps it on the socket's handle. */
function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor to read its peer credentials from');
  return fd;
}

/** The uid at the other end of a connected Unix socket (SO_PEERCRED). */
export function peerUidOf(socket: net.Socket): number {
  return coreAddon().peerCredentials(socketFd(socket)).uid;
}

/** Resolves --socket (or the default) and checks it fits in a Unix socket address. */
export function resolveSocketPath(option: string | undefined): string {
  const socketPath = path.resolve(option ?? defaultSocketPath());
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new UsageError(`--socket = ${describe(socketPath)}: a Unix socket path must be at most ${MAX_SOCKET_PATH_BYTES} bytes, this one is ${bytes}`);
  }
  return socketPath;
}

function checkSlot(field: string, slot: unknown): Slot {
  if (typeof slot !== 'string' || !(SLOTS as readonly string[]).includes(slot)) {
    throw new Error(`${field} = ${describe(slot)}: must be one of ${SLOTS.map((s) => `"${s}"`).join(', ')}`);
  }
  return slot as Slot;
}

/** Parses and validates one request line; throws an Error whose message is the reply's `error`. */
export function parseRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`request ${describe(line.slice(0, 200))} is not JSON: send one JSON object per line`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`request = ${describe(value)}: must be a JSON object such as {"command":"status"}`);
  }
  const request = value as Record<string, unknown>;
  switch (request.command) {
    case 'swap':
      if (typeof request.module !== 'string' || request.module === '') {
        throw new Error(`module = ${describe(request.module)}: must be the path of a kernel module (.so or .node)`);
      }
      return { command: 'swap', module: request.module, slot: checkSlot('slot', request.slot) };
    case 'rollback':
      return { command: 'rollback', slot: checkSlot('slot', request.slot) };
    case 'status':
    case 'stop':
      return { command: request.command };
    default:
      throw new Error(`command = ${describe(request.command)}: must be one of "swap", "rollback", "status", "stop"`);
  }
}

/** Sends one request to the server at `socketPath` and resolves with its reply (ok or not). */
export function sendRequest(socketPath: string, request: ControlRequest): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let received = '';
    let settled = false;
    const settle = (then: () => void) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      then();
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      let uid: number;
      try {
        uid = peerUidOf(socket);
      } catch (error) {
        settle(() => reject(new Error(`cannot tell who serves ${socketPath}: ${error instanceof Error ? error.message : String(error)}`)));
        return;
      }
      if (uid !== currentUid()) {
        settle(() => reject(new Error(`the server on ${socketPath} runs as uid ${uid}, not as this user (uid ${currentUid()}): its replies are not trusted`)));
        return;
      }
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > MAX_REPLY_CHARS) {
        settle(() => reject(new Error(`the server on ${socketPath} sent more than ${MAX_REPLY_CHARS} characters without ending its reply`)));
        return;
      }
      const end = received.indexOf('\n');
      if (end < 0) return;
      const line = received.slice(0, end);
      settle(() => {
        try {
          resolve(JSON.parse(line) as ControlReply);
        } catch {
          reject(new Error(`the server on ${socketPath} sent a reply that is not JSON: ${describe(line.slice(0, 200))}`));
        }
      });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      settle(() => reject(connectionError(socketPath, error)));
    });
    socket.on('close', () => {
      settle(() => reject(new Error(`the server on ${socketPath} closed the connection before replying`)));
    });
  });
}

function lstatOrNull(file: string): Stats | null {
  try {
    return lstatSync(file);
  } catch {
    return null;
  }
}

/** Nothing listens on the socket (no such file, or a stale one): no simulation is being served there. */
export class NoServerError extends Error {
  override name = 'NoServerError';
}

function connectionError(socketPath: string, error: NodeJS.ErrnoException): Error {
  const stats = lstatOrNull(socketPath);
  if (stats !== null && !stats.isSocket()) {
    const what = stats.isDirectory() ? 'a directory' : stats.isFile() ? 'a regular file' : 'not a socket';
    return new UsageError(`--socket = ${describe(socketPath)}: is ${what}, not the socket of a served simulation`);
  }
  if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
    return new NoServerError(
      `no simulation is listening on ${socketPath} (${error.code}): start one with ` +
        `\`ouroboros simulate --serve --socket ${socketPath}\` or name its socket with --socket`,
    );
  }
  return new Error(`cannot talk to the server on ${socketPath}: ${error.message}`);
}

interface RepliesByCommand {
  swap: SwapReply;
  rollback: SwapReply;
  status: StatusReply;
  stop: StopReply;
}

/** Sends `request` and resolves with the server's reply to it; a failed request's `error` is thrown. */
export async function requestOrThrow<R extends ControlRequest>(socketPath: string, request: R): Promise<RepliesByCommand[R['command']]> {
  const reply = await sendRequest(socketPath, request);
  if (!reply.ok) throw new Error(reply.error);
  return reply as RepliesByCommand[R['command']];
}
