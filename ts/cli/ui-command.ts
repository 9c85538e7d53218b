/**
 * `ouroboros ui --archive PATH`: the dashboard of a finished run, read from
 * its archive, until Ctrl-C; and the dashboard flags `run --ui` shares.
 */
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Archive } from '../archive/archive.js';
import { describe } from '../errors.js';
import { archiveDashboard, type DashboardData } from '../ui/dashboard-data.js';
import { type DashboardServer, DashboardSetupError, LOOPBACK, startDashboard } from '../ui/server.js';
import { parseInteger } from './parse.js';
import { UsageError } from './usage-error.js';

export interface DashboardFlags {
  uiPort?: number;
  uiHost?: string;
  uiTlsCert?: string;
  uiTlsKey?: string;
  insecure?: boolean;
}

const MAX_PORT = 65_535;

function port(value: string): number {
  const number = parseInteger(value);
  if (number < 0 || number > MAX_PORT) throw new InvalidArgumentError(`${value} is out of range: must be from 0 (any free port) to ${MAX_PORT}.`);
  return number;
}

/** Adds the flags that say where and how the dashboard listens. */
export function withDashboardFlags(command: Command): Command {
  return command
    .addOption(new Option('--ui-port <port>', "the dashboard's port (default: a free one)").argParser(port))
    .option('--ui-host <address>', `listen on this address instead of ${LOOPBACK} (needs --ui-tls-cert and --ui-tls-key, or --insecure)`)
    .option('--ui-tls-cert <file>', 'TLS certificate (PEM) for the dashboard')
    .option('--ui-tls-key <file>', 'TLS private key (PEM) for the dashboard')
    .option('--insecure', 'serve a non-loopback --ui-host over plain HTTP (anyone on the path can read the token)');
}

/** Starts the dashboard as the flags say; a setting it refuses is a usage error. */
export async function serveDashboard(data: DashboardData, flags: DashboardFlags, log: (message: string) => void): Promise<DashboardServer> {
  if ((flags.uiTlsCert === undefined) !== (flags.uiTlsKey === undefined))
    throw new UsageError('--ui-tls-cert and --ui-tls-key go together: give both or neither');
  for (const [flag, file] of [
    ['--ui-tls-cert', flags.uiTlsCert],
    ['--ui-tls-key', flags.uiTlsKey],
  ] as const) {
    if (file !== undefined && !existsSync(file)) throw new UsageError(`${flag} = ${describe(file)}: no such file`);
  }
  try {
    return await startDashboard({
      data,
      ...(flags.uiHost === undefined ? {} : { host: flags.uiHost }),
      ...(flags.uiPort === undefined ? {} : { port: flags.uiPort }),
      ...(flags.uiTlsCert === undefined ? {} : { tls: { cert: flags.uiTlsCert, key: flags.uiTlsKey! } }),
      insecure: flags.insecure === true,
      log,
    });
  } catch (error) {
    if (error instanceof DashboardSetupError) throw new UsageError(error.message);
    throw error;
  }
}

export function uiCommand(): Command {
  return withDashboardFlags(
    new Command('ui')
      .description('serve the dashboard of a finished run from its archive (read only), until Ctrl-C')
      .requiredOption('--archive <path>', 'the archive of the run'),
  ).action(async (options: DashboardFlags & { archive: string }) => {
    if (!existsSync(options.archive)) throw new UsageError(`--archive = ${describe(options.archive)}: no such archive`);
    const archive = Archive.open(options.archive);
    try {
      const server = await serveDashboard(archiveDashboard(archive), options, (message) => process.stderr.write(`${message}\n`));
      process.stderr.write(`dashboard of ${options.archive}: open ${server.url}\n(the token is good once; Ctrl-C ends it)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    } finally {
      archive.close();
    }
  });
}
