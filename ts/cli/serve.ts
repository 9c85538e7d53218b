/**
 * `ouroboros simulate --serve`: runs a lattice on its own thread until told to
 * stop, and answers control requests (control-protocol.ts) on a Unix domain
 * socket. Requests are served one at a time, in arrival order, so a status
 * never interleaves with a half-done swap.
 */
import process from 'node:process';
import type { Lattice } from '../lattice/lattice.js';
import type { ControlReply, ControlRequest, StatusReply, SwapReply } from './control-protocol.js';
import { statusReply, swapReply } from './control-replies.js';
import { listenForControl } from './control-socket.js';
import { isNativeAddon } from './simulate-kernel.js';
import { type SimulateOptions, seededLattice } from './simulate.js';

/** Watchdog cadence of a served simulation, in steps: often enough that a kernel host's crash loses little work. */
const SERVE_WATCHDOG_EVERY_STEPS = 50;

/** How a served simulation ended. */
export interface ServeSummary {
  socket: string;
  stepCount: number;
  swaps: number;
  /** Why the run ended by itself (a kernel failure), or null when stopped. */
  error: string | null;
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
        // A user's file is untrusted (ts/engine/trust.ts): it runs live only in a kernel host.
        if (isNativeAddon(request.module)) {
          throw new Error(`${request.module}: a .node addon is Node code and cannot run confined in a kernel host, so a served simulation does not load it`);
        }
        const moduleId = await lattice.loadConfinedModule(request.module);
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
    return statusReply(this.#lattice, this.swaps, performance.now() - this.#startedMs);
  }

  #record(reply: SwapReply): void {
    this.swaps++;
    this.#log(
      `${reply.command} ${reply.slot}: ${reply.from.name} -> ${reply.to.name} at step ${reply.appliedAtStep}, ` + `pause ${reply.pauseUs.toFixed(1)} us`,
    );
  }
}

/**
 * Serves the simulation `options` describe on `socketPath` until a `stop`
 * request, SIGINT or SIGTERM, or a kernel failure ends the run.
 */
export async function serve(options: SimulateOptions, socketPath: string, log: (line: string) => void): Promise<ServeSummary> {
  // In a segment, for the kernel hosts of swapped-in modules to map.
  const lattice = await seededLattice(options, true);
  const control = new ControlServer(lattice, log);
  const socket = await listenForControl(socketPath, async (request): Promise<ControlReply> => {
    if (request.command !== 'stop') return control.handle(request);
    const summary = await lattice.stop();
    return { ok: true, command: 'stop', stepCount: summary?.endStep ?? lattice.stepCount, swaps: control.swaps };
  }).catch((error: unknown) => {
    lattice.close();
    throw error;
  });

  const onSignal = () => void lattice.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The watchdog's verified snapshots are what a crashed kernel host's step is restored from.
    const run = lattice.run({ watchdog: { everySteps: SERVE_WATCHDOG_EVERY_STEPS } });
    log(`serving ${lattice.extents.join(' x ')} ${lattice.precision} (${lattice.cells} cells), ` + `kernel ${lattice.kernelName}, on ${socketPath}`);
    // The run ends on a stop request, a signal or a kernel failure; replies already queued still go out.
    const ended = await run;
    await socket.drained();
    return { socket: socketPath, stepCount: lattice.stepCount, swaps: control.swaps, error: ended.error };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    socket.close();
    lattice.close();
  }
}
