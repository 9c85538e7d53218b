/**
 * Lost steps, measured: the lattice's run is started here so that its own
 * summary (steps the runner took) can be compared with how far the step
 * counter moved. Every swap, canary and rollback of the run happens in
 * between; a step the counter passed without the runner taking it is lost,
 * one the runner took without the counter moving is duplicated. Watchdog
 * restores move the counter back by design and are accounted for from the
 * lattice's 'watchdog' events.
 */
import type { Lattice, RunOptions } from '../lattice/lattice.js';
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

export interface AuditedRun {
  /** Stops the run at the next boundary and reports. */
  stop(): Promise<StepAuditReport>;
}

/** Runs `lat` with `options` (it must not be running) and audits its steps until stop(). */
export function auditedRun(lat: Lattice, options: RunOptions): AuditedRun {
  const startStep = lat.stepCount;
  let rewoundSteps = 0;
  let watchdogRestores = 0;
  const onWatchdog = (event: WatchdogEvent) => {
    if (event.restoredStep === null) return;
    watchdogRestores++;
    rewoundSteps += event.failedStep - event.restoredStep;
  };
  lat.on('watchdog', onWatchdog);
  const run = lat.run(options);
  return {
    stop: async () => {
      await lat.stop();
      const summary = await run;
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
