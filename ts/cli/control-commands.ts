/**
 * The clients of a served simulation: `ouroboros swap`, `rollback`, `status`
 * and `stop`. Each sends one request over the control socket and prints the
 * reply, or the reply itself with --json.
 */
import path from 'node:path';
import { Argument, Command, Option } from 'commander';
import { SLOTS } from '../lattice/lattice.js';
import {
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
  lines.push(
    `pause    ${reply.pauseUs.toFixed(1)} us`,
    `step     ${reply.appliedAtStep} (the first on the new code); ${reply.stepCount} now`,
  );
  return lines.join('\n');
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
    .description("return a slot of a served simulation to its last-known-good module")
    .addArgument(new Argument('<slot>', 'which kernel slot').choices(SLOTS))
    .addOption(socketOption())
    .option('--json', 'print the server reply as one JSON object')
    .action(async (slot: (typeof SLOTS)[number], options: ClientOptions) => {
      const reply = await requestOrThrow(resolveSocketPath(options.socket), { command: 'rollback', slot });
      console.log(options.json ? JSON.stringify(reply) : formatSwapReply(reply));
    });
}

export function statusCommand(): Command {
  return new Command('status')
    .description('step count, live module per slot and profile of a served simulation')
    .addOption(socketOption())
    .option('--json', 'print the server reply as one JSON object')
    .action(async (options: ClientOptions) => {
      const reply = await requestOrThrow(resolveSocketPath(options.socket), { command: 'status' });
      console.log(options.json ? JSON.stringify(reply) : formatStatusReply(reply));
    });
}

export function stopCommand(): Command {
  return new Command('stop')
    .description('stop a served simulation')
    .addOption(socketOption())
    .option('--json', 'print the server reply as one JSON object')
    .action(async (options: ClientOptions) => {
      const reply = await requestOrThrow(resolveSocketPath(options.socket), { command: 'stop' });
      console.log(options.json ? JSON.stringify(reply) : `stopped at step ${reply.stepCount} after ${reply.swaps} swaps`);
    });
}
