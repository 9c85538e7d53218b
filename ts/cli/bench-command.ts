/**
 * `ouroboros bench <suite>`: runs one suite of ts/bench and writes its JSON
 * report to bench/results/<suite>.json under the current directory, or --out:
 * run from a project that depends on the package, results land in that
 * project, not inside node_modules.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Precision } from '../../native/addon-types.js';
import { type BenchRunOptions, benchSuites } from '../bench/suites.js';
import { durationParser, parseExtents, parseInteger } from './parse.js';
import { UsageError } from './usage-error.js';

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

/** `ouroboros bench <suite>`. */
export function benchCommand(): Command {
  const names = Object.keys(benchSuites).join(', ');
  return new Command('bench')
    .description('run a benchmark and write its JSON to bench/results/ under the current directory')
    .argument('<suite>', `which benchmark: ${names}`)
    .option('--json', 'print the JSON report instead of the table')
    .option('--quick', 'small sizes and short runs: checks the harness, not the machine')
    .option('--out <file>', 'where to write the JSON (default bench/results/<suite>.json)')
    .option(
      '--duration <duration>',
      'length of each run of the main job, e.g. 90s (bench net; default 3m, 20s with --quick)',
      durationParser(...BENCH_DURATION_LIMITS_MS),
    )
    .option(
      '--lattice <extents>',
      "one lattice instead of the default cases, e.g. 4096,4096 (bench peers; bench evolve: the searches' lattice instead of the main job's; bench watchdog: its large lattice, short rounds with --quick)",
      parseExtents,
    )
    .option('--precision <precision>', 'f64 or f32 (bench peers; bench evolve)', parsePrecision)
    .option('--python <path>', 'a Python with numba and Devito for their rows (bench peers)')
    .option('--archive <file>', 'the archive whose best applied step kernel is the evolved row (bench peers)')
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
      const file = writeResult(options.out ?? path.resolve('bench', 'results', `${name}.json`), report);
      console.log(options.json ? JSON.stringify(report) : `${selected.format(report)}\n\nwrote ${file}`);
    });
}
