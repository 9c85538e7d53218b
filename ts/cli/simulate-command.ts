/**
 * `ouroboros simulate` and its three modes: a run of --steps steps with a
 * report (the default), a served run controlled over a socket (--serve), and
 * a one-process hot-swap demonstration (--swap-every with --modules).
 */
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { describe } from '../errors.js';
import { INITIAL_CONDITIONS } from '../lattice/initial-conditions.js';
import { SLOTS, type Slot } from '../lattice/lattice.js';
import { defaultSocketPath, resolveSocketPath } from './control-protocol.js';
import { durationParser, parseExtents, parseInteger, parseModuleList, parseNumber } from './parse.js';
import { serve } from './serve.js';
import { type SimulateOptions, formatSummary, simulate } from './simulate.js';
import { formatSwap, formatSwapEverySummary, swapEvery } from './swap-every.js';
import { checkOutputFile } from '../util/output-path.js';
import { UsageError } from './usage-error.js';

interface SimulateCommandOptions extends SimulateOptions {
  json?: boolean;
  serve?: boolean;
  socket?: string;
  swapEvery?: number;
  modules?: string[];
  slot: Slot;
  duration?: number;
  checkpoint?: string;
  checkpointEvery?: number;
  resume?: string;
  dump?: string;
  restartExecAt?: number;
}

/** Swaps closer than a millisecond apart would only measure the timer. */
const SWAP_EVERY_LIMITS_MS = [1, 3_600_000] as const;
const DURATION_LIMITS_MS = [1, 86_400_000] as const;

