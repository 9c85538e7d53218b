/**
 * The gauntlet's pool: piscina worker threads for the TypeScript work of
 * each pipeline, while compiles and sandbox runs are child processes, so
 * several candidates go through at once and the main thread stays free.
 * Idle workers exit, so an idle pool does not keep the process alive.
 */
import os from 'node:os';
import { MessageChannel, type Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { requireInteger } from '../errors.js';
import type { Interpretation } from './interpret.js';
import type { RunnerOutcome } from './sandbox-run.js';
import type { StaticDetails } from './static-firewall.js';
import type { GateVerdict } from './types.js';
import type { WorkerTask } from './worker.js';

const IDLE_TIMEOUT_MS = 2_000;

export class GauntletPool {
  readonly threads: number;
  private readonly piscina: Piscina;

  constructor(threads = os.availableParallelism()) {
    this.threads = requireInteger('threads', threads, 1, 256);
    this.piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: IDLE_TIMEOUT_MS,
    });
  }

  private run<T>(task: WorkerTask, transferList: Transferable[] = []): Promise<T> {
    return this.piscina.run(task, { transferList }) as Promise<T>;
  }

  /**
   * When `signal` aborts, the worker kills the preprocessor and the
   * analysers and answers at once. Not piscina's own abort: it would end
   * the worker thread and leave the tools it started running.
   */
  async staticFirewall(source: string, threshold: number, includeDir: string, signal?: AbortSignal): Promise<Omit<GateVerdict<StaticDetails>, 'seconds'>> {
    const { port1, port2 } = new MessageChannel();
    const abort = () => port1.postMessage('abort');
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
    try {
      return await this.run({ kind: 'static', source, threshold, includeDir, abort: port2 }, [port2]);
    } finally {
      signal?.removeEventListener('abort', abort);
      port1.close();
    }
  }

  interpret(outcome: RunnerOutcome): Promise<Interpretation> {
    return this.run({ kind: 'interpret', outcome });
  }

  close(): Promise<void> {
    return this.piscina.close();
  }
}

let shared: GauntletPool | undefined;

/** The pool `evaluateCandidate` uses when given none. */
export function sharedGauntletPool(): GauntletPool {
  shared ??= new GauntletPool();
  return shared;
}

/** Closes the shared pool, if one was made; a later call makes a new one. */
export async function closeSharedGauntletPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}
