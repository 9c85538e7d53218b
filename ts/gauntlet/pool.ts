/**
 * The gauntlet's pool: piscina worker threads for the TypeScript work of
 * each pipeline, while compiles and sandbox runs are child processes, so
 * several candidates go through at once and the main thread stays free.
 * Idle workers exit, so an idle pool does not keep the process alive.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { requireInteger } from '../errors.js';
import type { Interpretation } from './interpret.js';
import type { RunnerOutcome } from './sandbox-run.js';
import type { Screening, StaticDetails, StaticVerdict } from './static-firewall.js';
import type { TemplateFindings } from './template-analysis.js';
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

  private run<T>(task: WorkerTask): Promise<T> {
    return this.piscina.run(task) as Promise<T>;
  }

  /** The static firewall's rules and preprocessor (static-firewall.ts screenSource). */
  screen(source: string, threshold: number, includeDir: string): Promise<Screening> {
    return this.run({ kind: 'screen', source, threshold, includeDir });
  }

  /** The static firewall's verdict on a screened source (static-firewall.ts analyseScreened). */
  analyse(source: string, screened: StaticDetails, includeDir: string, template: TemplateFindings | null): Promise<StaticVerdict> {
    return this.run({ kind: 'analyse', source, screened, includeDir, template });
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
