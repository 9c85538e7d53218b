/** A gauntlet (EngineDeps.evaluate) whose verdicts the test hands over. */
import type { CandidateOptions } from '../../dist/ts/gauntlet/options.js';
import type { GauntletVerdict } from '../../dist/ts/gauntlet/types.js';
import { until } from './until.js';

/**
 * Each call waits until the test settles it; with `onAbort`, a call whose
 * attempt is aborted (an engine's stop) is settled with `onAbort()` instead.
 */
export class ScriptedGauntlet {
  readonly calls: CandidateOptions[] = [];
  private waiting: ((verdict: GauntletVerdict) => void)[] = [];

  constructor(private readonly onAbort?: () => GauntletVerdict) {}

  readonly evaluate = (options: CandidateOptions): Promise<GauntletVerdict> => {
    this.calls.push(options);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      const onAbort = this.onAbort;
      if (onAbort) options.signal?.addEventListener('abort', () => resolve(onAbort()));
    });
  };

  /** Resolves with the options of the `count`-th call, once the gauntlet has been called that often. */
  async called(count: number): Promise<CandidateOptions> {
    await until(() => this.calls.length >= count);
    return this.calls[count - 1]!;
  }

  /** Settles every call still waiting with `verdict`. */
  settleAll(verdict: GauntletVerdict): void {
    for (const resolve of this.waiting.splice(0)) resolve(verdict);
  }
}
