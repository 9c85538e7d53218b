/**
 * The server side of the control protocol (control-protocol.ts), shared by
 * `simulate --serve` and `ouroboros run --serve`: a Unix domain socket that
 * parses one request per line and answers each, one at a time in arrival
 * order, so a status never interleaves with a half-done swap.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { describe } from '../errors.js';
import { type ControlReply, type ControlRequest, parseRequest, sendRequest } from './control-protocol.js';
import { UsageError } from './usage-error.js';

export interface ControlSocket {
  readonly path: string;
  /** Resolves once every request received so far has been answered. */
  drained(): Promise<void>;
  /** Stops listening, drops the connections and removes the socket file. */
  close(): void;
}

/** Removes a stale socket file; refuses to take over a live server or to delete anything else. */
export async function claimSocketPath(socketPath: string): Promise<void> {
  if (!existsSync(socketPath)) return;
  if (!lstatSync(socketPath).isSocket()) {
    throw new UsageError(`--socket = ${describe(socketPath)}: a file that is not a socket is in the way; choose another path`);
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

/**
 * Claims `socketPath` and answers requests with `handle`; a request that does
 * not parse, or whose handler throws, gets `{ ok: false, error }`.
 */
export async function listenForControl(
  socketPath: string,
  handle: (request: ControlRequest) => Promise<ControlReply>,
): Promise<ControlSocket> {
  await claimSocketPath(socketPath);
  let queue: Promise<unknown> = Promise.resolve();
  const connections = new Set<net.Socket>();
  const answer = async (line: string): Promise<ControlReply> => {
    try {
      return await handle(parseRequest(line));
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  };
  const server = net.createServer((connection) => {
    connections.add(connection);
    connection.on('close', () => connections.delete(connection));
    connection.setEncoding('utf8');
    let buffered = '';
    connection.on('error', () => connection.destroy());
    connection.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (line.trim() === '') continue;
        queue = queue.then(async () => {
          const reply = await answer(line);
          if (!connection.destroyed) connection.write(`${JSON.stringify(reply)}\n`);
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    path: socketPath,
    drained: async () => {
      await queue;
    },
    close: () => {
      server.close();
      for (const connection of connections) connection.destroy();
      if (existsSync(socketPath)) unlinkSync(socketPath);
    },
  };
}
