/**
 * Lost steps, measured: the run's own summary (steps the runner took) is
 * compared with how far the step counter moved. Every swap, canary and
 * rollback of the run happens in between; a step the counter passed without
 * the runner taking it is lost, one the runner took without the counter
 * moving is duplicated. Watchdog restores move the counter back by design
 * and are accounted for from the lattice's 'watchdog' events. The audit only
 * observes: whoever owns the run starts and stops it.
 */
import type { Lattice, RunSummary } from '../lattice/lattice.js';
import type { WatchdogEvent } from '../lattice/watchdog.js';

export interface StepAuditReport {
  startStep: number;
  endStep: number;
  /** Steps the runner took, the rewound ones included. */
  stepsRun: number;
  /** Steps the watchdog's restores moved the counter back by. */
  rewoundSteps: number;
  watchdogRestores: number;
  lostSteps: number;
  duplicatedSteps: number;
  /** Why the run ended by itself (a kernel failure), or null. */
  error: string | null;
}

export interface StepAudit {
  /** The report on the run that ended with `summary`; stops following the watchdog. */
  finish(summary: RunSummary): StepAuditReport;
}

/** Audits the steps of `lat`'s next run: call it before run(), and finish() with the run's summary. */
export function auditSteps(lat: Lattice): StepAudit {
  const startStep = lat.stepCount;
  let rewoundSteps = 0;
  let watchdogRestores = 0;
  const onWatchdog = (event: WatchdogEvent) => {
    if (event.restoredStep === null) return;
    watchdogRestores++;
    rewoundSteps += event.failedStep - event.restoredStep;
  };
  lat.on('watchdog', onWatchdog);
  return {
    finish: (summary) => {
      lat.off('watchdog', onWatchdog);
      const counted = summary.endStep - startStep;
      const taken = summary.stepsRun - rewoundSteps;
      return {
        startStep,
        endStep: summary.endStep,
        stepsRun: summary.stepsRun,
        rewoundSteps,
        watchdogRestores,
        lostSteps: Math.max(0, counted - taken),
        duplicatedSteps: Math.max(0, taken - counted),
        error: summary.error,
      };
    },
  };
}
