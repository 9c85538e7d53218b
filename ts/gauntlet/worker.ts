/**
 * The pool's worker thread: the TypeScript side of a pipeline that would
 * otherwise hold the main thread (the static firewall's analysis, decoding
 * the runner's report, the benchmark statistics).
 */
import type { MessagePort } from 'node:worker_threads';
import { interpretRun, type Interpretation } from './interpret.js';
import type { RunnerOutcome } from './sandbox-run.js';
import { analyseScreened, screenSource, type StaticDetails } from './static-firewall.js';
import type { TemplateFindings } from './template-analysis.js';

export type WorkerTask =
  /** `abort`: a message on it kills the tools at work and ends the task (an AbortSignal cannot cross threads). */
  | { kind: 'screen'; source: string; threshold: number; includeDir: string; abort: MessagePort }
  | { kind: 'analyse'; source: string; screened: StaticDetails; includeDir: string; template: TemplateFindings | null; abort: MessagePort }
  | { kind: 'interpret'; outcome: RunnerOutcome };

async function withAbortPort<T>(port: MessagePort, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  port.once('message', () => controller.abort());
  try {
    return await work(controller.signal);
  } finally {
    port.close();
  }
}

export default async function runTask(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case 'screen':
      return withAbortPort(task.abort, (signal) => screenSource(task.source, { threshold: task.threshold, includeDir: task.includeDir, signal }));
    case 'analyse':
      return withAbortPort(task.abort, (signal) =>
        analyseScreened(task.source, task.screened, { includeDir: task.includeDir, template: task.template, signal }),
      );
    case 'interpret':
      return interpretRun(task.outcome) satisfies Interpretation;
  }
}
