/**
 * The `ouroboros` command line. Every command prints a human-readable report,
 * or one JSON object with --json. Errors print one line naming what was wrong
 * and exit non-zero: 2 for bad usage, 1 for a failure while running.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { packageRoot } from '../../native/loader.js';
import { benchSuites } from '../bench/suites.js';
import { INITIAL_CONDITIONS } from '../lattice/initial-conditions.js';
import { type SimulateOptions, formatSummary, simulate } from './simulate.js';

class UsageError extends Error {}

function parseNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number)) throw new InvalidArgumentError(`"${value}" is not a number.`);
  return number;
}

function parseInteger(value: string): number {
  const number = parseNumber(value);
  if (!Number.isSafeInteger(number)) throw new InvalidArgumentError(`"${value}" is not an integer.`);
  return number;
}

function parseExtents(value: string): number[] {
  return value.split(',').map((part) => {
    const number = Number(part);
    if (part.trim() === '' || !Number.isFinite(number)) {
      throw new InvalidArgumentError(`"${value}" is not a comma-separated list of integers such as 256,256.`);
    }
    return number;
  });
}

function writeResult(file: string, report: object): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

function simulateCommand(): Command {
  return new Command('simulate')
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
    .option('--kernel <path>', 'kernel module (.so) to run instead of the reference kernel')
    .option('--json', 'print one JSON object instead of the report')
    .action((options: SimulateOptions & { json?: boolean }) => {
      const bar =
        !options.json && process.stderr.isTTY
          ? new cliProgress.SingleBar(
              { format: 'simulate [{bar}] {percentage}% | {value}/{total} steps | drift {drift}', hideCursor: true },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(options.steps, 0, { drift: '0' });
      try {
        const summary = simulate(options, (done, drift) => bar?.update(done, { drift: drift.toExponential(1) }));
        bar?.stop();
        console.log(options.json ? JSON.stringify(summary) : formatSummary(summary));
      } finally {
        bar?.stop();
      }
    });
}

function benchCommand(): Command {
  const names = Object.keys(benchSuites).join(', ');
  return new Command('bench')
    .description('run a benchmark and write its JSON to bench/results/')
    .argument('<suite>', `which benchmark: ${names}`)
    .option('--json', 'print the JSON report instead of the table')
    .option('--quick', 'small sizes and short runs: checks the harness, not the machine')
    .option('--out <file>', 'where to write the JSON (default bench/results/<suite>.json)')
    .action(async (suite: string, options: { json?: boolean; quick?: boolean; out?: string }) => {
      const selected = benchSuites[suite];
      if (!selected) throw new UsageError(`bench suite "${suite}" is unknown; available: ${names}`);
      const report = await selected.run({
        quick: Boolean(options.quick),
        onProgress: (message) => process.stderr.write(`bench ${suite}: ${message}\n`),
      });
      const name = options.quick ? `${suite}-quick` : suite;
      const file = writeResult(options.out ?? path.join(packageRoot, 'bench', 'results', `${name}.json`), report);
      console.log(options.json ? JSON.stringify(report) : `${selected.format(report)}\n\nwrote ${file}`);
    });
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('ouroboros')
    .description('a self-improving native wave-physics engine')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addCommand(simulateCommand())
    .addCommand(benchCommand());
  for (const command of program.commands) command.exitOverride();
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