async function runWithReport(options: SimulateCommandOptions): Promise<void> {
  const bar =
    !options.json && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          { format: 'simulate [{bar}] {percentage}% | {value}/{total} steps | drift {drift}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(options.steps, 0, { drift: '0' });
  try {
    const summary = await simulate(options, (done, drift) => bar?.update(done, { drift: drift.toExponential(1) }));
    bar?.stop();
    for (const warning of summary.handoff?.warnings ?? []) process.stderr.write(`ouroboros: warning: ${warning}\n`);
    console.log(options.json ? JSON.stringify(summary) : formatSummary(summary));
  } finally {
    bar?.stop();
  }
}

async function runServed(options: SimulateCommandOptions): Promise<void> {
  const socket = resolveSocketPath(options.socket);
  const summary = await serve(options, socket, (line) => console.log(options.json ? JSON.stringify({ event: 'log', message: line, socket }) : line));
  if (summary.error) throw new Error(`the simulation stopped at step ${summary.stepCount}: ${summary.error}`);
  console.log(options.json ? JSON.stringify({ event: 'stopped', ...summary }) : `stopped at step ${summary.stepCount} after ${summary.swaps} swaps`);
}

async function runSwapEvery(options: SimulateCommandOptions & { swapEvery: number; modules: string[] }): Promise<void> {
  options.modules.forEach((file, i) => {
    if (!existsSync(file)) throw new UsageError(`--modules[${i}] = ${describe(file)}: no such file`);
  });
  const summary = await swapEvery({ ...options, everyMs: options.swapEvery, durationMs: options.duration }, (swap) => {
    if (!options.json) console.log(formatSwap(swap));
  });
  console.log(options.json ? JSON.stringify(summary) : formatSwapEverySummary(summary));
}

/** The lattice options a checkpoint already fixes. */
const FIXED_BY_CHECKPOINT = ['extents', 'dt', 'c', 'h', 'init', 'precision', 'seed', 'kernel'];

function checkHandoffOptions(given: (name: string) => boolean, options: SimulateCommandOptions): void {
  const handoff = options.checkpoint !== undefined || options.resume !== undefined || options.restartExecAt !== undefined;
  if (handoff && (options.serve || options.swapEvery !== undefined)) {
    throw new UsageError('--checkpoint, --resume and --restart-exec-at are used with a --steps run, not with --serve or --swap-every');
  }
  if (options.checkpointEvery !== undefined) {
    if (options.checkpointEvery < 1) throw new UsageError(`--checkpoint-every = ${options.checkpointEvery}: must be an integer >= 1`);
    if (options.checkpoint === undefined) throw new UsageError('--checkpoint-every needs --checkpoint <path>: the file to write');
  }
  if (options.restartExecAt !== undefined && options.restartExecAt < 1) {
    throw new UsageError(`--restart-exec-at = ${options.restartExecAt}: must be an integer >= 1`);
  }
  if (options.resume !== undefined) {
    const fixed = FIXED_BY_CHECKPOINT.filter(given);
    if (fixed.length > 0) throw new UsageError(`--${fixed[0]} cannot be combined with --resume: the checkpoint fixes the lattice`);
  }
}

/** Options that belong to one mode, refused in the others, with the option that enables them. */
function checkModeOptions(command: Command, options: SimulateCommandOptions): void {
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  if (options.serve && options.swapEvery !== undefined) {
    throw new UsageError(
      '--serve and --swap-every cannot be combined: serve a simulation and send it `ouroboros swap` requests, or run the --swap-every demonstration',
    );
  }
  if (options.socket !== undefined && !options.serve) throw new UsageError(`--socket = ${describe(options.socket)}: only used with --serve`);
  if (options.serve && given('steps')) throw new UsageError('--steps cannot be combined with --serve: a served simulation runs until `ouroboros stop`');
  checkHandoffOptions(given, options);
  if (options.swapEvery === undefined) {
    if (options.modules !== undefined) throw new UsageError('--modules is only used with --swap-every <duration>');
    if (options.duration !== undefined) throw new UsageError('--duration is only used with --swap-every <duration>');
    if (given('slot')) throw new UsageError('--slot is only used with --swap-every <duration>');
    if (options.trustNativeAddon && options.kernel === undefined) {
      throw new UsageError('--trust-native-addon is only used with --kernel <path> or --swap-every <duration>');
    }
    return;
  }
  if (options.modules === undefined) throw new UsageError('--swap-every needs --modules a.so,b.so: the modules to swap between');
  if (options.duration !== undefined && given('steps')) {
    throw new UsageError('--steps and --duration cannot both be given: the demonstration runs for one or the other');
  }
}

export function simulateCommand(): Command {
  const command = new Command('simulate')
    .description('run a lattice for a number of steps and report MLUPS, energy drift and the readout')
    .option('--extents <list>', 'cells per axis, comma-separated (1 to 9 axes, each >= 3)', parseExtents, [512, 512])
    .option('--steps <n>', 'time steps to run', parseInteger, 2000)
    .option('--dt <dt>', 'time step (c*dt/h must be < 1/sqrt(dimensions))', parseNumber, 0.5)
    .option('--c <c>', 'wave speed', parseNumber, 1)
    .option('--h <h>', 'lattice spacing', parseNumber, 1)
    .addOption(new Option('--init <kind>', 'initial condition').choices(INITIAL_CONDITIONS).default('gaussian'))
    .addOption(new Option('--precision <p>', 'floating-point precision').choices(['f64', 'f32']).default('f64'))
    .option('--seed <n>', 'seed for --init random', parseInteger, 1)
    .option('--threads <n>', 'threads of the core pool lent to kernels', parseInteger)
    .option('--kernel <path>', 'kernel module to run instead of the reference kernel (a .so runs confined in a kernel host)')
    .option('--json', 'print one JSON object instead of the report')
    .option('--checkpoint <path>', 'write a checkpoint file here (atomically): every --checkpoint-every steps, or at the end')
    .option('--checkpoint-every <n>', 'with --checkpoint: write it every n steps', parseInteger)
    .option('--resume <path>', 'go on from this checkpoint up to --steps steps in all')
    .option('--dump <file>', 'write the final levels u^{n-1} then u^n as raw values to this file')
    .option('--restart-exec-at <step>', 'restart this process by exec (same PID) when the step count reaches this', parseInteger)
    .option('--serve', 'run until stopped and take swap/rollback/status/stop requests on a Unix socket')
    .option('--socket <path>', `the control socket for --serve (default ${defaultSocketPath()})`)
    .option(
      '--swap-every <duration>',
      'demonstration: swap --modules round-robin at this interval (1ms to 3600s, e.g. 100ms)',
      durationParser(...SWAP_EVERY_LIMITS_MS),
    )
    .option('--modules <list>', 'with --swap-every: kernel modules to swap between, comma-separated (a .so runs confined in a kernel host)', parseModuleList)
    .option(
      '--trust-native-addon',
      'load a .node addon given as --kernel or among --modules unconfined in this process (Node code cannot be confined): only for addons you trust',
    )
    .addOption(new Option('--slot <slot>', 'with --swap-every: the slot to swap').choices(SLOTS).default('step'))
    .option(
      '--duration <duration>',
      'with --swap-every: run this long instead of --steps steps (1ms to 86400s, e.g. 2s)',
      durationParser(...DURATION_LIMITS_MS),
    );
  return command.action(async (options: SimulateCommandOptions) => {
    checkModeOptions(command, options);
    // Before the run, not after it: a dump or checkpoint path that can never be written must not cost the whole simulation.
    try {
      if (options.dump !== undefined) checkOutputFile('--dump', options.dump);
      if (options.checkpoint !== undefined) checkOutputFile('--checkpoint', options.checkpoint);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    try {
      if (options.serve) return await runServed(options);
      if (options.swapEvery !== undefined) {
        return await runSwapEvery({ ...options, swapEvery: options.swapEvery, modules: options.modules! });
      }
      return await runWithReport(options);
    } catch (error) {
      throw asFlagError(error);
    }
  });
}

/** The lattice API's names for what the command line calls flags. */
const FLAG_OF_OPTION: Record<string, string> = {
  threads: '--threads',
  steps: '--steps',
  extents: '--extents',
  dt: '--dt',
  seed: '--seed',
  precision: '--precision',
};

/**
 * A bad value the lattice refused (`options.threads = 999: ...`) named as
 * the flag it came from (`--threads = 999: ...`); any other error unchanged.
 */
function asFlagError(error: unknown): unknown {
  if (!(error instanceof RangeError || error instanceof TypeError)) return error;
  const match = /^(?:options\.)?([a-z]+)(\[\d+\])? = /i.exec(error.message);
  const flag = match ? FLAG_OF_OPTION[match[1]!] : undefined;
  if (match === null || flag === undefined) return error;
  return new UsageError(`${flag}${match[2] ?? ''}${error.message.slice(match[0].length - 3)}`);
}
