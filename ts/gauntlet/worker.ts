/**
 * The pool's worker thread: the TypeScript side of a pipeline that would
 * otherwise hold the main thread (the static firewall's analysis, decoding
 * the runner's report, the benchmark statistics).
 */
import type { MessagePort } from 'node:worker_threads';
import { interpretRun, type Interpretation } from './interpret.js';
import type { RunnerOutcome } from './sandbox-run.js';
import { staticFirewall } from './static-firewall.js';

export type WorkerTask =
  /** `abort`: a message on it aborts the analysis (an AbortSignal cannot cross threads). */
  | { kind: 'static'; source: string; threshold: number; includeDir: string; abort: MessagePort }
  | { kind: 'interpret'; outcome: RunnerOutcome };

export default async function runTask(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case 'static': {
      const controller = new AbortController();
      task.abort.once('message', () => controller.abort());
      try {
        return await staticFirewall(task.source, { threshold: task.threshold, includeDir: task.includeDir, signal: controller.signal });
      } finally {
        task.abort.close();
      }
    }
    case 'interpret':
      return interpretRun(task.outcome) satisfies Interpretation;
  }
}
