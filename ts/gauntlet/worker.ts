/**
 * The pool's worker thread: the TypeScript side of a pipeline that would
 * otherwise hold the main thread (the static firewall's analysis, decoding
 * the runner's report, the benchmark statistics).
 */
import { interpretRun, type Interpretation } from './interpret.js';
import type { RunnerOutcome } from './sandbox-run.js';
import { analyseScreened, screenSource, type StaticDetails } from './static-firewall.js';
import type { TemplateFindings } from './template-analysis.js';

export type WorkerTask =
  | { kind: 'screen'; source: string; threshold: number; includeDir: string }
  | { kind: 'analyse'; source: string; screened: StaticDetails; includeDir: string; template: TemplateFindings | null }
  | { kind: 'interpret'; outcome: RunnerOutcome };

export default async function runTask(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case 'screen':
      return screenSource(task.source, { threshold: task.threshold, includeDir: task.includeDir });
    case 'analyse':
      return analyseScreened(task.source, task.screened, { includeDir: task.includeDir, template: task.template });
    case 'interpret':
      return interpretRun(task.outcome) satisfies Interpretation;
  }
}
