/**
 * The clients of a served simulation (`simulate --serve` or `run --serve`):
 * `ouroboros swap`, `rollback`, `status` and `stop`. Each sends one request
 * over the control socket and prints the reply, or the reply itself with
 * --json; `status` with no server falls back to the archive.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Argument, Command, Option } from 'commander';
import { loadConfig } from '../engine/config.js';
import { GATES } from '../gauntlet/types.js';
import { SLOTS } from '../lattice/lattice.js';
import { ATTEMPT_STATUSES } from '../report/run-summary.js';
import { archivePath, archiveStatus, formatArchiveStatus } from './archive-commands.js';
import {
  type EngineStatus,
  NoServerError,
  type StatusReply,
  type SwapReply,
  defaultSocketPath,
  requestOrThrow,
  resolveSocketPath,
} from './control-protocol.js';

interface ClientOptions {
  socket?: string;
  json?: boolean;
}

export function formatSwapReply(reply: SwapReply): string {
  const lines = [
    `${reply.command === 'swap' ? 'swapped' : 'rolled back'} ${reply.slot}: ` +
      `${reply.from.name} (module ${reply.from.id}) -> ${reply.to.name} (module ${reply.to.id})`,
  ];
  if (reply.module !== undefined) lines.push(`module   ${reply.module}, loaded and checked in ${reply.loadMs!.toFixed(0)} ms`);
  lines.push(`pause    ${reply.pauseUs.toFixed(1)} us`, `step     ${reply.appliedAtStep} (the first on the new code); ${reply.stepCount} now`);
  if (reply.ledgerSequence !== undefined) lines.push(`ledger   entry #${reply.ledgerSequence}`);
  return lines.join('\n');
}

function formatEngineStatus(engine: EngineStatus): string[] {
  const { summary } = engine;
  const outcomes = ATTEMPT_STATUSES.filter((status) => summary.byStatus[status] > 0).map((status) => `${status} ${summary.byStatus[status]}`);
  const gates = GATES.filter((gate) => (summary.byFailedGate[gate] ?? 0) > 0).map((gate) => `${gate} ${summary.byFailedGate[gate]}`);
  return [
    `engine   ${engine.paused ? 'paused' : 'improving'}, archive ${engine.archive}`,
    `         ${summary.baselineMlups.toFixed(1)} MLUPS at start, ${summary.currentMlups.toFixed(1)} now; max energy drift ${summary.maxEnergyDrift.toExponential(2)}`,
    `         attempts ${summary.attempts}${outcomes.length > 0 ? `: ${outcomes.join(', ')}` : ''}; applied ${summary.applied}, rolled back ${summary.rolledBack}`,
    `         stopped by gate: ${gates.length > 0 ? gates.join(', ') : 'none'}`,
  ];
}

export function formatStatusReply(reply: StatusReply): string {
  const state = reply.running ? 'running' : 'stopped';
  const lines = [
    `simulation ${reply.extents.join(' x ')} ${reply.precision}, ${state}, step ${reply.stepCount}, ` +
      `${reply.swaps} swaps, up ${(reply.uptimeMs / 1e3).toFixed(1)} s`,
  ];
  for (const slot of SLOTS) {
    const { live, lastKnownGood } = reply.slots[slot];
    const profile = reply.profile[slot];
    lines.push(
      `${slot.padEnd(8)} live ${live.name} (module ${live.id}), last-known-good ${lastKnownGood.name} (module ${lastKnownGood.id}); ` +
        `${profile.calls} calls, ${(100 * profile.share).toFixed(1)}% of slot time, ` +
        `p50 ${profile.p50Ns.toFixed(0)} ns, p99 ${profile.p99Ns.toFixed(0)} ns`,
    );
  }
  if (reply.engine !== undefined) lines.push(...formatEngineStatus(reply.engine));
  return lines.join('\n');
}

function socketOption(): Option {
  return new Option('--socket <path>', `control socket of the served simulation (default ${defaultSocketPath()})`);
}

export function swapCommand(): Command {
  return new Command('swap')
    .description('hot-swap a kernel module into a slot of a simulation started with `simulate --serve`')
    .requiredOption('--module <path>', 'kernel module (.so, or a .node kernel addon) to load and make live')
    .addOption(new Option('--slot <slot>', 'which kernel slot').choices(SLOTS).default('step'))
    .addOption(socketOption())
    .option('--json', 'print the server reply as one JSON object')
    .action(async (options: ClientOptions & { module: string; slot: (typeof SLOTS)[number] }) => {
      const socket = resolveSocketPath(options.socket);
      const reply = await requestOrThrow(socket, { command: 'swap', module: path.resolve(options.module), slot: options.slot });
      console.log(options.json ? JSON.stringify(reply) : formatSwapReply(reply));
    });
}

export function rollbackCommand(): Command {
  return new Command('rollback')
    .description('return a slot of a served simulation to its last-known-good module (under `run --serve`, recorded in the ledger)')
    .addArgument(new Argument('<slot>', 'which kernel slot').choices(SLOTS))
    .addOption(socketOption())
    .option('--json', 'print the server reply as one JSON object')
    .action(async (slot: (typeof SLOTS)[number], options: ClientOptions) => {
      const reply = await requestOrThrow(resolveSocketPath(options.socket), { command: 'rollback', slot });
      console.log(options.json ? JSON.stringify(reply) : formatSwapReply(reply));
    });
}

async function liveOrArchiveStatus(options: ClientOptions & { archive?: string; config?: string }): Promise<string> {
  try {
    const reply = await requestOrThrow(resolveSocketPath(options.socket), { command: 'status' });
    return options.json ? JSON.stringify(reply) : formatStatusReply(reply);
  } catch (error) {
    // A named socket with nothing behind it is an error; otherwise the archive tells what the last run left.
    const fallBack = error instanceof NoServerError && (options.archive !== undefined || options.socket === undefined);
    if (!fallBack) throw error;
    const file = options.archive ?? loadConfig(options.config).archive.path;
    if (options.archive === undefined && !existsSync(file)) throw error;
    const status = archiveStatus(archivePath({ ...options, archive: file }));
    return options.json ? JSON.stringify({ ok: true, command: 'status', running: false, ...status }) : formatArchiveStatus(status);
  }
}

export function statusCommand(): Command {
  return new Command('status')
    .description('a served simulation or running engine: step count, live modules, profile, attempts; with none running, the archive')
    .addOption(socketOption())
    .option('--archive <path>', 'with no engine running, report from this archive (default: archive.path of the configuration)')
    .option('--config <file>', 'configuration naming the archive (default ./ouroboros.toml when present)')
    .option('--json', 'print the reply as one JSON object')
    .action(async (options: ClientOptions & { archive?: string; config?: string }) => {
      console.log(await liveOrArchiveStatus(options));
    });
}

export function stopCommand(): Command {
  return new Command('stop')
    .description('stop a served simulation (under `run --serve`: attempts in flight are interrupted, then the summary and the report)')
    .addOption(socketOption())
    .option('--json', 'print the server reply as one JSON object')
    .action(async (options: ClientOptions) => {
      const reply = await requestOrThrow(resolveSocketPath(options.socket), { command: 'stop' });
      console.log(options.json ? JSON.stringify(reply) : `stopped at step ${reply.stepCount} after ${reply.swaps} swaps`);
    });
}
