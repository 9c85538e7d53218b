/**
 * The pool's worker thread: the TypeScript side of a pipeline that would
 * otherwise hold the main thread (the static firewall's analysis, decoding
 * the runner's report, the benchmark statistics).
 */
import { interpretRun, type Interpretation } from './interpret.js';
import type { RunnerOutcome } from './sandbox-run.js';
import { staticFirewall } from './static-firewall.js';

export type WorkerTask =
  | { kind: 'static'; source: string; threshold: number; includeDir: string }
  | { kind: 'interpret'; outcome: RunnerOutcome };

export default async function runTask(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case 'static':
      return staticFirewall(task.source, { threshold: task.threshold, includeDir: task.includeDir });
    case 'interpret':
      return interpretRun(task.outcome) satisfies Interpretation;
  }
}
