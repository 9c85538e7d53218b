/**
 * `ouroboros simulate --serve`: runs a lattice on its own thread until told to
 * stop, and answers control requests (control-protocol.ts) on a Unix domain
 * socket. Requests are served one at a time, in arrival order, so a status
 * never interleaves with a half-done swap.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import process from 'node:process';
import { describe } from '../errors.js';
import type { Lattice, SwapResult } from '../lattice/lattice.js';
import {
  type ControlReply,
  type ControlRequest,
  type StatusReply,
  type SwapReply,
  parseRequest,
  sendRequest,
} from './control-protocol.js';
import { type SimulateOptions, seededLattice } from './simulate.js';
import { UsageError } from './usage-error.js';

/** How a served simulation ended. */
export interface ServeSummary {
  socket: string;
  stepCount: number;
  swaps: number;
  /** Why the run ended by itself (a kernel failure), or null when stopped. */
  error: string | null;
}

/** Removes a stale socket file; refuses to take over a live server or to delete anything else. */
async function claimSocketPath(socketPath: string): Promise<void> {
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

function swapReply(command: 'swap' | 'rollback', result: SwapResult, lattice: Lattice): SwapReply {
  return {
    ok: true,
    command,
    slot: result.slot,
    from: { id: result.fromId, name: result.fromName },
    to: { id: result.toId, name: result.toName },
    pauseUs: result.gapNs / 1e3,
    appliedAtStep: result.appliedAtStep,
    stepCount: lattice.stepCount,
  };
}

class ControlServer {
  readonly #lattice: Lattice;
  readonly #startedMs = performance.now();
  readonly #log: (line: string) => void;
  swaps = 0;

  constructor(lattice: Lattice, log: (line: string) => void) {
    this.#lattice = lattice;
    this.#log = log;
  }

  async handle(request: Exclude<ControlRequest, { command: 'stop' }>): Promise<ControlReply> {
    const lattice = this.#lattice;
    switch (request.command) {
      case 'swap': {
        const moduleId = await lattice.loadModule(request.module);
        const info = lattice.moduleInfo(moduleId);
        // Swapping in the live module would make it its own last-known-good and lose the real one.
        const live = lattice.slots()[request.slot].live;
        if (live.id === moduleId) {
          throw new Error(`${info.source} is already live in slot ${request.slot} as ${live.name} (module ${live.id}); nothing to swap`);
        }
        const reply = swapReply('swap', await lattice.swap(request.slot, moduleId), lattice);
        this.#record(reply);
        return { ...reply, module: info.source, loadMs: info.loadMs };
      }
      case 'rollback': {
        const reply = swapReply('rollback', await lattice.rollback(request.slot), lattice);
        this.#record(reply);
        return reply;
      }
      case 'status':
        return this.status();
    }
  }

  status(): StatusReply {
    const lattice = this.#lattice;
    return {
      ok: true,
      command: 'status',
      stepCount: lattice.stepCount,
      running: lattice.running,
      extents: [...lattice.extents],
      precision: lattice.precision,
      slots: lattice.slots(),
      profile: lattice.profile(),
      swaps: this.swaps,
      uptimeMs: performance.now() - this.#startedMs,
    };
  }

  #record(reply: SwapReply): void {
    this.swaps++;
    this.#log(
      `${reply.command} ${reply.slot}: ${reply.from.name} -> ${reply.to.name} at step ${reply.appliedAtStep}, ` +
        `pause ${reply.pauseUs.toFixed(1)} us`,
    );
  }
}

/**
 * Serves the simulation `options` describe on `socketPath` until a `stop`
 * request, SIGINT or SIGTERM, or a kernel failure ends the run.
 */
export async function serve(
  options: SimulateOptions,
  socketPath: string,
  log: (line: string) => void,
): Promise<ServeSummary> {
  await claimSocketPath(socketPath);
  const lattice = seededLattice(options);
  const control = new ControlServer(lattice, log);
  let queue: Promise<unknown> = Promise.resolve();
  const connections = new Set<net.Socket>();
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
  const answer = async (line: string): Promise<ControlReply> => {
    try {
      const request = parseRequest(line);
      if (request.command === 'stop') {
        const summary = await lattice.stop();
        return { ok: true, command: 'stop', stepCount: summary?.endStep ?? lattice.stepCount, swaps: control.swaps };
      }
      return await control.handle(request);
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  };

  const onSignal = () => void lattice.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const run = lattice.run();
    log(
      `serving ${lattice.extents.join(' x ')} ${lattice.precision} (${lattice.cells} cells), ` +
        `kernel ${lattice.kernelName}, on ${socketPath}`,
    );
    // The run ends on a stop request, a signal or a kernel failure; replies already queued still go out.
    const ended = await run;
    await queue;
    return { socket: socketPath, stepCount: lattice.stepCount, swaps: control.swaps, error: ended.error };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    server.close();
    for (const connection of connections) connection.destroy();
    if (existsSync(socketPath)) unlinkSync(socketPath);
    lattice.close();
  }
}
