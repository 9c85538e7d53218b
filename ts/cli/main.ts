/**
 * The `ouroboros` command line. Every command prints a human-readable report,
 * or one JSON object with --json. Errors print one line naming what was wrong
 * and exit non-zero: 2 for bad usage, 1 for a failure while running.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { Precision } from '../../native/addon-types.js';
import { packageRoot } from '../../native/loader.js';
import { type BenchRunOptions, benchSuites } from '../bench/suites.js';
import { archiveCommand, ledgerCommand } from './archive-commands.js';
import { checkCommand } from './check.js';
import { fleetCommand } from './fleet-command.js';
import { rollbackCommand, statusCommand, stopCommand, swapCommand } from './control-commands.js';
import { durationParser, parseExtents, parseInteger } from './parse.js';
import { runCommand } from './run-command.js';
import { simulateCommand } from './simulate-command.js';
import { UsageError } from './usage-error.js';
import { workerCommand } from './worker-command.js';

function writeResult(file: string, report: object): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/** A run of the main job shorter than 5 s is all start-up; longer than a day is not a benchmark. */
const BENCH_DURATION_LIMITS_MS = [5_000, 86_400_000] as const;

/** More than 9 seeds of a 10-minute search pair is not a session's benchmark. */
const MAX_SEEDS = 9;

function parseSeeds(value: string): number {
  const seeds = parseInteger(value);
  if (seeds < 1 || seeds > MAX_SEEDS) throw new InvalidArgumentError(`${value} is out of range: must be from 1 to ${MAX_SEEDS}.`);
  return seeds;
}

function parsePrecision(value: string): Precision {
  if (value !== 'f64' && value !== 'f32') throw new InvalidArgumentError(`"${value}" is not a precision: use f64 or f32.`);
  return value;
}

interface BenchCliOptions extends Partial<Pick<BenchRunOptions, 'lattice' | 'precision' | 'python' | 'archive' | 'kernel' | 'seeds'>> {
  json?: boolean;
  quick?: boolean;
  out?: string;
  duration?: number;
}

function benchCommand(): Command {
  const names = Object.keys(benchSuites).join(', ');
  return new Command('bench')
    .description('run a benchmark and write its JSON to bench/results/')
    .argument('<suite>', `which benchmark: ${names}`)
    .option('--json', 'print the JSON report instead of the table')
    .option('--quick', 'small sizes and short runs: checks the harness, not the machine')
    .option('--out <file>', 'where to write the JSON (default bench/results/<suite>.json)')
    .option('--duration <duration>', 'length of each run of the main job, e.g. 90s (bench net; default 3m, 20s with --quick)', durationParser(...BENCH_DURATION_LIMITS_MS))
    .option('--lattice <extents>', 'one lattice instead of the default cases, e.g. 4096,4096 (bench peers)', parseExtents)
    .option('--precision <precision>', 'f64 or f32 (bench peers)', parsePrecision)
    .option('--python <path>', 'a Python with numba and Devito for their rows (bench peers)')
    .option('--archive <file>', "the archive whose best applied step kernel is the evolved row (bench peers)")
    .option('--kernel <file>', 'the kernel module for the evolved row (bench peers)')
    .option('--seeds <n>', 'Darwin and random searches per seed, seeds 1..n (bench evolve; default 1)', parseSeeds)
    .action(async (suite: string, options: BenchCliOptions) => {
      const selected = benchSuites[suite];
      if (!selected) throw new UsageError(`bench suite "${suite}" is unknown; available: ${names}`);
      const { json: _json, quick, out: _out, duration, ...passed } = options;
      const report = await selected.run({
        quick: Boolean(quick),
        ...(duration === undefined ? {} : { durationMs: duration }),
        ...passed,
        onProgress: (message) => process.stderr.write(`bench ${suite}: ${message}\n`),
      });
      const name = quick ? `${suite}-quick` : suite;
      const file = writeResult(options.out ?? path.join(packageRoot, 'bench', 'results', `${name}.json`), report);
      console.log(options.json ? JSON.stringify(report) : `${selected.format(report)}\n\nwrote ${file}`);
    });
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('ouroboros')
    .description('a self-improving native wave-physics engine')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addCommand(runCommand())
    .addCommand(simulateCommand())
    .addCommand(swapCommand())
    .addCommand(rollbackCommand())
    .addCommand(statusCommand())
    .addCommand(stopCommand())
    .addCommand(benchCommand())
    .addCommand(checkCommand())
    .addCommand(archiveCommand())
    .addCommand(ledgerCommand())
    .addCommand(workerCommand())
    .addCommand(fleetCommand());
  const overrideExits = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(overrideExits);
  };
  program.commands.forEach(overrideExits);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`ouroboros: ${message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
