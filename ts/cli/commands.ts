/**
 * Every top-level command of the CLI, loaded only when it runs: a command's
 * module pulls in what it needs (the engine, SQLite, the gauntlet, the bench
 * suites), and `ouroboros --help` should need none of it. To add a command,
 * add one line here; `summary` is its line in `ouroboros --help`.
 */
import type { Command } from 'commander';

export interface LazyCommand {
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: Record<string, LazyCommand> = {
  run: {
    summary: 'the main job: simulate while the engine breeds, screens and hot-swaps faster kernels',
    load: async () => (await import('./run-command.js')).runCommand(),
  },
  simulate: {
    summary: 'run a lattice for a number of steps and report MLUPS, energy drift and the readout',
    load: async () => (await import('./simulate-command.js')).simulateCommand(),
  },
  swap: {
    summary: 'hot-swap a kernel module into a slot of a served simulation',
    load: async () => (await import('./control-commands.js')).swapCommand(),
  },
  rollback: {
    summary: 'return a slot of a served simulation to its last-known-good module',
    load: async () => (await import('./control-commands.js')).rollbackCommand(),
  },
  status: {
    summary: 'a served simulation or running engine: steps, live modules, attempts',
    load: async () => (await import('./control-commands.js')).statusCommand(),
  },
  stop: {
    summary: 'stop a served simulation or running engine',
    load: async () => (await import('./control-commands.js')).stopCommand(),
  },
  bench: {
    summary: 'run a benchmark suite and write its JSON to bench/results/ here',
    load: async () => (await import('./bench-command.js')).benchCommand(),
  },
  check: {
    summary: "run a candidate kernel through the gauntlet and print each gate's verdict",
    load: async () => (await import('./check.js')).checkCommand(),
  },
  archive: {
    summary: 'read the archive of improvement attempts',
    load: async () => (await import('./archive-commands.js')).archiveCommand(),
  },
  ledger: {
    summary: 'the hash-chained ledger of changes applied to the live engine',
    load: async () => (await import('./archive-commands.js')).ledgerCommand(),
  },
  worker: {
    summary: "evaluate a fleet's candidates (the correctness gates) from a Redis queue",
    load: async () => (await import('./worker-command.js')).workerCommand(),
  },
  fleet: {
    summary: "a fleet's engines, workers, queue depths and shared improvements",
    load: async () => (await import('./fleet-command.js')).fleetCommand(),
  },
  ui: {
    summary: "serve a finished run's dashboard from its archive (read only)",
    load: async () => (await import('./ui-command.js')).uiCommand(),
  },
};
