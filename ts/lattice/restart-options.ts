/** What `lat.restart()` takes and reports, checked apart from the restart itself (which loads child_process). */
import { invalidRangeError, invalidTypeError } from '../errors.js';

export interface RestartOptions {
  mode: 'exec' | 'spawn';
  /**
   * spawn only: the arguments to node for the successor (a script and its
   * arguments), which must call Lattice.inherited(). Default: this process's
   * own execArgv and argv, as exec uses.
   */
  command?: string[];
}

/** What restart({ mode: 'spawn' }) did; exec never returns. */
export interface RestartReport {
  mode: 'spawn';
  successorPid: number;
  /** The step count at the freeze: the successor's first step has this index. */
  frozenAtStep: number;
  generation: number;
  downtimeMs: number;
}

export function checkRestartOptions(options: unknown): RestartOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidTypeError('options', "an object such as { mode: 'spawn' }", options);
  }
  const { mode, command } = options as RestartOptions;
  if (mode !== 'exec' && mode !== 'spawn') throw invalidRangeError('options.mode', 'must be "exec" or "spawn"', mode);
  if (command !== undefined) {
    if (mode !== 'spawn') throw invalidRangeError('options.command', 'is only used with mode "spawn"', command);
    if (!Array.isArray(command) || command.length === 0 || command.some((arg) => typeof arg !== 'string')) {
      throw invalidTypeError('options.command', 'a non-empty array of strings (a script and its arguments)', command);
    }
  }
  return { mode, command };
}
